package http

import (
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"
	"strconv"
	"time"

	foyer "github.com/foyerhq/foyer"
)

// serve runs every request: it gives it a request id, records metrics by
// route pattern and status, turns the mux's own 404 and 405 answers into
// the JSON error shape and recovers panics as internal errors.
func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	rid := r.Header.Get("X-Request-Id")
	if !validRequestID(rid) {
		rid = newRequestID()
	}
	w.Header().Set("X-Request-Id", rid)
	rw := &responseWriter{ResponseWriter: w, s: s, r: r}

	defer func() {
		if p := recover(); p != nil {
			if p == http.ErrAbortHandler {
				panic(p)
			}
			err := fmt.Errorf("panic: %v\n%s", p, debug.Stack())
			if rw.status == 0 {
				s.writeError(rw, r, err)
			} else {
				s.logger.ErrorContext(r.Context(), "panic after response started",
					slog.String("request_id", rid), slog.String("route", r.Pattern), slog.Any("err", err))
			}
		}
		route := r.Pattern
		if route == "" {
			route = "unmatched"
		}
		status := rw.status
		if status == 0 {
			status = http.StatusOK
		}
		s.metrics.observe(route, status, time.Since(start))
	}()
	s.mux.ServeHTTP(rw, r)
}

// responseWriter records the status for metrics and rewrites the plain
// text 404 and 405 of the mux (no route matched, so r.Pattern is empty)
// into JSON errors. Unwrap lets http.ResponseController reach the
// underlying writer.
type responseWriter struct {
	http.ResponseWriter
	s       *Server
	r       *http.Request
	status  int
	swallow bool
}

func (w *responseWriter) WriteHeader(code int) {
	if w.status != 0 {
		w.ResponseWriter.WriteHeader(code) // superfluous: let net/http report it
		return
	}
	if w.r.Pattern == "" && (code == http.StatusNotFound || code == http.StatusMethodNotAllowed) {
		err := foyer.Errorf(foyer.ENotFound, "No route matches %s %s.", w.r.Method, w.r.URL.Path)
		if code == http.StatusMethodNotAllowed {
			err = foyer.Errorf(foyer.EMethodNotAllowed, "%s is not allowed here; see the Allow header.", w.r.Method)
		}
		w.status = code
		w.ResponseWriter.Header().Del("Content-Length")
		w.s.writeError(w.ResponseWriter, w.r, err)
		w.swallow = true // drop the mux's text body
		return
	}
	w.status = code
	w.ResponseWriter.WriteHeader(code)
}

func (w *responseWriter) Write(b []byte) (int, error) {
	if w.swallow {
		return len(b), nil
	}
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

func (w *responseWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// newRequestID returns a random request id.
func newRequestID() string {
	var b [12]byte
	rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// validRequestID reports whether an incoming X-Request-Id (set by a proxy
// in front) is safe to reuse in logs and the response: 1 to 128 letters,
// digits, '-', '_' or '.'.
func validRequestID(id string) bool {
	if id == "" || len(id) > 128 {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}

// retryAfter formats d as whole seconds for Retry-After, at least 1.
func retryAfter(d time.Duration) string {
	secs := int64((d + time.Second - 1) / time.Second)
	return strconv.FormatInt(max(secs, 1), 10)
}
