package token_test

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"math/big"
	"strings"
	"testing"
	"time"

	foyer "github.com/foyerhq/foyer"
	"github.com/foyerhq/foyer/token"
	"github.com/go-jose/go-jose/v4"
	"github.com/google/go-cmp/cmp"
)

func TestVerify(t *testing.T) {
	b := setup(t, "ES256")
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
	pkixDER, err := x509.MarshalPKIXPublicKey(priv.Public())
	if err != nil {
		t.Fatal(err)
	}
	cert := selfSigned(t, priv)

	// with returns the valid claims with the given changes; a nil value
	// deletes the claim.
	with := func(changes map[string]any) map[string]any {
		m := b.claimsMap()
		for k, v := range changes {
			if v == nil {
				delete(m, k)
			} else {
				m[k] = v
			}
		}
		return m
	}
	valid := b.sign(t, b.anonymousClaims())
	h, p, s := split(valid)

	tests := []struct {
		name  string
		raw   string
		typ   string
		cause string // substring of the error; "" means the token verifies
	}{
		{"OK", valid, token.TypeAnonymous, ""},
		{"OKForgedWithRingKey", forge(t, jose.ES256, priv, sk.ID, b.claimsMap(), nil, false), token.TypeAnonymous, ""},
		{"OKIssuedWithinSkew", forge(t, jose.ES256, priv, sk.ID, with(map[string]any{"iat": now.Add(59 * time.Second).Unix()}), nil, false), token.TypeAnonymous, ""},
		{"OKVendedWithoutSubject", b.sign(t, &token.Claims{Type: token.TypeVended, Expiry: now.Add(time.Minute)}), token.TypeVended, ""},
		{"ErrExpired", b.sign(t, &token.Claims{Subject: "u", Type: token.TypeAnonymous, IssuedAt: now.Add(-2 * time.Hour), Expiry: now.Add(-time.Hour)}), token.TypeAnonymous, "expired"},
		{"ErrExpiresNow", b.sign(t, &token.Claims{Subject: "u", Type: token.TypeAnonymous, IssuedAt: now.Add(-time.Hour), Expiry: now}), token.TypeAnonymous, "expired"},
		{"ErrMissingExpiry", forge(t, jose.ES256, priv, sk.ID, with(map[string]any{"exp": nil}), nil, false), token.TypeAnonymous, "missing expiry"},
		{"ErrNotBeforeInFuture", forge(t, jose.ES256, priv, sk.ID, with(map[string]any{"nbf": now.Add(2 * time.Minute).Unix()}), nil, false), token.TypeAnonymous, "not valid yet"},
		{"ErrIssuedInFuture", b.sign(t, &token.Claims{Subject: "u", Type: token.TypeAnonymous, IssuedAt: now.Add(2 * time.Minute), Expiry: now.Add(time.Hour)}), token.TypeAnonymous, "not valid yet"},
		{"ErrWrongAudience", b.sign(t, &token.Claims{Subject: "u", Type: token.TypeAnonymous, Audience: []string{"https://other.example.com"}, Expiry: now.Add(time.Hour)}), token.TypeAnonymous, "wrong audience"},
		{"ErrMissingAudience", forge(t, jose.ES256, priv, sk.ID, with(map[string]any{"aud": nil}), nil, false), token.TypeAnonymous, "wrong audience"},
		{"ErrWrongIssuer", b.sign(t, &token.Claims{Subject: "u", Type: token.TypeAnonymous, Issuer: "https://evil.example.com", Expiry: now.Add(time.Hour)}), token.TypeAnonymous, "wrong issuer"},
		{"ErrWrongType", b.sign(t, &token.Claims{Subject: "u", Type: token.TypeAccess, Expiry: now.Add(time.Hour)}), token.TypeAnonymous, "wrong type"},
		{"ErrEmptyWantedType", valid, "", "wrong type"},
		{"ErrMissingSubject", forge(t, jose.ES256, priv, sk.ID, with(map[string]any{"sub": nil}), nil, false), token.TypeAnonymous, "missing subject"},
		{"ErrMistypedClaim", forge(t, jose.ES256, priv, sk.ID, with(map[string]any{"ep": "3"}), nil, false), token.TypeAnonymous, "wrong JSON type"},
		{"ErrClaimNameCase", forge(t, jose.ES256, priv, sk.ID, with(map[string]any{"typ": token.TypeVended, "Typ": token.TypeAnonymous}), nil, false), token.TypeAnonymous, "wrong type"},
		{"ErrAlgNone", segment(t, map[string]any{"alg": "none", "kid": sk.ID, "typ": "JWT"}) + "." + p + ".", token.TypeAnonymous, "malformed"},
		{"ErrAlgNoneWithSignature", segment(t, map[string]any{"alg": "none", "kid": sk.ID, "typ": "JWT"}) + "." + p + "." + s, token.TypeAnonymous, "algorithm not allowed"},
		{"ErrWrongKey", forge(t, jose.ES256, attacker, sk.ID, b.claimsMap(), nil, false), token.TypeAnonymous, "invalid signature"},
		{"ErrAlgConfusionHS256JWK", forge(t, jose.HS256, sk.PublicKey, sk.ID, b.claimsMap(), nil, false), token.TypeAnonymous, "algorithm not allowed"},
		{"ErrAlgConfusionHS256PKIX", forge(t, jose.HS256, pkixDER, sk.ID, b.claimsMap(), nil, false), token.TypeAnonymous, "algorithm not allowed"},
		{"ErrAlgConfusionRS256", forge(t, jose.RS256, attackerRSA, sk.ID, b.claimsMap(), nil, false), token.TypeAnonymous, "algorithm not allowed"},
		{"ErrAlgConfusionES384", forge(t, jose.ES384, mustECDSA(t, elliptic.P384()), sk.ID, b.claimsMap(), nil, false), token.TypeAnonymous, "algorithm not allowed"},
		{"ErrEmbeddedJWK", forge(t, jose.ES256, attacker, sk.ID, b.claimsMap(), nil, true), token.TypeAnonymous, `header not allowed: "jwk"`},
		{"ErrEmbeddedJWKOfRingKey", forge(t, jose.ES256, priv, sk.ID, b.claimsMap(), nil, true), token.TypeAnonymous, `header not allowed: "jwk"`},
		{"ErrJKU", forge(t, jose.ES256, priv, sk.ID, b.claimsMap(), map[string]any{"jku": "https://evil.example.com/jwks"}, false), token.TypeAnonymous, `header not allowed: "jku"`},
		{"ErrX5U", forge(t, jose.ES256, priv, sk.ID, b.claimsMap(), map[string]any{"x5u": "https://evil.example.com/cert"}, false), token.TypeAnonymous, `header not allowed: "x5u"`},
		{"ErrX5C", forge(t, jose.ES256, priv, sk.ID, b.claimsMap(), map[string]any{"x5c": []string{base64.StdEncoding.EncodeToString(cert)}}, false), token.TypeAnonymous, `header not allowed: "x5c"`},
		{"ErrCrit", forge(t, jose.ES256, priv, sk.ID, b.claimsMap(), map[string]any{"crit": []string{"exp"}}, false), token.TypeAnonymous, `header not allowed: "crit"`},
		{"ErrHeaderType", forge(t, jose.ES256, priv, sk.ID, b.claimsMap(), map[string]any{"typ": "at+jwt"}, false), token.TypeAnonymous, "header not allowed: typ"},
		{"ErrUnknownKid", forge(t, jose.ES256, priv, "unknown-kid", b.claimsMap(), nil, false), token.TypeAnonymous, "unknown key id"},
		{"ErrMissingKid", forge(t, jose.ES256, priv, "", b.claimsMap(), nil, false), token.TypeAnonymous, "malformed"},
		{"ErrTamperedPayload", h + "." + segment(t, with(map[string]any{"sub": "someone-else"})) + "." + s, token.TypeAnonymous, "invalid signature"},
		{"ErrTamperedSignature", h + "." + p + "." + flipFirst(s), token.TypeAnonymous, "invalid signature"},
		{"ErrNonCanonicalSignature", h + "." + p + "." + s[:len(s)-1] + setLowBit(s[len(s)-1]), token.TypeAnonymous, "malformed"},
		{"ErrEmpty", "", token.TypeAnonymous, "malformed"},
		{"ErrTwoParts", h + "." + p, token.TypeAnonymous, "malformed"},
		{"ErrFourParts", valid + "." + s, token.TypeAnonymous, "malformed"},
		{"ErrJSONSerialization", `{"payload":"` + p + `","protected":"` + h + `","signature":"` + s + `"}`, token.TypeAnonymous, "malformed"},
		{"ErrTooLarge", h + "." + strings.Repeat("A", 20000) + "." + s, token.TypeAnonymous, "malformed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := b.ring.Verify(t.Context(), tt.raw, tt.typ)
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

func TestVerifyNullClaim(t *testing.T) {
	b := setup(t, "ES256")
	sk := b.signingKey(t)
	priv, _ := decryptKey(t, testEncryptionKey, sk)
	for _, name := range []string{"sub", "ep", "exp", "typ"} {
		t.Run("Err"+name, func(t *testing.T) {
			m := b.claimsMap()
			m[name] = nil
			_, err := b.ring.Verify(t.Context(), forge(t, jose.ES256, priv, sk.ID, m, nil, false), token.TypeAnonymous)
			wantUnauthorized(t, err, "wrong JSON type")
		})
	}
	t.Run("OKExtra", func(t *testing.T) {
		c := &token.Claims{Type: token.TypeVended, Expiry: b.clock.Now().Add(time.Hour), Extra: map[string]any{"gone": nil}}
		got, err := b.ring.Verify(t.Context(), b.sign(t, c), token.TypeVended)
		if err != nil {
			t.Fatalf("Verify: %v", err)
		}
		if diff := cmp.Diff(c, got); diff != "" {
			t.Fatalf("claims (-signed +verified):\n%s", diff)
		}
	})
}

func TestSign(t *testing.T) {
	b := setup(t, "ES256")
	now := b.clock.Now()

	t.Run("OK", func(t *testing.T) {
		c := &token.Claims{
			Subject:   "0195a2b4-7c1d-7e2f-8a3b-4c5d6e7f8091",
			Expiry:    now.Add(15 * time.Minute),
			Type:      token.TypeAccess,
			Epoch:     7,
			SessionID: "0195a2b4-0000-7000-8000-000000000001",
		}
		raw := b.sign(t, c)
		if c.Issuer != testIssuer || !cmp.Equal(c.Audience, []string{testAudience}) || !c.IssuedAt.Equal(now) || len(c.ID) != 22 {
			t.Fatalf("Sign did not fill iss, aud, iat, jti: %+v", c)
		}
		got, err := b.ring.Verify(t.Context(), raw, token.TypeAccess)
		if err != nil {
			t.Fatalf("Verify: %v", err)
		}
		if diff := cmp.Diff(c, got); diff != "" {
			t.Fatalf("claims (-signed +verified):\n%s", diff)
		}
		h := header(t, raw)
		if diff := cmp.Diff(map[string]any{"alg": "ES256", "kid": b.signingKey(t).ID, "typ": "JWT"}, h); diff != "" {
			t.Fatalf("header (-want +got):\n%s", diff)
		}
	})

	t.Run("OKUniqueIDs", func(t *testing.T) {
		c1, c2 := b.anonymousClaims(), b.anonymousClaims()
		b.sign(t, c1)
		b.sign(t, c2)
		if c1.ID == c2.ID {
			t.Fatalf("two tokens share jti %q", c1.ID)
		}
	})

	t.Run("OKExtra", func(t *testing.T) {
		c := &token.Claims{
			Subject:  "player-1",
			Audience: []string{testAudience, "https://game.example.com"},
			Expiry:   now.Add(time.Hour),
			Type:     token.TypeVended,
			Extra:    map[string]any{"plan": "pro", "level": 12.0, "flags": map[string]any{"beta": true, "tags": []any{"a", "b"}}},
		}
		got, err := b.ring.Verify(t.Context(), b.sign(t, c), token.TypeVended)
		if err != nil {
			t.Fatalf("Verify: %v", err)
		}
		if diff := cmp.Diff(c, got); diff != "" {
			t.Fatalf("claims (-signed +verified):\n%s", diff)
		}
	})

	for _, name := range append(token.ReservedClaims(), "ISS", "Typ", "Is_Anonymous") {
		t.Run("ErrReservedExtra/"+name, func(t *testing.T) {
			c := &token.Claims{Type: token.TypeVended, Expiry: now.Add(time.Hour), Extra: map[string]any{name: "x"}}
			_, err := b.ring.Sign(c)
			if got := foyer.ErrorCode(err); got != foyer.EInvalid {
				t.Fatalf("code=%q, want %q (%v)", got, foyer.EInvalid, err)
			}
		})
	}

	invalid := []struct {
		name string
		c    *token.Claims
	}{
		{"ErrMissingType", &token.Claims{Subject: "u", Expiry: now.Add(time.Hour)}},
		{"ErrMissingExpiry", &token.Claims{Subject: "u", Type: token.TypeAnonymous}},
		{"ErrMissingSubject", &token.Claims{Type: token.TypeAnonymous, Expiry: now.Add(time.Hour)}},
		{"ErrExpiryBeforeIssue", &token.Claims{Subject: "u", Type: token.TypeAnonymous, IssuedAt: now, Expiry: now}},
		{"ErrLongerThanMaxTTL", &token.Claims{Subject: "u", Type: token.TypeAnonymous, Expiry: now.Add(testMaxTTL + time.Second)}},
		{"ErrExtraNotJSON", &token.Claims{Type: token.TypeVended, Expiry: now.Add(time.Hour), Extra: map[string]any{"ch": make(chan int)}}},
	}
	for _, tt := range invalid {
		t.Run(tt.name, func(t *testing.T) {
			_, err := b.ring.Sign(tt.c)
			if got := foyer.ErrorCode(err); got != foyer.EInvalid {
				t.Fatalf("code=%q, want %q (%v)", got, foyer.EInvalid, err)
			}
			if tt.c.ID != "" || tt.c.Issuer != "" || tt.c.Audience != nil {
				t.Fatalf("failed Sign changed the claims: %+v", tt.c)
			}
		})
	}

	t.Run("OKExactlyMaxTTL", func(t *testing.T) {
		b.sign(t, &token.Claims{Subject: "u", Type: token.TypeAnonymous, Expiry: now.Add(testMaxTTL)})
	})
}

// FuzzVerify checks that Verify never panics, that every token it accepts
// carries the claims the rest of the server relies on, and that changing
// any single byte of a valid token makes it fail.
func FuzzVerify(f *testing.F) {
	b := setup(f, "ES256")
	sk := b.signingKey(f)
	priv, _ := decryptKey(f, testEncryptionKey, sk)
	valid := b.sign(f, b.anonymousClaims())
	vended := b.sign(f, &token.Claims{Type: token.TypeVended, Expiry: b.clock.Now().Add(time.Hour), Extra: map[string]any{"k": "v"}})
	_, p, s := split(valid)

	f.Add(valid, uint16(0), byte(0))
	f.Add(valid, uint16(len(valid)-1), byte(1))
	f.Add(vended, uint16(40), byte(0x20))
	f.Add("", uint16(0), byte(0))
	f.Add("a.b.c", uint16(1), byte(0))
	f.Add(segment(f, map[string]any{"alg": "none", "kid": sk.ID})+"."+p+".", uint16(0), byte(0))
	f.Add(segment(f, map[string]any{"alg": "HS256", "kid": sk.ID})+"."+p+"."+s, uint16(0), byte(0))
	f.Add(forge(f, jose.ES256, priv, sk.ID, b.claimsMap(), nil, true), uint16(0), byte(0))
	f.Fuzz(func(t *testing.T, raw string, pos uint16, flip byte) {
		now := b.clock.Now()
		for _, typ := range []string{token.TypeAnonymous, token.TypeAccess, token.TypeVended} {
			c, err := b.ring.Verify(t.Context(), raw, typ)
			if err != nil {
				if foyer.ErrorCode(err) != foyer.EUnauthorized || foyer.ErrorMessage(err) != "The token is not valid." {
					t.Fatalf("refusal is not the generic error: %v", err)
				}
				continue
			}
			if c.Type != typ || !c.Expiry.After(now) || (c.Subject == "" && typ != token.TypeVended) {
				t.Fatalf("accepted %q as %s with claims %+v", raw, typ, c)
			}
		}
		if flip == 0 {
			return
		}
		for _, good := range []string{valid, vended} {
			tampered := []byte(good)
			tampered[int(pos)%len(tampered)] ^= flip
			for _, typ := range []string{token.TypeAnonymous, token.TypeVended} {
				if _, err := b.ring.Verify(t.Context(), string(tampered), typ); err == nil {
					t.Fatalf("tampered token %q verified as %s", tampered, typ)
				}
			}
		}
	})
}

var algorithms = []string{"ES256", "EdDSA", "RS256"}

func BenchmarkSign(b *testing.B) {
	for _, alg := range algorithms {
		b.Run(alg, func(b *testing.B) {
			bb := setup(b, alg)
			b.ReportAllocs()
			for b.Loop() {
				if _, err := bb.ring.Sign(bb.anonymousClaims()); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkVerify measures the full check of a token (the cache off) and
// the check of a token verified before (the cache on).
func BenchmarkVerify(b *testing.B) {
	for _, alg := range algorithms {
		for _, cache := range []struct {
			name string
			size int
		}{{"Full", -1}, {"Cached", 0}} {
			b.Run(alg+"/"+cache.name, func(b *testing.B) {
				bb := setup(b, alg)
				bb.cfg.VerifyCacheSize = cache.size
				bb.ring = bb.newRing(b)
				raw := bb.sign(b, bb.anonymousClaims())
				b.ReportAllocs()
				for b.Loop() {
					if _, err := bb.ring.Verify(b.Context(), raw, token.TypeAnonymous); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

// split returns the three segments of a compact token.
func split(raw string) (header, payload, signature string) {
	header, rest, _ := strings.Cut(raw, ".")
	payload, signature, _ = strings.Cut(rest, ".")
	return header, payload, signature
}

// flipFirst changes the first character of a base64url segment.
func flipFirst(s string) string {
	if s[0] == 'A' {
		return "B" + s[1:]
	}
	return "A" + s[1:]
}

// setLowBit returns c with its lowest data bit set: for the last character
// of a segment those bits are unused, so the decoded bytes stay the same.
func setLowBit(c byte) string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	return string(alphabet[strings.IndexByte(alphabet, c)|1])
}

func mustECDSA(t testing.TB, curve elliptic.Curve) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(curve, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// selfSigned returns a DER certificate for priv's public key.
func selfSigned(t testing.TB, priv crypto.Signer) []byte {
	t.Helper()
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "attacker"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, priv.Public(), priv)
	if err != nil {
		t.Fatal(err)
	}
	return der
}
