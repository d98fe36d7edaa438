package client

import (
	"context"
	"encoding/json"
	"net/http"
	"time"

	foyer "github.com/foyerhq/foyer"
)

// RenewedTokenHeader is the response header in which Foyer hands a bearer
// client the replacement of an anonymous token that is due for renewal.
const RenewedTokenHeader = "Foyer-Token"

// AnonymousUser is a new anonymous account with its token.
type AnonymousUser struct {
	User *foyer.User `json:"user"`
	// Token is the anonymous token: keep it (Middleware puts it in a
	// cookie) and send it as the visitor's credential.
	Token     string    `json:"token"`
	ExpiresAt time.Time `json:"expires_at"`
}

// CreateAnonymousUser creates an anonymous account (POST /v1/anonymous)
// with data as its initial profile (nil for none) and returns it with its
// token. It sends no credential, so it always creates a new account.
// Foyer limits how many accounts one client address may create; called
// from an app's server, that address is the server's (see
// Middleware.ClientIP). Returns EInvalid, ETooLarge, ERateLimited.
func (c *Client) CreateAnonymousUser(ctx context.Context, data json.RawMessage) (*AnonymousUser, error) {
	return c.createAnonymousUser(ctx, data, "")
}

// createAnonymousUser is CreateAnonymousUser that tells Foyer, in
// X-Forwarded-For, the address of the visitor it is for.
func (c *Client) createAnonymousUser(ctx context.Context, data json.RawMessage, clientIP string) (*AnonymousUser, error) {
	req := &request{method: http.MethodPost, path: "/v1/anonymous"}
	if data != nil {
		req.body = struct {
			Data json.RawMessage `json:"data"`
		}{data}
	}
	if clientIP != "" {
		req.header = http.Header{"X-Forwarded-For": {clientIP}}
	}
	out := new(AnonymousUser)
	req.out = out
	if _, err := c.do(ctx, req); err != nil {
		return nil, err
	}
	if out.User == nil || out.Token == "" {
		return nil, foyer.Errorf(foyer.EInternal, "Foyer's answer to POST /v1/anonymous lacks the user or the token.")
	}
	return out, nil
}

// Me returns the visitor's own user document (GET /v1/me), asking Foyer
// with tok, the visitor's anonymous or access token, as bearer. Unlike a
// local verification it checks revocation: a revoked token, a deleted or
// since-registered anonymous user give EUnauthorized. Version is set from
// the ETag.
func (c *Client) Me(ctx context.Context, tok string) (*foyer.User, error) {
	u, _, err := c.me(ctx, tok)
	return u, err
}

// me is Me that also returns the renewed token Foyer sent, if any.
func (c *Client) me(ctx context.Context, tok string) (*foyer.User, string, error) {
	if tok == "" {
		return nil, "", foyer.Errorf(foyer.EUnauthorized, "A visitor token is required.")
	}
	u := new(foyer.User)
	req := &request{method: http.MethodGet, path: "/v1/me", auth: tok, out: u}
	h, err := c.do(ctx, req)
	if err != nil {
		return nil, "", err
	}
	u.Version = versionOf(h)
	return u, h.Get(RenewedTokenHeader), nil
}

// PatchMe applies upd.DataPatch, an RFC 7396 merge patch, to the
// visitor's own data (PATCH /v1/me) with tok as bearer, so that an app can
// write a visitor's profile on their behalf without the API key. With
// upd.IfVersion set it sends If-Match. Returns EUnauthorized,
// EPreconditionFailed, EInvalid, ETooLarge.
func (c *Client) PatchMe(ctx context.Context, tok string, upd foyer.UserUpdate) (*foyer.User, error) {
	if tok == "" {
		return nil, foyer.Errorf(foyer.EUnauthorized, "A visitor token is required.")
	}
	return c.user(ctx, c.patchRequest("/v1/me", tok, upd))
}
