package http

import (
	"bytes"
	"cmp"
	"encoding/json"
	"net/http"
	"strings"

	foyer "github.com/foyerhq/foyer"
)

// ErrorPages wraps h, a handler that people reach in a browser (the
// OpenID Connect provider's authorization, continue and end-session
// endpoints), so that its error answers, in plain text or as an OAuth
// JSON error, become the hosted error page, with the same status and, for
// a 4xx, the same message (an OAuth error's description). Answers that
// are not errors pass through unchanged.
func (s *Server) ErrorPages(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c := &errorCapture{ResponseWriter: w}
		h.ServeHTTP(c, r)
		if c.status == 0 {
			return
		}
		code := foyer.EInternal
		switch {
		case c.status == http.StatusUnauthorized:
			code = foyer.EUnauthorized
		case c.status == http.StatusForbidden:
			code = foyer.EForbidden
		case c.status == http.StatusNotFound:
			code = foyer.ENotFound
		case c.status == http.StatusServiceUnavailable:
			code = foyer.EUnavailable
		case c.status < http.StatusInternalServerError:
			code = foyer.EInvalid
		}
		msg := strings.TrimSpace(c.body.String())
		if c.json {
			var oauth struct {
				Error       string `json:"error"`
				Description string `json:"error_description"`
			}
			json.Unmarshal(c.body.Bytes(), &oauth)
			msg = cmp.Or(oauth.Description, oauth.Error, http.StatusText(c.status))
		}
		s.pages.renderError(w, r, &foyer.Error{Code: code, Message: msg})
	})
}

// errorCapture passes a response through unless it is a plain-text or
// JSON error, whose status and (bounded) body it keeps instead.
type errorCapture struct {
	http.ResponseWriter
	status int  // the captured error's status, or 0
	json   bool // the captured error is JSON
	passed bool
	body   bytes.Buffer
}

func (c *errorCapture) WriteHeader(status int) {
	ct := c.Header().Get("Content-Type")
	if !c.passed && c.status == 0 && status >= 400 && (strings.HasPrefix(ct, "text/plain") || strings.HasPrefix(ct, "application/json")) {
		c.status, c.json = status, strings.HasPrefix(ct, "application/json")
		c.Header().Del("Content-Type")
		c.Header().Del("X-Content-Type-Options")
		return
	}
	c.passed = true
	c.ResponseWriter.WriteHeader(status)
}

func (c *errorCapture) Write(b []byte) (int, error) {
	if c.status == 0 {
		c.passed = true
		return c.ResponseWriter.Write(b)
	}
	if room := 1024 - c.body.Len(); room > 0 {
		c.body.Write(b[:min(len(b), room)])
	}
	return len(b), nil
}
