package client

import (
	"context"
	"net/http"

	foyer "github.com/foyerhq/foyer"
)

// CreateApp registers an application that signs people in through
// Foyer's OpenID Connect provider (POST /v1/apps): its Name, Type,
// RedirectURIs and PostLogoutRedirectURIs are sent, and a is filled in
// from the answer, ID (the OAuth client_id) and CreatedAt included. For a
// confidential app it returns the client secret, which Foyer shows this
// once and stores only hashed; for a public app, "". Returns EInvalid.
func (c *Client) CreateApp(ctx context.Context, a *foyer.App) (secret string, err error) {
	in := struct {
		Name                   string        `json:"name"`
		Type                   foyer.AppType `json:"type"`
		RedirectURIs           []string      `json:"redirect_uris"`
		PostLogoutRedirectURIs []string      `json:"post_logout_redirect_uris,omitempty"`
	}{a.Name, a.Type, a.RedirectURIs, a.PostLogoutRedirectURIs}
	var out struct {
		foyer.App
		Secret string `json:"secret"`
	}
	req := c.server(http.MethodPost, "/v1/apps")
	req.body, req.out = in, &out
	if _, err := c.do(ctx, req); err != nil {
		return "", err
	}
	*a = out.App
	return out.Secret, nil
}

// ListApps returns every application, oldest first, without secrets
// (GET /v1/apps).
func (c *Client) ListApps(ctx context.Context) ([]*foyer.App, error) {
	var out struct {
		Apps []*foyer.App `json:"apps"`
	}
	req := c.server(http.MethodGet, "/v1/apps")
	req.out = &out
	if _, err := c.do(ctx, req); err != nil {
		return nil, err
	}
	return out.Apps, nil
}

// NewAppSecret gives the confidential application with id a new client
// secret (POST /v1/apps/{id}/secret) and returns it; Foyer shows it this
// once, and the previous secret stops working. Returns ENotFound, and
// EConflict for a public app, which has no secret.
func (c *Client) NewAppSecret(ctx context.Context, id string) (string, error) {
	p, err := pathID(id)
	if err != nil {
		return "", err
	}
	var out struct {
		Secret string `json:"secret"`
	}
	req := c.server(http.MethodPost, "/v1/apps/"+p+"/secret")
	req.out = &out
	if _, err := c.do(ctx, req); err != nil {
		return "", err
	}
	return out.Secret, nil
}
