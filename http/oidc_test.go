package http_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	foyer "github.com/foyerhq/foyer"
	foyerhttp "github.com/foyerhq/foyer/http"
	"github.com/foyerhq/foyer/oidc"
	"github.com/foyerhq/foyer/sqlite"
)

// authorizeURL is an authorization request of app that the provider
// accepts, and stores.
func authorizeURL(app *foyer.App) string {
	return oidc.PathAuthorize + "?" + url.Values{
		"client_id": {app.ID}, "redirect_uri": {app.RedirectURIs[0]}, "response_type": {"code"}, "scope": {"openid"},
		"state": {"st"}, "code_challenge": {"E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"}, "code_challenge_method": {"S256"},
	}.Encode()
}

// createTestApp registers a public app redirecting to
// https://shop.example.net/cb.
func createTestApp(t testing.TB, ts *testServer) *foyer.App {
	t.Helper()
	app := &foyer.App{Name: "Shop", Type: foyer.AppPublic, RedirectURIs: []string{"https://shop.example.net/cb"}}
	if err := sqlite.NewAppService(ts.db).CreateApp(t.Context(), app); err != nil {
		t.Fatal(err)
	}
	return app
}

// TestOIDCRoutes checks that the OpenID Connect provider is served as a
// route of the server: with a request id and metrics, its browser paths'
// errors as the hosted error page, the others' as the provider wrote
// them.
func TestOIDCRoutes(t *testing.T) {
	ts := setup(t)
	app := createTestApp(t, ts)

	t.Run("OKDiscovery", func(t *testing.T) {
		w := ts.do("GET", oidc.PathDiscovery, "")
		var doc struct {
			Issuer                string `json:"issuer"`
			AuthorizationEndpoint string `json:"authorization_endpoint"`
		}
		decode(t, w, &doc)
		if w.Code != 200 || doc.Issuer != testIssuer || doc.AuthorizationEndpoint != testIssuer+oidc.PathAuthorize {
			t.Fatalf("discovery = %d %+v", w.Code, doc)
		}
		if w.Header().Get("X-Request-Id") == "" {
			t.Error("no X-Request-Id")
		}
	})

	t.Run("OKAuthorize", func(t *testing.T) {
		w := ts.do("GET", authorizeURL(app), "")
		if w.Code != http.StatusFound || !strings.HasPrefix(w.Header().Get("Location"), oidc.PathContinue+"?id=") || w.Header().Get("X-Request-Id") == "" {
			t.Fatalf("authorize = %d to %q (request id %q), want a redirect to continue", w.Code, w.Header().Get("Location"), w.Header().Get("X-Request-Id"))
		}
	})

	t.Run("ErrBrowserPathIsAPage", func(t *testing.T) {
		w := ts.do("GET", oidc.PathAuthorize+"?client_id=nobody", "")
		if w.Code != 400 || !strings.HasPrefix(w.Header().Get("Content-Type"), "text/html") || !strings.Contains(w.Body.String(), `data-page="error"`) {
			t.Fatalf("bad authorization request = %d %q, want the error page:\n%s", w.Code, w.Header().Get("Content-Type"), clip(w.Body.String()))
		}
		if w.Header().Get("X-Request-Id") == "" {
			t.Error("no X-Request-Id")
		}
	})

	t.Run("ErrAppPathIsOAuthJSON", func(t *testing.T) {
		w := ts.do("POST", oidc.PathToken, "grant_type=authorization_code&code=nope&client_id="+app.ID, "Content-Type", "application/x-www-form-urlencoded")
		var body struct {
			Error string `json:"error"`
		}
		if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil || w.Code != 400 || body.Error == "" {
			t.Fatalf("bad token request = %d %s, want an OAuth JSON error", w.Code, w.Body)
		}
	})

	t.Run("ErrBodyTooLarge", func(t *testing.T) {
		big := "grant_type=authorization_code&code=" + strings.Repeat("a", foyerhttp.DefaultMaxBodyBytes)
		w := ts.do("POST", oidc.PathToken, big, "Content-Type", "application/x-www-form-urlencoded")
		var body struct {
			Error string `json:"error"`
		}
		// Read whole, the code would be invalid_grant; cut off at
		// MaxBodyBytes, the form cannot be read.
		if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil || w.Code != 400 || body.Error != "invalid_request" {
			t.Fatalf("oversized token request = %d %s, want 400 invalid_request", w.Code, clip(w.Body.String()))
		}
	})

	t.Run("OKMetrics", func(t *testing.T) {
		check(t, ts.do("GET", "/metrics", ""), 200, "",
			`foyer_http_requests_total{code="200",route="`+oidc.PathDiscovery+`"} 1`,
			`foyer_http_requests_total{code="302",route="`+oidc.PathAuthorize+`"} 1`,
			`foyer_http_requests_total{code="400",route="`+oidc.PathAuthorize+`"} 1`,
		)
	})
}

