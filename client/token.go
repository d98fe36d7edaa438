package client

import (
	"context"
	"net/http"
	"time"

	foyer "github.com/foyerhq/foyer"
	"github.com/foyerhq/foyer/token"
)

// VendRequest asks Foyer to sign a token for the app's own use.
type VendRequest struct {
	// UserID, when set, makes the token about that user: its sub,
	// is_anonymous and ep come from the stored user.
	UserID string
	// Claims are the custom claims; names in token.ReservedClaims, in any
	// casing, are refused.
	Claims map[string]any
	// TTL is the token's lifetime, in whole seconds, at least one.
	TTL time.Duration
}

// VendedToken is a token signed by Foyer.
type VendedToken struct {
	Token     string    `json:"token"`
	ExpiresAt time.Time `json:"expires_at"`
}

// VendToken signs a token of type vended with the app's claims (POST
// /v1/tokens), which anyone holding Foyer's public keys can verify, for
// example with token.JWKSVerifier and the type token.TypeVended. Returns
// EInvalid (a reserved claim, a TTL out of range), ENotFound (UserID).
func (c *Client) VendToken(ctx context.Context, vr VendRequest) (*VendedToken, error) {
	in := struct {
		UserID     string         `json:"user_id,omitempty"`
		Claims     map[string]any `json:"claims,omitempty"`
		TTLSeconds int64          `json:"ttl_seconds"`
	}{vr.UserID, vr.Claims, int64(vr.TTL / time.Second)}
	out := new(VendedToken)
	req := c.server(http.MethodPost, "/v1/tokens")
	req.body, req.out = in, out
	if _, err := c.do(ctx, req); err != nil {
		return nil, err
	}
	return out, nil
}

// Keys lists the signing keys that still verify, newest first; the first
// signs (GET /v1/keys).
func (c *Client) Keys(ctx context.Context) ([]token.KeyInfo, error) {
	var out struct {
		Keys []token.KeyInfo `json:"keys"`
	}
	req := c.server(http.MethodGet, "/v1/keys")
	req.out = &out
	if _, err := c.do(ctx, req); err != nil {
		return nil, err
	}
	return out.Keys, nil
}

// RotateKeys makes a new signing key sign from now on (POST
// /v1/keys/rotate); the previous one keeps verifying the tokens it signed.
// Verifiers learn of the new key when they first meet a token it signed.
func (c *Client) RotateKeys(ctx context.Context) (*token.KeyInfo, error) {
	out := new(token.KeyInfo)
	req := c.server(http.MethodPost, "/v1/keys/rotate")
	req.out = out
	if _, err := c.do(ctx, req); err != nil {
		return nil, err
	}
	return out, nil
}

// CreateAPIKey creates an API key named name (POST /v1/api-keys) and
// returns it with its secret, which Foyer shows this once.
func (c *Client) CreateAPIKey(ctx context.Context, name string) (*foyer.APIKey, string, error) {
	var out struct {
		foyer.APIKey
		Secret string `json:"secret"`
	}
	req := c.server(http.MethodPost, "/v1/api-keys")
	req.body, req.out = map[string]string{"name": name}, &out
	if _, err := c.do(ctx, req); err != nil {
		return nil, "", err
	}
	return &out.APIKey, out.Secret, nil
}

// ListAPIKeys lists the API keys, oldest first, without their secrets
// (GET /v1/api-keys).
func (c *Client) ListAPIKeys(ctx context.Context) ([]*foyer.APIKey, error) {
	var out struct {
		APIKeys []*foyer.APIKey `json:"api_keys"`
	}
	req := c.server(http.MethodGet, "/v1/api-keys")
	req.out = &out
	if _, err := c.do(ctx, req); err != nil {
		return nil, err
	}
	return out.APIKeys, nil
}

// DeleteAPIKey revokes the API key with id (DELETE /v1/api-keys/{id}).
// Returns ENotFound.
func (c *Client) DeleteAPIKey(ctx context.Context, id string) error {
	p, err := pathID(id)
	if err != nil {
		return err
	}
	_, err = c.do(ctx, c.server(http.MethodDelete, "/v1/api-keys/"+p))
	return err
}
