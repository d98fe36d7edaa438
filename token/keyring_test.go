package token_test

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	foyer "github.com/foyerhq/foyer"
	"github.com/foyerhq/foyer/token"
	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	"github.com/google/go-cmp/cmp"
)

func TestAlgorithms(t *testing.T) {
	for _, alg := range algorithms {
		t.Run(alg, func(t *testing.T) {
			b := setup(t, alg)
			sk := b.signingKey(t)
			if sk.Algorithm != alg {
				t.Fatalf("stored Algorithm=%q, want %q", sk.Algorithm, alg)
			}

			c := b.anonymousClaims()
			raw := b.sign(t, c)
			if got := header(t, raw)["alg"]; got != alg {
				t.Fatalf("header alg=%v, want %s", got, alg)
			}
			got, err := b.ring.Verify(t.Context(), raw, token.TypeAnonymous)
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if diff := cmp.Diff(c, got); diff != "" {
				t.Fatalf("claims (-signed +verified):\n%s", diff)
			}
			verifyWithJWKS(t, b.ring.JWKS(), raw, c)
		})
	}
}

// verifyWithJWKS checks raw against the published key set with go-jose's
// own JWKS and JWT code, a path independent of Keyring.Verify, as a
// relying party would.
func verifyWithJWKS(t *testing.T, jwks []byte, raw string, want *token.Claims) {
	t.Helper()
	var set jose.JSONWebKeySet
	if err := json.Unmarshal(jwks, &set); err != nil {
		t.Fatalf("parse JWKS %s: %v", jwks, err)
	}
	kid, _ := header(t, raw)["kid"].(string)
	keys := set.Key(kid)
	if len(keys) != 1 {
		t.Fatalf("JWKS has %d keys with kid %q: %s", len(keys), kid, jwks)
	}
	key := keys[0]
	if key.Use != "sig" || !key.IsPublic() || !key.Valid() {
		t.Fatalf("JWKS key use=%q public=%v valid=%v", key.Use, key.IsPublic(), key.Valid())
	}
	tok, err := jwt.ParseSigned(raw, []jose.SignatureAlgorithm{jose.SignatureAlgorithm(key.Algorithm)})
	if err != nil {
		t.Fatalf("jwt.ParseSigned: %v", err)
	}
	var std jwt.Claims
	var custom struct {
		Type      string `json:"typ"`
		Anonymous bool   `json:"is_anonymous"`
		Epoch     int64  `json:"ep"`
	}
	if err := tok.Claims(key, &std, &custom); err != nil {
		t.Fatalf("verify with JWKS key: %v", err)
	}
	expected := jwt.Expected{Issuer: testIssuer, Subject: want.Subject, AnyAudience: jwt.Audience{testAudience}, ID: want.ID, Time: want.IssuedAt}
	if err := std.ValidateWithLeeway(expected, 0); err != nil {
		t.Fatalf("validate claims: %v", err)
	}
	if custom.Type != want.Type || custom.Anonymous != want.Anonymous || custom.Epoch != want.Epoch {
		t.Fatalf("custom claims %+v, want typ=%q is_anonymous=%v ep=%d", custom, want.Type, want.Anonymous, want.Epoch)
	}
}

func TestJWKS(t *testing.T) {
	t.Run("OK", func(t *testing.T) {
		b := setup(t, "EdDSA")
		sk := b.signingKey(t)
		var got struct {
			Keys []map[string]any `json:"keys"`
		}
		if err := json.Unmarshal(b.ring.JWKS(), &got); err != nil {
			t.Fatal(err)
		}
		want := []map[string]any{{"kty": "OKP", "crv": "Ed25519", "kid": sk.ID, "alg": "EdDSA", "use": "sig"}}
		if diff := cmp.Diff(want, got.Keys, cmp.FilterPath(func(p cmp.Path) bool {
			return p.Last().String() == `["x"]`
		}, cmp.Ignore())); diff != "" {
			t.Fatalf("JWKS (-want +got):\n%s", diff)
		}
		if _, ok := got.Keys[0]["d"]; ok {
			t.Fatal("JWKS contains a private key")
		}
	})

	t.Run("OKNotLoaded", func(t *testing.T) {
		ring := token.NewKeyring(&memStore{now: time.Now}, token.Config{})
		if got, want := string(ring.JWKS()), `{"keys":[]}`; got != want {
			t.Fatalf("JWKS=%s, want %s", got, want)
		}
	})

	t.Run("OKCallerCannotChangeIt", func(t *testing.T) {
		b := setup(t, "ES256")
		first := b.ring.JWKS()
		want := bytes.Clone(first)
		clear(first)
		if got := b.ring.JWKS(); !bytes.Equal(got, want) {
			t.Fatalf("JWKS changed to %s after the caller overwrote its copy", got)
		}
	})
}

