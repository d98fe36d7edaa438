package client_test

import (
	"strings"
	"testing"

	foyer "github.com/foyerhq/foyer"
	"github.com/foyerhq/foyer/client"
	foyerhttp "github.com/foyerhq/foyer/http"
)

func TestApps(t *testing.T) {
	f := setup(t)
	c := f.client()
	web := &foyer.App{
		Name:                   "Videos",
		Type:                   foyer.AppConfidential,
		RedirectURIs:           []string{"https://videos.example/callback"},
		PostLogoutRedirectURIs: []string{"https://videos.example/signed-out"},
	}
	mobile := &foyer.App{Name: "Videos for phones", Type: foyer.AppPublic, RedirectURIs: []string{"http://127.0.0.1:7777/callback"}}

	t.Run("CreateApp", func(t *testing.T) {
		secret, err := c.CreateApp(t.Context(), web)
		if err != nil {
			t.Fatal(err)
		}
		if web.ID == "" || web.CreatedAt.IsZero() || web.Name != "Videos" || web.Type != foyer.AppConfidential {
			t.Fatalf("CreateApp did not fill in the app: %+v", web)
		}
		if !strings.HasPrefix(secret, foyerhttp.AppSecretPrefix) {
			t.Fatalf("secret %q, want one starting with %s", secret, foyerhttp.AppSecretPrefix)
		}
		secret, err = c.CreateApp(t.Context(), mobile)
		if err != nil || secret != "" || mobile.ID == "" {
			t.Fatalf("public app: secret %q, %v; want none", secret, err)
		}

		bad := &foyer.App{Name: "Plain", Type: foyer.AppConfidential, RedirectURIs: []string{"http://videos.example/callback"}}
		_, err = c.CreateApp(t.Context(), bad)
		wantCode(t, err, foyer.EInvalid)
		if bad.ID != "" {
			t.Fatalf("a refused app got an id: %+v", bad)
		}
		_, err = client.New(f.URL, "").CreateApp(t.Context(), &foyer.App{Name: "x", Type: foyer.AppPublic, RedirectURIs: []string{"https://x.example/cb"}})
		wantCode(t, err, foyer.EUnauthorized)
	})

	t.Run("ListApps", func(t *testing.T) {
		apps, err := c.ListApps(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		if len(apps) != 2 || apps[0].ID != web.ID || apps[1].ID != mobile.ID {
			t.Fatalf("ListApps = %+v, want the two apps oldest first", apps)
		}
		if got := apps[0]; got.PostLogoutRedirectURIs[0] != "https://videos.example/signed-out" || got.SecretHash != nil {
			t.Fatalf("listed app %+v", got)
		}
	})

	t.Run("NewAppSecret", func(t *testing.T) {
		first, err := c.NewAppSecret(t.Context(), web.ID)
		if err != nil {
			t.Fatal(err)
		}
		second, err := c.NewAppSecret(t.Context(), web.ID)
		if err != nil || second == first || !strings.HasPrefix(second, foyerhttp.AppSecretPrefix) {
			t.Fatalf("second secret %q (first %q), %v", second, first, err)
		}
		_, err = c.NewAppSecret(t.Context(), mobile.ID)
		wantCode(t, err, foyer.EConflict)
		_, err = c.NewAppSecret(t.Context(), "0195a2b4-7c1d-7e2f-8a3b-4c5d6e7f8091")
		wantCode(t, err, foyer.ENotFound)
		_, err = c.NewAppSecret(t.Context(), "")
		wantCode(t, err, foyer.ENotFound)
	})
}
