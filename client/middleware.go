package client

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	foyer "github.com/foyerhq/foyer"
	"github.com/foyerhq/foyer/token"
)

// Verifier verifies a Foyer token of an expected type. *token.JWKSVerifier
// is the one apps use; *token.Keyring satisfies it too.
type Verifier interface {
	Verify(ctx context.Context, raw, typ string) (*token.Claims, error)
}

var (
	_ Verifier = (*token.JWKSVerifier)(nil)
	_ Verifier = (*token.Keyring)(nil)
)

// Default names of the cookies Middleware reads: those Foyer itself uses
// when served over plain HTTP.
const (
	DefaultCookieName        = "foyer_anon"
	DefaultSessionCookieName = "foyer_session"
)

// DefaultRenewAfter is the default Middleware.RenewAfter, Foyer's default
// --anonymous-renew-after.
const DefaultRenewAfter = 24 * time.Hour

// Visitor is the person behind a request, as their verified token says.
type Visitor struct {
	// UserID is the Foyer user id (the token's subject).
	UserID string
	// Anonymous is the token's is_anonymous claim.
	Anonymous bool
	// Claims are the verified claims.
	Claims *token.Claims
	// Token is the verified token, to call Foyer on the visitor's behalf
	// (Client.Me, Client.PatchMe).
	Token string
}

// Middleware authenticates the visitors of an app in front of Foyer. For
// each request it reads the visitor's token, verifies it locally (no call
// to Foyer) and makes the visitor available to the handler through
// VisitorFromContext. A request without a valid token, or with a
// tampered, expired, foreign or wrong-audience one, simply has no visitor:
// browsing costs nothing, and no account is created until the handler
// calls EnsureUser.
//
// The token is taken from, in order: an "Authorization: Bearer" header
// (an anonymous or access token; when present it wins, valid or not), the
// session cookie (a registered user's session token, when the app shares
// Foyer's host) and the anonymous cookie, which EnsureUser sets.
//
// Local verification cannot see revocation (see token.JWKSVerifier): a
// revoked token stays valid here until it expires, except that an
// anonymous cookie is checked with Foyer once it is RenewAfter old, when
// Foyer also renews it. Handlers that must not act on a revoked token
// call Client.Me with Visitor.Token.
//
// Set the fields before the first request; a Middleware is then safe for
// concurrent use.
type Middleware struct {
	// Verifier verifies tokens. Required.
	Verifier Verifier
	// CookieName names the cookie that holds the visitor's anonymous
	// token; default DefaultCookieName. A name starting with "__Host-" or
	// "__Secure-" is always set with the Secure attribute, which is how
	// an app behind a TLS-terminating proxy gets Secure cookies.
	CookieName string
	// SessionCookieName names the cookie of a registered user's session
	// token; default DefaultSessionCookieName.
	SessionCookieName string
	// BaseURL is where the app reaches Foyer, for EnsureUser and the
	// renewal of anonymous cookies. Without it neither happens.
	BaseURL string
	// HTTPClient calls Foyer; nil means one with DefaultTimeout.
	HTTPClient *http.Client
	// RenewAfter is the age at which an anonymous cookie's token is sent
	// to Foyer (GET /v1/me), which records the visitor's activity and
	// answers with a fresh token when it is due, so that an active
	// visitor's cookie never expires and the reaper keeps the account
	// (DESIGN §2.9). It should equal Foyer's --anonymous-renew-after;
	// default DefaultRenewAfter, negative never renews.
	RenewAfter time.Duration
	// ClientIP returns the visitor's address, which EnsureUser forwards to
	// Foyer in X-Forwarded-For so that Foyer's per-address limit on new
	// anonymous accounts applies to visitors rather than to the app's
	// server (Foyer honours it with --trust-forwarded-for). Default: the
	// host of the request's RemoteAddr. Behind a proxy, return the
	// address the proxy saw.
	ClientIP func(r *http.Request) string
	// AppID, when set, is this app's OpenID Connect client id: an access
	// token that Foyer issued to another application (its "client_id"
	// claim names another app) is then refused, so a token given to one
	// app cannot be replayed at another. Access tokens from Foyer's own
	// sign-in (POST /v1/login), which name no app, are still accepted.
	AppID string
	// Now is the clock; time.Now when nil.
	Now func() time.Time
}

