package client

import (
	"context"
	"net/http"
	"time"

	foyer "github.com/foyerhq/foyer"
)

// The visitor API methods below let an app's server carry out
// registration, sign-in and merging for a visitor whose tokens it holds
// (a mobile app's backend, or a web app with its own forms). Foyer limits
// some of these calls per client address, and from an app's server that
// address is the server's; browsers that talk to Foyer directly, or
// through its hosted pages, are limited each on their own.

// AnonymousTokenHeader carries the visitor's anonymous token on requests
// whose Authorization header holds another credential, or none.
const AnonymousTokenHeader = "Foyer-Anonymous-Token"

// Session is a signed-in registered user's session, as an app keeps it.
type Session struct {
	User *foyer.User `json:"user"`
	// AccessToken is a short-lived token of type access: the bearer
	// credential of the visitor API, which Middleware verifies locally.
	AccessToken string `json:"access_token"`
	// RefreshToken is exchanged for new tokens by RefreshSession; it
	// changes on every exchange, and presenting an old one ends the
	// session.
	RefreshToken string `json:"refresh_token"`
	// ExpiresAt is when AccessToken expires.
	ExpiresAt time.Time `json:"expires_at"`
	// MergeAvailable, from Login, is true when the anonymous token given
	// belongs to a live anonymous account that MergeMe can bring in.
	MergeAvailable bool `json:"merge_available"`
}

// ConversionResult is the outcome of redeeming a conversion link.
type ConversionResult struct {
	// User is the account, now registered.
	User *foyer.User
	// Session is set when the request presented the anonymous token of
	// that very account: the client that started the conversion is signed
	// in. Completed anywhere else, it is nil and the person signs in.
	Session *Session
}

// ConvertMe starts the conversion of the visitor whose anonymous token is
// tok to a registered account with email (POST /v1/me/convert): Foyer
// mails a single-use link to the address, or tells its owner if an
// account already has it; the answer is the same either way. It returns
// when the link expires. Returns EUnauthorized, EInvalid, EConflict (the
// visitor is registered), ERateLimited.
func (c *Client) ConvertMe(ctx context.Context, tok, email string) (time.Time, error) {
	var out struct {
		ExpiresAt time.Time `json:"expires_at"`
	}
	req := &request{method: http.MethodPost, path: "/v1/me/convert", auth: tok, body: map[string]string{"email": email}, out: &out}
	if _, err := c.do(ctx, req); err != nil {
		return time.Time{}, err
	}
	return out.ExpiresAt, nil
}

// CompleteConversion redeems the conversion link token (from the link's
// "token" parameter) with the password the person chose (POST
// /v1/convert/complete). The account becomes registered, keeping its id
// and data, and every earlier token of it stops working on Foyer. Pass the
// visitor's anonymous token as anonymousToken to have the session of the
// client that started the conversion in the result; pass "" when the link
// was opened elsewhere. Returns ETokenInvalid (unknown, expired, used or
// superseded link), EInvalidPassword, EIdentifierTaken, ERateLimited.
func (c *Client) CompleteConversion(ctx context.Context, linkToken, password, anonymousToken string) (*ConversionResult, error) {
	var out struct {
		User     *foyer.User `json:"user"`
		SignedIn bool        `json:"signed_in"`
		Session
	}
	req := &request{method: http.MethodPost, path: "/v1/convert/complete", out: &out,
		body: map[string]string{"token": linkToken, "password": password}}
	if anonymousToken != "" {
		req.header = http.Header{AnonymousTokenHeader: {anonymousToken}}
	}
	if _, err := c.do(ctx, req); err != nil {
		return nil, err
	}
	res := &ConversionResult{User: out.User}
	if out.SignedIn && out.AccessToken != "" {
		out.Session.User = out.User
		res.Session = &out.Session
	}
	return res, nil
}

