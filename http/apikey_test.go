package http_test

import (
	"encoding/base64"
	"net/http"
	"strings"
	"testing"

	foyerhttp "github.com/foyerhq/foyer/http"
	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

func TestNewAPIKey(t *testing.T) {
	secret, k := foyerhttp.NewAPIKey()
	raw, err := base64.RawURLEncoding.DecodeString(strings.TrimPrefix(secret, foyerhttp.APIKeyPrefix))
	if !strings.HasPrefix(secret, foyerhttp.APIKeyPrefix) || err != nil || len(raw) != 32 {
		t.Fatalf("secret %q is not %s + 32 bytes base64url (%v)", secret, foyerhttp.APIKeyPrefix, err)
	}
	if !strings.HasPrefix(secret, k.Prefix) || len(k.Prefix) <= len(foyerhttp.APIKeyPrefix) || len(k.Hash) != 32 {
		t.Fatalf("key %+v does not describe %q", k, secret)
	}
	if again, _ := foyerhttp.NewAPIKey(); again == secret {
		t.Fatal("two keys share a secret")
	}
}

func TestAPIKeys(t *testing.T) {
	ts := setup(t)
	api := join(jsonType, ts.api())

	w := ts.do("POST", "/v1/api-keys", `{"name":"billing"}`, api...)
	check(t, w, http.StatusCreated, "", `"name":"billing"`)
	var created struct {
		ID     string `json:"id"`
		Prefix string `json:"prefix"`
		Secret string `json:"secret"`
	}
	decode(t, w, &created)
	if !strings.HasPrefix(created.Secret, foyerhttp.APIKeyPrefix) || !strings.HasPrefix(created.Secret, created.Prefix) || created.ID == "" {
		t.Fatalf("created key %+v", created)
	}

	t.Run("OKNewKeyWorks", func(t *testing.T) {
		check(t, ts.do("GET", "/v1/api-keys", "", bearer(created.Secret)...), 200, "", created.ID)
	})
	t.Run("OKListNeverShowsSecrets", func(t *testing.T) {
		w := ts.do("GET", "/v1/api-keys", "", ts.api()...)
		check(t, w, 200, "", `"api_keys"`, created.Prefix)
		body := w.Body.String()
		if strings.Contains(body, created.Secret) || strings.Contains(body, ts.apiKey) || strings.Contains(body, `"secret"`) || strings.Contains(body, `"hash"`) {
			t.Fatalf("list shows a secret: %s", body)
		}
	})

	ts.run(t, []scenario{
		{"ErrNoName", "POST", "/v1/api-keys", api, `{"name":"  "}`, 400, "invalid", nil},
		{"ErrLongName", "POST", "/v1/api-keys", api, `{"name":"` + strings.Repeat("n", 101) + `"}`, 400, "invalid", nil},
		{"ErrUnknownField", "POST", "/v1/api-keys", api, `{"name":"x","secret":"foyer_sk_mine"}`, 400, "malformed_json", nil},
		{"ErrDeleteNotFound", "DELETE", "/v1/api-keys/01900000-0000-7000-8000-000000000000", ts.api(), "", 404, "not_found", nil},
		{"ErrUnauthorized", "GET", "/v1/api-keys", nil, "", 401, "unauthorized", nil},
	})

	t.Run("OKDelete", func(t *testing.T) {
		check(t, ts.do("DELETE", "/v1/api-keys/"+created.ID, "", ts.api()...), 204, "")
		check(t, ts.do("GET", "/v1/api-keys", "", bearer(created.Secret)...), 401, "unauthorized")
		check(t, ts.do("GET", "/v1/api-keys", "", ts.api()...), 200, "")
	})
}

func TestSigningKeys(t *testing.T) {
	ts := setup(t)
	s := ts.signup(t)

	w := ts.do("GET", "/v1/keys", "", ts.api()...)
	check(t, w, 200, "", `"algorithm":"ES256"`)
	var before struct {
		Keys []struct {
			ID string `json:"id"`
		} `json:"keys"`
	}
	decode(t, w, &before)
	if len(before.Keys) != 1 {
		t.Fatalf("%d keys, want 1", len(before.Keys))
	}
	if strings.Contains(w.Body.String(), "private") || strings.Contains(w.Body.String(), `"d"`) {
		t.Fatalf("key list shows key material: %s", w.Body)
	}

	w = ts.do("POST", "/v1/keys/rotate", "", ts.api()...)
	check(t, w, http.StatusCreated, "", `"algorithm":"ES256"`)
	var rotated struct {
		ID string `json:"id"`
	}
	decode(t, w, &rotated)
	if rotated.ID == "" || rotated.ID == before.Keys[0].ID {
		t.Fatalf("rotated key %q, old %q", rotated.ID, before.Keys[0].ID)
	}
	check(t, ts.do("GET", "/v1/keys", "", ts.api()...), 200, "", rotated.ID, before.Keys[0].ID)
	// Tokens of the retired key still verify; new ones use the new key.
	check(t, ts.do("GET", "/v1/me", "", withCookie(s.Token)...), 200, "")
	fresh := ts.signup(t)
	tok, err := jwt.ParseSigned(fresh.Token, []jose.SignatureAlgorithm{jose.ES256})
	if err != nil {
		t.Fatal(err)
	}
	if kid := tok.Headers[0].KeyID; kid != rotated.ID {
		t.Errorf("new token signed by %q, want %q", kid, rotated.ID)
	}
	check(t, ts.do("POST", "/v1/keys/rotate", "", bearer(s.Token)...), 401, "unauthorized")
}

// TestJWKS verifies a token of POST /v1/anonymous with go-jose and the
// published key set only, as a third party would.
func TestJWKS(t *testing.T) {
	ts := setup(t)
	s := ts.signup(t)

	w := ts.do("GET", "/.well-known/jwks.json", "")
	check(t, w, 200, "")
	if got := w.Header().Get("Cache-Control"); !strings.Contains(got, "max-age=300") {
		t.Errorf("Cache-Control = %q, want max-age=300", got)
	}
	var set jose.JSONWebKeySet
	decode(t, w, &set)

	tok, err := jwt.ParseSigned(s.Token, []jose.SignatureAlgorithm{jose.ES256, jose.EdDSA, jose.RS256})
	if err != nil {
		t.Fatal(err)
	}
	keys := set.Key(tok.Headers[0].KeyID)
	if len(keys) != 1 || !keys[0].IsPublic() {
		t.Fatalf("JWKS has %d public keys for kid %q", len(keys), tok.Headers[0].KeyID)
	}
	var claims jwt.Claims
	var custom struct {
		Type      string `json:"typ"`
		Anonymous bool   `json:"is_anonymous"`
	}
	if err := tok.Claims(keys[0].Key, &claims, &custom); err != nil {
		t.Fatal(err)
	}
	err = claims.Validate(jwt.Expected{Issuer: testIssuer, Subject: s.User.ID, AnyAudience: jwt.Audience{testAudience}, Time: ts.clock.Now()})
	if err != nil || custom.Type != "anonymous" || !custom.Anonymous {
		t.Fatalf("claims %+v %+v: %v", claims, custom, err)
	}
}
