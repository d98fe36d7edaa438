package token_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	foyer "github.com/foyerhq/foyer"
	"github.com/foyerhq/foyer/token"
	"github.com/go-jose/go-jose/v4"
	"github.com/google/go-cmp/cmp"
)

// jwksServer publishes a keyring's key set over HTTP, as GET
// /.well-known/jwks.json does, and counts the fetches. body, when set,
// replaces the key set; status, when set, is answered instead.
type jwksServer struct {
	*httptest.Server
	fetches atomic.Int64
	mu      sync.Mutex
	body    []byte
	status  int
}

func newJWKSServer(t testing.TB, ring *token.Keyring) *jwksServer {
	t.Helper()
	s := &jwksServer{}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != token.JWKSPath || r.Method != http.MethodGet {
			http.NotFound(w, r)
			return
		}
		s.fetches.Add(1)
		s.mu.Lock()
		body, status := s.body, s.status
		s.mu.Unlock()
		if status != 0 {
			w.WriteHeader(status)
			return
		}
		if body == nil {
			body = ring.JWKS()
		}
		w.Header().Set("Content-Type", "application/json")
		w.Write(body)
	}))
	t.Cleanup(s.Close)
	return s
}

// serve makes the server answer body (nil: the keyring's set) or status.
func (s *jwksServer) serve(body []byte, status int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.body, s.status = body, status
}

// verifier returns a JWKSVerifier of the test issuer and audience on s.
func (b *bundle) verifier(s *jwksServer) *token.JWKSVerifier {
	return token.NewJWKSVerifier(token.JWKSConfig{
		BaseURL:  s.URL,
		Issuer:   testIssuer,
		Audience: testAudience,
		Now:      b.clock.Now,
	})
}