func TestRotate(t *testing.T) {
	b := setup(t, "ES256")
	ctx := t.Context()
	old := b.signingKey(t)
	oldPriv, _ := decryptKey(t, testEncryptionKey, old)
	oldClaims := b.anonymousClaims()
	oldToken := b.sign(t, oldClaims)
	// A token of the old key that lives longer than its key verifies, which
	// Sign would refuse to make; it shows exactly when the key drops out.
	m := b.claimsMap()
	m["exp"] = b.clock.Now().Add(2 * testMaxTTL).Unix()
	longToken := forge(t, jose.ES256, oldPriv, old.ID, m, nil, false)

	b.clock.Add(time.Hour)
	retiredAt := b.clock.Now()
	sk, err := b.ring.Rotate(ctx)
	if err != nil {
		t.Fatalf("Rotate: %v", err)
	}
	if sk.ID == old.ID || sk.Algorithm != "ES256" {
		t.Fatalf("Rotate returned %+v", sk)
	}
	newToken := b.sign(t, b.anonymousClaims())
	if kid := header(t, newToken)["kid"]; kid != sk.ID {
		t.Fatalf("new token has kid %v, want %s", kid, sk.ID)
	}
	wantKeys := []token.KeyInfo{
		{ID: sk.ID, Algorithm: "ES256", CreatedAt: retiredAt},
		{ID: old.ID, Algorithm: "ES256", CreatedAt: old.CreatedAt, RetiredAt: &retiredAt},
	}
	if diff := cmp.Diff(wantKeys, b.ring.Keys()); diff != "" {
		t.Fatalf("Keys (-want +got):\n%s", diff)
	}
	for _, raw := range []string{oldToken, newToken, longToken} {
		if _, err := b.ring.Verify(ctx, raw, token.TypeAnonymous); err != nil {
			t.Fatalf("Verify after rotation: %v", err)
		}
	}
	verifyWithJWKS(t, b.ring.JWKS(), oldToken, oldClaims)

	b.clock.Add(testMaxTTL - time.Second)
	if _, err := b.ring.Verify(ctx, longToken, token.TypeAnonymous); err != nil {
		t.Fatalf("Verify just before the retired key's end: %v", err)
	}
	if n := len(b.ring.Keys()); n != 2 {
		t.Fatalf("%d keys just before the retired key's end, want 2", n)
	}

	b.clock.Add(time.Second)
	_, err = b.ring.Verify(ctx, longToken, token.TypeAnonymous)
	wantUnauthorized(t, err, "key retired")
	if diff := cmp.Diff(wantKeys[:1], b.ring.Keys()); diff != "" {
		t.Fatalf("Keys after the retired key's end (-want +got):\n%s", diff)
	}
	if strings.Contains(string(b.ring.JWKS()), old.ID) {
		t.Fatalf("JWKS still lists the retired key: %s", b.ring.JWKS())
	}

	// The next rotation deletes the key that no longer verifies.
	b.clock.Add(time.Second)
	if _, err := b.ring.Rotate(ctx); err != nil {
		t.Fatalf("Rotate: %v", err)
	}
	stored, err := b.store.FindSigningKeys(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, k := range stored {
		ids = append(ids, k.ID)
	}
	if len(ids) != 2 || ids[1] != sk.ID {
		t.Fatalf("stored keys after pruning %v, want [<new> %s]", ids, sk.ID)
	}
}

func TestLoad(t *testing.T) {
	t.Run("OKCreatesOneKey", func(t *testing.T) {
		b := setup(t, "ES256")
		if err := b.ring.Load(t.Context()); err != nil {
			t.Fatalf("second Load: %v", err)
		}
		other := b.newRing(t)
		if keys, _ := b.store.FindSigningKeys(t.Context()); len(keys) != 1 {
			t.Fatalf("%d keys stored, want 1", len(keys))
		}
		if got, want := other.Keys(), b.ring.Keys(); !cmp.Equal(got, want) {
			t.Fatalf("instances disagree: %+v and %+v", got, want)
		}
	})

	t.Run("OKOtherAlgorithmKeepsExistingKey", func(t *testing.T) {
		b := setup(t, "ES256")
		cfg := b.cfg
		cfg.Algorithm = "EdDSA"
		ring := token.NewKeyring(b.store, cfg)
		if err := ring.Load(t.Context()); err != nil {
			t.Fatal(err)
		}
		raw, err := ring.Sign(b.anonymousClaims())
		if err != nil {
			t.Fatal(err)
		}
		if got := header(t, raw)["alg"]; got != "ES256" {
			t.Fatalf("alg=%v, want the existing key's ES256", got)
		}
		if sk, err := ring.Rotate(t.Context()); err != nil || sk.Algorithm != "EdDSA" {
			t.Fatalf("Rotate = %+v, %v; want an EdDSA key", sk, err)
		}
	})

	t.Run("ErrWrongEncryptionKey", func(t *testing.T) {
		b := setup(t, "ES256")
		cfg := b.cfg
		cfg.EncryptionKey = bytes.Repeat([]byte{0x43}, 32)
		err := token.NewKeyring(b.store, cfg).Load(t.Context())
		if err == nil || !strings.Contains(err.Error(), "encryption key is wrong") {
			t.Fatalf("Load with the wrong encryption key: %v", err)
		}
	})

	t.Run("ErrKeyMovedToAnotherRow", func(t *testing.T) {
		b := setup(t, "ES256")
		old := b.signingKey(t)
		if _, err := b.ring.Rotate(t.Context()); err != nil {
			t.Fatal(err)
		}
		// The key id is the additional data: an encrypted key copied into
		// another key's row does not open.
		b.store.mu.Lock()
		b.store.keys[1].PrivateKey = bytes.Clone(old.PrivateKey)
		b.store.mu.Unlock()
		err := token.NewKeyring(b.store, b.cfg).Load(t.Context())
		if err == nil || !strings.Contains(err.Error(), "encryption key is wrong") {
			t.Fatalf("Load with a moved private key: %v", err)
		}
	})

	t.Run("ErrPublicKeyMismatch", func(t *testing.T) {
		b := setup(t, "ES256")
		cfg := b.cfg
		other := setup(t, "ES256")
		sk := other.signingKey(t)
		b.store.mu.Lock()
		b.store.keys[0].PublicKey = bytes.Replace(sk.PublicKey, []byte(sk.ID), []byte(b.store.keys[0].ID), 1)
		b.store.mu.Unlock()
		err := token.NewKeyring(b.store, cfg).Load(t.Context())
		if err == nil || !strings.Contains(err.Error(), "does not match") {
			t.Fatalf("Load with a mismatched public key: %v", err)
		}
	})

	invalid := []struct {
		name   string
		change func(*token.Config)
		want   string
	}{
		{"ErrShortEncryptionKey", func(c *token.Config) { c.EncryptionKey = c.EncryptionKey[:16] }, "encryption key must be 32 bytes"},
		{"ErrNoIssuer", func(c *token.Config) { c.Issuer = "" }, "issuer is required"},
		{"ErrNoAudience", func(c *token.Config) { c.Audience = "" }, "audience is required"},
		{"ErrUnknownAlgorithm", func(c *token.Config) { c.Algorithm = "HS256" }, `algorithm "HS256"`},
		{"ErrNoMaxTokenTTL", func(c *token.Config) { c.MaxTokenTTL = 0 }, "max token TTL"},
	}
	for _, tt := range invalid {
		t.Run(tt.name, func(t *testing.T) {
			b := setup(t, "ES256")
			cfg := b.cfg
			tt.change(&cfg)
			ring := token.NewKeyring(b.store, cfg)
			if err := ring.Load(t.Context()); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Load: %v, want an error mentioning %q", err, tt.want)
			}
			if _, err := ring.Sign(b.anonymousClaims()); err == nil {
				t.Fatal("Sign succeeded on a keyring that did not load")
			}
			_, err := ring.Verify(t.Context(), b.sign(t, b.anonymousClaims()), token.TypeAnonymous)
			wantUnauthorized(t, err, "not loaded")
		})
	}
}

