package client_test

import (
	"strings"
	"testing"

	foyer "github.com/foyerhq/foyer"
	"github.com/foyerhq/foyer/client"
	foyerhttp "github.com/foyerhq/foyer/http"
)

func TestDevMail(t *testing.T) {
	f := setup(t, func(c *foyerhttp.Config) { c.DevMode = true })
	c := f.client()
	const email = "viewer@example.org"
	for _, to := range []string{email, "other@example.org"} {
		a, err := client.New(f.URL, "").CreateAnonymousUser(t.Context(), nil)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.ConvertUser(t.Context(), a.User.ID, to); err != nil {
			t.Fatal(err)
		}
	}

	t.Run("OK", func(t *testing.T) {
		msgs, err := c.DevMail(t.Context(), " Viewer@Example.ORG ", 0)
		if err != nil {
			t.Fatal(err)
		}
		if len(msgs) != 1 {
			t.Fatalf("%d messages to %s, want 1", len(msgs), email)
		}
		m := msgs[0]
		if m.To != email || m.Kind != foyer.MailConversion || m.Subject == "" || m.ID == "" || m.CreatedAt.IsZero() {
			t.Fatalf("message %+v", m)
		}
		if len(m.Links) == 0 || !strings.HasPrefix(m.Links[0], f.URL+"/convert/complete?token=") {
			t.Fatalf("links %q, want the conversion link first", m.Links)
		}
	})
	t.Run("OKEveryone", func(t *testing.T) {
		msgs, err := c.DevMail(t.Context(), "", 0)
		if err != nil || len(msgs) != 2 {
			t.Fatalf("DevMail = %d messages, %v; want 2", len(msgs), err)
		}
		msgs, err = c.DevMail(t.Context(), "", 1)
		if err != nil || len(msgs) != 1 || msgs[0].To != "other@example.org" {
			t.Fatalf("DevMail with limit 1 = %+v, %v; want the newest message", msgs, err)
		}
	})
	t.Run("ErrInvalid", func(t *testing.T) {
		_, err := c.DevMail(t.Context(), "not an address", 0)
		wantCode(t, err, foyer.EInvalid)
		_, err = c.DevMail(t.Context(), "", -1)
		wantCode(t, err, foyer.EInvalid)
	})
	t.Run("ErrUnauthorized", func(t *testing.T) {
		_, err := client.New(f.URL, "").DevMail(t.Context(), email, 0)
		wantCode(t, err, foyer.EUnauthorized)
	})
	t.Run("ErrNotFoundOutsideDevelopment", func(t *testing.T) {
		prod := setup(t)
		_, err := prod.client().DevMail(t.Context(), email, 0)
		wantCode(t, err, foyer.ENotFound)
	})
}
