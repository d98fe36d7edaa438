// Package oidc is Foyer's OpenID Connect provider: discovery, the
// authorization code flow with PKCE, the token endpoint (authorization
// codes and rotating refresh tokens with reuse detection), userinfo,
// revocation, introspection and RP-initiated logout.
//
// The protocol is github.com/zitadel/oidc's op package, an OpenID
// Certified provider library that is maintained by the ZITADEL identity
// server which runs on it; Foyer does not write OAuth by hand. This
// package is the op.Storage adapter between it and Foyer's services, and
// the small handler that hands a pending authorization request to the
// hosted sign-in pages and back (Continue).
//
// Rules Foyer adds:
//   - A public app must send a PKCE challenge with method S256; "plain" is
//     refused for every app. Only the code flow is offered.
//   - Redirect URIs are compared exactly, as registered (foyer.App).
//   - Every sign-in through an app is a Foyer session (foyer.Session with
//     AppID): its refresh token is the session's, rotating on every use,
//     and presenting a rotated one revokes the session. Signing out,
//     resetting the password or revoking the user ends it like any other.
//   - The access token is a Foyer access token ("typ": "access", with
//     "is_anonymous", "ep" and "sid"), so apps use it with the Foyer API
//     and the SDK's middleware as they would a token from POST /v1/login.
//     The ID token carries "is_anonymous" too. Both are signed with the
//     keys of the JWKS at /.well-known/jwks.json.
//
// It imports the root package, zitadel/oidc and go-jose only; the signing
// keys reach it through Keys (the token package's Keyring), the browser's
// sign-in through Config.SignedIn.
package oidc

import (
	"cmp"
	"crypto/sha256"
	"errors"
	"log/slog"
	"net/http"
	"time"

	foyer "github.com/foyerhq/foyer"
	jose "github.com/go-jose/go-jose/v4"
	zoidc "github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"
)

// Paths of the provider. Continue is the provider's own; the others are
// the protocol's. PathCallback and PathIntrospect are op's, and are not
// served (see New).
const (
	PathDiscovery  = "/.well-known/openid-configuration"
	PathAuthorize  = "/oauth2/authorize"
	PathCallback   = "/oauth2/authorize/callback"
	PathContinue   = "/oauth2/continue"
	PathToken      = "/oauth2/token"
	PathUserinfo   = "/oauth2/userinfo"
	PathRevoke     = "/oauth2/revoke"
	PathIntrospect = "/oauth2/introspect"
	PathEndSession = "/oauth2/logout"
	// PathJWKS is where discovery says the keys are; Foyer's HTTP server
	// serves it, not the provider.
	PathJWKS = "/.well-known/jwks.json"
)

// Paths returns every path the caller must route to the provider.
func Paths() []string {
	return []string{PathDiscovery, PathAuthorize, PathContinue, PathToken, PathUserinfo, PathRevoke, PathEndSession}
}

// BrowserPaths returns the paths of Paths that people reach in a
// browser, whose errors the caller may show as pages; the others answer
// apps, in JSON.
func BrowserPaths() []string {
	return []string{PathAuthorize, PathContinue, PathEndSession}
}

// Keys are the signing keys: the token package's Keyring.
type Keys interface {
	// SigningKey returns the current private key with its kid and alg.
	SigningKey() (jose.JSONWebKey, error)
	// PublicKeys returns every key that still verifies.
	PublicKeys() []jose.JSONWebKey
}

// Config configures a Provider.
type Config struct {
	// Issuer is the "iss" of every token, Foyer's public base URL; it
	// must equal the keyring's issuer.
	Issuer string
	// Audience is Foyer's own token audience. Access tokens carry it next
	// to the app's client id, which makes them Foyer access tokens.
	Audience string
	// AccessTTL is the lifetime of access tokens (default 15m).
	AccessTTL time.Duration
	// IDTokenTTL is the lifetime of ID tokens (default 1h).
	IDTokenTTL time.Duration
	// SessionTTL is the lifetime of a session signed in through an app
	// with offline_access, hence of its refresh tokens (default 30 days).
	SessionTTL time.Duration
	// AuthRequestTTL is how long a person has to sign in once an app sent
	// them (default 10m).
	AuthRequestTTL time.Duration
	// CryptoKey is the secret the op library encrypts its opaque values
	// with. Foyer issues no opaque tokens, but the library decrypts what
	// it is handed, so the key must be secret.
	CryptoKey [32]byte
	// Insecure allows a plain-http issuer, for development on loopback.
	Insecure bool
	// SignedIn returns the registered user signed in on r's browser and
	// when they proved who they are, or "" when nobody is (the http
	// package's Server.SignedIn).
	SignedIn func(r *http.Request) (userID string, authTime time.Time, err error)
	// Now is the clock (default time.Now).
	Now func() time.Time
	// Logger logs protocol errors (default: discard).
	Logger *slog.Logger
}

// Deps are the services the provider uses.
type Deps struct {
	Apps         foyer.AppService
	AuthRequests foyer.AuthRequestService
	Sessions     foyer.SessionService
	Users        foyer.UserService
	Keys         Keys
}

// Defaults of Config.
const (
	DefaultAccessTTL      = 15 * time.Minute
	DefaultIDTokenTTL     = time.Hour
	DefaultSessionTTL     = 30 * 24 * time.Hour
	DefaultAuthRequestTTL = 10 * time.Minute
)

