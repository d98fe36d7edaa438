package token

import (
	"bytes"
	"context"
	"crypto"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	foyer "github.com/foyerhq/foyer"
	"github.com/go-jose/go-jose/v4"
)

// Config configures a Keyring. The cmd package fills it from flags.
type Config struct {
	// Issuer is the "iss" of every token: the configured public base URL.
	Issuer string
	// Audience is the "aud" every token must contain.
	Audience string
	// Algorithm is the algorithm of keys created from now on: "ES256"
	// (default), "EdDSA" or "RS256". Existing keys keep their own.
	Algorithm string
	// EncryptionKey is the 32-byte AES-256-GCM key that encrypts private
	// keys before they reach the store.
	EncryptionKey []byte
	// MaxTokenTTL is the longest lifetime of any token. A retired key keeps
	// verifying for this long after its retirement, so every token it
	// signed can live out its life, and Sign refuses longer lifetimes.
	MaxTokenTTL time.Duration
	// Now is the clock; time.Now when nil.
	Now func() time.Time
	// VerifyCacheSize is how many verified tokens Verify remembers, for at
	// most a minute each, so that a visitor's requests do not each pay for
	// a signature verification (see Keyring.Verify). Zero means
	// DefaultVerifyCacheSize; a negative value disables the cache.
	VerifyCacheSize int
}

// validate reports what is wrong with c, all at once.
func (c Config) validate() error {
	var errs []error
	if c.Issuer == "" {
		errs = append(errs, errors.New("issuer is required"))
	}
	if c.Audience == "" {
		errs = append(errs, errors.New("audience is required"))
	}
	if _, ok := algorithms[c.Algorithm]; !ok {
		errs = append(errs, fmt.Errorf("algorithm %q is not one of ES256, EdDSA, RS256", c.Algorithm))
	}
	if len(c.EncryptionKey) != encryptionKeySize {
		errs = append(errs, fmt.Errorf("encryption key must be %d bytes, not %d", encryptionKeySize, len(c.EncryptionKey)))
	}
	if c.MaxTokenTTL <= 0 {
		errs = append(errs, errors.New("max token TTL must be positive"))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("token: invalid config: %w", err)
	}
	return nil
}

// KeyInfo describes a signing key without its key material, for the
// /v1/keys API.
type KeyInfo struct {
	ID        string     `json:"id"`
	Algorithm string     `json:"algorithm"`
	CreatedAt time.Time  `json:"created_at"`
	RetiredAt *time.Time `json:"retired_at,omitempty"`
}

// reloadInterval is the least time between two reloads caused by tokens
// with an unknown kid, so that garbage kids cannot hammer the store.
const reloadInterval = 5 * time.Second

// Keyring holds the signing keys: the one that signs and the retired ones
// that still verify. It is safe for concurrent use. Sign and Verify read
// an immutable snapshot without locking; Load, Refresh, Rotate and reloads
// for an unknown kid replace the snapshot one at a time. Verify also
// remembers recent verifications in a bounded, sharded cache (see
// verifyCache); a reload that drops or replaces a key drops what that key
// verified.
//
// Several instances may share one store. An instance learns of a key
// another one created when it meets a token with the new kid, or on
// Refresh, which the server should call periodically (more often than
// MaxTokenTTL is long): until then it keeps signing with the key it knows.
// A token signed by a key after its retirement still verifies until the
// retirement plus MaxTokenTTL, so at worst it ends that much early.
type Keyring struct {
	store  foyer.SigningKeyService
	cfg    Config
	cfgErr error

	set   atomic.Pointer[keySet]
	jwks  atomic.Pointer[jwksCache]
	cache *verifyCache // nil when disabled

	mu         sync.Mutex // serialises reloads; guards lastReload
	lastReload time.Time
}

// keySet is an immutable snapshot of the keys.
type keySet struct {
	keys    []*verifyKey // newest first
	byID    map[string]*verifyKey
	signing *verifyKey
	signer  jose.Signer
	private crypto.Signer // the private half of signing
}

// verifyKey is the public half of a stored key, ready to verify.
type verifyKey struct {
	info   KeyInfo
	alg    jose.SignatureAlgorithm
	algs   []jose.SignatureAlgorithm // just alg, for jwt.ParseSigned
	public crypto.PublicKey
	jwk    []byte    // public JWK with kid, alg and use
	until  time.Time // when a retired key stops verifying; zero if not retired
}

// live reports whether key still verifies at now.
func (key *verifyKey) live(now time.Time) bool {
	return key.until.IsZero() || now.Before(key.until)
}

// jwksCache is the encoded key set of a snapshot, valid until the first
// retired key in it stops verifying.
type jwksCache struct {
	set   *keySet
	body  []byte
	until time.Time
}

