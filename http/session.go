package http

import (
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	foyer "github.com/foyerhq/foyer"
	"github.com/foyerhq/foyer/token"
)

// maxUserAgentLength is how much of a User-Agent a session keeps.
const maxUserAgentLength = 256

// sessionTokens are what an app keeps of a session: a short-lived access
// token (a JWT of type access bound to the session) and the opaque refresh
// token that rotates on every use.
type sessionTokens struct {
	AccessToken  string `json:"access_token"`
	RefreshToken string `json:"refresh_token"`
	// ExpiresAt is when the access token expires.
	ExpiresAt time.Time `json:"expires_at"`
}

// newSession returns a session of the user id for the client of r,
// starting at now, not yet stored, with its refresh token.
func (s *Server) newSession(r *http.Request, id string, now time.Time) (*foyer.Session, string) {
	refresh, hash := newSecret()
	sess := &foyer.Session{
		UserID:      id,
		RefreshHash: hash,
		ExpiresAt:   now.Add(s.cfg.SessionTTL),
		UserAgent:   truncateUTF8(r.UserAgent(), maxUserAgentLength),
	}
	if a := s.clientAddr(r); a.IsValid() {
		sess.IP = a.String()
	}
	return sess, refresh
}

// startSession creates a session of the registered user id for the client
// of r and signs its access token. It returns the user as the store has
// it now (the tokens carry its epoch).
func (s *Server) startSession(r *http.Request, id string) (*foyer.User, *foyer.Session, *sessionTokens, error) {
	now := s.now()
	sess, refresh := s.newSession(r, id, now)
	u, err := s.deps.Sessions.CreateSession(r.Context(), sess)
	if err != nil {
		return nil, nil, nil, err
	}
	toks, err := s.accessTokens(u, sess, refresh, now)
	if err != nil {
		return nil, nil, nil, err
	}
	return u, sess, toks, nil
}

// accessTokens signs an access token of u for sess, valid for AccessTTL
// (never beyond the session), and pairs it with the refresh token.
func (s *Server) accessTokens(u *foyer.User, sess *foyer.Session, refresh string, now time.Time) (*sessionTokens, error) {
	exp := now.Add(s.cfg.AccessTTL)
	if sess.ExpiresAt.Before(exp) {
		exp = sess.ExpiresAt
	}
	raw, err := s.signUser(token.TypeAccess, u, sess.ID, now, exp)
	if err != nil {
		return nil, err
	}
	return &sessionTokens{AccessToken: raw, RefreshToken: refresh, ExpiresAt: exp.Truncate(time.Second).UTC()}, nil
}

// truncateUTF8 cuts s to at most n bytes without splitting a character.
func truncateUTF8(s string, n int) string {
	if len(s) <= n {
		return s
	}
	s = s[:n]
	for len(s) > 0 && !utf8.ValidString(s) {
		s = s[:len(s)-1]
	}
	return s
}

// loginResponse is the body of POST /v1/login.
type loginResponse struct {
	User *foyer.User `json:"user"`
	sessionTokens
	// MergeAvailable is true when the client also holds a live anonymous
	// account, whose data POST /v1/me/merge can bring in.
	MergeAvailable bool `json:"merge_available"`
}

