package http_test

import (
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"strings"
	"testing"
	"time"

	foyer "github.com/foyerhq/foyer"
	foyerhttp "github.com/foyerhq/foyer/http"
	"github.com/foyerhq/foyer/sqlite"
	"github.com/google/go-cmp/cmp"
)

func TestNewAppSecret(t *testing.T) {
	secret, hash := foyerhttp.NewAppSecret()
	raw, err := base64.RawURLEncoding.DecodeString(strings.TrimPrefix(secret, foyerhttp.AppSecretPrefix))
	if !strings.HasPrefix(secret, foyerhttp.AppSecretPrefix) || err != nil || len(raw) != 32 {
		t.Fatalf("secret %q is not %s + 32 bytes base64url (%v)", secret, foyerhttp.AppSecretPrefix, err)
	}
	if sum := sha256.Sum256([]byte(secret)); string(hash) != string(sum[:]) {
		t.Fatalf("hash %x is not the SHA-256 of %q", hash, secret)
	}
	if again, _ := foyerhttp.NewAppSecret(); again == secret {
		t.Fatal("two secrets are the same")
	}
}

// appBody is an app as the API shows it, with the secret when the
// response has one.
type appBody struct {
	ID                     string    `json:"id"`
	Name                   string    `json:"name"`
	Type                   string    `json:"type"`
	RedirectURIs           []string  `json:"redirect_uris"`
	PostLogoutRedirectURIs []string  `json:"post_logout_redirect_uris"`
	Secret                 string    `json:"secret"`
	CreatedAt              time.Time `json:"created_at"`
}

// createApp creates an app through the API.
func (ts *testServer) createApp(t testing.TB, body string) appBody {
	t.Helper()
	w := ts.do("POST", "/v1/apps", body, join(ts.api(), jsonType)...)
	check(t, w, http.StatusCreated, "")
	var a appBody
	decode(t, w, &a)
	if got, want := w.Header().Get("Location"), "/v1/apps/"+a.ID; got != want {
		t.Fatalf("Location = %q, want %q", got, want)
	}
	return a
}

// noAppSecret fails if body shows a client secret or its hash.
func noAppSecret(t testing.TB, body string) {
	t.Helper()
	if strings.Contains(body, `"secret`) || strings.Contains(body, foyerhttp.AppSecretPrefix) {
		t.Fatalf("body shows a secret: %s", body)
	}
}

// secretHash returns the SHA-256 of a client secret, as stored.
func secretHash(secret string) []byte {
	sum := sha256.Sum256([]byte(secret))
	return sum[:]
}

