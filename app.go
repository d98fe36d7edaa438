package foyer

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/url"
	"slices"
	"strings"
	"time"
	"unicode/utf8"
)

// AppType says how an application proves itself at the token endpoint.
type AppType string

const (
	// AppPublic is an application that cannot keep a secret (a browser or
	// native app). It has no secret, and every authorization request it
	// makes must carry a PKCE challenge with method S256.
	AppPublic AppType = "public"
	// AppConfidential is a server-side application with a client secret.
	AppConfidential AppType = "confidential"
)

// Limits of an App.
const (
	MaxAppNameLength   = 100
	MaxAppRedirectURIs = 20
	MaxRedirectURILen  = 2000
)

// App is an application that signs people in through OpenID Connect: an
// OAuth client. Only a hash of a confidential app's secret is stored; the
// secret is shown once, when the app is created.
type App struct {
	// ID is the OAuth client_id, a UUIDv7.
	ID   string  `json:"id"`
	Name string  `json:"name"`
	Type AppType `json:"type"`
	// SecretHash is the SHA-256 of the client secret of a confidential
	// app; nil for a public app.
	SecretHash []byte `json:"-"`
	// RedirectURIs are the addresses an authorization response may be
	// sent to, compared exactly.
	RedirectURIs []string `json:"redirect_uris"`
	// PostLogoutRedirectURIs are the addresses a person may be sent to
	// after signing out through the app, compared exactly.
	PostLogoutRedirectURIs []string  `json:"post_logout_redirect_uris"`
	CreatedAt              time.Time `json:"created_at"`
}

// Validate reports the first thing wrong with a, as EInvalid: a name of
// 1 to MaxAppNameLength characters, a known type, a secret hash exactly
// for confidential apps, and 1 to MaxAppRedirectURIs redirect URIs (0 to
// MaxAppRedirectURIs post-logout URIs), each valid by ValidRedirectURI and
// listed once.
func (a *App) Validate() error {
	if err := a.validName(); err != nil {
		return err
	}
	switch a.Type {
	case AppPublic:
		if a.SecretHash != nil {
			return Errorf(EInvalid, "A public application has no secret.")
		}
	case AppConfidential:
		if len(a.SecretHash) == 0 {
			return Errorf(EInvalid, "A confidential application needs a secret.")
		}
	default:
		return Errorf(EInvalid, `The application type must be "public" or "confidential".`)
	}
	return a.validURIs()
}

// ValidateUpdate reports the first thing wrong with the parts of a that
// AppService.UpdateApp changes, as EInvalid, by the rules of Validate:
// the name, the redirect URIs and the post-logout URIs. The type and
// secret hash are not looked at.
func (a *App) ValidateUpdate() error {
	if err := a.validName(); err != nil {
		return err
	}
	return a.validURIs()
}

func (a *App) validName() error {
	name := strings.TrimSpace(a.Name)
	if name == "" || utf8.RuneCountInString(name) > MaxAppNameLength || !ValidText(name) {
		return Errorf(EInvalid, "An application name of 1 to %d characters is required.", MaxAppNameLength)
	}
	return nil
}

func (a *App) validURIs() error {
	if len(a.RedirectURIs) == 0 {
		return Errorf(EInvalid, "At least one redirect URI is required.")
	}
	if err := validRedirectURIs("redirect_uris", a.RedirectURIs); err != nil {
		return err
	}
	return validRedirectURIs("post_logout_redirect_uris", a.PostLogoutRedirectURIs)
}

func validRedirectURIs(field string, uris []string) error {
	if len(uris) > MaxAppRedirectURIs {
		return Errorf(EInvalid, "At most %d addresses are allowed in %s.", MaxAppRedirectURIs, field)
	}
	for i, u := range uris {
		if err := ValidRedirectURI(u); err != nil {
			return err
		}
		if slices.Contains(uris[:i], u) {
			return Errorf(EInvalid, "The address %q is listed twice in %s.", u, field)
		}
	}
	return nil
}

// ValidRedirectURI returns EInvalid unless raw can be a registered
// redirect address: an absolute https URL, or plain http on a loopback
// host (localhost, 127.0.0.1, [::1]) for development, of at most
// MaxRedirectURILen bytes, with no fragment and no user information.
func ValidRedirectURI(raw string) error {
	bad := func(why string) error { return Errorf(EInvalid, "The address %q %s.", raw, why) }
	if raw == "" || len(raw) > MaxRedirectURILen || !ValidText(raw) {
		return bad("is empty or too long")
	}
	u, err := url.Parse(raw)
	if err != nil || !u.IsAbs() || u.Host == "" || u.Opaque != "" {
		return bad("is not an absolute URL")
	}
	if u.Fragment != "" || strings.Contains(raw, "#") {
		return bad("has a fragment")
	}
	if u.User != nil {
		return bad("has user information")
	}
	switch u.Scheme {
	case "https":
	case "http":
		if !IsLoopbackHost(u.Hostname()) {
			return bad("uses plain http on a host other than localhost")
		}
	default:
		return bad("is neither https nor http")
	}
	return nil
}

