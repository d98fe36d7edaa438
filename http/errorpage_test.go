package http_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestErrorPages checks that a browser-facing handler's plain-text and
// OAuth JSON errors become the hosted error page, and that everything
// else passes through.
func TestErrorPages(t *testing.T) {
	ts := setup(t)
	h := ts.server.ErrorPages(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/plain-400":
			http.Error(w, "The requested redirect_uri is missing in the client configuration.", http.StatusBadRequest)
		case "/plain-503":
			http.Error(w, "database is down: secret detail", http.StatusServiceUnavailable)
		case "/json-400":
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusBadRequest)
			w.Write([]byte(`{"error":"invalid_request","error_description":"id_token_hint invalid"}`))
		case "/redirect":
			http.Redirect(w, r, "https://app.example.com/cb?code=x", http.StatusFound)
		default:
			w.Write([]byte("fine"))
		}
	}))
	get := func(path string) *httptest.ResponseRecorder {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest("GET", path, nil))
		return w
	}

	w := get("/plain-400")
	body := w.Body.String()
	if w.Code != 400 || !strings.HasPrefix(w.Header().Get("Content-Type"), "text/html") ||
		!strings.Contains(body, `data-page="error"`) || !strings.Contains(body, "redirect_uri is missing") {
		t.Fatalf("plain 400 = %d %q:\n%s", w.Code, w.Header().Get("Content-Type"), body)
	}
	w = get("/plain-503")
	if w.Code != 503 || !strings.Contains(w.Body.String(), `data-page="error"`) || strings.Contains(w.Body.String(), "secret detail") {
		t.Fatalf("plain 503 = %d, want the generic error page without the cause:\n%s", w.Code, w.Body)
	}
	if w := get("/json-400"); w.Code != 400 || !strings.Contains(w.Body.String(), `data-page="error"`) || !strings.Contains(w.Body.String(), "id_token_hint invalid") {
		t.Fatalf("OAuth JSON 400 = %d, want the error page with its description:\n%s", w.Code, w.Body)
	}
	if w := get("/redirect"); w.Code != http.StatusFound || w.Header().Get("Location") != "https://app.example.com/cb?code=x" {
		t.Fatalf("redirect = %d %q, want it unchanged", w.Code, w.Header().Get("Location"))
	}
	if w := get("/ok"); w.Code != 200 || w.Body.String() != "fine" {
		t.Fatalf("200 = %d %s, want it unchanged", w.Code, w.Body)
	}
}
