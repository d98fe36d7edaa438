package http

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"time"

	foyer "github.com/foyerhq/foyer"
	"github.com/foyerhq/foyer/token"
)

// contextKey is the type of this package's context keys.
type contextKey int

const (
	visitorContextKey contextKey = iota + 1
	apiKeyContextKey
)

// visitorIdentity is what the visitor middleware puts in the request
// context: one value, so that a request pays for one context and one
// lookup per accessor.
type visitorIdentity struct {
	user   *foyer.User
	claims *token.Claims
}

// UserFromContext returns the visitor that the visitor middleware
// authenticated, or nil.
func UserFromContext(ctx context.Context) *foyer.User {
	if v, _ := ctx.Value(visitorContextKey).(*visitorIdentity); v != nil {
		return v.user
	}
	return nil
}

// ClaimsFromContext returns the verified claims of the visitor's token,
// or nil.
func ClaimsFromContext(ctx context.Context) *token.Claims {
	if v, _ := ctx.Value(visitorContextKey).(*visitorIdentity); v != nil {
		return v.claims
	}
	return nil
}

// APIKeyFromContext returns the API key that authenticated a server API
// request, or nil.
func APIKeyFromContext(ctx context.Context) *foyer.APIKey {
	k, _ := ctx.Value(apiKeyContextKey).(*foyer.APIKey)
	return k
}

// Token types, by what they authenticate and where they may come from.
var (
	// visitorTypes authenticate a visitor: anonymous or signed in.
	visitorTypes = []string{token.TypeAnonymous, token.TypeAccess, token.TypeSession}
	// registeredTypes authenticate a signed-in registered user; both are
	// bound to a session.
	registeredTypes = []string{token.TypeAccess, token.TypeSession}
	// bearerTypes may be sent in Authorization (and Foyer-Anonymous-Token):
	// a session token lives in its HttpOnly cookie only.
	bearerTypes = []string{token.TypeAnonymous, token.TypeAccess}
	// anonymousTypes are what the anonymous cookie may carry.
	anonymousTypes = []string{token.TypeAnonymous}
	// sessionTypes are what the session cookie may carry.
	sessionTypes = []string{token.TypeSession}
)

// AnonymousTokenHeader carries an app's anonymous token on requests whose
// Authorization header holds another credential: POST /v1/me/merge
// (signed in as the registered user), and POST /v1/login and
// POST /v1/convert/complete, which take it as a bearer token too.
const AnonymousTokenHeader = "Foyer-Anonymous-Token"

// credential is a token presented by a visitor.
type credential struct {
	raw    string
	cookie string   // the name of the cookie it came from; "" for a header
	types  []string // the token types it may be
}

// visitorCredential returns the visitor's token: the bearer token when an
// Authorization header is present (it wins, and a malformed one is not
// replaced by a cookie), else the session cookie of a signed-in browser,
// else the anonymous cookie.
func (s *Server) visitorCredential(r *http.Request) (credential, bool) {
	if h := r.Header.Get("Authorization"); h != "" {
		raw, ok := bearer(h)
		return credential{raw: raw, types: bearerTypes}, ok
	}
	if c, err := r.Cookie(s.sessionCookieName); err == nil && c.Value != "" {
		return credential{raw: c.Value, cookie: s.sessionCookieName, types: sessionTypes}, true
	}
	if c, err := r.Cookie(s.cookieName); err == nil && c.Value != "" {
		return credential{raw: c.Value, cookie: s.cookieName, types: anonymousTypes}, true
	}
	return credential{}, false
}

// anonymousCredential returns the anonymous credential a request carries
// beside, or instead of, its main one: the Foyer-Anonymous-Token header,
// else an anonymous bearer token, else the anonymous cookie. The cookie is
// only read on a same-origin request, so another site can neither learn
// nor use the visitor's anonymous account. The header may also carry an
// access token: the caller then finds a user who is not anonymous and says
// so. The token is not verified here.
func (s *Server) anonymousCredential(r *http.Request) (credential, bool) {
	if raw := strings.TrimSpace(r.Header.Get(AnonymousTokenHeader)); raw != "" {
		return credential{raw: raw, types: bearerTypes}, true
	}
	if raw, ok := bearer(r.Header.Get("Authorization")); ok && peekType(raw) == token.TypeAnonymous {
		return credential{raw: raw, types: anonymousTypes}, true
	}
	if c, err := r.Cookie(s.cookieName); err == nil && c.Value != "" && s.csrf.Check(r) == nil {
		return credential{raw: c.Value, cookie: s.cookieName, types: anonymousTypes}, true
	}
	return credential{}, false
}