func TestJWKSVerifier(t *testing.T) {
	for _, alg := range algorithms {
		t.Run("OK"+alg, func(t *testing.T) {
			b := setup(t, alg)
			v := b.verifier(newJWKSServer(t, b.ring))
			c := b.anonymousClaims()
			got, err := v.Verify(t.Context(), b.sign(t, c), token.TypeAnonymous)
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if diff := cmp.Diff(c, got); diff != "" {
				t.Fatalf("claims (-signed +verified):\n%s", diff)
			}
		})
	}

	b := setup(t, "ES256")
	v := b.verifier(newJWKSServer(t, b.ring))
	sk := b.signingKey(t)
	priv, _ := decryptKey(t, testEncryptionKey, sk)
	now := b.clock.Now()
	attacker, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	attackerRSA, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	with := func(changes map[string]any) map[string]any {
		m := b.claimsMap()
		for k, val := range changes {
			if val == nil {
				delete(m, k)
			} else {
				m[k] = val
			}
		}
		return m
	}
	valid := b.sign(t, b.anonymousClaims())
	h, p, s := split(valid)

	// The same table as TestVerify where the rules are shared: the
	// verifier must refuse each for the same reason as the keyring.
	tests := []struct {
		name  string
		raw   string
		typ   string
		cause string // substring of the error; "" means the token verifies
	}{
		{"OK", valid, token.TypeAnonymous, ""},
		{"OKVendedWithoutSubject", b.sign(t, &token.Claims{Type: token.TypeVended, Expiry: now.Add(time.Minute), Extra: map[string]any{"plan": "pro"}}), token.TypeVended, ""},
		{"ErrExpired", b.sign(t, &token.Claims{Subject: "u", Type: token.TypeAnonymous, IssuedAt: now.Add(-2 * time.Hour), Expiry: now.Add(-time.Hour)}), token.TypeAnonymous, "expired"},
		{"ErrMissingExpiry", forge(t, jose.ES256, priv, sk.ID, with(map[string]any{"exp": nil}), nil, false), token.TypeAnonymous, "missing expiry"},
		{"ErrNotBeforeInFuture", forge(t, jose.ES256, priv, sk.ID, with(map[string]any{"nbf": now.Add(2 * time.Minute).Unix()}), nil, false), token.TypeAnonymous, "not valid yet"},
		{"ErrWrongAudience", b.sign(t, &token.Claims{Subject: "u", Type: token.TypeAnonymous, Audience: []string{"https://other.example.com"}, Expiry: now.Add(time.Hour)}), token.TypeAnonymous, "wrong audience"},
		{"ErrWrongIssuer", b.sign(t, &token.Claims{Subject: "u", Type: token.TypeAnonymous, Issuer: "https://evil.example.com", Expiry: now.Add(time.Hour)}), token.TypeAnonymous, "wrong issuer"},
		{"ErrWrongType", b.sign(t, &token.Claims{Subject: "u", Type: token.TypeAccess, Expiry: now.Add(time.Hour)}), token.TypeAnonymous, "wrong type"},
		{"ErrEmptyWantedType", valid, "", "wrong type"},
		{"ErrMissingSubject", forge(t, jose.ES256, priv, sk.ID, with(map[string]any{"sub": nil}), nil, false), token.TypeAnonymous, "missing subject"},
		{"ErrClaimNameCase", forge(t, jose.ES256, priv, sk.ID, with(map[string]any{"typ": token.TypeVended, "Typ": token.TypeAnonymous}), nil, false), token.TypeAnonymous, "wrong type"},
		{"ErrAlgNone", segment(t, map[string]any{"alg": "none", "kid": sk.ID, "typ": "JWT"}) + "." + p + ".", token.TypeAnonymous, "malformed"},
		{"ErrWrongKey", forge(t, jose.ES256, attacker, sk.ID, b.claimsMap(), nil, false), token.TypeAnonymous, "invalid signature"},
		{"ErrAlgConfusionHS256JWK", forge(t, jose.HS256, sk.PublicKey, sk.ID, b.claimsMap(), nil, false), token.TypeAnonymous, "algorithm not allowed"},
		{"ErrAlgConfusionRS256", forge(t, jose.RS256, attackerRSA, sk.ID, b.claimsMap(), nil, false), token.TypeAnonymous, "algorithm not allowed"},
		{"ErrEmbeddedJWK", forge(t, jose.ES256, attacker, sk.ID, b.claimsMap(), nil, true), token.TypeAnonymous, `header not allowed: "jwk"`},
		{"ErrJKU", forge(t, jose.ES256, priv, sk.ID, b.claimsMap(), map[string]any{"jku": "https://evil.example.com/jwks"}, false), token.TypeAnonymous, `header not allowed: "jku"`},
		{"ErrUnknownKid", forge(t, jose.ES256, priv, "unknown-kid", b.claimsMap(), nil, false), token.TypeAnonymous, "unknown key id"},
		{"ErrTamperedPayload", h + "." + segment(t, with(map[string]any{"sub": "someone-else"})) + "." + s, token.TypeAnonymous, "invalid signature"},
		{"ErrTamperedSignature", h + "." + p + "." + flipFirst(s), token.TypeAnonymous, "invalid signature"},
		{"ErrNonCanonicalSignature", h + "." + p + "." + s[:len(s)-1] + setLowBit(s[len(s)-1]), token.TypeAnonymous, "malformed"},
		{"ErrTooLarge", h + "." + strings.Repeat("A", 20000) + "." + s, token.TypeAnonymous, "malformed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := v.Verify(t.Context(), tt.raw, tt.typ)
			_, ringErr := b.ring.Verify(t.Context(), tt.raw, tt.typ)
			if (err == nil) != (ringErr == nil) {
				t.Fatalf("JWKSVerifier: %v, Keyring: %v", err, ringErr)
			}
			if tt.cause != "" {
				wantUnauthorized(t, err, tt.cause)
				return
			}
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if c.Type != tt.typ {
				t.Fatalf("Type=%q, want %q", c.Type, tt.typ)
			}
		})
	}
}

