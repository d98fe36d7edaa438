package postgres

import (
	"context"
	"errors"

	"github.com/jackc/pgx/v5"

	"github.com/foyerhq/foyer"
)

var _ foyer.AdminService = (*AdminService)(nil)

// AdminService implements foyer.AdminService.
type AdminService struct {
	db *DB
}

// NewAdminService returns an AdminService on db.
func NewAdminService(db *DB) *AdminService { return &AdminService{db: db} }

const adminColumns = `a.id, a.email, a.password_hash, a.totp_secret, a.created_at, a.last_login_at`

// scanAdmin reads one row of adminColumns, followed by the columns that
// extra receives.
func scanAdmin(row pgx.Row, extra ...any) (*foyer.Admin, error) {
	var (
		a    foyer.Admin
		totp *string
	)
	dest := []any{&a.ID, &a.Email, &a.PasswordHash, &totp, &a.CreatedAt, &a.LastLoginAt}
	if err := row.Scan(append(dest, extra...)...); err != nil {
		return nil, err
	}
	if totp != nil {
		a.TOTPSecret = *totp
	}
	a.LastLoginAt = utcPtr(a.LastLoginAt)
	return &a, nil
}

// CreateAdmin stores a, setting ID and CreatedAt. Returns EInvalid for an
// email that is not normalised or a missing password hash, or EConflict
// if the email has an admin.
func (s *AdminService) CreateAdmin(ctx context.Context, a *foyer.Admin) error {
	if err := checkEmail(a.Email); err != nil {
		return err
	}
	if a.PasswordHash == "" {
		return foyer.Errorf(foyer.EInvalid, "An admin needs a password hash.")
	}
	now := s.db.now()
	id := s.db.newID(now)
	if _, err := s.db.pool.Exec(ctx, `INSERT INTO admins (id, email, password_hash, totp_secret, created_at) VALUES ($1, $2, $3, $4, $5)`,
		id, a.Email, a.PasswordHash, nullString(a.TOTPSecret), now); err != nil {
		if isUnique(err, "admins_email_key") {
			return &foyer.Error{Code: foyer.EConflict, Message: "The email already has an admin.", Err: err}
		}
		return translate("create admin", err)
	}
	a.ID = id.String()
	a.CreatedAt = now
	a.LastLoginAt = nil
	return nil
}

// FindAdminByEmail returns the admin with email. Returns ENotFound.
func (s *AdminService) FindAdminByEmail(ctx context.Context, email string) (*foyer.Admin, error) {
	a, err := scanAdmin(s.db.pool.QueryRow(ctx, `SELECT `+adminColumns+` FROM admins a WHERE a.email = $1`, email))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, foyer.Errorf(foyer.ENotFound, "Admin not found.")
	}
	if err != nil {
		return nil, translate("find admin", err)
	}
	return a, nil
}

// FindAdmins returns every admin, oldest first.
func (s *AdminService) FindAdmins(ctx context.Context) ([]*foyer.Admin, error) {
	rows, err := s.db.pool.Query(ctx, `SELECT `+adminColumns+` FROM admins a ORDER BY a.id`)
	if err != nil {
		return nil, translate("find admins", err)
	}
	defer rows.Close()
	out := []*foyer.Admin{}
	for rows.Next() {
		a, err := scanAdmin(rows)
		if err != nil {
			return nil, translate("find admins", err)
		}
		out = append(out, a)
	}
	if err := rows.Err(); err != nil {
		return nil, translate("find admins", err)
	}
	return out, nil
}

// SetAdminTOTP sets the admin's TOTP secret, or clears it with "".
// Returns ENotFound.
func (s *AdminService) SetAdminTOTP(ctx context.Context, id, secret string) error {
	aid, ok := parseID(id)
	if !ok {
		return foyer.Errorf(foyer.ENotFound, "Admin not found.")
	}
	tag, err := s.db.pool.Exec(ctx, `UPDATE admins SET totp_secret = $2 WHERE id = $1`, aid, nullString(secret))
	if err != nil {
		return translate("set admin TOTP", err)
	}
	return expectOne(tag, "Admin not found.")
}

// CreateAdminSession stores sess, setting ID and CreatedAt, and sets the
// admin's LastLoginAt, in one statement, which also deletes the admin's
// expired sessions. Returns ENotFound if the admin does not exist,
// EInvalid without a token hash, or EConflict if the hash is in use.
func (s *AdminService) CreateAdminSession(ctx context.Context, sess *foyer.AdminSession) error {
	aid, ok := parseID(sess.AdminID)
	if !ok {
		return foyer.Errorf(foyer.ENotFound, "Admin not found.")
	}
	if len(sess.TokenHash) == 0 {
		return foyer.Errorf(foyer.EInvalid, "An admin session needs a token hash.")
	}
	now := s.db.now()
	id := s.db.newID(now)
	expires := msTime(sess.ExpiresAt)
	tag, err := s.db.pool.Exec(ctx, `WITH a AS (
	UPDATE admins SET last_login_at = $3 WHERE id = $2 RETURNING id
), x AS (
	DELETE FROM admin_sessions WHERE admin_id = ANY (ARRAY(SELECT id FROM a)) AND expires_at <= $3
)
INSERT INTO admin_sessions (id, admin_id, token_hash, created_at, expires_at)
SELECT $1, a.id, $4, $3, $5 FROM a`, id, aid, now, sess.TokenHash, expires)
	if err != nil {
		return translate("create admin session", err)
	}
	if err := expectOne(tag, "Admin not found."); err != nil {
		return err
	}
	sess.ID = id.String()
	sess.AdminID = aid.String()
	sess.CreatedAt = now
	sess.ExpiresAt = expires
	return nil
}

// FindAdminSession returns the admin of the live session whose token
// hashes to tokenHash, with the session. Returns EUnauthorized if there is
// none or it has expired.
func (s *AdminService) FindAdminSession(ctx context.Context, tokenHash []byte) (*foyer.Admin, *foyer.AdminSession, error) {
	if len(tokenHash) == 0 {
		return nil, nil, errAdminSessionInvalid()
	}
	var sess foyer.AdminSession
	a, err := scanAdmin(s.db.pool.QueryRow(ctx, `SELECT `+adminColumns+`, s.id, s.token_hash, s.created_at, s.expires_at
FROM admin_sessions s JOIN admins a ON a.id = s.admin_id
WHERE s.token_hash = $1 AND s.expires_at > $2`, tokenHash, s.db.now()), &sess.ID, &sess.TokenHash, &sess.CreatedAt, &sess.ExpiresAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil, errAdminSessionInvalid()
	}
	if err != nil {
		return nil, nil, translate("find admin session", err)
	}
	sess.AdminID = a.ID
	return a, &sess, nil
}

func errAdminSessionInvalid() error {
	return foyer.Errorf(foyer.EUnauthorized, "The admin session is not valid.")
}

// DeleteAdminSession ends the session whose token hashes to tokenHash.
// Returns ENotFound if there is none.
func (s *AdminService) DeleteAdminSession(ctx context.Context, tokenHash []byte) error {
	if len(tokenHash) == 0 {
		return foyer.Errorf(foyer.ENotFound, "Admin session not found.")
	}
	tag, err := s.db.pool.Exec(ctx, `DELETE FROM admin_sessions WHERE token_hash = $1`, tokenHash)
	if err != nil {
		return translate("delete admin session", err)
	}
	return expectOne(tag, "Admin session not found.")
}