// bearer returns the token of an "Authorization: Bearer <token>" value.
func bearer(h string) (string, bool) {
	scheme, raw, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	raw = strings.TrimSpace(raw)
	return raw, raw != ""
}

var errUnauthenticated = foyer.Errorf(foyer.EUnauthorized, "A valid credential is required.")

// authenticate verifies cred as one of the token types in allowed (and in
// cred.types), loads its user in one query and checks that the token's
// epoch is the stored one: the database, not the token, decides whether it
// is still valid (DESIGN §2.5). A deleted user, a bumped epoch, a closed session or an
// anonymous token of a user who has since registered give EUnauthorized.
func (s *Server) authenticate(ctx context.Context, cred credential, allowed []string) (*foyer.User, *token.Claims, error) {
	typ := peekType(cred.raw)
	if !slices.Contains(allowed, typ) || !slices.Contains(cred.types, typ) {
		return nil, nil, errUnauthenticated
	}
	claims, err := s.deps.Keys.Verify(ctx, cred.raw, typ)
	if err != nil {
		return nil, nil, err
	}
	var u *foyer.User
	if claims.SessionID != "" {
		if s.deps.Sessions == nil {
			return nil, nil, errUnauthenticated
		}
		u, err = s.deps.Sessions.FindSessionUser(ctx, claims.Subject, claims.SessionID)
	} else {
		u, err = s.deps.Users.FindUserByID(ctx, claims.Subject)
	}
	switch foyer.ErrorCode(err) {
	case "":
	case foyer.ENotFound, foyer.EUnauthorized:
		return nil, nil, errUnauthenticated
	default:
		return nil, nil, err
	}
	if u.Epoch != claims.Epoch || (claims.Type == token.TypeAnonymous && !u.Anonymous) {
		return nil, nil, errUnauthenticated
	}
	return u, claims, nil
}

// peekType returns the "typ" claim of a compact JWS without verifying it,
// only to choose which type Verify must insist on; Verify checks it again.
// It returns "" when the token cannot be read.
//
// Foyer writes the member compactly, once, with one of its own type
// names, so that is looked for first, without a JSON decoder: in valid
// JSON the bytes "typ":" can only be a member name, and when they occur
// once, no other member, at any depth, is called typ. Anything else goes
// through encoding/json. Either way the answer is only a hint: Verify
// refuses a token whose real "typ" is another.
func peekType(raw string) string {
	_, rest, ok := strings.Cut(raw, ".")
	if !ok {
		return ""
	}
	payload, _, ok := strings.Cut(rest, ".")
	if !ok || len(payload) > 8<<10 {
		return ""
	}
	b, err := base64.RawURLEncoding.DecodeString(payload)
	if err != nil {
		return ""
	}
	if i := bytes.Index(b, typMember); i >= 0 {
		v := b[i+len(typMember):]
		if !bytes.Contains(v, typMember) {
			for _, t := range tokenTypes {
				if len(v) > len(t) && string(v[:len(t)]) == t && v[len(t)] == '"' {
					return t
				}
			}
		}
	}
	var p struct {
		Typ string `json:"typ"`
	}
	if json.Unmarshal(b, &p) != nil {
		return ""
	}
	return p.Typ
}

// typMember starts the "typ" member of a compact JSON object.
var typMember = []byte(`"typ":"`)

// tokenTypes are the token types peekType recognises without decoding.
var tokenTypes = []string{token.TypeAnonymous, token.TypeAccess, token.TypeSession, token.TypeVended}

