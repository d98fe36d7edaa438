package foyer

import (
	"context"
	"time"
)

// Session is a signed-in registered user's session. Apps get a short-lived
// access token plus an opaque refresh token that rotates on every use;
// presenting the previous refresh token again is reuse and revokes the
// session. Only hashes of refresh tokens are stored.
type Session struct {
	ID          string    `json:"id"`
	UserID      string    `json:"user_id"`
	RefreshHash []byte    `json:"-"`
	CreatedAt   time.Time `json:"created_at"`
	LastUsedAt  time.Time `json:"last_used_at"`
	ExpiresAt   time.Time `json:"expires_at"`
	UserAgent   string    `json:"user_agent,omitempty"`
	IP          string    `json:"ip,omitempty"`

	// AppID is the app the session was signed in to through OpenID
	// Connect, or "" for Foyer's own sign-in (POST /v1/login and the
	// hosted pages). A refresh token only rotates for its own app.
	AppID string `json:"app_id,omitempty"`
	// Scopes are the scopes granted to that app.
	Scopes []string `json:"scopes,omitempty"`
	// AuthTime is when the person last proved who they are for this
	// session: its creation for Foyer's own sign-in, the sign-in that
	// completed the authorization request for an app. Zero when a
	// session is created means CreatedAt; a session a store returns
	// always has it set.
	AuthTime time.Time `json:"auth_time"`
}

// Expired reports whether s has expired at now.
func (s *Session) Expired(now time.Time) bool { return !now.Before(s.ExpiresAt) }

// SessionService manages sessions of registered users.
type SessionService interface {
	// CreateSession stores s for a registered user and records
	// user.login.success in the same transaction. Sets ID, CreatedAt,
	// LastUsedAt. UserAgent and IP are stored through CleanText, and s
	// holds what was stored. Returns ENotFound, EConflict if the user is
	// anonymous.
	CreateSession(ctx context.Context, s *Session) (*User, error)

	// FindSessionUser returns the user of a live session, for verifying a
	// token bound to it. Returns EUnauthorized if the session is gone,
	// expired or belongs to another user.
	FindSessionUser(ctx context.Context, userID, sessionID string) (*User, error)

	// RotateSession replaces the refresh token whose hash is oldHash with
	// newHash, for a session of appID ("" for Foyer's own sessions). If
	// oldHash is the session's previous (already rotated) token, that is
	// reuse: the session is deleted and EUnauthorized is returned.
	// Unknown or expired tokens, and tokens of another app's session,
	// give EUnauthorized and change nothing.
	RotateSession(ctx context.Context, appID string, oldHash, newHash []byte) (*Session, *User, error)

	// FindSession returns the live session sessionID of userID. Returns
	// EUnauthorized if it is gone, expired or belongs to another user.
	FindSession(ctx context.Context, userID, sessionID string) (*Session, error)

	// FindSessionByRefresh returns the live session whose current refresh
	// token hash is hash, without rotating it. Returns EUnauthorized.
	FindSessionByRefresh(ctx context.Context, hash []byte) (*Session, error)

	// DeleteAppSessions ends every session of userID signed in through
	// appID, and deletes the authorization requests userID signed in for
	// at appID, so no code issued before can start a new one, in one
	// transaction. It returns how many sessions it ended.
	DeleteAppSessions(ctx context.Context, userID, appID string) (int, error)

	// FindSessions returns the live sessions of a user, newest first.
	FindSessions(ctx context.Context, userID string) ([]*Session, error)

	// DeleteSession ends one session. Returns ENotFound.
	DeleteSession(ctx context.Context, id string) error
}