// TestOIDCAuthorizeRateLimit checks the per-IP limit of the authorization
// endpoint, which stores every request it accepts.
func TestOIDCAuthorizeRateLimit(t *testing.T) {
	const a, b = "192.0.2.1:1234", "192.0.2.2:1234"
	get := func(ts *testServer, target, remote string) *httptest.ResponseRecorder {
		r := request("GET", target, "")
		r.RemoteAddr = remote
		return ts.serve(r)
	}

	t.Run("ErrRateLimited", func(t *testing.T) {
		ts := setup(t, func(c *foyerhttp.Config) { c.AuthorizeRateLimit = 3 })
		app := createTestApp(t, ts)
		var continued string
		for i := range 3 {
			w := get(ts, authorizeURL(app), a)
			if w.Code != http.StatusFound {
				t.Fatalf("request %d = %d, want 302", i+1, w.Code)
			}
			continued = w.Header().Get("Location")
		}
		w := get(ts, authorizeURL(app), a)
		checkPage(t, w, http.StatusTooManyRequests, foyer.ERateLimited, "Too many sign-in requests")
		if got := w.Header().Get("Retry-After"); got != "20" {
			t.Errorf("Retry-After = %q, want 20 (3 a minute)", got)
		}
		if w.Header().Get("X-Request-Id") == "" {
			t.Error("no X-Request-Id")
		}
		// Only the authorization endpoint, and only for that address.
		if w := get(ts, authorizeURL(app), b); w.Code != http.StatusFound {
			t.Fatalf("another address = %d, want 302", w.Code)
		}
		if w := get(ts, continued, a); w.Code != http.StatusFound {
			t.Fatalf("continue = %d, want 302", w.Code)
		}
		if w := get(ts, oidc.PathDiscovery, a); w.Code != http.StatusOK {
			t.Fatalf("discovery = %d, want 200", w.Code)
		}
		ts.clock.Advance(20 * time.Second)
		if w := get(ts, authorizeURL(app), a); w.Code != http.StatusFound {
			t.Fatalf("after Retry-After = %d, want 302", w.Code)
		}
		check(t, ts.do("GET", "/metrics", ""), 200, "", `foyer_http_requests_total{code="429",route="`+oidc.PathAuthorize+`"} 1`)
	})

	t.Run("OKDefault", func(t *testing.T) {
		ts := setup(t)
		app := createTestApp(t, ts)
		for i := range foyerhttp.DefaultAuthorizeRateLimit {
			if w := get(ts, authorizeURL(app), a); w.Code != http.StatusFound {
				t.Fatalf("request %d = %d, want 302", i+1, w.Code)
			}
		}
		checkPage(t, get(ts, authorizeURL(app), a), http.StatusTooManyRequests, foyer.ERateLimited)
	})

	t.Run("OKDisabled", func(t *testing.T) {
		ts := setup(t, func(c *foyerhttp.Config) { c.AuthorizeRateLimit = -1 })
		app := createTestApp(t, ts)
		for i := range foyerhttp.DefaultAuthorizeRateLimit + 10 {
			if w := get(ts, authorizeURL(app), a); w.Code != http.StatusFound {
				t.Fatalf("request %d = %d, want 302", i+1, w.Code)
			}
		}
	})
}

// TestOIDCPanic checks that a panic in the provider is recovered by the
// server like one in its own handlers: an internal error with a request
// id, counted in the metrics. No real provider panics on demand, so this
// one does.
func TestOIDCPanic(t *testing.T) {
	s := foyerhttp.NewServer(foyerhttp.Config{}, foyerhttp.Deps{
		OIDC:      http.HandlerFunc(func(http.ResponseWriter, *http.Request) { panic("provider bug") }),
		OIDCPaths: []string{oidc.PathToken},
	}, nil, nil)
	w := httptest.NewRecorder()
	s.Handler().ServeHTTP(w, httptest.NewRequest("POST", oidc.PathToken, nil))
	check(t, w, 500, foyer.EInternal)
	if w.Header().Get("X-Request-Id") == "" || strings.Contains(w.Body.String(), "provider bug") {
		t.Fatalf("panic answer %d %q: %s", w.Code, w.Header().Get("X-Request-Id"), w.Body)
	}
	w = httptest.NewRecorder()
	s.Handler().ServeHTTP(w, httptest.NewRequest("GET", "/metrics", nil))
	check(t, w, 200, "", `foyer_http_requests_total{code="500",route="`+oidc.PathToken+`"} 1`)
}