// visitor authenticates the visitor (bearer token, session cookie or
// anonymous cookie) and passes the user and claims to h through the
// request context (see UserFromContext). Unsafe methods authenticated by
// a cookie must pass cross-origin protection. An anonymous token older
// than RenewAfter is replaced (cookie, or the Foyer-Token header for
// bearer clients), and activity is recorded at most once per
// ActivityGranularity.
func (s *Server) visitor(h handlerFunc) handlerFunc { return s.authenticated(visitorTypes, h) }

// registered is visitor for routes of signed-in registered users: the
// credential must be a session cookie or an access token, both bound to a
// live session.
func (s *Server) registered(h handlerFunc) handlerFunc { return s.authenticated(registeredTypes, h) }

// authenticated is the middleware behind visitor and registered: it
// accepts the token types in allowed.
func (s *Server) authenticated(allowed []string, h handlerFunc) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		cred, ok := s.visitorCredential(r)
		if !ok {
			return errUnauthenticated
		}
		if cred.cookie != "" {
			if err := s.csrf.Check(r); err != nil {
				return &foyer.Error{Code: foyer.EForbidden, Message: "Cross-origin requests may not use the cookie.", Err: err}
			}
		}
		ctx := r.Context()
		u, claims, err := s.authenticate(ctx, cred, allowed)
		if err != nil {
			if cred.cookie == s.sessionCookieName && foyer.ErrorCode(err) == foyer.EUnauthorized {
				// The session ended (sign-out elsewhere, password reset,
				// revocation): drop its cookie, so the browser falls back
				// to its anonymous cookie, if any, on the next request.
				s.clearSessionCookie(w)
			}
			return err
		}
		now := s.now()
		if err := s.touch(ctx, u, now); err != nil {
			return err
		}
		if claims.Type == token.TypeAnonymous && now.Sub(claims.IssuedAt) >= s.cfg.RenewAfter {
			raw, _, err := s.issueAnonymous(u, now)
			if err != nil {
				return err
			}
			if cred.cookie != "" {
				s.setAnonymousCookie(w, raw)
			} else {
				w.Header().Set("Foyer-Token", raw)
			}
		}
		ctx = context.WithValue(ctx, visitorContextKey, &visitorIdentity{user: u, claims: claims})
		return h(w, r.WithContext(ctx))
	}
}

// touch records u's activity when its stored last_seen_at is older than
// ActivityGranularity, so most requests write nothing.
func (s *Server) touch(ctx context.Context, u *foyer.User, now time.Time) error {
	g := s.cfg.ActivityGranularity
	if now.Sub(u.LastSeenAt) <= g {
		return nil
	}
	wrote, err := s.deps.Users.TouchUser(ctx, u.ID, now, g)
	if err != nil {
		return err
	}
	if wrote {
		u.LastSeenAt = now.UTC()
	}
	return nil
}

// issueAnonymous signs an anonymous token for u, valid for AnonymousTTL.
func (s *Server) issueAnonymous(u *foyer.User, now time.Time) (string, time.Time, error) {
	iat := now.Truncate(time.Second)
	c := &token.Claims{
		Subject:   u.ID,
		IssuedAt:  iat,
		Expiry:    iat.Add(s.cfg.AnonymousTTL),
		Type:      token.TypeAnonymous,
		Anonymous: true,
		Epoch:     u.Epoch,
	}
	if s.cfg.Audience != "" {
		c.Audience = []string{s.cfg.Audience}
	}
	raw, err := s.deps.Keys.Sign(c)
	if err != nil {
		// A configuration problem (e.g. AnonymousTTL above the keyring's
		// MaxTokenTTL), never the visitor's fault.
		return "", time.Time{}, &foyer.Error{Code: foyer.EInternal, Err: err}
	}
	return raw, c.Expiry.UTC(), nil
}

// setAnonymousCookie sets the anonymous cookie to raw. Every sign-up
// sets it, so the header is put together from its attributes, written
// once by net/http in NewServer (see anonymousCookie), when raw is a
// token made of the characters Foyer's tokens are made of.
func (s *Server) setAnonymousCookie(w http.ResponseWriter, raw string) {
	if !plainCookieValue(raw) {
		c := s.anonymousCookie()
		c.Value = raw
		http.SetCookie(w, c)
		return
	}
	w.Header().Add("Set-Cookie", s.cookieName+"="+raw+s.cookieAttrs)
}

