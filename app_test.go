package foyer

import (
	"net/url"
	"strings"
	"testing"
)

func TestValidRedirectURI(t *testing.T) {
	tests := []struct {
		in string
		ok bool
	}{
		{"https://shop.example/callback", true},
		{"https://shop.example:8443/cb?x=1", true},
		{"http://localhost:3000/callback", true},
		{"http://127.0.0.1/cb", true},
		{"http://[::1]:9/cb", true},
		{"http://shop.example/callback", false},     // plain http off loopback
		{"http://localhost.evil.example/cb", false}, // not loopback
		{"https://shop.example/cb#frag", false},
		{"https://user:pw@shop.example/cb", false},
		{"/callback", false},
		{"javascript:alert(1)", false},
		{"custom://cb", false},
		{"https:///cb", false},
		{"", false},
		{"https://shop.example/" + strings.Repeat("a", MaxRedirectURILen), false},
		{"https://shop.example/\xff", false},
	}
	for _, tt := range tests {
		err := ValidRedirectURI(tt.in)
		if (err == nil) != tt.ok {
			t.Errorf("ValidRedirectURI(%q) = %v, want ok=%v", tt.in, err, tt.ok)
		}
		if err != nil && ErrorCode(err) != EInvalid {
			t.Errorf("ValidRedirectURI(%q) code %q, want %q", tt.in, ErrorCode(err), EInvalid)
		}
	}
}

func TestAppValidate(t *testing.T) {
	valid := func() *App {
		return &App{Name: "Shop", Type: AppConfidential, SecretHash: []byte("h"), RedirectURIs: []string{"https://shop.example/cb"}, PostLogoutRedirectURIs: []string{"https://shop.example/"}}
	}
	if err := valid().Validate(); err != nil {
		t.Fatalf("valid app: %v", err)
	}
	pub := valid()
	pub.Type, pub.SecretHash = AppPublic, nil
	if err := pub.Validate(); err != nil {
		t.Fatalf("valid public app: %v", err)
	}
	many := make([]string, MaxAppRedirectURIs+1)
	for i := range many {
		many[i] = "https://shop.example/cb" + strings.Repeat("x", i)
	}
	tests := map[string]func(a *App){
		"no name":              func(a *App) { a.Name = "  " },
		"long name":            func(a *App) { a.Name = strings.Repeat("n", MaxAppNameLength+1) },
		"unknown type":         func(a *App) { a.Type = "native" },
		"public with secret":   func(a *App) { a.Type = AppPublic },
		"confidential no hash": func(a *App) { a.SecretHash = nil },
		"no redirect":          func(a *App) { a.RedirectURIs = nil },
		"bad redirect":         func(a *App) { a.RedirectURIs = []string{"http://shop.example/cb"} },
		"duplicate redirect":   func(a *App) { a.RedirectURIs = []string{"https://shop.example/cb", "https://shop.example/cb"} },
		"too many redirects":   func(a *App) { a.RedirectURIs = many },
		"bad post-logout":      func(a *App) { a.PostLogoutRedirectURIs = []string{"https://shop.example/#x"} },
	}
	for name, change := range tests {
		a := valid()
		change(a)
		if err := a.Validate(); ErrorCode(err) != EInvalid {
			t.Errorf("%s: Validate() = %v, want %s", name, err, EInvalid)
		}
	}
}

// FuzzValidRedirectURI checks that every accepted address is an absolute
// https URL, or http on a loopback host, without fragment or user
// information: what an authorization response may be sent to.
func FuzzValidRedirectURI(f *testing.F) {
	f.Add("https://shop.example/callback")
	f.Add("http://localhost:3000/cb")
	f.Add("http://127.0.0.1.evil/cb")
	f.Add("https://a@b/c#d")
	f.Fuzz(func(t *testing.T, raw string) {
		if ValidRedirectURI(raw) != nil {
			return
		}
		u, err := url.Parse(raw)
		if err != nil || !u.IsAbs() || u.Host == "" || u.Fragment != "" || u.User != nil {
			t.Fatalf("accepted %q: %+v %v", raw, u, err)
		}
		if u.Scheme != "https" && !(u.Scheme == "http" && IsLoopbackHost(u.Hostname())) {
			t.Fatalf("accepted %q with scheme %q on host %q", raw, u.Scheme, u.Hostname())
		}
	})
}
