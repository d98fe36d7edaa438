package http

import (
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
	userContextKey contextKey = iota + 1
	claimsContextKey
	apiKeyContextKey
)

// UserFromContext returns the visitor that the visitor middleware
// authenticated, or nil.
func UserFromContext(ctx context.Context) *foyer.User {
	u, _ := ctx.Value(userContextKey).(*foyer.User)
	return u
}

// ClaimsFromContext returns the verified claims of the visitor's token,
// or nil.
func ClaimsFromContext(ctx context.Context) *token.Claims {
	c, _ := ctx.Value(claimsContextKey).(*token.Claims)
	return c
}

// APIKeyFromContext returns the API key that authenticated a server API
// request, or nil.
func APIKeyFromContext(ctx context.Context) *foyer.APIKey {
	k, _ := ctx.Value(apiKeyContextKey).(*foyer.APIKey)
	return k
}

// visitorTypes are the token types that authenticate a visitor.
var visitorTypes = []string{token.TypeAnonymous, token.TypeAccess, token.TypeSession}

// anonymousTypes are the token types the anonymous cookie may carry.
var anonymousTypes = []string{token.TypeAnonymous}

// credential is a token presented by a visitor.
type credential struct {
	raw    string
	cookie bool     // from a cookie rather than Authorization
	types  []string // the token types it may be
}

// visitorCredential returns the visitor's token: the bearer token when an
// Authorization header is present (it wins, and a malformed one is not
// replaced by the cookie), else the anonymous cookie.
func (s *Server) visitorCredential(r *http.Request) (credential, bool) {
	if h := r.Header.Get("Authorization"); h != "" {
		raw, ok := bearer(h)
		return credential{raw: raw, types: visitorTypes}, ok
	}
	if c, err := r.Cookie(s.cookieName); err == nil && c.Value != "" {
		return credential{raw: c.Value, cookie: true, types: anonymousTypes}, true
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

// visitor authenticates the visitor (bearer token or anonymous cookie)
// and passes the user and claims to h through the request context (see
// UserFromContext). Unsafe methods authenticated by the cookie must pass
// cross-origin protection. An anonymous token older than RenewAfter is
// replaced (cookie, or the Foyer-Token header for bearer clients), and
// activity is recorded at most once per ActivityGranularity.
func (s *Server) visitor(h handlerFunc) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		cred, ok := s.visitorCredential(r)
		if !ok {
			return errUnauthenticated
		}
		if cred.cookie {
			if err := s.csrf.Check(r); err != nil {
				return &foyer.Error{Code: foyer.EForbidden, Message: "Cross-origin requests may not use the cookie.", Err: err}
			}
		}
		ctx := r.Context()
		u, claims, err := s.authenticate(ctx, cred, visitorTypes)
		if err != nil {
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
			if cred.cookie {
				s.setAnonymousCookie(w, raw)
			} else {
				w.Header().Set("Foyer-Token", raw)
			}
		}
		ctx = context.WithValue(ctx, userContextKey, u)
		ctx = context.WithValue(ctx, claimsContextKey, claims)
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

// setAnonymousCookie sets the anonymous cookie to raw.
func (s *Server) setAnonymousCookie(w http.ResponseWriter, raw string) {
	http.SetCookie(w, &http.Cookie{
		Name:     s.cookieName,
		Value:    raw,
		Path:     "/",
		MaxAge:   int(s.cfg.AnonymousTTL / time.Second),
		HttpOnly: true,
		Secure:   s.cookieSecure,
		SameSite: http.SameSiteLaxMode,
	})
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

// server authenticates a server API request by its API key, sent as
// "Authorization: Bearer foyer_sk_…" and looked up by its SHA-256 hash.
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
		return h(w, r.WithContext(context.WithValue(r.Context(), apiKeyContextKey, k)))
	}
}
