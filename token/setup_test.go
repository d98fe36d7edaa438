package token_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/aes"
	"crypto/cipher"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	foyer "github.com/foyerhq/foyer"
	"github.com/foyerhq/foyer/token"
	"github.com/go-jose/go-jose/v4"
)

// memStore is a foyer.SigningKeyService kept in memory. The storage
// contract is three plain operations; the SQL stores are proven against it
// by their own contract suite.
type memStore struct {
	mu    sync.Mutex
	now   func() time.Time
	keys  []*foyer.SigningKey // oldest first
	finds int                 // calls of FindSigningKeys
}

var _ foyer.SigningKeyService = (*memStore)(nil)

func (s *memStore) CreateSigningKey(ctx context.Context, k *foyer.SigningKey) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now().UTC()
	for _, old := range s.keys {
		if old.RetiredAt == nil {
			old.RetiredAt = &now
		}
	}
	k.CreatedAt = now
	s.keys = append(s.keys, copyKey(k))
	return nil
}

func (s *memStore) FindSigningKeys(ctx context.Context) ([]*foyer.SigningKey, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.finds++
	keys := make([]*foyer.SigningKey, 0, len(s.keys))
	for _, k := range slices.Backward(s.keys) {
		keys = append(keys, copyKey(k))
	}
	return keys, nil
}

func (s *memStore) DeleteSigningKeysRetiredBefore(ctx context.Context, t time.Time) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := len(s.keys)
	s.keys = slices.DeleteFunc(s.keys, func(k *foyer.SigningKey) bool {
		return k.RetiredAt != nil && k.RetiredAt.Before(t)
	})
	return n - len(s.keys), nil
}

// findCount reports how often FindSigningKeys was called.
func (s *memStore) findCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.finds
}

// stored returns a copy of the stored key with id.
func (s *memStore) stored(t testing.TB, id string) *foyer.SigningKey {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, k := range s.keys {
		if k.ID == id {
			return copyKey(k)
		}
	}
	t.Fatalf("key %q is not stored", id)
	return nil
}

func copyKey(k *foyer.SigningKey) *foyer.SigningKey {
	c := *k
	c.PrivateKey = bytes.Clone(k.PrivateKey)
	c.PublicKey = bytes.Clone(k.PublicKey)
	if k.RetiredAt != nil {
		t := *k.RetiredAt
		c.RetiredAt = &t
	}
	return &c
}

// clock is a settable clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

const (
	testIssuer   = "https://id.example.com"
	testAudience = "https://app.example.com"
	testMaxTTL   = 90 * 24 * time.Hour
)

var testEncryptionKey = bytes.Repeat([]byte{0x42}, 32)

// bundle is what setup returns: a loaded keyring and what it runs on.
type bundle struct {
	ring  *token.Keyring
	store *memStore
	clock *clock
	cfg   token.Config
}

// setup returns a loaded keyring of alg on an empty store.
func setup(t testing.TB, alg string) *bundle {
	t.Helper()
	clk := &clock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
	b := &bundle{
		store: &memStore{now: clk.Now},
		clock: clk,
		cfg: token.Config{
			Issuer:        testIssuer,
			Audience:      testAudience,
			Algorithm:     alg,
			EncryptionKey: testEncryptionKey,
			MaxTokenTTL:   testMaxTTL,
			Now:           clk.Now,
		},
	}
	b.ring = b.newRing(t)
	return b
}

// newRing returns another loaded keyring on b's store: another instance.
func (b *bundle) newRing(t testing.TB) *token.Keyring {
	t.Helper()
	ring := token.NewKeyring(b.store, b.cfg)
	if err := ring.Load(context.Background()); err != nil {
		t.Fatalf("Load: %v", err)
	}
	return ring
}

// signingKey returns the stored key that signs.
func (b *bundle) signingKey(t testing.TB) *foyer.SigningKey {
	t.Helper()
	keys := b.ring.Keys()
	if len(keys) == 0 || keys[0].RetiredAt != nil {
		t.Fatalf("no signing key in %+v", keys)
	}
	return b.store.stored(t, keys[0].ID)
}

// sign signs c and fails the test on error.
func (b *bundle) sign(t testing.TB, c *token.Claims) string {
	t.Helper()
	raw, err := b.ring.Sign(c)
	if err != nil {
		t.Fatalf("Sign: %v", err)
	}
	return raw
}