// IsLoopbackHost reports whether host (without port) is localhost or a
// loopback address.
func IsLoopbackHost(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// AppService manages applications.
type AppService interface {
	// CreateApp validates and stores a, setting ID and CreatedAt.
	CreateApp(ctx context.Context, a *App) error
	// FindApp returns the app with id. Returns ENotFound.
	FindApp(ctx context.Context, id string) (*App, error)
	// FindApps returns every app, oldest first.
	FindApps(ctx context.Context) ([]*App, error)
	// UpdateApp replaces the name, redirect URIs and post-logout URIs of
	// the stored app a.ID, after checking them with a.ValidateUpdate, and
	// sets *a to the stored app. The type and secret hash in a are
	// ignored: they, and the creation time, stay as stored, so an update
	// racing SetAppSecret never writes an old secret back. Returns
	// ENotFound, EInvalid.
	UpdateApp(ctx context.Context, a *App) error
	// SetAppSecret replaces the secret hash of the confidential app id;
	// the previous secret stops working at once. Returns ENotFound,
	// EConflict for a public app (it has no secret), and EInvalid for an
	// empty hash.
	SetAppSecret(ctx context.Context, id string, hash []byte) error
	// DeleteApp deletes the app with id, its pending authorization
	// requests and every session signed in through it, in one
	// transaction. Returns ENotFound.
	DeleteApp(ctx context.Context, id string) error
}

// AuthRequest is an OpenID Connect authorization request from the moment
// an app sends a person to sign in until its code is redeemed: the
// request as the app made it (AuthParams), and UserID and AuthTime once
// the person has signed in.
type AuthRequest struct {
	ID    string `json:"id"`
	AppID string `json:"app_id"`
	AuthParams

	// UserID is the person who signed in, "" until then.
	UserID string `json:"user_id,omitempty"`
	// AuthTime is when that person last proved who they are.
	AuthTime  time.Time `json:"auth_time"`
	CreatedAt time.Time `json:"created_at"`
	ExpiresAt time.Time `json:"expires_at"`
}

// AuthParams is an authorization request as the app made it, already
// validated; the stores keep it as one JSON document (EncodeParams).
// Nothing personal is kept: the login_hint parameter, which may be an
// email address, is not stored, so a request nobody completed holds no
// one's data.
type AuthParams struct {
	RedirectURI         string   `json:"redirect_uri"`
	Scopes              []string `json:"scopes"`
	ResponseType        string   `json:"response_type"`
	ResponseMode        string   `json:"response_mode,omitempty"`
	State               string   `json:"state,omitempty"`
	Nonce               string   `json:"nonce,omitempty"`
	CodeChallenge       string   `json:"code_challenge,omitempty"`
	CodeChallengeMethod string   `json:"code_challenge_method,omitempty"`
	Prompt              []string `json:"prompt,omitempty"`
	// MaxAge is the max_age parameter in seconds, or nil when absent.
	MaxAge *int64 `json:"max_age,omitempty"`
}

// EncodeParams returns a.AuthParams as a JSON document, for a store to
// keep in one column. Returns EInvalid if any of it is not ValidText.
func (a *AuthRequest) EncodeParams() ([]byte, error) {
	texts := append([]string{a.RedirectURI, a.ResponseType, a.ResponseMode, a.State, a.Nonce, a.CodeChallenge, a.CodeChallengeMethod}, a.Scopes...)
	for _, t := range append(texts, a.Prompt...) {
		if !ValidText(t) {
			return nil, Errorf(EInvalid, "The authorization request holds text that is not valid UTF-8 or contains NUL.")
		}
	}
	return json.Marshal(a.AuthParams)
}

// DecodeParams sets a.AuthParams from a document of EncodeParams.
func (a *AuthRequest) DecodeParams(b []byte) error {
	var p AuthParams
	if err := json.Unmarshal(b, &p); err != nil {
		return fmt.Errorf("decode authorization request: %w", err)
	}
	a.AuthParams = p
	return nil
}

// Done reports whether someone has signed in for the request.
func (a *AuthRequest) Done() bool { return a.UserID != "" }

// AuthRequestService keeps authorization requests and their codes. Only
// a hash of a code is stored. An expired request is treated as absent,
// and ExpiryService deletes it. Every operation that ends a user's
// earlier sessions and tokens (ResetPassword, RevokeUserTokens, the
// conversions of ConversionService, deleting or merging away the user)
// deletes, in the same transaction, the requests the user signed in for,
// so a code issued before it can no longer be redeemed (DESIGN §2.3).
type AuthRequestService interface {
	// CreateAuthRequest stores a (AppID, AuthParams, and
	// ExpiresAt, which the caller sets), setting ID and CreatedAt. Returns
	// ENotFound if the app does not exist.
	CreateAuthRequest(ctx context.Context, a *AuthRequest) error
	// FindAuthRequest returns a live request. Returns ENotFound.
	FindAuthRequest(ctx context.Context, id string) (*AuthRequest, error)
	// CompleteAuthRequest records that the registered user userID signed
	// in for the request at authTime. Returns ENotFound, and EConflict if
	// the request is already complete for another user or the user is
	// anonymous.
	CompleteAuthRequest(ctx context.Context, id, userID string, authTime time.Time) error
	// SaveAuthCode attaches the hash of the request's code. Returns
	// ENotFound, and EConflict if the request is not complete or already
	// has a code.
	SaveAuthCode(ctx context.Context, id string, codeHash []byte) error
	// RedeemAuthCode returns the live request whose code hash is codeHash
	// and deletes it in the same statement, so a code is redeemed at most
	// once however many callers race. Returns ENotFound.
	RedeemAuthCode(ctx context.Context, codeHash []byte) (*AuthRequest, error)
	// DeleteAuthRequest deletes the request; deleting one that is gone is
	// not an error.
	DeleteAuthRequest(ctx context.Context, id string) error
}