// Login signs a registered user in with email and password (POST
// /v1/login) and returns the session. When anonymousToken is the token of
// a live anonymous account of the same visitor, MergeAvailable tells the
// app to offer MergeMe; signing in never merges by itself. Every failure
// is EInvalidCredentials, whether or not the address has an account;
// ERateLimited after repeated failures.
func (c *Client) Login(ctx context.Context, email, password, anonymousToken string) (*Session, error) {
	out := new(Session)
	req := &request{method: http.MethodPost, path: "/v1/login", out: out,
		body: map[string]string{"email": email, "password": password}}
	if anonymousToken != "" {
		req.header = http.Header{AnonymousTokenHeader: {anonymousToken}}
	}
	if _, err := c.do(ctx, req); err != nil {
		return nil, err
	}
	return out, nil
}

// RefreshSession exchanges refreshToken for a new access token and a new
// refresh token (POST /v1/token/refresh). Keep the new refresh token:
// presenting the old one again is taken as theft and ends the session.
// Returns EUnauthorized.
func (c *Client) RefreshSession(ctx context.Context, refreshToken string) (*Session, error) {
	out := new(Session)
	req := &request{method: http.MethodPost, path: "/v1/token/refresh", out: out,
		body: map[string]string{"refresh_token": refreshToken}}
	if _, err := c.do(ctx, req); err != nil {
		return nil, err
	}
	return out, nil
}

// Logout ends the session of accessToken (POST /v1/logout): its access
// and refresh tokens stop working on Foyer. Access tokens verified only
// locally keep verifying until they expire, which is why they are short.
// Returns EUnauthorized.
func (c *Client) Logout(ctx context.Context, accessToken string) error {
	if accessToken == "" {
		return foyer.Errorf(foyer.EUnauthorized, "An access token is required.")
	}
	_, err := c.do(ctx, &request{method: http.MethodPost, path: "/v1/logout", auth: accessToken})
	return err
}

// MergeMe brings the anonymous account of anonymousToken into the
// registered account signed in with accessToken (POST /v1/me/merge),
// after the person confirmed it: the data moves in under policy ("" for
// Foyer's configured default), the anonymous account is deleted and an
// alias from its id is kept (FindAlias). It returns the registered user
// and the id that was merged away. Returns EUnauthorized (either token),
// EConflict (the source is not anonymous), EInvalid (the policy).
func (c *Client) MergeMe(ctx context.Context, accessToken, anonymousToken string, policy foyer.MergePolicy) (*foyer.User, string, error) {
	if accessToken == "" || anonymousToken == "" {
		return nil, "", foyer.Errorf(foyer.EUnauthorized, "Both the access token and the anonymous token are required.")
	}
	var out struct {
		User       *foyer.User `json:"user"`
		MergedFrom string      `json:"merged_from"`
	}
	req := &request{method: http.MethodPost, path: "/v1/me/merge", auth: accessToken, out: &out,
		header: http.Header{AnonymousTokenHeader: {anonymousToken}}}
	if policy != "" {
		req.body = map[string]foyer.MergePolicy{"policy": policy}
	}
	h, err := c.do(ctx, req)
	if err != nil {
		return nil, "", err
	}
	out.User.Version = versionOf(h)
	return out.User, out.MergedFrom, nil
}

// ForgotPassword asks Foyer to mail a password reset link to email (POST
// /v1/password/forgot). The answer is the same whether or not an account
// has the address. It returns when a link sent now expires. Returns
// EInvalid, ERateLimited.
func (c *Client) ForgotPassword(ctx context.Context, email string) (time.Time, error) {
	var out struct {
		ExpiresAt time.Time `json:"expires_at"`
	}
	req := &request{method: http.MethodPost, path: "/v1/password/forgot", out: &out,
		body: map[string]string{"email": email}}
	if _, err := c.do(ctx, req); err != nil {
		return time.Time{}, err
	}
	return out.ExpiresAt, nil
}

// ResetPassword redeems a reset link token with a new password (POST
// /v1/password/reset). Every session and token of the account ends; the
// person then signs in with the new password. Returns ETokenInvalid,
// EInvalidPassword, ERateLimited.
func (c *Client) ResetPassword(ctx context.Context, linkToken, password string) (*foyer.User, error) {
	var out struct {
		User *foyer.User `json:"user"`
	}
	req := &request{method: http.MethodPost, path: "/v1/password/reset", out: &out,
		body: map[string]string{"token": linkToken, "password": password}}
	if _, err := c.do(ctx, req); err != nil {
		return nil, err
	}
	return out.User, nil
}