func TestAtRest(t *testing.T) {
	for _, alg := range algorithms {
		t.Run(alg, func(t *testing.T) {
			b := setup(t, alg)
			sk := b.signingKey(t)
			priv, der := decryptKey(t, testEncryptionKey, sk)

			var secret []byte
			switch k := priv.(type) {
			case *ecdsa.PrivateKey:
				secret = k.D.Bytes()
			case ed25519.PrivateKey:
				secret = k.Seed()
			case *rsa.PrivateKey:
				secret = k.D.Bytes()
			}
			for name, plain := range map[string][]byte{"PKCS #8": der, "private scalar": secret} {
				if bytes.Contains(sk.PrivateKey, plain) {
					t.Fatalf("stored private key contains the %s in the clear", name)
				}
				if bytes.Contains(sk.PublicKey, plain) {
					t.Fatalf("stored public key contains the %s", name)
				}
			}
			var jwk jose.JSONWebKey
			if err := jwk.UnmarshalJSON(sk.PublicKey); err != nil {
				t.Fatalf("stored public key is not a JWK: %v", err)
			}
			if !jwk.IsPublic() || jwk.KeyID != sk.ID || jwk.Algorithm != alg {
				t.Fatalf("stored JWK public=%v kid=%q alg=%q", jwk.IsPublic(), jwk.KeyID, jwk.Algorithm)
			}
			if pub := priv.Public().(interface{ Equal(crypto.PublicKey) bool }); !pub.Equal(jwk.Key) {
				t.Fatal("decrypted private key does not belong to the stored public key")
			}
		})
	}
}