// Provider is the OpenID Connect provider, an http.Handler for Paths.
type Provider struct {
	cfg     Config
	deps    Deps
	op      *op.Provider
	storage *storage
	mux     *http.ServeMux
}

// New returns a provider. Deps are all required, and Config.SignedIn.
func New(cfg Config, deps Deps) (*Provider, error) {
	if cfg.Issuer == "" || cfg.Audience == "" || cfg.SignedIn == nil {
		return nil, errors.New("oidc: Issuer, Audience and SignedIn are required")
	}
	if deps.Apps == nil || deps.AuthRequests == nil || deps.Sessions == nil || deps.Users == nil || deps.Keys == nil {
		return nil, errors.New("oidc: every dependency is required")
	}
	cfg.AccessTTL = cmp.Or(cfg.AccessTTL, DefaultAccessTTL)
	cfg.IDTokenTTL = cmp.Or(cfg.IDTokenTTL, DefaultIDTokenTTL)
	cfg.SessionTTL = cmp.Or(cfg.SessionTTL, DefaultSessionTTL)
	cfg.AuthRequestTTL = cmp.Or(cfg.AuthRequestTTL, DefaultAuthRequestTTL)
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	p := &Provider{cfg: cfg, deps: deps}
	p.storage = &storage{cfg: &p.cfg, deps: deps}

	opts := []op.Option{
		op.WithCustomAuthEndpoint(op.NewEndpoint(PathAuthorize)),
		op.WithCustomTokenEndpoint(op.NewEndpoint(PathToken)),
		op.WithCustomUserinfoEndpoint(op.NewEndpoint(PathUserinfo)),
		op.WithCustomRevocationEndpoint(op.NewEndpoint(PathRevoke)),
		op.WithCustomIntrospectionEndpoint(op.NewEndpoint(PathIntrospect)),
		op.WithCustomEndSessionEndpoint(op.NewEndpoint(PathEndSession)),
		op.WithCustomKeysEndpoint(op.NewEndpoint(PathJWKS)),
		op.WithLogger(cfg.Logger),
	}
	if cfg.Insecure {
		opts = append(opts, op.WithAllowInsecure())
	}
	opCfg := &op.Config{
		CryptoKey:                cfg.CryptoKey,
		DefaultLogoutRedirectURI: "/login?notice=signed-out",
		CodeMethodS256:           true,
		AuthMethodPost:           true,
		GrantTypeRefreshToken:    true,
		SupportedScopes:          []string{"openid", "email", "offline_access"},
		SupportedClaims:          []string{"sub", "aud", "exp", "iat", "iss", "auth_time", "nonce", "amr", "azp", "at_hash", "c_hash", "email", "email_verified", "is_anonymous", "sid"},
	}
	provider, err := op.NewProvider(opCfg, p.storage, op.StaticIssuer(cfg.Issuer), opts...)
	if err != nil {
		return nil, err
	}
	p.op = provider
	p.mux = http.NewServeMux()
	p.mux.HandleFunc("GET "+PathContinue, p.continueAuth)
	p.mux.HandleFunc("GET "+PathDiscovery, p.discovery)
	// op's callback would issue a code for any completed request id to
	// whoever asks; Continue issues it to the browser that signed in.
	// Introspection is not offered: apps verify Foyer's JWTs themselves.
	p.mux.Handle(PathCallback, http.NotFoundHandler())
	p.mux.Handle(PathIntrospect, http.NotFoundHandler())
	p.mux.HandleFunc(PathUserinfo, p.userinfo)
	p.mux.Handle("/", provider)
	return p, nil
}

// ServeHTTP serves the paths of Paths.
func (p *Provider) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p.mux.ServeHTTP(w, r)
}

// hash is the stored form of a code or refresh token: both are random
// and long, so SHA-256 is enough.
func hash(secret string) []byte {
	sum := sha256.Sum256([]byte(secret))
	return sum[:]
}

// notFound reports whether err is Foyer's ENotFound or EUnauthorized.
func notFound(err error) bool {
	code := foyer.ErrorCode(err)
	return code == foyer.ENotFound || code == foyer.EUnauthorized
}

// discovery serves the provider's metadata: op's, less what Foyer does
// not offer (the implicit and hybrid flows, the device and JWT grants,
// signed client assertions), so clients are not told they may use it. It
// may be read from any origin, as a browser app does.
func (p *Provider) discovery(w http.ResponseWriter, r *http.Request) {
	d := op.CreateDiscoveryConfig(op.ContextWithIssuer(r.Context(), p.cfg.Issuer), p.op, p.storage)
	d.ResponseTypesSupported = []string{string(zoidc.ResponseTypeCode)}
	d.ResponseModesSupported = []string{string(zoidc.ResponseModeQuery)}
	d.GrantTypesSupported = []zoidc.GrantType{zoidc.GrantTypeCode, zoidc.GrantTypeRefreshToken}
	d.DeviceAuthorizationEndpoint = ""
	d.IntrospectionEndpoint = ""
	d.IntrospectionEndpointAuthMethodsSupported = nil
	d.TokenEndpointAuthSigningAlgValuesSupported = nil
	d.RevocationEndpointAuthSigningAlgValuesSupported = nil
	d.IntrospectionEndpointAuthSigningAlgValuesSupported = nil
	w.Header().Set("Access-Control-Allow-Origin", "*")
	op.Discover(w, d)
}