// login handles POST /v1/login {"email","password"}: a registered account
// with this verified address and password gets a session, as tokens in
// the body and, for a same-origin request, the session cookie. Any
// failure is the same invalid_credentials, and an unknown address costs
// the same password check as a known one. Failures are limited per
// address and per client IP (429 with Retry-After while the allowance
// refills, never a permanent lockout). Signing in never merges: the
// answer only says whether a merge is available.
func (s *Server) login(w http.ResponseWriter, r *http.Request) error {
	var in struct {
		Email    string `json:"email"`
		Password string `json:"password"`
	}
	if err := s.decodeJSON(w, r, &in); err != nil {
		return err
	}
	email, err := foyer.NormalizeEmail(in.Email)
	if err != nil {
		return err
	}
	ctx := r.Context()
	// Make the dummy hash on the first sign-in of any kind, so that the
	// first failure for an unknown address costs no more than others.
	s.dummyHash()
	now, ip := s.now(), s.clientAddr(r)
	const msg = "Too many failed sign-ins; try again later."
	if ok, wait := s.limits.loginAccount.Check(email, now); !ok {
		return rateLimited(w, wait, msg)
	}
	if ok, wait := s.limits.loginIP.Check(ip, now); !ok {
		return rateLimited(w, wait, msg)
	}

	u, stored, err := s.deps.Credentials.FindCredential(ctx, email)
	switch foyer.ErrorCode(err) {
	case "":
	case foyer.ENotFound:
		u, stored = nil, ""
	default:
		return err
	}
	match := false
	// A password outside the allowed lengths matches no account: it is
	// refused without hashing, which depends on the input alone, never on
	// whether the account exists.
	if foyer.ValidatePassword(in.Password) == nil {
		if match, err = s.verifyPassword(in.Password, stored); err != nil {
			return err
		}
	}
	if u == nil || !match {
		s.limits.loginAccount.Allow(email, now)
		s.limits.loginIP.Allow(ip, now)
		if err := s.deps.Credentials.RecordLoginFailure(ctx, email); err != nil {
			return err
		}
		return foyer.Errorf(foyer.EInvalidCredentials, "The email address or password is not correct.")
	}

	u, sess, toks, err := s.startSession(r, u.ID)
	if err != nil {
		return err
	}
	merge := false
	if cred, ok := s.anonymousCredential(r); ok {
		au, _, err := s.authenticate(ctx, cred, anonymousTypes)
		switch foyer.ErrorCode(err) {
		case "":
			merge = au.Anonymous && au.ID != u.ID
		case foyer.EUnauthorized:
		default:
			return err
		}
	}
	// A cross-origin request gets no cookie: another site must not be able
	// to sign a browser into an account of its choosing.
	if s.csrf.Check(r) == nil {
		raw, err := s.signUser(token.TypeSession, u, sess.ID, now, sess.ExpiresAt)
		if err != nil {
			return err
		}
		s.setSessionCookie(w, raw, sess.ExpiresAt, now)
	}
	return writeJSON(w, http.StatusOK, loginResponse{User: userDoc(u), sessionTokens: *toks, MergeAvailable: merge})
}

// refreshResponse is the body of POST /v1/token/refresh.
type refreshResponse struct {
	User *foyer.User `json:"user"`
	sessionTokens
}

// refreshToken handles POST /v1/token/refresh {"refresh_token"}: the
// refresh token is exchanged for a new one and a new access token.
// Presenting a refresh token that was already exchanged is reuse, taken
// as theft: the session ends and every token of it stops working.
func (s *Server) refreshToken(w http.ResponseWriter, r *http.Request) error {
	var in struct {
		RefreshToken string `json:"refresh_token"`
	}
	if err := s.decodeJSON(w, r, &in); err != nil {
		return err
	}
	in.RefreshToken = strings.TrimSpace(in.RefreshToken)
	if in.RefreshToken == "" || len(in.RefreshToken) > maxLinkTokenLength {
		return foyer.Errorf(foyer.EUnauthorized, "The refresh token is not valid.")
	}
	now := s.now()
	refresh, hash := newSecret()
	sess, u, err := s.deps.Sessions.RotateSession(r.Context(), "", hashSecret(in.RefreshToken), hash)
	if err != nil {
		return err
	}
	toks, err := s.accessTokens(u, sess, refresh, now)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, refreshResponse{User: userDoc(u), sessionTokens: *toks})
}

// logout handles POST /v1/logout: the session of the credential (session
// cookie or access token) ends, so its access tokens, refresh token and
// cookie stop working, and the browser's cookies are cleared, the
// anonymous one too: signing out leaves nothing of the person behind.
func (s *Server) logout(w http.ResponseWriter, r *http.Request) error {
	c := ClaimsFromContext(r.Context())
	if err := s.deps.Sessions.DeleteSession(r.Context(), c.SessionID); err != nil && foyer.ErrorCode(err) != foyer.ENotFound {
		return err
	}
	s.clearSessionCookie(w)
	s.clearAnonymousCookie(w)
	w.WriteHeader(http.StatusNoContent)
	return nil
}