// contextKey is the type of this package's context keys.
type contextKey int

const visitorContextKey contextKey = iota + 1

// visitorSlot is what Handler puts in the request context: the visitor,
// which EnsureUser may fill in later in the same request.
type visitorSlot struct {
	m  *Middleware
	mu sync.Mutex
	v  *Visitor
}

// VisitorFromContext returns the visitor of the request that ctx belongs
// to, or nil if there is none (yet: see EnsureUser).
func VisitorFromContext(ctx context.Context) *Visitor {
	slot, _ := ctx.Value(visitorContextKey).(*visitorSlot)
	if slot == nil {
		return nil
	}
	slot.mu.Lock()
	defer slot.mu.Unlock()
	return slot.v
}

// Handler returns next wrapped by the middleware. It panics if Verifier is
// nil, a programming error like a bad http.ServeMux pattern.
func (m *Middleware) Handler(next http.Handler) http.Handler {
	if m.Verifier == nil {
		panic("foyer client: Middleware.Verifier is nil")
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		slot := &visitorSlot{m: m, v: m.authenticate(w, r)}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), visitorContextKey, slot)))
	})
}

// authenticate returns the visitor of r, or nil.
func (m *Middleware) authenticate(w http.ResponseWriter, r *http.Request) *Visitor {
	raw, types, fromCookie := m.credential(r)
	if raw == "" {
		return nil
	}
	typ := peekType(raw)
	if !slices.Contains(types, typ) {
		return nil
	}
	ctx := r.Context()
	claims, err := m.Verifier.Verify(ctx, raw, typ)
	if err != nil {
		return nil
	}
	if m.AppID != "" && typ == token.TypeAccess {
		if app, named := claims.Extra["client_id"]; named && app != m.AppID {
			return nil
		}
	}
	v := &Visitor{UserID: claims.Subject, Anonymous: claims.Anonymous, Claims: claims, Token: raw}
	if fromCookie && typ == token.TypeAnonymous {
		v = m.renew(w, r, v)
	}
	return v
}

// credential returns the visitor's token, the types it may have, and
// whether it came from the anonymous cookie.
func (m *Middleware) credential(r *http.Request) (raw string, types []string, anonymousCookie bool) {
	if h := r.Header.Get("Authorization"); h != "" {
		if scheme, raw, ok := strings.Cut(h, " "); ok && strings.EqualFold(scheme, "Bearer") {
			return strings.TrimSpace(raw), bearerTypes, false
		}
	}
	if c, err := r.Cookie(m.sessionCookieName()); err == nil && c.Value != "" {
		return c.Value, sessionTypes, false
	}
	if c, err := r.Cookie(m.cookieName()); err == nil && c.Value != "" {
		return c.Value, anonymousTypes, true
	}
	return "", nil, false
}

// Token types by where they may come from, as Foyer accepts them: a
// session token lives in its HttpOnly cookie only.
var (
	bearerTypes    = []string{token.TypeAnonymous, token.TypeAccess}
	sessionTypes   = []string{token.TypeSession}
	anonymousTypes = []string{token.TypeAnonymous}
)

// renew sends an anonymous cookie's token to Foyer once it is RenewAfter
// old. Foyer records the activity and may answer with a fresh token,
// which replaces the cookie. If Foyer refuses the token (revoked, the
// user deleted or registered), the cookie is dropped and there is no
// visitor. If Foyer cannot be reached, the locally verified visitor
// stands and the next request tries again.
func (m *Middleware) renew(w http.ResponseWriter, r *http.Request, v *Visitor) *Visitor {
	every := m.RenewAfter
	if every == 0 {
		every = DefaultRenewAfter
	}
	if every < 0 || m.BaseURL == "" || m.now().Sub(v.Claims.IssuedAt) < every {
		return v
	}
	ctx := r.Context()
	_, fresh, err := m.client().me(ctx, v.Token)
	switch foyer.ErrorCode(err) {
	case "":
	case foyer.EUnauthorized:
		m.setCookie(w, r, "", -1)
		return nil
	default:
		return v
	}
	if fresh == "" {
		return v
	}
	claims, err := m.Verifier.Verify(ctx, fresh, token.TypeAnonymous)
	if err != nil {
		return v
	}
	m.setCookie(w, r, fresh, m.maxAge(claims.Expiry))
	return &Visitor{UserID: claims.Subject, Anonymous: claims.Anonymous, Claims: claims, Token: fresh}
}

