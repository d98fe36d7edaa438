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
	// newHash. If oldHash is the session's previous (already rotated)
	// token, that is reuse: the session is deleted and EUnauthorized is
	// returned. Unknown or expired tokens give EUnauthorized.
	RotateSession(ctx context.Context, oldHash, newHash []byte) (*Session, *User, error)

	// FindSessions returns the live sessions of a user, newest first.
	FindSessions(ctx context.Context, userID string) ([]*Session, error)

	// DeleteSession ends one session. Returns ENotFound.
	DeleteSession(ctx context.Context, id string) error
}