func TestReload(t *testing.T) {
	t.Run("OKUnknownKidReloads", func(t *testing.T) {
		b := setup(t, "ES256")
		other := b.newRing(t) // a second instance on the same store
		if _, err := other.Rotate(t.Context()); err != nil {
			t.Fatal(err)
		}
		raw, err := other.Sign(b.anonymousClaims())
		if err != nil {
			t.Fatal(err)
		}

		// Right after a reload, an unknown kid does not reload again.
		finds := b.store.findCount()
		_, err = b.ring.Verify(t.Context(), raw, token.TypeAnonymous)
		wantUnauthorized(t, err, "unknown key id")
		if got := b.store.findCount(); got != finds {
			t.Fatalf("FindSigningKeys called %d times within the reload interval", got-finds)
		}

		b.clock.Add(5 * time.Second)
		if _, err := b.ring.Verify(t.Context(), raw, token.TypeAnonymous); err != nil {
			t.Fatalf("Verify of a key rotated elsewhere: %v", err)
		}
		// The reload also switched signing to the new key.
		mine := b.sign(t, b.anonymousClaims())
		if got, want := header(t, mine)["kid"], header(t, raw)["kid"]; got != want {
			t.Fatalf("signing kid %v, want the rotated key %v", got, want)
		}
	})

	t.Run("OKOneReloadForManyUnknownKids", func(t *testing.T) {
		b := setup(t, "ES256")
		priv, _ := decryptKey(t, testEncryptionKey, b.signingKey(t))
		b.clock.Add(time.Minute)
		finds := b.store.findCount()
		var wg sync.WaitGroup
		for i := range 50 {
			raw := forge(t, jose.ES256, priv, fmt.Sprintf("kid-%d", i), b.claimsMap(), nil, false)
			wg.Go(func() {
				_, err := b.ring.Verify(t.Context(), raw, token.TypeAnonymous)
				if foyer.ErrorCode(err) != foyer.EUnauthorized {
					t.Errorf("Verify: %v", err)
				}
			})
		}
		wg.Wait()
		if got := b.store.findCount() - finds; got != 1 {
			t.Fatalf("FindSigningKeys called %d times for 50 unknown kids, want 1", got)
		}
	})

	t.Run("OKRefresh", func(t *testing.T) {
		b := setup(t, "ES256")
		other := b.newRing(t)
		sk, err := other.Rotate(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		if err := b.ring.Refresh(t.Context()); err != nil {
			t.Fatalf("Refresh: %v", err)
		}
		if got := header(t, b.sign(t, b.anonymousClaims()))["kid"]; got != sk.ID {
			t.Fatalf("signing kid %v after Refresh, want %s", got, sk.ID)
		}
	})

	t.Run("ErrRefreshEmptyStoreKeepsKeys", func(t *testing.T) {
		b := setup(t, "ES256")
		raw := b.sign(t, b.anonymousClaims())
		b.store.mu.Lock()
		b.store.keys = nil
		b.store.mu.Unlock()
		if err := b.ring.Refresh(t.Context()); err == nil {
			t.Fatal("Refresh of an empty store succeeded")
		}
		if _, err := b.ring.Verify(t.Context(), raw, token.TypeAnonymous); err != nil {
			t.Fatalf("Verify after a failed Refresh: %v", err)
		}
	})
}

// TestConcurrent signs and verifies while keys rotate; run with -race.
func TestConcurrent(t *testing.T) {
	b := setup(t, "ES256")
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 200 {
				raw, err := b.ring.Sign(b.anonymousClaims())
				if err != nil {
					t.Errorf("Sign: %v", err)
					return
				}
				if _, err := b.ring.Verify(t.Context(), raw, token.TypeAnonymous); err != nil {
					t.Errorf("Verify: %v", err)
					return
				}
				b.ring.JWKS()
				b.ring.Keys()
			}
		})
	}
	wg.Go(func() {
		for range 10 {
			if _, err := b.ring.Rotate(t.Context()); err != nil {
				t.Errorf("Rotate: %v", err)
				return
			}
			if err := b.ring.Refresh(t.Context()); err != nil {
				t.Errorf("Refresh: %v", err)
				return
			}
		}
	})
	wg.Wait()
	if n := len(b.ring.Keys()); n != 11 {
		t.Fatalf("%d keys after 10 rotations, want 11", n)
	}
}
