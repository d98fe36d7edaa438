package client

import (
	"context"
	"encoding/json"
	"iter"
	"net/http"
	"net/url"
	"strconv"
	"time"

	foyer "github.com/foyerhq/foyer"
)

// CreateUser creates u through POST /v1/users and fills it in from the
// answer (ID, timestamps, Version). With u.Anonymous it creates an
// anonymous user; otherwise u.Email and u.EmailVerified (which must be
// true: the calling server vouches for the address) create a registered
// user without a password. u.Data, when set, is the initial profile.
// Returns EInvalid, EConflict (the email has an account).
func (c *Client) CreateUser(ctx context.Context, u *foyer.User) error {
	in := struct {
		Anonymous     *bool           `json:"anonymous,omitempty"`
		Email         *string         `json:"email,omitempty"`
		EmailVerified *bool           `json:"email_verified,omitempty"`
		Data          json.RawMessage `json:"data,omitempty"`
	}{Data: u.Data}
	if u.Anonymous {
		in.Anonymous = &u.Anonymous
	} else {
		in.Email, in.EmailVerified = &u.Email, &u.EmailVerified
	}
	req := c.server(http.MethodPost, "/v1/users")
	req.body = in
	return c.doUser(ctx, req, u)
}

// GetUser returns the user with id (GET /v1/users/{id}), with Version set
// from the ETag. Returns ENotFound.
func (c *Client) GetUser(ctx context.Context, id string) (*foyer.User, error) {
	p, err := pathID(id)
	if err != nil {
		return nil, err
	}
	return c.user(ctx, c.server(http.MethodGet, "/v1/users/"+p))
}

// UpdateUser applies upd.DataPatch, an RFC 7396 merge patch, to the data
// of the user with id (PATCH /v1/users/{id}). With upd.IfVersion set it
// sends If-Match, so the update fails with EPreconditionFailed if the user
// changed since that version was read (GetUser sets Version). A nil
// DataPatch changes nothing; a JSON null resets the data to {}.
// upd.MaxSize is the server's to decide and is not sent. Returns
// ENotFound, EPreconditionFailed, EInvalid, ETooLarge.
func (c *Client) UpdateUser(ctx context.Context, id string, upd foyer.UserUpdate) (*foyer.User, error) {
	p, err := pathID(id)
	if err != nil {
		return nil, err
	}
	return c.user(ctx, c.patchRequest("/v1/users/"+p, c.apiKey, upd))
}

// patchRequest builds a user document merge patch from upd.
func (c *Client) patchRequest(path, auth string, upd foyer.UserUpdate) *request {
	req := &request{method: http.MethodPatch, path: path, auth: auth, contentType: "application/merge-patch+json"}
	req.body = json.RawMessage(`{}`)
	if upd.DataPatch != nil {
		req.body = struct {
			Data json.RawMessage `json:"data"`
		}{upd.DataPatch}
	}
	if upd.IfVersion != nil {
		req.header = http.Header{"If-Match": {`"` + strconv.FormatInt(*upd.IfVersion, 10) + `"`}}
	}
	return req
}

// DeleteUser deletes the user with id and everything personal about them
// (DELETE /v1/users/{id}); the event log records user.deleted with reason
// admin. Returns ENotFound.
func (c *Client) DeleteUser(ctx context.Context, id string) error {
	p, err := pathID(id)
	if err != nil {
		return err
	}
	_, err = c.do(ctx, c.server(http.MethodDelete, "/v1/users/"+p))
	return err
}

// RevokeUser makes every token issued to the user so far stop working on
// Foyer and ends their sessions (POST /v1/users/{id}/revoke), and returns
// the user. Tokens checked only locally (Middleware, token.JWKSVerifier)
// keep verifying until they expire. Returns ENotFound.
func (c *Client) RevokeUser(ctx context.Context, id string) (*foyer.User, error) {
	p, err := pathID(id)
	if err != nil {
		return nil, err
	}
	return c.user(ctx, c.server(http.MethodPost, "/v1/users/"+p+"/revoke"))
}

// ConvertUser starts the conversion of the anonymous user with id to a
// registered account with email (POST /v1/users/{id}/convert), as the
// visitor's own "save my progress" would: the address becomes the pending
// one and Foyer mails a single-use link to it (or, if an account already
// has the address, tells its owner instead; the answer is the same). The
// account stays anonymous until the link is redeemed. It returns when the
// link expires. Returns EInvalid (the address), ENotFound, EConflict (the
// user is not anonymous), ERateLimited.
func (c *Client) ConvertUser(ctx context.Context, id, email string) (time.Time, error) {
	p, err := pathID(id)
	if err != nil {
		return time.Time{}, err
	}
	var out struct {
		ExpiresAt time.Time `json:"expires_at"`
	}
	req := c.server(http.MethodPost, "/v1/users/"+p+"/convert")
	req.body = map[string]string{"email": email}
	req.out = &out
	_, err = c.do(ctx, req)
	return out.ExpiresAt, err
}