func TestApps(t *testing.T) {
	ts := setup(t)
	apps := sqlite.NewAppService(ts.db)
	api := join(ts.api(), jsonType)
	missing := "0190c2a4-7e5b-7000-8000-000000000000"

	web := ts.createApp(t, `{"name":"  Web shop ","type":"confidential","redirect_uris":["https://shop.example.com/callback","http://localhost:3000/cb"],"post_logout_redirect_uris":["https://shop.example.com/"]}`)
	spa := ts.createApp(t, `{"name":"Game","type":"public","redirect_uris":["https://game.example.com/cb"]}`)

	t.Run("OKCreateConfidentialShowsSecretOnce", func(t *testing.T) {
		if !strings.HasPrefix(web.Secret, foyerhttp.AppSecretPrefix) {
			t.Fatalf("secret = %q, want %s…", web.Secret, foyerhttp.AppSecretPrefix)
		}
		want := appBody{ID: web.ID, Name: "Web shop", Type: "confidential",
			RedirectURIs:           []string{"https://shop.example.com/callback", "http://localhost:3000/cb"},
			PostLogoutRedirectURIs: []string{"https://shop.example.com/"}, Secret: web.Secret, CreatedAt: ts.clock.Now()}
		if diff := cmp.Diff(want, web); diff != "" {
			t.Fatalf("created app (-want +got):\n%s", diff)
		}
		stored, err := apps.FindApp(t.Context(), web.ID)
		if err != nil {
			t.Fatal(err)
		}
		if string(stored.SecretHash) != string(secretHash(web.Secret)) {
			t.Fatalf("stored hash %x is not the SHA-256 of the secret shown", stored.SecretHash)
		}
	})
	t.Run("OKCreatePublicHasNoSecret", func(t *testing.T) {
		w := ts.do("GET", "/v1/apps/"+spa.ID, "", ts.api()...)
		check(t, w, 200, "", `"type":"public"`, `"post_logout_redirect_uris":[]`)
		if spa.Secret != "" {
			t.Fatalf("public app got a secret %q", spa.Secret)
		}
		stored, err := apps.FindApp(t.Context(), spa.ID)
		if err != nil {
			t.Fatal(err)
		}
		if stored.SecretHash != nil {
			t.Fatalf("public app stored a secret hash %x", stored.SecretHash)
		}
	})
	t.Run("OKReadsNeverShowSecret", func(t *testing.T) {
		w := ts.do("GET", "/v1/apps/"+web.ID, "", ts.api()...)
		check(t, w, 200, "", web.ID, `"name":"Web shop"`)
		noAppSecret(t, w.Body.String())
		w = ts.do("GET", "/v1/apps", "", ts.api()...)
		check(t, w, 200, "", `"apps":[`)
		noAppSecret(t, w.Body.String())
		var list struct {
			Apps []appBody `json:"apps"`
		}
		decode(t, w, &list)
		if len(list.Apps) != 2 || list.Apps[0].ID != web.ID || list.Apps[1].ID != spa.ID {
			t.Fatalf("list %+v, want the two apps oldest first", list.Apps)
		}
	})

	long := strings.Repeat("n", foyer.MaxAppNameLength+1)
	ts.run(t, []scenario{
		{"ErrNoName", "POST", "/v1/apps", api, `{"name":" ","type":"public","redirect_uris":["https://a.example/cb"]}`, 400, "invalid", []string{"name"}},
		{"ErrLongName", "POST", "/v1/apps", api, `{"name":"` + long + `","type":"public","redirect_uris":["https://a.example/cb"]}`, 400, "invalid", nil},
		{"ErrNoType", "POST", "/v1/apps", api, `{"name":"x","redirect_uris":["https://a.example/cb"]}`, 400, "invalid", []string{"type"}},
		{"ErrUnknownType", "POST", "/v1/apps", api, `{"name":"x","type":"trusted","redirect_uris":["https://a.example/cb"]}`, 400, "invalid", []string{"type"}},
		{"ErrNoRedirectURI", "POST", "/v1/apps", api, `{"name":"x","type":"public"}`, 400, "invalid", []string{"redirect URI"}},
		{"ErrEmptyRedirectURIs", "POST", "/v1/apps", api, `{"name":"x","type":"public","redirect_uris":[]}`, 400, "invalid", nil},
		{"ErrPlainHTTP", "POST", "/v1/apps", api, `{"name":"x","type":"public","redirect_uris":["http://a.example/cb"]}`, 400, "invalid", []string{"plain http"}},
		{"ErrFragment", "POST", "/v1/apps", api, `{"name":"x","type":"public","redirect_uris":["https://a.example/cb#x"]}`, 400, "invalid", []string{"fragment"}},
		{"ErrRelative", "POST", "/v1/apps", api, `{"name":"x","type":"public","redirect_uris":["/cb"]}`, 400, "invalid", nil},
		{"ErrDuplicate", "POST", "/v1/apps", api, `{"name":"x","type":"public","redirect_uris":["https://a.example/cb","https://a.example/cb"]}`, 400, "invalid", []string{"twice"}},
		{"ErrBadPostLogout", "POST", "/v1/apps", api, `{"name":"x","type":"public","redirect_uris":["https://a.example/cb"],"post_logout_redirect_uris":["javascript:alert(1)"]}`, 400, "invalid", nil},
		{"ErrWrongType", "POST", "/v1/apps", api, `{"name":"x","type":"public","redirect_uris":"https://a.example/cb"}`, 400, "invalid", []string{"redirect_uris"}},
		{"ErrSecretNotWritable", "POST", "/v1/apps", api, `{"name":"x","type":"confidential","redirect_uris":["https://a.example/cb"],"secret":"foyer_cs_mine"}`, 400, "malformed_json", nil},
		{"ErrClientIDNotWritable", "POST", "/v1/apps", api, `{"id":"` + missing + `","name":"x","type":"public","redirect_uris":["https://a.example/cb"]}`, 400, "malformed_json", nil},
		{"ErrMalformed", "POST", "/v1/apps", api, `{"name":`, 400, "malformed_json", nil},
		{"ErrTextPlain", "POST", "/v1/apps", join(ts.api(), []string{"Content-Type", "text/plain"}), `{}`, 415, "unsupported_media_type", nil},
		{"ErrPatchType", "PATCH", "/v1/apps/" + spa.ID, api, `{"type":"confidential"}`, 400, "invalid", []string{"type"}},
		{"ErrPatchNoRedirectURIs", "PATCH", "/v1/apps/" + spa.ID, api, `{"redirect_uris":[]}`, 400, "invalid", nil},
		{"ErrPatchBadURI", "PATCH", "/v1/apps/" + spa.ID, api, `{"redirect_uris":["ftp://a.example/"]}`, 400, "invalid", nil},
		{"ErrPatchBlankName", "PATCH", "/v1/apps/" + spa.ID, api, `{"name":""}`, 400, "invalid", nil},
		{"ErrPatchUnknownField", "PATCH", "/v1/apps/" + spa.ID, api, `{"secret":"foyer_cs_mine"}`, 400, "malformed_json", nil},
		{"ErrGetNotFound", "GET", "/v1/apps/" + missing, ts.api(), "", 404, "not_found", nil},
		{"ErrGetNotUUID", "GET", "/v1/apps/nope", ts.api(), "", 404, "not_found", nil},
		{"ErrPatchNotFound", "PATCH", "/v1/apps/" + missing, api, `{"name":"x"}`, 404, "not_found", nil},
		{"ErrPatchNotUUID", "PATCH", "/v1/apps/nope", api, `{"name":"x"}`, 404, "not_found", nil},
		{"ErrDeleteNotFound", "DELETE", "/v1/apps/" + missing, ts.api(), "", 404, "not_found", nil},
		{"ErrDeleteNotUUID", "DELETE", "/v1/apps/nope", ts.api(), "", 404, "not_found", nil},
		{"ErrSecretNotFound", "POST", "/v1/apps/" + missing + "/secret", ts.api(), "", 404, "not_found", nil},
		{"ErrSecretPublic", "POST", "/v1/apps/" + spa.ID + "/secret", ts.api(), "", 409, "conflict", nil},
		{"ErrUnauthorized", "GET", "/v1/apps", nil, "", 401, "unauthorized", nil},
		{"ErrVisitorToken", "GET", "/v1/apps", bearer(ts.signup(t).Token), "", 401, "unauthorized", nil},
		{"ErrCreateUnauthorized", "POST", "/v1/apps", jsonType, `{"name":"x","type":"public","redirect_uris":["https://a.example/cb"]}`, 401, "unauthorized", nil},
	})
	t.Run("OKNothingStoredByRefusals", func(t *testing.T) {
		all, err := apps.FindApps(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		if len(all) != 2 {
			t.Fatalf("%d apps stored, want 2", len(all))
		}
	})

	t.Run("OKPatch", func(t *testing.T) {
		w := ts.do("PATCH", "/v1/apps/"+web.ID, `{"name":"Shop","redirect_uris":["https://shop.example.com/cb2"],"type":"confidential"}`, api...)
		check(t, w, 200, "")
		noAppSecret(t, w.Body.String())
		var got appBody
		decode(t, w, &got)
		want := appBody{ID: web.ID, Name: "Shop", Type: "confidential", RedirectURIs: []string{"https://shop.example.com/cb2"},
			PostLogoutRedirectURIs: []string{"https://shop.example.com/"}, CreatedAt: web.CreatedAt}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Fatalf("patched app (-want +got):\n%s", diff)
		}
		// Absent members are left alone; an empty list clears the
		// post-logout addresses; the secret is kept.
		w = ts.do("PATCH", "/v1/apps/"+web.ID, `{"post_logout_redirect_uris":[]}`, api...)
		check(t, w, 200, "", `"name":"Shop"`, `"redirect_uris":["https://shop.example.com/cb2"]`, `"post_logout_redirect_uris":[]`)
		stored, err := apps.FindApp(t.Context(), web.ID)
		if err != nil {
			t.Fatal(err)
		}
		if string(stored.SecretHash) != string(secretHash(web.Secret)) {
			t.Fatal("a patch changed the secret")
		}
	})

	var rotated appBody
	t.Run("OKNewSecret", func(t *testing.T) {
		w := ts.do("POST", "/v1/apps/"+web.ID+"/secret", "", ts.api()...)
		check(t, w, 200, "", `"name":"Shop"`)
		decode(t, w, &rotated)
		if !strings.HasPrefix(rotated.Secret, foyerhttp.AppSecretPrefix) || rotated.Secret == web.Secret || rotated.ID != web.ID {
			t.Fatalf("new secret %q for %s, before %q", rotated.Secret, rotated.ID, web.Secret)
		}
		stored, err := apps.FindApp(t.Context(), web.ID)
		if err != nil {
			t.Fatal(err)
		}
		if string(stored.SecretHash) != string(secretHash(rotated.Secret)) {
			t.Fatal("the stored hash is not that of the new secret")
		}
		noAppSecret(t, ts.do("GET", "/v1/apps/"+web.ID, "", ts.api()...).Body.String())
	})

	t.Run("OKDeleteEndsAppSessions", func(t *testing.T) {
		u := &foyer.User{Email: "pat@example.com", EmailVerified: true, Data: []byte(`{}`)}
		if err := ts.users.CreateUser(t.Context(), u); err != nil {
			t.Fatal(err)
		}
		for _, appID := range []string{web.ID, ""} {
			s := &foyer.Session{UserID: u.ID, AppID: appID, RefreshHash: secretHash("refresh token of " + appID),
				ExpiresAt: ts.clock.Now().Add(time.Hour)}
			if appID != "" {
				s.Scopes = []string{"openid"}
			}
			if _, err := ts.sessions.CreateSession(t.Context(), s); err != nil {
				t.Fatal(err)
			}
		}
		check(t, ts.do("DELETE", "/v1/apps/"+web.ID, "", ts.api()...), 204, "")
		check(t, ts.do("GET", "/v1/apps/"+web.ID, "", ts.api()...), 404, "not_found")
		check(t, ts.do("DELETE", "/v1/apps/"+web.ID, "", ts.api()...), 404, "not_found")
		check(t, ts.do("POST", "/v1/apps/"+web.ID+"/secret", "", ts.api()...), 404, "not_found")
		sessions, err := ts.sessions.FindSessions(t.Context(), u.ID)
		if err != nil {
			t.Fatal(err)
		}
		if len(sessions) != 1 || sessions[0].AppID != "" {
			t.Fatalf("sessions after deleting the app: %+v, want only Foyer's own", sessions)
		}
		w := ts.do("GET", "/v1/apps", "", ts.api()...)
		check(t, w, 200, "", spa.ID)
		if strings.Contains(w.Body.String(), web.ID) {
			t.Fatalf("the deleted app is still listed: %s", w.Body)
		}
	})

	t.Run("OKAudited", func(t *testing.T) {
		entries, err := ts.audit.FindAuditEntries(t.Context(), foyer.AuditFilter{Target: &web.ID, Limit: 100})
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for i := len(entries) - 1; i >= 0; i-- {
			e := entries[i]
			if e.Actor != "api_key:"+ts.apiKeyID {
				t.Errorf("entry %s by %q", e.Action, e.Actor)
			}
			got = append(got, e.Action+" "+http.StatusText(e.Status))
		}
		want := []string{
			"GET /v1/apps/{id} OK",
			"PATCH /v1/apps/{id} OK", "PATCH /v1/apps/{id} OK",
			"POST /v1/apps/{id}/secret OK", "GET /v1/apps/{id} OK",
			"DELETE /v1/apps/{id} No Content", "GET /v1/apps/{id} Not Found",
			"DELETE /v1/apps/{id} Not Found", "POST /v1/apps/{id}/secret Not Found",
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Fatalf("audit of the app (-want +got):\n%s", diff)
		}
		create := "POST /v1/apps"
		entries, err = ts.audit.FindAuditEntries(t.Context(), foyer.AuditFilter{Limit: 500})
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, e := range entries {
			if e.Action == create {
				n++
			}
		}
		// Two apps created, 16 refused creations with an API key; the
		// calls without a key acted as nobody and are not recorded.
		if n != 18 {
			t.Fatalf("%d audited %s calls, want 18", n, create)
		}
	})
}
