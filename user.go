package foyer

import (
	"context"
	"encoding/json"
	"time"
)

// User is one account: anonymous or registered. The markers (Anonymous,
// EmailVerified, timestamps, Version, Epoch) are columns owned by the server;
// only Data is writable by the person, and no key inside Data can change a
// marker (DESIGN §2.1).
type User struct {
	// ID is a UUIDv7, the same for the whole life of the account,
	// conversion included.
	ID string `json:"id"`
	// Anonymous is true until ownership of an identifier is proven.
	Anonymous bool `json:"anonymous"`
	// Email is the verified login identifier of a registered user, or "".
	Email string `json:"email,omitempty"`
	// EmailVerified is true once the email's ownership was proven, or an
	// API caller vouched for it.
	EmailVerified bool `json:"email_verified"`
	// PendingEmail is the address of the latest conversion request, which
	// is not a login identifier until the link is redeemed.
	PendingEmail string `json:"pending_email,omitempty"`
	// Data is the profile document, always a JSON object.
	Data json.RawMessage `json:"data"`

	CreatedAt   time.Time  `json:"created_at"`
	UpdatedAt   time.Time  `json:"updated_at"`
	LastSeenAt  time.Time  `json:"last_seen_at"`
	ConvertedAt *time.Time `json:"converted_at,omitempty"`

	// Version increases with every change of the stored user; it is the
	// ETag of GET /v1/me.
	Version int64 `json:"-"`
	// Epoch increases to revoke every token issued before; tokens carry
	// the epoch they were issued at.
	Epoch int64 `json:"-"`
	// HasPassword reports whether a credential is set.
	HasPassword bool `json:"-"`
}

// UserFilter selects users. Nil fields do not filter. Results are ordered
// by id, which is time-ordered, so pages are stable.
type UserFilter struct {
	Anonymous     *bool
	Email         *string // normalised address, exact match
	CreatedAfter  *time.Time
	CreatedBefore *time.Time
	// InactiveSince selects users last seen before this time.
	InactiveSince *time.Time
	// After is the id of the last user of the previous page.
	After string
	// Limit is the page size; the store caps it at MaxPageSize.
	Limit int
}

// MaxPageSize is the largest page any list returns.
const MaxPageSize = 500

// UserUpdate is a change to a user's profile data.
type UserUpdate struct {
	// DataPatch is an RFC 7396 merge patch applied to Data.
	DataPatch json.RawMessage
	// IfVersion, when set, makes the update fail with EPreconditionFailed
	// unless the stored Version equals it.
	IfVersion *int64
	// MaxSize is the largest encoded size Data may reach; 0 means MaxDataSize.
	MaxSize int
}

// Reasons given in user.deleted events.
const (
	DeleteReasonSelf   = "self"
	DeleteReasonAdmin  = "admin"
	DeleteReasonReaped = "reaped"
)

// UserService manages users. Every method that changes a user records the
// matching event in the same transaction.
type UserService interface {
	// CreateUser creates u and records user.anonymous.created (anonymous)
	// or user.created (registered). It sets ID, timestamps and Version.
	// A registered user must have a normalised Email. Returns EConflict if
	// the email belongs to another account.
	CreateUser(ctx context.Context, u *User) error

	// FindUserByID returns the user with id. Returns ENotFound.
	FindUserByID(ctx context.Context, id string) (*User, error)

	// FindUsers returns up to filter.Limit users matching filter, ordered by id.
	FindUsers(ctx context.Context, filter UserFilter) ([]*User, error)

	// UpdateUser applies upd to the user's Data and records user.updated.
	// Returns ENotFound, EPreconditionFailed, EInvalid (the patch does not
	// leave an object) or ETooLarge (the result exceeds MaxDataSize).
	UpdateUser(ctx context.Context, id string, upd UserUpdate) (*User, error)

	// DeleteUser deletes the user with everything personal (sessions,
	// pending conversions, queued mail) and records user.deleted with
	// reason. Returns ENotFound.
	DeleteUser(ctx context.Context, id, reason string) error

	// TouchUser records activity: it sets LastSeenAt to now if the stored
	// value is older than now minus granularity, so that activity costs a
	// write at most once per granularity. It reports whether it wrote.
	TouchUser(ctx context.Context, id string, now time.Time, granularity time.Duration) (bool, error)

	// RevokeUserTokens increases the user's Epoch, so every token issued
	// before stops verifying, and deletes the user's sessions and the
	// authorization requests the user signed in for, so no code issued
	// before can be redeemed, in one transaction. Returns ENotFound.
	RevokeUserTokens(ctx context.Context, id string) (*User, error)
}

// MaxDataSize is the default largest encoded size of a user's Data.
const MaxDataSize = 64 << 10