func TestJWKSVerifierDefaults(t *testing.T) {
	b := setup(t, "ES256")
	srv := newJWKSServer(t, b.ring)
	// Foyer's default: the issuer is the public URL, and so is the audience.
	b.cfg.Issuer, b.cfg.Audience = srv.URL, srv.URL
	ring := b.newRing(t)
	v := token.NewJWKSVerifier(token.JWKSConfig{BaseURL: srv.URL + "/", Now: b.clock.Now})

	raw, err := ring.Sign(b.anonymousClaims())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := v.Verify(t.Context(), raw, token.TypeAnonymous); err != nil {
		t.Fatalf("Verify with default issuer and audience: %v", err)
	}
	// A token of the same keys for another issuer is refused.
	_, err = v.Verify(t.Context(), b.sign(t, b.anonymousClaims()), token.TypeAnonymous)
	wantUnauthorized(t, err, "wrong issuer")
}

func TestJWKSVerifierRefresh(t *testing.T) {
	t.Run("OKUnknownKidFetchesOnce", func(t *testing.T) {
		b := setup(t, "ES256")
		srv := newJWKSServer(t, b.ring)
		v := b.verifier(srv)
		oldToken := b.sign(t, b.anonymousClaims())
		for range 3 {
			if _, err := v.Verify(t.Context(), oldToken, token.TypeAnonymous); err != nil {
				t.Fatalf("Verify: %v", err)
			}
		}
		if got := srv.fetches.Load(); got != 1 {
			t.Fatalf("%d fetches for three tokens of one key, want 1", got)
		}

		// Foyer rotates. Right after the last fetch an unknown kid does
		// not fetch again; once the interval has passed it fetches once.
		if _, err := b.ring.Rotate(t.Context()); err != nil {
			t.Fatal(err)
		}
		newToken := b.sign(t, b.anonymousClaims())
		_, err := v.Verify(t.Context(), newToken, token.TypeAnonymous)
		wantUnauthorized(t, err, "unknown key id")
		if got := srv.fetches.Load(); got != 1 {
			t.Fatalf("%d fetches within the refresh interval, want 1", got)
		}
		b.clock.Add(token.DefaultJWKSRefreshInterval)
		for range 3 {
			if _, err := v.Verify(t.Context(), newToken, token.TypeAnonymous); err != nil {
				t.Fatalf("Verify of the rotated key: %v", err)
			}
		}
		if got := srv.fetches.Load(); got != 2 {
			t.Fatalf("%d fetches after rotation, want 2", got)
		}
		// The retired key is still published, so its tokens still verify.
		if _, err := v.Verify(t.Context(), oldToken, token.TypeAnonymous); err != nil {
			t.Fatalf("Verify of the retired key's token: %v", err)
		}
	})

	t.Run("OKOneFetchForManyUnknownKids", func(t *testing.T) {
		b := setup(t, "ES256")
		srv := newJWKSServer(t, b.ring)
		v := b.verifier(srv)
		priv, _ := decryptKey(t, testEncryptionKey, b.signingKey(t))
		var wg sync.WaitGroup
		for i := range 50 {
			raw := forge(t, jose.ES256, priv, fmt.Sprintf("kid-%d", i), b.claimsMap(), nil, false)
			wg.Go(func() {
				_, err := v.Verify(t.Context(), raw, token.TypeAnonymous)
				if foyer.ErrorCode(err) != foyer.EUnauthorized {
					t.Errorf("Verify: %v", err)
				}
			})
		}
		wg.Wait()
		if got := srv.fetches.Load(); got != 1 {
			t.Fatalf("%d fetches for 50 unknown kids, want 1", got)
		}
	})

	t.Run("OKRefresh", func(t *testing.T) {
		b := setup(t, "ES256")
		srv := newJWKSServer(t, b.ring)
		v := b.verifier(srv)
		if err := v.Refresh(t.Context()); err != nil {
			t.Fatalf("Refresh: %v", err)
		}
		if _, err := b.ring.Rotate(t.Context()); err != nil {
			t.Fatal(err)
		}
		if err := v.Refresh(t.Context()); err != nil {
			t.Fatalf("Refresh: %v", err)
		}
		if got := srv.fetches.Load(); got != 2 {
			t.Fatalf("%d fetches for two Refresh calls, want 2", got)
		}
		if _, err := v.Verify(t.Context(), b.sign(t, b.anonymousClaims()), token.TypeAnonymous); err != nil {
			t.Fatalf("Verify after Refresh: %v", err)
		}
		if got := srv.fetches.Load(); got != 2 {
			t.Fatalf("Verify fetched although Refresh had the key (%d fetches)", got)
		}
	})

	t.Run("ErrFetchKeepsKeys", func(t *testing.T) {
		b := setup(t, "ES256")
		srv := newJWKSServer(t, b.ring)
		v := b.verifier(srv)
		raw := b.sign(t, b.anonymousClaims())
		if _, err := v.Verify(t.Context(), raw, token.TypeAnonymous); err != nil {
			t.Fatalf("Verify: %v", err)
		}
		srv.serve(nil, http.StatusServiceUnavailable)
		if err := v.Refresh(t.Context()); err == nil || !strings.Contains(err.Error(), "503") {
			t.Fatalf("Refresh from a failing server: %v", err)
		}
		if _, err := v.Verify(t.Context(), raw, token.TypeAnonymous); err != nil {
			t.Fatalf("Verify after a failed Refresh: %v", err)
		}
	})

	t.Run("ErrFirstFetchFails", func(t *testing.T) {
		b := setup(t, "ES256")
		srv := newJWKSServer(t, b.ring)
		v := b.verifier(srv)
		raw := b.sign(t, b.anonymousClaims())
		srv.serve(nil, http.StatusInternalServerError)
		_, err := v.Verify(t.Context(), raw, token.TypeAnonymous)
		wantUnauthorized(t, err, "500")

		// Foyer is back, but the verifier waits out the interval.
		srv.serve(nil, 0)
		_, err = v.Verify(t.Context(), raw, token.TypeAnonymous)
		wantUnauthorized(t, err, "unknown key id")
		b.clock.Add(token.DefaultJWKSRefreshInterval)
		if _, err := v.Verify(t.Context(), raw, token.TypeAnonymous); err != nil {
			t.Fatalf("Verify once the interval has passed: %v", err)
		}
		if got := srv.fetches.Load(); got != 2 {
			t.Fatalf("%d fetches, want 2", got)
		}
	})

	t.Run("ErrCanceled", func(t *testing.T) {
		b := setup(t, "ES256")
		v := b.verifier(newJWKSServer(t, b.ring))
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		if err := v.Refresh(ctx); err == nil {
			t.Fatal("Refresh with a canceled context succeeded")
		}
	})
}

