package http

import (
	"net/url"
	"strings"
	"testing"
)

// FuzzCSPOrigin checks the source a hosted page adds to its form-action
// for an app's redirect URI: either none, or exactly the URI's scheme and
// host, with nothing that could end the source or the directive and add
// another.
func FuzzCSPOrigin(f *testing.F) {
	for _, seed := range []string{
		"https://shop.example.net/cb",
		"http://localhost:9012/out?x=1#f",
		"http://[::1]:8080/cb",
		"http://127.0.0.1/cb",
		"com.example.app:/callback",
		"https://a.example; script-src *",
		"https://a.example,evil.example/",
		"https://user:pw@a.example/",
		"https://a%20b.example/",
		"https://'self'/",
		"//a.example/",
		"/relative",
		"",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		o := cspOrigin(raw)
		if o == "" {
			return
		}
		if strings.ContainsAny(o, " \t\r\n;,'\"") {
			t.Fatalf("cspOrigin(%q) = %q, which could end the source", raw, o)
		}
		u, _ := url.Parse(raw)
		want := u.Scheme + "://" + u.Host
		if o != want || u.Host == "" {
			t.Fatalf("cspOrigin(%q) = %q, want %q", raw, o, want)
		}
	})
}
