package admin_test

import (
	"crypto/sha256"
	"net/http"
	"strings"
	"testing"

	foyer "github.com/foyerhq/foyer"
)

// TestBrowserApps registers an application in Chromium through the
// navigation and the form, reads its secret once, and deletes it after
// the confirmation page.
func TestBrowserApps(t *testing.T) {
	c := setup(t)
	c.createAdmin(t, adminEmail)
	ctx := t.Context()
	b := newBrowser(t, c)
	b.signIn(adminEmail, adminPassword, "", http.StatusOK)

	b.click(`nav a[href="/admin/apps"]`, http.StatusOK)
	if got := b.text("h1"); got != "Applications" {
		t.Fatalf("heading %q", got)
	}

	// A refused form keeps what was typed and says what is wrong, next to
	// the field.
	b.fill("#name", "Web shop")
	b.setValue("#redirect_uris", "https://shop.example.com/cb\nhttp://shop.example.com/cb")
	b.click(`form[action="/admin/apps"] button[type=submit]`, http.StatusUnprocessableEntity)
	if got := b.text("#redirect_uris-error"); !strings.Contains(got, "plain http") {
		t.Fatalf("redirect URI error %q", got)
	}
	if got := eval[string](b, `document.querySelector("#redirect_uris").getAttribute("aria-invalid")`); got != "true" {
		t.Fatalf("aria-invalid = %q", got)
	}
	if got := eval[string](b, `document.querySelector("#name").value`); got != "Web shop" {
		t.Fatalf("name field holds %q", got)
	}

	b.setValue("#redirect_uris", "https://shop.example.com/cb\nhttp://localhost:3000/cb")
	b.click(`form[action="/admin/apps"] button[type=submit]`, http.StatusCreated)
	id := eval[string](b, `document.querySelector("#client-id").value`)
	secret := eval[string](b, `document.querySelector("#secret").value`)
	a, err := c.apps.FindApp(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256([]byte(secret))
	if a.Type != foyer.AppConfidential || string(a.SecretHash) != string(sum[:]) || len(a.RedirectURIs) != 2 {
		t.Fatalf("stored %+v for the secret shown", a)
	}
	if got := b.text("#app-" + id + " th"); got != "Web shop" {
		t.Fatalf("listed as %q", got)
	}

	// Delete: a confirmation page, then the post.
	b.click(`a[href="/admin/apps/`+id+`/delete"]`, http.StatusOK)
	if _, err := c.apps.FindApp(ctx, id); err != nil {
		t.Fatal("the confirmation page deleted the application")
	}
	b.click(`form[action="/admin/apps/`+id+`/delete"] button`, http.StatusOK)
	if got := b.path(); got != "/admin/apps?notice=app-deleted" {
		t.Fatalf("after delete at %q", got)
	}
	if got := b.text(".notice"); got != "The application was deleted." {
		t.Fatalf("notice %q", got)
	}
	if _, err := c.apps.FindApp(ctx, id); foyer.ErrorCode(err) != foyer.ENotFound {
		t.Fatalf("app: %v", err)
	}
}
