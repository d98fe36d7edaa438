package http_test

import (
	"database/sql"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	foyerhttp "github.com/foyerhq/foyer/http"
	_ "modernc.org/sqlite"
)

func TestOps(t *testing.T) {
	ts := setup(t)
	ts.run(t, []scenario{
		{"Healthz", "GET", "/healthz", nil, "", 200, "", []string{"ok"}},
		{"Readyz", "GET", "/readyz", nil, "", 200, "", []string{"ready"}},
	})

	t.Run("Metrics", func(t *testing.T) {
		ts.signup(t)
		ts.do("GET", "/v1/me", "")
		ts.do("GET", "/nowhere", "")
		w := ts.do("GET", "/metrics", "")
		check(t, w, 200, "",
			`foyer_http_requests_total{code="201",route="POST /v1/anonymous"} 1`,
			`foyer_http_requests_total{code="401",route="GET /v1/me"} 1`,
			`foyer_http_requests_total{code="404",route="unmatched"} 1`,
			`foyer_http_request_duration_seconds_bucket{code="201",route="POST /v1/anonymous",le="+Inf"} 1`,
			`foyer_anonymous_signups_total 1`,
			`foyer_users{state="anonymous"} 1`,
			`foyer_users{state="registered"} 0`,
		)
	})

	t.Run("ReadyzErrUnavailable", func(t *testing.T) {
		ts := setup(t)
		ts.db.Close()
		check(t, ts.do("GET", "/readyz", ""), 503, "unavailable")
		check(t, ts.do("GET", "/healthz", ""), 200, "")
	})

	t.Run("ErrInternalIsGeneric", func(t *testing.T) {
		ts := setup(t)
		// Break the schema behind the store's back, from a second
		// connection to the same file.
		raw, err := sql.Open("sqlite", ts.dbPath)
		if err != nil {
			t.Fatal(err)
		}
		defer raw.Close()
		if _, err := raw.ExecContext(t.Context(), "DROP TABLE events"); err != nil {
			t.Fatal(err)
		}
		w := ts.do("GET", "/v1/events", "", ts.api()...)
		check(t, w, 500, "internal", "An internal error occurred.")
		if strings.Contains(strings.ToLower(w.Body.String()), "sql") {
			t.Errorf("internal error leaks its cause: %s", w.Body)
		}
	})
}

func TestRouting(t *testing.T) {
	ts := setup(t)
	ts.run(t, []scenario{
		{"ErrNotFound", "GET", "/v1/nowhere", nil, "", 404, "not_found", nil},
		{"ErrNotFoundRoot", "GET", "/", nil, "", 404, "not_found", nil},
		{"ErrMethodNotAllowed", "PUT", "/v1/me", nil, "", 405, "method_not_allowed", nil},
		{"ErrMethodNotAllowedKeys", "DELETE", "/.well-known/jwks.json", nil, "", 405, "method_not_allowed", nil},
	})
	t.Run("Allow", func(t *testing.T) {
		w := ts.do("PUT", "/v1/me", "")
		if got := w.Header().Get("Allow"); !strings.Contains(got, "PATCH") || !strings.Contains(got, "DELETE") {
			t.Errorf("Allow = %q", got)
		}
	})
	t.Run("RequestID", func(t *testing.T) {
		a, b := ts.do("GET", "/healthz", ""), ts.do("GET", "/healthz", "")
		if a.Header().Get("X-Request-Id") == "" || a.Header().Get("X-Request-Id") == b.Header().Get("X-Request-Id") {
			t.Errorf("request ids %q and %q", a.Header().Get("X-Request-Id"), b.Header().Get("X-Request-Id"))
		}
		if got := ts.do("GET", "/healthz", "", "X-Request-Id", "lb-123").Header().Get("X-Request-Id"); got != "lb-123" {
			t.Errorf("X-Request-Id = %q, want the proxy's lb-123", got)
		}
		if got := ts.do("GET", "/healthz", "", "X-Request-Id", "bad id\n").Header().Get("X-Request-Id"); got == "bad id\n" || got == "" {
			t.Errorf("X-Request-Id = %q, want a fresh id", got)
		}
	})
}

// TestBrowser walks the visitor flow through a real HTTP server and a
// cookie jar, as a browser on a development machine would.
func TestBrowser(t *testing.T) {
	var srv *httptest.Server
	ts := setup(t, func(c *foyerhttp.Config) { c.PublicURL, _ = url.Parse("http://127.0.0.1") })
	srv = httptest.NewServer(ts.handler)
	t.Cleanup(srv.Close)
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	client := srv.Client()
	client.Jar = jar
	send := func(method, path, body, contentType string) *http.Response {
		t.Helper()
		req, err := http.NewRequestWithContext(t.Context(), method, srv.URL+path, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		if contentType != "" {
			req.Header.Set("Content-Type", contentType)
		}
		res, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res
	}
	steps := []struct {
		method, path, body, contentType string
		want                            int
	}{
		{"GET", "/v1/me", "", "", 401},
		{"POST", "/v1/anonymous", "", "", 201},
		{"POST", "/v1/anonymous", "", "", 200},
		{"PATCH", "/v1/me", `{"data":{"level":3}}`, "application/merge-patch+json", 200},
		{"GET", "/v1/me", "", "", 200},
		{"DELETE", "/v1/me", "", "", 204},
		{"GET", "/v1/me", "", "", 401},
	}
	for _, st := range steps {
		if res := send(st.method, st.path, st.body, st.contentType); res.StatusCode != st.want {
			t.Fatalf("%s %s = %d, want %d", st.method, st.path, res.StatusCode, st.want)
		}
	}
}