// TestJWKSVerifierKeySet checks which published keys the verifier uses.
func TestJWKSVerifierKeySet(t *testing.T) {
	b := setup(t, "ES256")
	sk := b.signingKey(t)
	raw := b.sign(t, b.anonymousClaims())
	var pub map[string]any
	if err := json.Unmarshal(sk.PublicKey, &pub); err != nil {
		t.Fatal(err)
	}
	// key returns the ring's public JWK with changes; nil deletes a member.
	key := func(changes map[string]any) map[string]any {
		m := map[string]any{}
		for k, v := range pub {
			m[k] = v
		}
		for k, v := range changes {
			if v == nil {
				delete(m, k)
			} else {
				m[k] = v
			}
		}
		return m
	}
	set := func(keys ...map[string]any) []byte {
		b, err := json.Marshal(map[string]any{"keys": keys})
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	privJWK, err := jose.JSONWebKey{Key: mustECDSA(t, elliptic.P256()), KeyID: sk.ID, Algorithm: "ES256"}.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	var private map[string]any
	if err := json.Unmarshal(privJWK, &private); err != nil {
		t.Fatal(err)
	}
	weakRSA, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	weakJWK, err := jose.JSONWebKey{Key: weakRSA.Public(), KeyID: sk.ID, Algorithm: "RS256"}.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	var weak map[string]any
	if err := json.Unmarshal(weakJWK, &weak); err != nil {
		t.Fatal(err)
	}
	other := mustECDSA(t, elliptic.P256())
	otherJWK, err := jose.JSONWebKey{Key: other.Public(), KeyID: sk.ID, Algorithm: "ES256", Use: "sig"}.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	var otherKey map[string]any
	if err := json.Unmarshal(otherJWK, &otherKey); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name  string
		body  []byte
		cause string // "" means raw verifies
	}{
		{"OK", set(key(nil)), ""},
		{"OKWithoutUse", set(key(map[string]any{"use": nil})), ""},
		{"OKUnusableKeyBeside", set(key(map[string]any{"kid": "other", "alg": "HS256"}), key(nil)), ""},
		{"ErrNoAlg", set(key(map[string]any{"alg": nil})), "no usable signing key"},
		{"ErrOtherAlg", set(key(map[string]any{"alg": "ES384"})), "no usable signing key"},
		{"ErrAlgNotOfKeyType", set(key(map[string]any{"alg": "RS256"})), "no usable signing key"},
		{"ErrUseEnc", set(key(map[string]any{"use": "enc"})), "no usable signing key"},
		{"ErrNoKid", set(key(map[string]any{"kid": nil})), "no usable signing key"},
		{"ErrPrivateKey", set(private), "no usable signing key"},
		{"ErrWeakRSA", set(weak), "no usable signing key"},
		{"ErrDuplicateKid", set(key(nil), otherKey), "no usable signing key"},
		{"ErrEmptySet", []byte(`{"keys":[]}`), "no usable signing key"},
		{"ErrNotJSON", []byte(`<html>`), "not a JSON Web Key Set"},
		{"ErrTooLarge", append(append([]byte(`{"keys":[],"pad":"`), strings.Repeat("x", 1<<20)...), `"}`...), "larger than"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newJWKSServer(t, b.ring)
			srv.serve(tt.body, 0)
			_, err := b.verifier(srv).Verify(t.Context(), raw, token.TypeAnonymous)
			if tt.cause == "" {
				if err != nil {
					t.Fatalf("Verify: %v", err)
				}
				return
			}
			wantUnauthorized(t, err, tt.cause)
		})
	}
}

