package oidc

import (
	"crypto/subtle"
	"slices"
	"time"

	foyer "github.com/foyerhq/foyer"
	zoidc "github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"
)

// amr is how people sign in to Foyer: with a password.
var amrPassword = []string{"pwd"}

// grant is what a token request was granted: the session the tokens
// belong to and its user, for the access token's id and claims. It is set
// by the storage method that starts or rotates the session, before op
// signs the tokens.
type grant struct {
	session *foyer.Session
	user    *foyer.User
}

func (g *grant) granted() *grant { return g }

// tokenID is the "jti" of the access token: the session id, then a
// random part so that every token has its own.
func (g *grant) tokenID() string { return g.session.ID + "." + randomToken()[:16] }

// authRequest is op's view of a stored authorization request.
type authRequest struct {
	grant
	a   *foyer.AuthRequest
	aud []string
}

func (s *storage) authRequest(a *foyer.AuthRequest) *authRequest {
	return &authRequest{a: a, aud: []string{a.AppID, s.cfg.Audience}}
}

var _ op.AuthRequest = (*authRequest)(nil)

func (r *authRequest) GetID() string  { return r.a.ID }
func (r *authRequest) GetACR() string { return "" }
func (r *authRequest) GetAMR() []string {
	if r.a.Done() {
		return amrPassword
	}
	return nil
}
func (r *authRequest) GetAudience() []string  { return r.aud }
func (r *authRequest) GetAuthTime() time.Time { return r.a.AuthTime }
func (r *authRequest) GetClientID() string    { return r.a.AppID }
func (r *authRequest) GetCodeChallenge() *zoidc.CodeChallenge {
	if r.a.CodeChallenge == "" {
		return nil
	}
	return &zoidc.CodeChallenge{Challenge: r.a.CodeChallenge, Method: zoidc.CodeChallengeMethod(r.a.CodeChallengeMethod)}
}
func (r *authRequest) GetNonce() string       { return r.a.Nonce }
func (r *authRequest) GetRedirectURI() string { return r.a.RedirectURI }
func (r *authRequest) GetResponseType() zoidc.ResponseType {
	return zoidc.ResponseType(r.a.ResponseType)
}
func (r *authRequest) GetResponseMode() zoidc.ResponseMode {
	return zoidc.ResponseMode(r.a.ResponseMode)
}
func (r *authRequest) GetScopes() []string { return r.a.Scopes }
func (r *authRequest) GetState() string    { return r.a.State }
func (r *authRequest) GetSubject() string  { return r.a.UserID }
func (r *authRequest) Done() bool          { return r.a.Done() }

// refreshRequest is a refresh token request whose token was rotated.
type refreshRequest struct {
	grant
	aud     string
	refresh string // the new refresh token
	scopes  []string
}

var _ op.RefreshTokenRequest = (*refreshRequest)(nil)

func (r *refreshRequest) GetAMR() []string { return amrPassword }
func (r *refreshRequest) GetAudience() []string {
	return []string{r.session.AppID, r.aud}
}
func (r *refreshRequest) GetAuthTime() time.Time      { return r.session.AuthTime }
func (r *refreshRequest) GetClientID() string         { return r.session.AppID }
func (r *refreshRequest) GetScopes() []string         { return r.scopes }
func (r *refreshRequest) GetSubject() string          { return r.session.UserID }
func (r *refreshRequest) SetCurrentScopes(s []string) { r.scopes = s }

// client is op's view of an app.
type client struct {
	app *foyer.App
	cfg *Config
}

var _ op.Client = (*client)(nil)

func (c *client) GetID() string                    { return c.app.ID }
func (c *client) RedirectURIs() []string           { return c.app.RedirectURIs }
func (c *client) PostLogoutRedirectURIs() []string { return c.app.PostLogoutRedirectURIs }

// ApplicationType is "web" for confidential apps and "user agent" for
// public ones; Foyer registers no native apps, whose loopback redirect
// URIs op would match loosely (any port).
func (c *client) ApplicationType() op.ApplicationType {
	if c.app.Type == foyer.AppPublic {
		return op.ApplicationTypeUserAgent
	}
	return op.ApplicationTypeWeb
}

func (c *client) AuthMethod() zoidc.AuthMethod {
	if c.app.Type == foyer.AppPublic {
		return zoidc.AuthMethodNone
	}
	return zoidc.AuthMethodBasic
}

func (c *client) ResponseTypes() []zoidc.ResponseType {
	return []zoidc.ResponseType{zoidc.ResponseTypeCode}
}

func (c *client) GrantTypes() []zoidc.GrantType {
	return []zoidc.GrantType{zoidc.GrantTypeCode, zoidc.GrantTypeRefreshToken}
}

// LoginURL sends the person to Continue, which signs them in through the
// hosted pages.
func (c *client) LoginURL(id string) string { return PathContinue + "?id=" + id }

func (c *client) AccessTokenType() op.AccessTokenType { return op.AccessTokenTypeJWT }
func (c *client) IDTokenLifetime() time.Duration      { return c.cfg.IDTokenTTL }

// DevMode lets op accept plain-http redirect URIs: foyer.App.Validate
// allows them only on loopback hosts, and op still matches them exactly.
func (c *client) DevMode() bool { return true }

func (c *client) RestrictAdditionalIdTokenScopes() func([]string) []string {
	return func(s []string) []string { return s }
}
func (c *client) RestrictAdditionalAccessTokenScopes() func([]string) []string {
	return func(s []string) []string { return s }
}
func (c *client) IsScopeAllowed(string) bool { return false }

// IDTokenUserinfoClaimsAssertion puts the email claims in the ID token
// even when an access token is issued with it, so an app learns who
// signed in without calling userinfo.
func (c *client) IDTokenUserinfoClaimsAssertion() bool { return true }
func (c *client) ClockSkew() time.Duration             { return 0 }

// secretMatches compares secret's hash with the stored one in constant
// time. A public app has no secret to match.
func (c *client) secretMatches(secret string) bool {
	if c.app.Type != foyer.AppConfidential || len(c.app.SecretHash) == 0 || secret == "" {
		return false
	}
	return subtle.ConstantTimeCompare(hash(secret), c.app.SecretHash) == 1
}

// promptIs reports whether the request's prompt holds p.
func promptIs(a *foyer.AuthRequest, p string) bool { return slices.Contains(a.Prompt, p) }
