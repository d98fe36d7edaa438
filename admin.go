package foyer

import (
	"context"
	"time"
)

// Admin is an operator of the admin console. Admins are not users: their
// accounts and sessions are kept apart from end users'.
type Admin struct {
	ID           string `json:"id"`
	Email        string `json:"email"`
	PasswordHash string `json:"-"`
	// TOTPSecret is the base32 secret of the admin's authenticator app,
	// "" when TOTP is not enabled.
	TOTPSecret  string     `json:"-"`
	CreatedAt   time.Time  `json:"created_at"`
	LastLoginAt *time.Time `json:"last_login_at,omitempty"`
}

// AdminSession is a signed-in admin's console session. Only the hash of
// its cookie value is stored.
type AdminSession struct {
	ID        string
	AdminID   string
	TokenHash []byte
	CreatedAt time.Time
	ExpiresAt time.Time
}

// AdminService manages admin accounts and their sessions.
type AdminService interface {
	// CreateAdmin stores a, setting ID and CreatedAt. Returns EConflict if
	// the email has an admin.
	CreateAdmin(ctx context.Context, a *Admin) error
	// FindAdminByEmail returns the admin with email. Returns ENotFound.
	FindAdminByEmail(ctx context.Context, email string) (*Admin, error)
	// FindAdmins returns every admin, oldest first.
	FindAdmins(ctx context.Context) ([]*Admin, error)
	// SetAdminTOTP sets (or, with "", clears) the admin's TOTP secret.
	// Returns ENotFound.
	SetAdminTOTP(ctx context.Context, id, secret string) error
	// CreateAdminSession stores s and sets the admin's LastLoginAt, in one
	// transaction. Sets ID and CreatedAt.
	CreateAdminSession(ctx context.Context, s *AdminSession) error
	// FindAdminSession returns the admin of the live session whose token
	// hashes to tokenHash. Returns EUnauthorized if there is none or it
	// has expired.
	FindAdminSession(ctx context.Context, tokenHash []byte) (*Admin, *AdminSession, error)
	// DeleteAdminSession ends the session whose token hashes to tokenHash.
	DeleteAdminSession(ctx context.Context, tokenHash []byte) error
}
