package admin_test

import (
	"crypto/sha256"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	foyer "github.com/foyerhq/foyer"
	"github.com/google/go-cmp/cmp"
)

// clientIDPattern and appSecretPattern find what the applications page
// shows once after a registration.
var (
	clientIDPattern  = regexp.MustCompile(`id="client-id" class="mono" readonly value="([0-9a-f-]{36})"`)
	appSecretPattern = regexp.MustCompile(`id="secret" class="mono" readonly value="(foyer_cs_[A-Za-z0-9_-]+)"`)
)

func TestApps(t *testing.T) {
	c := setup(t)
	cl := c.signedIn(t)
	ctx := t.Context()
	body := cl.get("/admin/apps", http.StatusOK).Body
	mustContain(t, body, "No applications.", `href="/admin/apps" aria-current="page"`, `name="redirect_uris"`)

	var shop, game *foyer.App
	t.Run("OKCreateConfidential", func(t *testing.T) {
		r := cl.post("/admin/apps", "/admin/apps", url.Values{
			"name":                      {"  Web shop "},
			"type":                      {"confidential"},
			"redirect_uris":             {"https://shop.example.com/cb\r\n\r\n  http://localhost:3000/cb  \r\n"},
			"post_logout_redirect_uris": {"https://shop.example.com/"},
		}, http.StatusCreated)
		id, secret := clientIDPattern.FindStringSubmatch(r.Body), appSecretPattern.FindStringSubmatch(r.Body)
		if id == nil || secret == nil {
			t.Fatalf("no client id or secret shown:\n%s", r.Body)
		}
		a, err := c.apps.FindApp(ctx, id[1])
		if err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256([]byte(secret[1]))
		want := &foyer.App{ID: id[1], Name: "Web shop", Type: foyer.AppConfidential, SecretHash: sum[:],
			RedirectURIs:           []string{"https://shop.example.com/cb", "http://localhost:3000/cb"},
			PostLogoutRedirectURIs: []string{"https://shop.example.com/"}, CreatedAt: c.clock.Now()}
		if diff := cmp.Diff(want, a); diff != "" {
			t.Fatalf("stored app (-want +got):\n%s", diff)
		}
		if got := r.Header.Get("Cache-Control"); got != "no-store" {
			t.Fatalf("Cache-Control = %q, want no-store", got)
		}
		shop = a
		// The secret is shown once: the list never shows it again.
		body := cl.get("/admin/apps", http.StatusOK).Body
		mustContain(t, body, "Web shop", shop.ID, "confidential", "https://shop.example.com/cb", "http://localhost:3000/cb", "2026-03-04 10:00 UTC")
		mustNotContain(t, body, secret[1], "foyer_cs_")
	})
	t.Run("OKCreatePublic", func(t *testing.T) {
		c.clock.Advance(time.Minute)
		r := cl.post("/admin/apps", "/admin/apps", url.Values{
			"name": {"Game"}, "type": {"public"}, "redirect_uris": {"https://game.example.com/cb"},
		}, http.StatusCreated)
		mustContain(t, r.Body, "A public application has no secret")
		mustNotContain(t, r.Body, `id="secret"`)
		id := clientIDPattern.FindStringSubmatch(r.Body)
		if id == nil {
			t.Fatalf("no client id shown:\n%s", r.Body)
		}
		a, err := c.apps.FindApp(ctx, id[1])
		if err != nil {
			t.Fatal(err)
		}
		if a.Type != foyer.AppPublic || a.SecretHash != nil || len(a.PostLogoutRedirectURIs) != 0 {
			t.Fatalf("stored %+v, want a public app without secret", a)
		}
		game = a
	})

	tests := []struct {
		name   string
		form   url.Values
		fields []string // the fields the page marks wrong
		text   string
	}{
		{"ErrNoName", url.Values{"name": {"  "}, "type": {"public"}, "redirect_uris": {"https://a.example/cb"}}, []string{"name"}, "1 to 100 characters"},
		{"ErrLongName", url.Values{"name": {strings.Repeat("n", 101)}, "type": {"public"}, "redirect_uris": {"https://a.example/cb"}}, []string{"name"}, ""},
		{"ErrNoType", url.Values{"name": {"x"}, "redirect_uris": {"https://a.example/cb"}}, []string{"type"}, "confidential"},
		{"ErrUnknownType", url.Values{"name": {"x"}, "type": {"trusted"}, "redirect_uris": {"https://a.example/cb"}}, []string{"type"}, ""},
		{"ErrNoRedirectURI", url.Values{"name": {"x"}, "type": {"public"}, "redirect_uris": {"\n \n"}}, []string{"redirect_uris"}, "at least one"},
		{"ErrPlainHTTP", url.Values{"name": {"x"}, "type": {"public"}, "redirect_uris": {"http://a.example/cb"}}, []string{"redirect_uris"}, "plain http"},
		{"ErrFragment", url.Values{"name": {"x"}, "type": {"public"}, "redirect_uris": {"https://a.example/cb#top"}}, []string{"redirect_uris"}, "fragment"},
		{"ErrTwice", url.Values{"name": {"x"}, "type": {"public"}, "redirect_uris": {"https://a.example/cb\nhttps://a.example/cb"}}, []string{"redirect_uris"}, "listed twice"},
		{"ErrTooMany", url.Values{"name": {"x"}, "type": {"public"}, "redirect_uris": {manyURIs(21)}}, []string{"redirect_uris"}, "at most 20"},
		{"ErrPostLogout", url.Values{"name": {"x"}, "type": {"public"}, "redirect_uris": {"https://a.example/cb"}, "post_logout_redirect_uris": {"javascript:alert(1)"}}, []string{"post_logout_redirect_uris"}, "javascript:alert(1)"},
		{"ErrEverything", url.Values{"redirect_uris": {"ftp://a.example/"}}, []string{"name", "type", "redirect_uris"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := cl.post("/admin/apps", "/admin/apps", tt.form, http.StatusUnprocessableEntity)
			for _, f := range tt.fields {
				mustContain(t, r.Body, `id="`+f+`-error"`)
			}
			if tt.text != "" {
				mustContain(t, html.UnescapeString(r.Body), tt.text)
			}
			// What was typed is kept.
			if name := tt.form.Get("name"); strings.TrimSpace(name) != "" {
				mustContain(t, r.Body, `value="`+html.EscapeString(strings.TrimSpace(name))+`"`)
			}
			mustNotContain(t, r.Body, `id="new-app"`)
		})
	}
	if apps, err := c.apps.FindApps(ctx); err != nil || len(apps) != 2 {
		t.Fatalf("%d apps stored after the refusals (%v), want 2", len(apps), err)
	}

	t.Run("ErrCrossSite", func(t *testing.T) {
		// A form posted from another site is refused before it acts.
		cl.header.Set("Origin", "https://evil.example")
		defer cl.header.Del("Origin")
		cl.post("/admin/apps", "/admin/apps", url.Values{"name": {"Evil"}, "type": {"public"}, "redirect_uris": {"https://evil.example/cb"}}, http.StatusForbidden)
	})
	t.Run("ErrNoCSRFToken", func(t *testing.T) {
		cl.post("/admin/apps", "/admin/apps", url.Values{"csrf": {"forged"}, "name": {"Evil"}, "type": {"public"}, "redirect_uris": {"https://evil.example/cb"}}, http.StatusForbidden)
		cl.post("/admin/apps", "/admin/apps/"+game.ID+"/delete", url.Values{"csrf": {"forged"}}, http.StatusForbidden)
		if _, err := c.apps.FindApp(ctx, game.ID); err != nil {
			t.Fatalf("a forged form deleted the app: %v", err)
		}
	})

	t.Run("OKDeleteAfterConfirmation", func(t *testing.T) {
		u := c.registered(t, "pat@example.com")
		sum := sha256.Sum256([]byte("refresh token of the shop's session"))
		if _, err := c.sessions.CreateSession(ctx, &foyer.Session{UserID: u.ID, AppID: shop.ID, Scopes: []string{"openid"},
			RefreshHash: sum[:], ExpiresAt: c.clock.Now().Add(time.Hour)}); err != nil {
			t.Fatal(err)
		}
		own := c.session(t, u, "Firefox")

		list := cl.get("/admin/apps", http.StatusOK).Body
		confirm := "/admin/apps/" + shop.ID + "/delete"
		mustContain(t, list, `href="`+confirm+`"`)
		page := cl.get(confirm, http.StatusOK).Body
		mustContain(t, page, "Delete application “Web shop”?", shop.ID, `action="`+confirm+`"`, "cannot be undone")
		if _, err := c.apps.FindApp(ctx, shop.ID); err != nil {
			t.Fatal("the confirmation page deleted the app")
		}
		r := cl.post(confirm, confirm, nil, http.StatusSeeOther)
		if r.Location() != "/admin/apps?notice=app-deleted" {
			t.Fatalf("redirect to %q", r.Location())
		}
		if _, err := c.apps.FindApp(ctx, shop.ID); foyer.ErrorCode(err) != foyer.ENotFound {
			t.Fatalf("FindApp after delete = %v, want not_found", err)
		}
		sessions, err := c.sessions.FindSessions(ctx, u.ID)
		if err != nil {
			t.Fatal(err)
		}
		if len(sessions) != 1 || sessions[0].ID != own.ID {
			t.Fatalf("sessions after deleting the app: %+v, want only %s", sessions, own.ID)
		}
		body := cl.get(r.Location(), http.StatusOK).Body
		mustContain(t, body, "The application was deleted.", game.ID)
		mustNotContain(t, body, shop.ID)

		cl.get(confirm, http.StatusNotFound)
		cl.post("/admin/apps", confirm, nil, http.StatusNotFound)
		cl.get("/admin/apps/nope/delete", http.StatusNotFound)
	})

	want := []string{"app.create 201", "app.delete 303", "app.delete 404"}
	if diff := cmp.Diff(want, c.auditActions(t, shop.ID)); diff != "" {
		t.Fatalf("audit (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"app.create 201"}, c.auditActions(t, game.ID)); diff != "" {
		t.Fatalf("audit (-want +got):\n%s", diff)
	}
}

// manyURIs returns n distinct redirect URIs, one per line.
func manyURIs(n int) string {
	var b strings.Builder
	for i := range n {
		b.WriteString("https://a.example/cb/" + strings.Repeat("x", i+1) + "\n")
	}
	return b.String()
}
