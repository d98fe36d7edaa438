package http

import (
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"testing"

	foyer "github.com/foyerhq/foyer"
	"github.com/foyerhq/foyer/sqlite"
)

// FuzzPostLogoutTarget checks the comparison behind the hosted sign-out
// page's redirect: an address it accepts for an app is that app's
// registered post-logout URI, at most with a "state" parameter added
// (in any order of the query): the same scheme, host, path and query
// without state, no user information and no fragment. Above all, it never
// sends the browser to another host.
func FuzzPostLogoutTarget(f *testing.F) {
	const registered = "https://app.example.com/signed-out?tab=home"
	db := sqlite.NewDB(filepath.Join(f.TempDir(), "foyer.db"))
	if err := db.Open(f.Context()); err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { db.Close() })
	if err := db.Migrate(f.Context()); err != nil {
		f.Fatal(err)
	}
	apps := sqlite.NewAppService(db)
	app := &foyer.App{
		Name:                   "App",
		Type:                   foyer.AppPublic,
		RedirectURIs:           []string{"https://app.example.com/callback"},
		PostLogoutRedirectURIs: []string{registered},
	}
	if err := apps.CreateApp(f.Context(), app); err != nil {
		f.Fatal(err)
	}
	p := NewServer(Config{}, Deps{Apps: apps}, nil, nil).newPages()
	want, _ := url.Parse(registered)

	for _, seed := range []string{
		registered,
		registered + "&state=abc",
		"https://app.example.com/signed-out?state=abc&tab=home",
		"https://app.example.com/signed-out?state=a%26b&tab=home",
		"https://app.example.com/signed-out?tab=home&state=1&state=2",
		"https://app.example.com/signed-out?tab=home&state=abc#frag",
		"https://app.example.com/signed-out?tab=home#",
		"https://app.example.com/signed-out?tab=home&state=a;next=https://evil.example",
		"https://app.example.com/signed-out?tab=home&state=a&%zz",
		"https://app.example.com/signed-out?tab=home&next=https://evil.example",
		"https://app.example.com/signed-out?tab=away",
		"https://app.example.com/signed-out",
		"https://app.example.com/signed-out?tab=home&tab=home",
		"https://app.example.com/signed%2Dout?tab=home",
		"https://app.example.com/signed%2Fout?tab=home",
		"https://app.example.com/signed-out/?tab=home",
		"https://app.example.com//signed-out?tab=home",
		"https://app.example.com/x/../signed-out?tab=home",
		"https://user@app.example.com/signed-out?tab=home",
		"https://app.example.com@evil.example/signed-out?tab=home",
		"https://app.example.com.evil.example/signed-out?tab=home",
		"https://app.example.com:443/signed-out?tab=home",
		"https://APP.example.com/signed-out?tab=home",
		"HTTPS://app.example.com/signed-out?tab=home",
		"http://app.example.com/signed-out?tab=home",
		"//app.example.com/signed-out?tab=home",
		"/signed-out?tab=home",
		"https://evil.example/signed-out?tab=home",
		"https:app.example.com/signed-out?tab=home",
		"https://app.example.com\\@evil.example/signed-out?tab=home",
		"",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		target, err := p.postLogoutTarget(httptest.NewRequest("GET", "/logout", nil), app.ID, raw)
		if err != nil {
			t.Fatalf("postLogoutTarget(%q): %v", raw, err)
		}
		if target == "" {
			return
		}
		if target != raw {
			t.Fatalf("postLogoutTarget(%q) = %q, want the address itself or nothing", raw, target)
		}
		got, err := url.Parse(target)
		if err != nil {
			t.Fatalf("accepted %q, which does not parse: %v", target, err)
		}
		if got.Host != want.Host || got.Hostname() != want.Hostname() {
			t.Fatalf("accepted %q, whose host %q is not %q", target, got.Host, want.Host)
		}
		if got.Scheme != want.Scheme || got.EscapedPath() != want.EscapedPath() || got.User != nil || got.Opaque != "" || got.Fragment != "" {
			t.Fatalf("accepted %q, which is not %q plus a state", target, registered)
		}
		q, err := url.ParseQuery(got.RawQuery)
		if err != nil {
			t.Fatalf("accepted %q, whose query is malformed: %v", target, err)
		}
		q.Del("state")
		if wq := want.Query(); q.Encode() != wq.Encode() {
			t.Fatalf("accepted %q, whose query without state is %q, want %q", target, q.Encode(), wq.Encode())
		}
	})
}
