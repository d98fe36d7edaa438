package token_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/foyerhq/foyer/token"
	"github.com/go-jose/go-jose/v4"
	"github.com/google/go-cmp/cmp"
)

// verified verifies raw as typ, fails the test on error and returns the
// claims.
func (b *bundle) verified(t testing.TB, raw, typ string) *token.Claims {
	t.Helper()
	c, err := b.ring.Verify(t.Context(), raw, typ)
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	return c
}

// wantCached fails unless the ring's cache holds n tokens.
func (b *bundle) wantCached(t testing.TB, n int) {
	t.Helper()
	if got := b.ring.CachedTokens(); got != n {
		t.Fatalf("%d tokens cached, want %d", got, n)
	}
}

// TestVerifyCache checks that a remembered verification is never used for
// a token that the full check would now refuse.
func TestVerifyCache(t *testing.T) {
	t.Run("OK", func(t *testing.T) {
		b := setup(t, "ES256")
		c := b.anonymousClaims()
		raw := b.sign(t, c)
		first := b.verified(t, raw, token.TypeAnonymous)
		b.wantCached(t, 1)
		if diff := cmp.Diff(c, first); diff != "" {
			t.Fatalf("claims (-signed +verified):\n%s", diff)
		}
		// The caller owns what it gets: changing it changes no later
		// answer.
		first.Audience[0] = "changed"
		first.Subject = "changed"
		second := b.verified(t, raw, token.TypeAnonymous)
		b.wantCached(t, 1)
		if diff := cmp.Diff(c, second); diff != "" {
			t.Fatalf("cached claims (-signed +verified):\n%s", diff)
		}
	})

	t.Run("ErrTampered", func(t *testing.T) {
		b := setup(t, "ES256")
		raw := b.sign(t, b.anonymousClaims())
		b.verified(t, raw, token.TypeAnonymous)
		h, p, s := split(raw)
		other := b.anonymousClaims()
		other.Subject = "0195a2b4-7c1d-7e2f-8a3b-000000000000"
		_, otherPayload, _ := split(b.sign(t, other))
		tests := []struct {
			name  string
			raw   string
			cause string
		}{
			{"ErrPayload", h + "." + otherPayload + "." + s, "invalid signature"},
			{"ErrPayloadChar", h + "." + flipFirst(p) + "." + s, "token:"},
			{"ErrSignature", h + "." + p + "." + flipFirst(s), "invalid signature"},
			{"ErrNonCanonicalSignature", h + "." + p + "." + s[:len(s)-1] + setLowBit(s[len(s)-1]), "malformed"},
			{"ErrTrailingDot", raw + ".", "malformed"},
			{"ErrSpace", raw + " ", "malformed"},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				_, err := b.ring.Verify(t.Context(), tt.raw, token.TypeAnonymous)
				wantUnauthorized(t, err, tt.cause)
			})
		}
		b.wantCached(t, 1)
	})

	t.Run("ErrWrongType", func(t *testing.T) {
		b := setup(t, "ES256")
		raw := b.sign(t, b.anonymousClaims())
		b.verified(t, raw, token.TypeAnonymous)
		for _, typ := range []string{token.TypeAccess, token.TypeSession, token.TypeVended, ""} {
			_, err := b.ring.Verify(t.Context(), raw, typ)
			wantUnauthorized(t, err, "wrong type")
		}
	})

	t.Run("ErrExpired", func(t *testing.T) {
		b := setup(t, "ES256")
		c := b.anonymousClaims()
		c.Expiry = b.clock.Now().Add(30 * time.Second)
		raw := b.sign(t, c)
		b.verified(t, raw, token.TypeAnonymous)
		b.clock.Add(29 * time.Second)
		b.verified(t, raw, token.TypeAnonymous)
		b.clock.Add(time.Second)
		_, err := b.ring.Verify(t.Context(), raw, token.TypeAnonymous)
		wantUnauthorized(t, err, "expired")
	})

	t.Run("ErrClockBeforeIssue", func(t *testing.T) {
		// A clock set back must not accept from the cache a token the
		// full check finds issued in the future.
		b := setup(t, "ES256")
		raw := b.sign(t, b.anonymousClaims())
		b.verified(t, raw, token.TypeAnonymous)
		b.clock.Add(-2 * time.Minute)
		_, err := b.ring.Verify(t.Context(), raw, token.TypeAnonymous)
		wantUnauthorized(t, err, "not valid yet")
	})

	t.Run("ErrKeyRetired", func(t *testing.T) {
		// A token that outlives its key (only a forged one can) stops
		// verifying when the key does, even if it was verified a moment
		// before.
		b := setup(t, "ES256")
		old := b.signingKey(t)
		priv, _ := decryptKey(t, testEncryptionKey, old)
		m := b.claimsMap()
		m["exp"] = b.clock.Now().Add(2 * testMaxTTL).Unix()
		raw := forge(t, jose.ES256, priv, old.ID, m, nil, false)
		if _, err := b.ring.Rotate(t.Context()); err != nil {
			t.Fatal(err)
		}
		b.clock.Add(testMaxTTL - 30*time.Second)
		b.verified(t, raw, token.TypeAnonymous)
		b.wantCached(t, 1)
		b.clock.Add(30 * time.Second)
		_, err := b.ring.Verify(t.Context(), raw, token.TypeAnonymous)
		wantUnauthorized(t, err, "key retired")
	})

	t.Run("ErrKeyDeleted", func(t *testing.T) {
		// A key removed from the store (pruned, or deleted because it
		// leaked) verifies nothing once the ring reloads, and what it
		// verified leaves the cache.
		b := setup(t, "ES256")
		raw := b.sign(t, b.anonymousClaims())
		b.verified(t, raw, token.TypeAnonymous)
		if _, err := b.ring.Rotate(t.Context()); err != nil {
			t.Fatal(err)
		}
		fresh := b.sign(t, b.anonymousClaims())
		b.verified(t, fresh, token.TypeAnonymous)
		b.verified(t, raw, token.TypeAnonymous)
		b.wantCached(t, 2)

		b.clock.Add(time.Second)
		if n, err := b.store.DeleteSigningKeysRetiredBefore(t.Context(), b.clock.Now()); err != nil || n != 1 {
			t.Fatalf("DeleteSigningKeysRetiredBefore = %d, %v; want 1", n, err)
		}
		if err := b.ring.Refresh(t.Context()); err != nil {
			t.Fatal(err)
		}
		b.wantCached(t, 1)
		_, err := b.ring.Verify(t.Context(), raw, token.TypeAnonymous)
		wantUnauthorized(t, err, "unknown key id")
		b.verified(t, fresh, token.TypeAnonymous)
	})

	t.Run("ErrKeyReplaced", func(t *testing.T) {
		// Another public key stored under the id of a retired key (a
		// restore from another deployment's backup, say) verifies nothing
		// the old one did, and what the old one verified leaves the cache.
		b := setup(t, "ES256")
		raw := b.sign(t, b.anonymousClaims())
		b.verified(t, raw, token.TypeAnonymous)
		id := b.signingKey(t).ID
		if _, err := b.ring.Rotate(t.Context()); err != nil {
			t.Fatal(err)
		}
		b.verified(t, raw, token.TypeAnonymous)
		b.wantCached(t, 1)

		replacement := setup(t, "ES256").signingKey(t)
		b.store.mu.Lock()
		for _, k := range b.store.keys {
			if k.ID == id {
				k.PublicKey = []byte(strings.Replace(string(replacement.PublicKey), replacement.ID, id, 1))
			}
		}
		b.store.mu.Unlock()
		if err := b.ring.Refresh(t.Context()); err != nil {
			t.Fatalf("Refresh: %v", err)
		}
		b.wantCached(t, 0)
		_, err := b.ring.Verify(t.Context(), raw, token.TypeAnonymous)
		wantUnauthorized(t, err, "invalid signature")
	})

	t.Run("OKVendedNotCached", func(t *testing.T) {
		b := setup(t, "ES256")
		raw := b.sign(t, &token.Claims{Type: token.TypeVended, Expiry: b.clock.Now().Add(time.Minute), Extra: map[string]any{"plan": "pro"}})
		c := b.verified(t, raw, token.TypeVended)
		c.Extra["plan"] = "free"
		if got := b.verified(t, raw, token.TypeVended).Extra["plan"]; got != "pro" {
			t.Fatalf("plan=%v, want pro", got)
		}
		b.wantCached(t, 0)
	})

	t.Run("OKBounded", func(t *testing.T) {
		b := setup(t, "ES256")
		b.cfg.VerifyCacheSize = 32
		b.ring = b.newRing(t)
		for i := range 200 {
			c := b.anonymousClaims()
			c.Subject = fmt.Sprintf("user-%d", i)
			b.verified(t, b.sign(t, c), token.TypeAnonymous)
		}
		if n := b.ring.CachedTokens(); n == 0 || n > 32 {
			t.Fatalf("%d tokens cached, want 1 to 32", n)
		}
	})

	t.Run("OKDisabled", func(t *testing.T) {
		b := setup(t, "ES256")
		b.cfg.VerifyCacheSize = -1
		b.ring = b.newRing(t)
		raw := b.sign(t, b.anonymousClaims())
		b.verified(t, raw, token.TypeAnonymous)
		b.verified(t, raw, token.TypeAnonymous)
		b.wantCached(t, 0)
	})
}