// anonymousCookie is the anonymous cookie without its value.
func (s *Server) anonymousCookie() *http.Cookie {
	return &http.Cookie{
		Name:     s.cookieName,
		Path:     "/",
		MaxAge:   int(s.cfg.AnonymousTTL / time.Second),
		HttpOnly: true,
		Secure:   s.cookieSecure,
		SameSite: http.SameSiteLaxMode,
	}
}

// plainCookieValue reports whether v is a non-empty cookie value that
// net/http writes as it is: base64url characters and dots, as in a
// compact JWS.
func plainCookieValue(v string) bool {
	if v == "" {
		return false
	}
	for i := 0; i < len(v); i++ {
		c := v[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}

// clearAnonymousCookie tells the browser to drop the anonymous cookie.
func (s *Server) clearAnonymousCookie(w http.ResponseWriter) {
	http.SetCookie(w, &http.Cookie{
		Name:     s.cookieName,
		Value:    "",
		Path:     "/",
		MaxAge:   -1,
		HttpOnly: true,
		Secure:   s.cookieSecure,
		SameSite: http.SameSiteLaxMode,
	})
}

// signUser signs a token of type typ about the user u at its current
// epoch, bound to the session sid when it is not "".
func (s *Server) signUser(typ string, u *foyer.User, sid string, iat, exp time.Time) (string, error) {
	c := &token.Claims{
		Subject:   u.ID,
		IssuedAt:  iat.Truncate(time.Second),
		Expiry:    exp.Truncate(time.Second),
		Type:      typ,
		Anonymous: u.Anonymous,
		Epoch:     u.Epoch,
		SessionID: sid,
	}
	if s.cfg.Audience != "" {
		c.Audience = []string{s.cfg.Audience}
	}
	raw, err := s.deps.Keys.Sign(c)
	if err != nil {
		return "", &foyer.Error{Code: foyer.EInternal, Err: err}
	}
	return raw, nil
}

// setSessionCookie sets the session cookie of a signed-in browser to raw,
// a session token, until expires.
func (s *Server) setSessionCookie(w http.ResponseWriter, raw string, expires, now time.Time) {
	http.SetCookie(w, &http.Cookie{
		Name:     s.sessionCookieName,
		Value:    raw,
		Path:     "/",
		MaxAge:   max(1, int(expires.Sub(now)/time.Second)),
		HttpOnly: true,
		Secure:   s.cookieSecure,
		SameSite: http.SameSiteLaxMode,
	})
}

// clearSessionCookie tells the browser to drop the session cookie.
func (s *Server) clearSessionCookie(w http.ResponseWriter) {
	http.SetCookie(w, &http.Cookie{
		Name:     s.sessionCookieName,
		Value:    "",
		Path:     "/",
		MaxAge:   -1,
		HttpOnly: true,
		Secure:   s.cookieSecure,
		SameSite: http.SameSiteLaxMode,
	})
}

// server authenticates a server API request by its API key, sent as
// "Authorization: Bearer foyer_sk_…" and looked up by its SHA-256 hash,
// and records the authenticated call in the audit log (see audited). A
// request without a valid key acted as nobody and is not recorded.
func (s *Server) server(h handlerFunc) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		raw, ok := bearer(r.Header.Get("Authorization"))
		if !ok || !strings.HasPrefix(raw, APIKeyPrefix) {
			return foyer.Errorf(foyer.EUnauthorized, "A valid API key is required.")
		}
		sum := sha256.Sum256([]byte(raw))
		k, err := s.deps.APIKeys.FindAPIKeyByHash(r.Context(), sum[:])
		if foyer.ErrorCode(err) == foyer.ENotFound {
			return foyer.Errorf(foyer.EUnauthorized, "A valid API key is required.")
		} else if err != nil {
			return err
		}
		r = r.WithContext(context.WithValue(r.Context(), apiKeyContextKey, k))
		if s.deps.Audit != nil {
			return s.audited(k, h)(w, r)
		}
		return h(w, r)
	}
}
