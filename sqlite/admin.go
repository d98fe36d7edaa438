package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/google/uuid"

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
func scanAdmin(row interface{ Scan(...any) error }, extra ...any) (*foyer.Admin, error) {
	var (
		a       foyer.Admin
		id      []byte
		totp    sql.NullString
		created int64
		login   sql.NullInt64
	)
	dest := []any{&id, &a.Email, &a.PasswordHash, &totp, &created, &login}
	if err := row.Scan(append(dest, extra...)...); err != nil {
		return nil, err
	}
	a.ID = idString(id)
	a.TOTPSecret = totp.String
	a.CreatedAt = msTime(created)
	a.LastLoginAt = msTimePtr(login)
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
	var (
		id  uuid.UUID
		now time.Time
	)
	err := s.db.write(ctx, func(tx *Tx) error {
		id, now = s.db.newID(tx.now), tx.now
		if _, err := tx.exec(ctx, `INSERT INTO admins (id, email, password_hash, totp_secret, created_at) VALUES (?, ?, ?, ?, ?)`,
			id[:], a.Email, a.PasswordHash, nullString(a.TOTPSecret), ms(tx.now)); err != nil {
			if isUnique(err) {
				return &foyer.Error{Code: foyer.EConflict, Message: "The email already has an admin.", Err: err}
			}
			return translate("create admin", err)
		}
		return nil
	})
	if err != nil {
		return err
	}
	a.ID = id.String()
	a.CreatedAt = now
	a.LastLoginAt = nil
	return nil
}

// FindAdminByEmail returns the admin with email. Returns ENotFound.
func (s *AdminService) FindAdminByEmail(ctx context.Context, email string) (*foyer.Admin, error) {
	a, err := scanAdmin(s.db.queryRow(ctx, `SELECT `+adminColumns+` FROM admins a WHERE a.email = ?`, email))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, foyer.Errorf(foyer.ENotFound, "Admin not found.")
	}
	if err != nil {
		return nil, translate("find admin", err)
	}
	return a, nil
}

// FindAdmins returns every admin, oldest first.
func (s *AdminService) FindAdmins(ctx context.Context) ([]*foyer.Admin, error) {
	rows, err := s.db.query(ctx, `SELECT `+adminColumns+` FROM admins a ORDER BY a.id`)
	if err != nil {
		return nil, err
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
	return s.db.write(ctx, func(tx *Tx) error {
		res, err := tx.exec(ctx, `UPDATE admins SET totp_secret = ? WHERE id = ?`, nullString(secret), aid[:])
		if err != nil {
			return translate("set admin TOTP", err)
		}
		return expectOne(res, "Admin not found.")
	})
}

// CreateAdminSession stores sess, setting ID and CreatedAt, and sets the
// admin's LastLoginAt, in one transaction, which also deletes the admin's
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
	var (
		id  uuid.UUID
		now time.Time
	)
	err := s.db.write(ctx, func(tx *Tx) error {
		res, err := tx.exec(ctx, `UPDATE admins SET last_login_at = ? WHERE id = ?`, ms(tx.now), aid[:])
		if err != nil {
			return translate("record admin login", err)
		}
		if err := expectOne(res, "Admin not found."); err != nil {
			return err
		}
		if _, err := tx.exec(ctx, `DELETE FROM admin_sessions WHERE admin_id = ? AND expires_at <= ?`, aid[:], ms(tx.now)); err != nil {
			return translate("delete expired admin sessions", err)
		}
		id, now = s.db.newID(tx.now), tx.now
		if _, err := tx.exec(ctx, `INSERT INTO admin_sessions (id, admin_id, token_hash, created_at, expires_at) VALUES (?, ?, ?, ?, ?)`,
			id[:], aid[:], sess.TokenHash, ms(tx.now), ms(sess.ExpiresAt)); err != nil {
			return translate("create admin session", err)
		}
		return nil
	})
	if err != nil {
		return err
	}
	sess.ID = id.String()
	sess.AdminID = aid.String()
	sess.CreatedAt = now
	sess.ExpiresAt = msTime(ms(sess.ExpiresAt))
	return nil
}

// FindAdminSession returns the admin of the live session whose token
// hashes to tokenHash, with the session. Returns EUnauthorized if there is
// none or it has expired.
func (s *AdminService) FindAdminSession(ctx context.Context, tokenHash []byte) (*foyer.Admin, *foyer.AdminSession, error) {
	if len(tokenHash) == 0 {
		return nil, nil, errAdminSessionInvalid()
	}
	var (
		sess             foyer.AdminSession
		id               []byte
		created, expires int64
	)
	a, err := scanAdmin(s.db.queryRow(ctx, `SELECT `+adminColumns+`, s.id, s.token_hash, s.created_at, s.expires_at
FROM admin_sessions s JOIN admins a ON a.id = s.admin_id
WHERE s.token_hash = ? AND s.expires_at > ?`, tokenHash, ms(s.db.now())), &id, &sess.TokenHash, &created, &expires)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil, errAdminSessionInvalid()
	}
	if err != nil {
		return nil, nil, translate("find admin session", err)
	}
	sess.ID, sess.AdminID = idString(id), a.ID
	sess.CreatedAt, sess.ExpiresAt = msTime(created), msTime(expires)
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
	return s.db.write(ctx, func(tx *Tx) error {
		res, err := tx.exec(ctx, `DELETE FROM admin_sessions WHERE token_hash = ?`, tokenHash)
		if err != nil {
			return translate("delete admin session", err)
		}
		return expectOne(res, "Admin session not found.")
	})
}
