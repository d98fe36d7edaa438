package main

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"sync"

	"golang.org/x/oauth2"
)

// sessionCookie names the demo's own cookie: a random session id. It is
// not a Foyer credential; the anonymous token lives in the SDK's cookie.
const sessionCookie = "videos_session"

// session is what the demo remembers about a browser, kept in memory.
type session struct {
	// SignIn is the sign-in under way, which the callback must match.
	SignIn *pendingSignIn
	// Token holds the access, refresh and ID tokens of a signed-in
	// browser, IDToken the raw ID token for the logout hint.
	Token   *oauth2.Token
	IDToken string
	// SavedEmail is the address this browser saved its progress under.
	SavedEmail string
	// LogoutState is the state of the sign-out under way at Foyer.
	LogoutState string
}

// pendingSignIn binds an authorization response to the browser that
// asked for it: the state, the nonce expected in the ID token and the
// PKCE verifier.
type pendingSignIn struct {
	State, Nonce, Verifier string
}

// sessions keeps the sessions by id, and makes and checks CSRF tokens.
// A browser gets an id on its first page view, for its CSRF token;
// nothing is stored for it until there is something to remember.
type sessions struct {
	secure bool   // cookies only over HTTPS
	key    []byte // signs CSRF tokens
	mu     sync.Mutex
	m      map[string]session
}

func newSessions(secure bool) *sessions {
	return &sessions{secure: secure, key: []byte(rand.Text()), m: make(map[string]session)}
}

// id returns the session id of r, or "".
func (s *sessions) id(r *http.Request) string {
	c, err := r.Cookie(sessionCookie)
	if err != nil {
		return ""
	}
	return c.Value
}

// get returns the session of r; the zero session if it has none.
func (s *sessions) get(r *http.Request) session {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.m[s.id(r)]
}

// set stores sess as the session of r, which has a session id: every form
// post and the sign-in callback do.
func (s *sessions) set(r *http.Request, sess session) {
	if id := s.id(r); id != "" {
		s.mu.Lock()
		defer s.mu.Unlock()
		s.m[id] = sess
	}
}

// signIn stores sess, a signed-in session, under a new id, so that an id
// known before signing in (planted by someone else, say) is worth nothing
// after.
func (s *sessions) signIn(w http.ResponseWriter, r *http.Request, sess session) {
	id := rand.Text()
	s.mu.Lock()
	delete(s.m, s.id(r))
	s.m[id] = sess
	s.mu.Unlock()
	s.setCookie(w, id)
}

// signOut forgets the sign-in of r and returns its session as it was.
func (s *sessions) signOut(r *http.Request) session {
	s.mu.Lock()
	defer s.mu.Unlock()
	id := s.id(r)
	old := s.m[id]
	delete(s.m, id)
	return old
}

// csrf returns the CSRF token to put in the forms of a page for r, giving
// the browser a session id first if it has none.
func (s *sessions) csrf(w http.ResponseWriter, r *http.Request) string {
	id := s.id(r)
	if id == "" {
		id = rand.Text()
		s.setCookie(w, id)
	}
	return s.token(id)
}

// validCSRF reports whether the form posted in r carries the CSRF token
// of its session id.
func (s *sessions) validCSRF(r *http.Request) bool {
	id := s.id(r)
	return id != "" && hmac.Equal([]byte(r.PostFormValue("csrf")), []byte(s.token(id)))
}

// token is the CSRF token of session id: a MAC of it, so that only this
// server can make one and only for this browser.
func (s *sessions) token(id string) string {
	m := hmac.New(sha256.New, s.key)
	m.Write([]byte("csrf\x00" + id))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

func (s *sessions) setCookie(w http.ResponseWriter, id string) {
	http.SetCookie(w, &http.Cookie{
		Name:     sessionCookie,
		Value:    id,
		Path:     "/",
		HttpOnly: true,
		Secure:   s.secure,
		// Lax: sent when Foyer sends the browser back to the callback.
		SameSite: http.SameSiteLaxMode,
	})
}
