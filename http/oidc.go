package http

import (
	"net/http"
	"net/url"
	"slices"
	"time"

	foyer "github.com/foyerhq/foyer"
)

// oidcHandler serves path, one of Deps.OIDCPaths, with the provider:
// bodies are capped at Config.MaxBodyBytes, a browser path's errors are
// the hosted error page, and the authorization endpoint is rate limited.
// Being routes of this server, they get its request ids, metrics and
// panic recovery.
func (s *Server) oidcHandler(path string) http.Handler {
	h := http.MaxBytesHandler(s.deps.OIDC, s.cfg.MaxBodyBytes)
	browser := slices.Contains(s.deps.OIDCBrowserPaths, path)
	if browser {
		h = s.ErrorPages(h)
	}
	if path == s.deps.OIDCAuthorizePath {
		h = s.limitAuthorize(h, browser)
	}
	return h
}

// limitAuthorize applies Config.AuthorizeRateLimit to h, the
// authorization endpoint, per client IP: every authorization request is
// stored, whoever makes it. Over the limit it answers 429 rate_limited
// with Retry-After, as the hosted error page when page is set. The limit
// comes first, so a refused request costs no lookup.
func (s *Server) limitAuthorize(h http.Handler, page bool) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if ok, wait := s.limits.authorize.Allow(s.clientAddr(r), s.now()); !ok {
			err := rateLimited(w, wait, "Too many sign-in requests came from this address; wait a minute and try again.")
			if page {
				s.pages.renderError(w, r, err)
			} else {
				s.writeError(w, r, err)
			}
			return
		}
		h.ServeHTTP(w, r)
	})
}

// SignedIn returns the registered user signed in on r's browser (its
// session cookie) and when they signed in, or "" when nobody is. It is
// how the OpenID Connect provider knows who is at the browser; a session
// that ended or a stale cookie is nobody, only outages are errors.
func (s *Server) SignedIn(r *http.Request) (string, time.Time, error) {
	c, err := r.Cookie(s.sessionCookieName)
	if err != nil || c.Value == "" || s.deps.Sessions == nil {
		return "", time.Time{}, nil
	}
	ctx := r.Context()
	u, claims, err := s.authenticate(ctx, credential{raw: c.Value, cookie: c.Name, types: sessionTypes}, sessionTypes)
	if foyer.ErrorCode(err) == foyer.EUnauthorized {
		return "", time.Time{}, nil
	}
	if err != nil {
		return "", time.Time{}, err
	}
	sess, err := s.deps.Sessions.FindSession(ctx, u.ID, claims.SessionID)
	if foyer.ErrorCode(err) == foyer.EUnauthorized {
		return "", time.Time{}, nil
	}
	if err != nil {
		return "", time.Time{}, err
	}
	return u.ID, sess.AuthTime, nil
}

// postLogoutTarget returns where to send a person after signing out for
// the app clientID: rawURI if it is one of the app's registered
// post-logout URIs, exactly or with a "state" parameter added (the OpenID
// Connect provider adds the app's state); otherwise "".
func (p *pages) postLogoutTarget(r *http.Request, clientID, rawURI string) (string, error) {
	if clientID == "" || rawURI == "" || p.s.deps.Apps == nil || len(rawURI) > maxReturnTo {
		return "", nil
	}
	app, err := p.s.deps.Apps.FindApp(r.Context(), clientID)
	switch foyer.ErrorCode(err) {
	case "":
	case foyer.ENotFound, foyer.EInvalid:
		return "", nil
	default:
		return "", err
	}
	for _, registered := range app.PostLogoutRedirectURIs {
		if registered == rawURI || sameButState(registered, rawURI) {
			return rawURI, nil
		}
	}
	return "", nil
}

// sameButState reports whether rawURI is registered with a "state"
// parameter added, in any order of the query: the same scheme, host and
// path as written (an escaped "/" is not a "/"), no user information, no
// fragment, and a well-formed query that is registered's once state is
// removed. A malformed pair is not ignored, as url.URL.Query would: the
// app's server might read it ("a;next=…").
func sameButState(registered, rawURI string) bool {
	want, err := url.Parse(registered)
	if err != nil {
		return false
	}
	got, err := url.Parse(rawURI)
	if err != nil || got.User != nil || got.Fragment != "" || want.Fragment != "" {
		return false
	}
	if got.Scheme != want.Scheme || got.Host != want.Host || got.Opaque != want.Opaque || got.EscapedPath() != want.EscapedPath() {
		return false
	}
	gotQ, err := url.ParseQuery(got.RawQuery)
	if err != nil {
		return false
	}
	wantQ, err := url.ParseQuery(want.RawQuery)
	if err != nil {
		return false
	}
	gotQ.Del("state")
	return gotQ.Encode() == wantQ.Encode()
}

// logoutForm handles GET /logout, where the OpenID Connect provider
// sends a person after an app signed them out (client_id and
// post_logout_redirect_uri): it asks whether to sign out of this browser
// too, since no GET may end a session. A browser nobody is signed in on
// goes straight on to the app.
func (p *pages) logoutForm(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	target, err := p.postLogoutTarget(r, q.Get("client_id"), q.Get("post_logout_redirect_uri"))
	if err != nil {
		return err
	}
	u, err := p.account(r)
	if err != nil {
		return err
	}
	d := &pageData{Title: "You are signed out", State: "done", PostLogoutURI: target}
	if u == nil {
		if target != "" {
			redirect(w, target)
			return nil
		}
		return p.show(w, r, http.StatusOK, "logout", d)
	}
	d.Title, d.State, d.Email = "Sign out?", "confirm", u.Email
	if target != "" {
		d.ClientID = q.Get("client_id")
	}
	return p.show(w, r, http.StatusOK, "logout", d)
}