// ConvertUserVerified makes the anonymous user with id registered at once
// with email, an address the calling server vouches for (POST
// /v1/users/{id}/convert with "verified": true): the audited admin door.
// The account has no password until the person sets one by password
// reset, and every earlier token of the user is revoked. Returns EInvalid,
// ENotFound, EConflict (not anonymous), EIdentifierTaken (the address has
// an account).
func (c *Client) ConvertUserVerified(ctx context.Context, id, email string) (*foyer.User, error) {
	p, err := pathID(id)
	if err != nil {
		return nil, err
	}
	req := c.server(http.MethodPost, "/v1/users/"+p+"/convert")
	req.body = map[string]any{"email": email, "verified": true}
	return c.user(ctx, req)
}

// FindAlias returns the alias of an id that was merged away (GET
// /v1/aliases/{id}): the account it now lives in, so the app can re-key
// its own rows. Returns ENotFound when id was never merged.
func (c *Client) FindAlias(ctx context.Context, id string) (*foyer.Alias, error) {
	p, err := pathID(id)
	if err != nil {
		return nil, err
	}
	a := new(foyer.Alias)
	req := c.server(http.MethodGet, "/v1/aliases/"+p)
	req.out = a
	if _, err := c.do(ctx, req); err != nil {
		return nil, err
	}
	return a, nil
}

// user sends req and returns the user document of the answer, with its
// version from the ETag.
func (c *Client) user(ctx context.Context, req *request) (*foyer.User, error) {
	u := new(foyer.User)
	req.out = u
	h, err := c.do(ctx, req)
	if err != nil {
		return nil, err
	}
	u.Version = versionOf(h)
	return u, nil
}

// doUser is user that sets *u to the answer. On error u is unchanged.
func (c *Client) doUser(ctx context.Context, req *request, u *foyer.User) error {
	got, err := c.user(ctx, req)
	if err != nil {
		return err
	}
	*u = *got
	return nil
}

// UserFilter selects users for ListUsers. Nil fields do not filter.
type UserFilter struct {
	Anonymous     *bool
	Email         *string // matched after normalisation
	CreatedAfter  *time.Time
	CreatedBefore *time.Time
	// InactiveSince selects users last seen before this time.
	InactiveSince *time.Time
	// Limit is the page size, 1 to foyer.MaxPageSize; 0 means the
	// server's default.
	Limit int
	// Cursor is the NextCursor of the previous page; "" starts at the
	// beginning.
	Cursor string
}

// UserPage is one page of users, oldest first.
type UserPage struct {
	Users []*foyer.User `json:"users"`
	// NextCursor continues the list; "" on the last page.
	NextCursor string `json:"next_cursor"`
}

// ListUsers returns one page of the users matching f (GET /v1/users). The
// users' Version is not set: read it with GetUser before a conditional
// update. Returns EInvalid for a bad filter or cursor.
func (c *Client) ListUsers(ctx context.Context, f UserFilter) (*UserPage, error) {
	q := url.Values{}
	if f.Anonymous != nil {
		q.Set("anonymous", strconv.FormatBool(*f.Anonymous))
	}
	if f.Email != nil {
		q.Set("email", *f.Email)
	}
	setTime(q, "created_after", f.CreatedAfter)
	setTime(q, "created_before", f.CreatedBefore)
	setTime(q, "inactive_since", f.InactiveSince)
	setPage(q, f.Limit, f.Cursor)
	page := new(UserPage)
	req := c.server(http.MethodGet, "/v1/users")
	req.query, req.out = q, page
	if _, err := c.do(ctx, req); err != nil {
		return nil, err
	}
	return page, nil
}

// AllUsers iterates over every user matching f, from f.Cursor on, fetching
// pages of f.Limit as it goes. Iteration stops at the first error, which
// it yields.
func (c *Client) AllUsers(ctx context.Context, f UserFilter) iter.Seq2[*foyer.User, error] {
	return func(yield func(*foyer.User, error) bool) {
		for {
			page, err := c.ListUsers(ctx, f)
			if err != nil {
				yield(nil, err)
				return
			}
			for _, u := range page.Users {
				if !yield(u, nil) {
					return
				}
			}
			if page.NextCursor == "" {
				return
			}
			f.Cursor = page.NextCursor
		}
	}
}

func setTime(q url.Values, name string, t *time.Time) {
	if t != nil {
		q.Set(name, t.UTC().Format(time.RFC3339Nano))
	}
}

func setPage(q url.Values, limit int, cursor string) {
	if limit != 0 {
		q.Set("limit", strconv.Itoa(limit))
	}
	if cursor != "" {
		q.Set("cursor", cursor)
	}
}