// EnsureUser returns the visitor of r, creating an anonymous account for
// them first if they have none: it calls POST /v1/anonymous on Foyer,
// sending nothing of the request but the visitor's address (see
// Middleware.ClientIP), and sets the returned token as the anonymous
// cookie (HttpOnly, SameSite=Lax, Secure when the request came over TLS).
// Call it where the app first needs a profile (the first "add to cart"),
// not on every page, so that visitors who only browse cost nothing; and
// call it before writing the response, since it sets a cookie. Later
// calls in the same request, and VisitorFromContext, return the same
// visitor.
//
// r must have passed through Middleware.Handler. Errors from Foyer are
// *foyer.Error (ERateLimited, EUnavailable…).
func EnsureUser(w http.ResponseWriter, r *http.Request) (*Visitor, error) {
	slot, _ := r.Context().Value(visitorContextKey).(*visitorSlot)
	if slot == nil {
		return nil, errors.New("foyer client: EnsureUser needs a request that passed through Middleware.Handler")
	}
	slot.mu.Lock()
	defer slot.mu.Unlock()
	if slot.v != nil {
		return slot.v, nil
	}
	m := slot.m
	if m.BaseURL == "" {
		return nil, errNoBaseURL
	}
	ctx := r.Context()
	a, err := m.client().createAnonymousUser(ctx, nil, m.clientIP(r))
	if err != nil {
		return nil, err
	}
	claims, err := m.Verifier.Verify(ctx, a.Token, token.TypeAnonymous)
	if err != nil {
		// Foyer signed it, so this is a configuration mismatch (issuer,
		// audience, key set URL), not the visitor's doing.
		return nil, &foyer.Error{Code: foyer.EInternal, Message: "The token Foyer issued does not verify here; check the verifier's issuer, audience and base URL.", Err: err}
	}
	m.setCookie(w, r, a.Token, m.maxAge(a.ExpiresAt))
	slot.v = &Visitor{UserID: claims.Subject, Anonymous: claims.Anonymous, Claims: claims, Token: a.Token}
	return slot.v, nil
}

// setCookie sets the anonymous cookie to value for maxAge seconds; a
// negative maxAge deletes it.
func (m *Middleware) setCookie(w http.ResponseWriter, r *http.Request, value string, maxAge int) {
	name := m.cookieName()
	http.SetCookie(w, &http.Cookie{
		Name:     name,
		Value:    value,
		Path:     "/",
		MaxAge:   maxAge,
		HttpOnly: true,
		Secure:   r.TLS != nil || strings.HasPrefix(name, "__Secure-") || strings.HasPrefix(name, "__Host-"),
		SameSite: http.SameSiteLaxMode,
	})
}

// maxAge is the cookie lifetime, in seconds, of a token expiring at exp.
func (m *Middleware) maxAge(exp time.Time) int {
	return max(int(exp.Sub(m.now())/time.Second), 1)
}

func (m *Middleware) client() *Client {
	return New(m.BaseURL, "", WithHTTPClient(m.HTTPClient))
}

func (m *Middleware) clientIP(r *http.Request) string {
	if m.ClientIP != nil {
		return m.ClientIP(r)
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

func (m *Middleware) cookieName() string {
	if m.CookieName != "" {
		return m.CookieName
	}
	return DefaultCookieName
}

func (m *Middleware) sessionCookieName() string {
	if m.SessionCookieName != "" {
		return m.SessionCookieName
	}
	return DefaultSessionCookieName
}

func (m *Middleware) now() time.Time {
	if m.Now != nil {
		return m.Now()
	}
	return time.Now()
}

// peekType returns the "typ" claim of a compact JWS without verifying it,
// only to choose the type Verify must insist on; Verify checks it again.
// It returns "" when the token cannot be read.
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
	var p struct {
		Typ string `json:"typ"`
	}
	if json.Unmarshal(b, &p) != nil {
		return ""
	}
	return p.Typ
}