// anonymousClaims are the claims of a fresh anonymous visitor's token.
func (b *bundle) anonymousClaims() *token.Claims {
	return &token.Claims{
		Subject:   "0195a2b4-7c1d-7e2f-8a3b-4c5d6e7f8091",
		Expiry:    b.clock.Now().Add(30 * 24 * time.Hour),
		Type:      token.TypeAnonymous,
		Anonymous: true,
		Epoch:     3,
	}
}

// claimsMap is anonymousClaims as the JSON members of a payload, to forge
// tokens outside the keyring.
func (b *bundle) claimsMap() map[string]any {
	now := b.clock.Now()
	return map[string]any{
		"iss":          testIssuer,
		"sub":          "0195a2b4-7c1d-7e2f-8a3b-4c5d6e7f8091",
		"aud":          testAudience,
		"iat":          now.Unix(),
		"exp":          now.Add(time.Hour).Unix(),
		"jti":          "forged",
		"typ":          token.TypeAnonymous,
		"is_anonymous": true,
		"ep":           3,
	}
}

// decryptKey opens a stored private key by the documented format
// (version 1 || 12-byte nonce || AES-256-GCM ciphertext, key id as
// additional data) with the standard library alone.
func decryptKey(t testing.TB, encKey []byte, sk *foyer.SigningKey) (crypto.Signer, []byte) {
	t.Helper()
	block, err := aes.NewCipher(encKey)
	if err != nil {
		t.Fatal(err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		t.Fatal(err)
	}
	p := sk.PrivateKey
	if len(p) < 1+aead.NonceSize() || p[0] != 1 {
		t.Fatalf("stored private key has an unknown format: % x", p[:min(len(p), 4)])
	}
	der, err := aead.Open(nil, p[1:1+aead.NonceSize()], p[1+aead.NonceSize():], []byte(sk.ID))
	if err != nil {
		t.Fatalf("decrypt stored private key: %v", err)
	}
	priv, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		t.Fatalf("parse private key: %v", err)
	}
	return priv.(crypto.Signer), der
}

// forge signs claims with key outside the keyring. kid goes in the header
// unless empty; extra adds header parameters; embed puts the public key in
// a "jwk" header.
func forge(t testing.TB, alg jose.SignatureAlgorithm, key any, kid string, claims map[string]any, extra map[string]any, embed bool) string {
	t.Helper()
	opts := (&jose.SignerOptions{EmbedJWK: embed}).WithType("JWT")
	if kid != "" {
		opts = opts.WithHeader("kid", kid)
	}
	for k, v := range extra {
		opts = opts.WithHeader(jose.HeaderKey(k), v)
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: alg, Key: key}, opts)
	if err != nil {
		t.Fatalf("NewSigner: %v", err)
	}
	payload, err := json.Marshal(claims)
	if err != nil {
		t.Fatal(err)
	}
	jws, err := signer.Sign(payload)
	if err != nil {
		t.Fatalf("Sign: %v", err)
	}
	raw, err := jws.CompactSerialize()
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

// segment base64url-encodes v as JSON, for hand-built tokens.
func segment(t testing.TB, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// header decodes the protected header of raw.
func header(t testing.TB, raw string) map[string]any {
	t.Helper()
	h, _, _ := strings.Cut(raw, ".")
	b, err := base64.RawURLEncoding.DecodeString(h)
	if err != nil {
		t.Fatalf("decode header: %v", err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("decode header: %v", err)
	}
	return m
}

// wantUnauthorized fails unless err is the one generic verification error
// and its cause mentions cause.
func wantUnauthorized(t testing.TB, err error, cause string) {
	t.Helper()
	if err == nil {
		t.Fatal("token verified, want it refused")
	}
	if got := foyer.ErrorCode(err); got != foyer.EUnauthorized {
		t.Fatalf("code=%q, want %q (%v)", got, foyer.EUnauthorized, err)
	}
	if got, want := foyer.ErrorMessage(err), "The token is not valid."; got != want {
		t.Fatalf("message=%q, want %q", got, want)
	}
	if !strings.Contains(err.Error(), cause) {
		t.Fatalf("error %q does not mention %q", err, cause)
	}
}