// NewKeyring returns a Keyring of the keys in store. It holds no keys until
// Load succeeds. An invalid cfg makes Load fail.
func NewKeyring(store foyer.SigningKeyService, cfg Config) *Keyring {
	if cfg.Algorithm == "" {
		cfg.Algorithm = string(jose.ES256)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	cfg.EncryptionKey = bytes.Clone(cfg.EncryptionKey)
	return &Keyring{store: store, cfg: cfg, cfgErr: cfg.validate(), cache: newVerifyCache(cfg.VerifyCacheSize)}
}

// Load reads every key from the store and decrypts the one that signs. If
// the store holds no key it creates the first. Two instances starting on an
// empty store at once may each create one; the later one retires the
// earlier, both then load the same signing key, and tokens signed by the
// earlier key keep verifying as any retired key's do, so that is harmless.
// Load fails with a clear error when the encryption key does not open the
// stored signing key.
func (k *Keyring) Load(ctx context.Context) error {
	if k.cfgErr != nil {
		return k.cfgErr
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.reloadLocked(ctx, true)
}

// Refresh reloads the keys from the store, to learn of keys other instances
// created or retired. Call it periodically. On error the keys loaded before
// stay in use.
func (k *Keyring) Refresh(ctx context.Context) error {
	if k.cfgErr != nil {
		return k.cfgErr
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.reloadLocked(ctx, false)
}

// Rotate creates a new key of Config.Algorithm that signs from now on; the
// store retires the previous one, which keeps verifying for MaxTokenTTL.
// Rotate also deletes keys retired longer ago than that. If reloading after
// the rotation fails, the new key is stored and the error is returned; the
// next Refresh picks the key up.
func (k *Keyring) Rotate(ctx context.Context) (*foyer.SigningKey, error) {
	if k.cfgErr != nil {
		return nil, k.cfgErr
	}
	sk, err := k.newKey() // outside the lock: RSA key generation is slow
	if err != nil {
		return nil, err
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if _, err := k.store.DeleteSigningKeysRetiredBefore(ctx, k.cfg.Now().Add(-k.cfg.MaxTokenTTL)); err != nil {
		return nil, fmt.Errorf("token: delete retired signing keys: %w", err)
	}
	if err := k.store.CreateSigningKey(ctx, sk); err != nil {
		return nil, fmt.Errorf("token: create signing key: %w", err)
	}
	if err := k.reloadLocked(ctx, false); err != nil {
		return nil, err
	}
	return sk, nil
}

// lookup returns the key named kid, reloading the keys once if it is
// unknown: another instance may have rotated.
func (k *Keyring) lookup(ctx context.Context, kid string) (*verifyKey, error) {
	set := k.set.Load()
	if set == nil {
		return nil, errNotLoadedCause
	}
	if key := set.byID[kid]; key != nil {
		return key, nil
	}
	if err := k.reloadForUnknownKey(ctx); err != nil {
		return nil, fmt.Errorf("%w: %w", errUnknownKey, err)
	}
	if key := k.set.Load().byID[kid]; key != nil {
		return key, nil
	}
	return nil, errUnknownKey
}

// reloadForUnknownKey reloads the keys unless that was done less than
// reloadInterval ago. Concurrent callers wait for one reload and share it.
func (k *Keyring) reloadForUnknownKey(ctx context.Context) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	if d := k.cfg.Now().Sub(k.lastReload); d >= 0 && d < reloadInterval {
		return nil
	}
	return k.reloadLocked(ctx, false)
}

// reloadLocked reads the keys and installs a new snapshot. With create, an
// empty store gets its first key. k.mu must be held.
func (k *Keyring) reloadLocked(ctx context.Context, create bool) error {
	k.lastReload = k.cfg.Now()
	stored, err := k.store.FindSigningKeys(ctx)
	if err != nil {
		return fmt.Errorf("token: find signing keys: %w", err)
	}
	if len(stored) == 0 && create {
		sk, err := k.newKey()
		if err != nil {
			return err
		}
		if err := k.store.CreateSigningKey(ctx, sk); err != nil {
			return fmt.Errorf("token: create first signing key: %w", err)
		}
		// Read back instead of using sk: another instance may have
		// created a key at the same time, and all must sign with the same.
		if stored, err = k.store.FindSigningKeys(ctx); err != nil {
			return fmt.Errorf("token: find signing keys: %w", err)
		}
	}
	set, err := k.buildSet(stored)
	if err != nil {
		return err
	}
	prev := k.set.Swap(set)
	if prev != nil && dropsKey(prev, set) {
		// Verify checks the key of a cached token against the current
		// set anyway; this frees what can no longer be used.
		k.cache.retain(func(key *verifyKey) bool {
			cur := set.byID[key.info.ID]
			return cur != nil && sameKey(cur, key)
		})
	}
	return nil
}

// dropsKey reports whether next lacks a key of prev or holds another key
// under its id.
func dropsKey(prev, next *keySet) bool {
	for id, key := range prev.byID {
		if cur := next.byID[id]; cur == nil || !sameKey(cur, key) {
			return true
		}
	}
	return false
}

// buildSet turns stored keys (newest first) into a snapshot: the keys that
// still verify, and a signer for the newest key that is not retired.
func (k *Keyring) buildSet(stored []*foyer.SigningKey) (*keySet, error) {
	now := k.cfg.Now()
	prev := k.set.Load()
	set := &keySet{byID: make(map[string]*verifyKey, len(stored))}
	for _, sk := range stored {
		key, err := parsePublicKey(sk, k.cfg.MaxTokenTTL)
		if err != nil {
			return nil, err
		}
		if !key.live(now) || set.byID[sk.ID] != nil {
			continue
		}
		if set.signing == nil && sk.RetiredAt == nil {
			set.signing = key
			if prev != nil && prev.signing.info.ID == sk.ID {
				set.signer, set.private = prev.signer, prev.private
			} else if set.signer, set.private, err = k.openSigner(sk, key); err != nil {
				return nil, err
			}
		}
		set.keys = append(set.keys, key)
		set.byID[sk.ID] = key
	}
	if set.signing == nil {
		return nil, errors.New("token: the store holds no signing key that is not retired")
	}
	return set, nil
}

// notLoaded is the error of Sign before a successful Load.
func (k *Keyring) notLoaded() error {
	if k.cfgErr != nil {
		return k.cfgErr
	}
	return fmt.Errorf("%w: call Load first", errNotLoadedCause)
}

// JWKS returns the JSON Web Key Set ({"keys":[…]}) of every key that still
// verifies, each with "kid", "alg" and "use": "sig". Before Load it is an
// empty set.
func (k *Keyring) JWKS() []byte {
	set := k.set.Load()
	if set == nil {
		return []byte(`{"keys":[]}`)
	}
	now := k.cfg.Now()
	if c := k.jwks.Load(); c != nil && c.set == set && (c.until.IsZero() || now.Before(c.until)) {
		return bytes.Clone(c.body)
	}
	c := &jwksCache{set: set}
	var b bytes.Buffer
	b.WriteString(`{"keys":[`)
	n := 0
	for _, key := range set.keys {
		if !key.live(now) {
			continue
		}
		if n > 0 {
			b.WriteByte(',')
		}
		b.Write(key.jwk)
		n++
		if !key.until.IsZero() && (c.until.IsZero() || key.until.Before(c.until)) {
			c.until = key.until
		}
	}
	b.WriteString(`]}`)
	c.body = b.Bytes()
	k.jwks.Store(c)
	return bytes.Clone(c.body)
}

// SigningKey returns the current signing key, private half included, as
// a JWK with its key id and algorithm. It is for a signer in the same
// process that must produce tokens in a format of its own (the OpenID
// Connect provider's ID tokens); everything else signs with Sign. Tokens
// it signs verify against JWKS like any other.
func (k *Keyring) SigningKey() (jose.JSONWebKey, error) {
	set := k.set.Load()
	if set == nil {
		return jose.JSONWebKey{}, k.notLoaded()
	}
	return jose.JSONWebKey{Key: set.private, KeyID: set.signing.info.ID, Algorithm: string(set.signing.alg), Use: "sig"}, nil
}

// PublicKeys returns the public keys that still verify, newest first,
// each with its key id, algorithm and use: the keys of JWKS.
func (k *Keyring) PublicKeys() []jose.JSONWebKey {
	set := k.set.Load()
	if set == nil {
		return nil
	}
	now := k.cfg.Now()
	keys := make([]jose.JSONWebKey, 0, len(set.keys))
	for _, key := range set.keys {
		if key.live(now) {
			keys = append(keys, jose.JSONWebKey{Key: key.public, KeyID: key.info.ID, Algorithm: string(key.alg), Use: "sig"})
		}
	}
	return keys
}

// Keys describes the keys that still verify, newest first; the first is
// the one that signs.
func (k *Keyring) Keys() []KeyInfo {
	set := k.set.Load()
	if set == nil {
		return nil
	}
	now := k.cfg.Now()
	infos := make([]KeyInfo, 0, len(set.keys))
	for _, key := range set.keys {
		if key.live(now) {
			info := key.info
			if info.RetiredAt != nil {
				t := *info.RetiredAt
				info.RetiredAt = &t
			}
			infos = append(infos, info)
		}
	}
	return infos
}