// FuzzJWKSVerifier serves arbitrary key sets: the verifier must never
// panic, must accept the ring's token only with its true claims, and must
// never accept a token signed by a key that is not published.
func FuzzJWKSVerifier(f *testing.F) {
	b := setup(f, "ES256")
	sk := b.signingKey(f)
	valid := b.anonymousClaims()
	raw := b.sign(f, valid)
	attacker := mustECDSA(f, elliptic.P256())
	forged := forge(f, jose.ES256, attacker, sk.ID, b.claimsMap(), nil, false)
	confused := forge(f, jose.HS256, sk.PublicKey, sk.ID, b.claimsMap(), nil, false)

	f.Add(b.ring.JWKS())
	f.Add([]byte(`{"keys":[` + string(sk.PublicKey) + `,` + string(sk.PublicKey) + `]}`))
	f.Add([]byte(`{"keys":[{"kty":"oct","k":"c2VjcmV0","kid":"` + sk.ID + `","alg":"HS256"}]}`))
	f.Add([]byte(`{"keys":null}`))
	f.Add([]byte(`[]`))
	f.Add([]byte(``))
	srv := newJWKSServer(f, b.ring)
	f.Fuzz(func(t *testing.T, body []byte) {
		srv.serve(body, 0) // inputs run one at a time in each process
		v := b.verifier(srv)
		if c, err := v.Verify(t.Context(), raw, token.TypeAnonymous); err == nil {
			if diff := cmp.Diff(valid, c); diff != "" {
				t.Fatalf("claims (-signed +verified):\n%s", diff)
			}
		} else if foyer.ErrorCode(err) != foyer.EUnauthorized {
			t.Fatalf("refusal is not the generic error: %v", err)
		}
		for _, bad := range []string{forged, confused} {
			if _, err := v.Verify(t.Context(), bad, token.TypeAnonymous); err == nil {
				t.Fatalf("token %q verified with key set %q", bad, body)
			}
		}
	})
}
