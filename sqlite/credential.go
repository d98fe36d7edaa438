package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"

	"github.com/google/uuid"

	"github.com/foyerhq/foyer"
)

var _ foyer.CredentialService = (*CredentialService)(nil)

// CredentialService implements foyer.CredentialService.
type CredentialService struct {
	db *DB
}

// NewCredentialService returns a CredentialService on db.
func NewCredentialService(db *DB) *CredentialService { return &CredentialService{db: db} }

// findRegistered returns the registered user whose verified login
// identifier is email, with its password hash. A pending address is not a
// login identifier (it lives in conversions), so it never matches.
// Returns ENotFound.
func findRegistered(ctx context.Context, q querier, email string) (*foyer.User, string, error) {
	var hash sql.NullString
	u, err := scanUser(q.queryRow(ctx, `SELECT `+userColumns+`, u.password_hash FROM `+userFrom+`
WHERE u.email = ? AND u.anonymous = 0 AND u.email_verified = 1`, email), &hash)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, "", foyer.Errorf(foyer.ENotFound, "User not found.")
	}
	if err != nil {
		return nil, "", translate("find credential", err)
	}
	return u, hash.String, nil
}

// FindCredential returns the registered user whose verified email is
// email and its password hash ("" if none). Returns ENotFound.
func (s *CredentialService) FindCredential(ctx context.Context, email string) (*foyer.User, string, error) {
	return findRegistered(ctx, s.db, email)
}

// RequestPasswordReset stores the reset link of the registered user with
// the verified email, replacing any earlier link and its unsent mail, and
// queues MailPasswordReset with {"token": req.Token}. For any other
// address it changes nothing, and says nothing about which case it was.
func (s *CredentialService) RequestPasswordReset(ctx context.Context, req foyer.PasswordResetRequest) error {
	if len(req.TokenHash) == 0 || req.Token == "" {
		return foyer.Errorf(foyer.EInvalid, "A password reset request needs a token.")
	}
	return s.db.write(ctx, func(tx *Tx) error {
		u, _, err := findRegistered(ctx, tx, req.Email)
		if foyer.ErrorCode(err) == foyer.ENotFound {
			return nil
		}
		if err != nil {
			return err
		}
		uid, _ := parseID(u.ID)
		if _, err := tx.exec(ctx, `INSERT INTO password_resets (user_id, token_hash, expires_at, created_at) VALUES (?, ?, ?, ?)
ON CONFLICT (user_id) DO UPDATE SET token_hash = excluded.token_hash, expires_at = excluded.expires_at,
	created_at = excluded.created_at`, uid[:], req.TokenHash, ms(req.ExpiresAt), ms(tx.now)); err != nil {
			return translate("store password reset", err)
		}
		if err := deleteQueuedMail(ctx, tx, uid[:], foyer.MailPasswordReset); err != nil {
			return err
		}
		data, err := json.Marshal(map[string]string{"token": req.Token})
		if err != nil {
			return err
		}
		return queueMail(ctx, tx, foyer.MailPasswordReset, req.Email, uid[:], data)
	})
}

// ResetPassword redeems a reset link: sets passwordHash, increases Epoch
// and Version, deletes every session, every authorization request the
// user signed in for (with its code) and every reset link of the user
// and records user.password.reset. Returns ETokenInvalid for an unknown,
// expired, used or superseded link, or EInvalid without a password hash.
func (s *CredentialService) ResetPassword(ctx context.Context, tokenHash []byte, passwordHash string) (*foyer.User, error) {
	if passwordHash == "" {
		return nil, foyer.Errorf(foyer.EInvalid, "A password is required.")
	}
	var u *foyer.User
	err := s.db.write(ctx, func(tx *Tx) error {
		var (
			userID  []byte
			expires int64
		)
		err := tx.queryRow(ctx, `SELECT user_id, expires_at FROM password_resets WHERE token_hash = ?`, tokenHash).Scan(&userID, &expires)
		if errors.Is(err, sql.ErrNoRows) {
			return foyer.Errorf(foyer.ETokenInvalid, "The link is not valid.")
		}
		if err != nil {
			return translate("find password reset", err)
		}
		if expires <= ms(tx.now) {
			return foyer.Errorf(foyer.ETokenInvalid, "The link is not valid.")
		}
		res, err := tx.exec(ctx, `UPDATE users SET password_hash = ?, epoch = epoch + 1, version = version + 1, updated_at = ?
WHERE id = ? AND anonymous = 0`, passwordHash, ms(tx.now), userID)
		if err != nil {
			return translate("reset password", err)
		}
		if n, err := res.RowsAffected(); err != nil {
			return translate("reset password", err)
		} else if n == 0 {
			return foyer.Errorf(foyer.ETokenInvalid, "The link is not valid.")
		}
		if _, err := tx.exec(ctx, `DELETE FROM sessions WHERE user_id = ?`, userID); err != nil {
			return translate("delete sessions", err)
		}
		if _, err := tx.exec(ctx, `DELETE FROM auth_requests WHERE user_id = ?`, userID); err != nil {
			return translate("delete authorization requests", err)
		}
		if _, err := tx.exec(ctx, `DELETE FROM password_resets WHERE user_id = ?`, userID); err != nil {
			return translate("delete password resets", err)
		}
		uid, err := uuid.FromBytes(userID)
		if err != nil {
			return translate("reset password", err)
		}
		if u, err = findUserByID(ctx, tx, uid); err != nil {
			return err
		}
		return insertUserEvent(ctx, tx, foyer.EventUserPasswordReset, u, nil)
	})
	if err != nil {
		return nil, err
	}
	return u, nil
}

// RecordLoginFailure records user.login.failed for the registered account
// with email, if there is one. The lookup runs on the read pool, so
// guesses at unknown addresses never take the writer.
func (s *CredentialService) RecordLoginFailure(ctx context.Context, email string) error {
	if _, _, err := findRegistered(ctx, s.db, email); foyer.ErrorCode(err) == foyer.ENotFound {
		return nil
	} else if err != nil {
		return err
	}
	return s.db.write(ctx, func(tx *Tx) error {
		u, _, err := findRegistered(ctx, tx, email)
		if foyer.ErrorCode(err) == foyer.ENotFound {
			return nil
		}
		if err != nil {
			return err
		}
		return insertUserEvent(ctx, tx, foyer.EventUserLoginFailed, u, nil)
	})
}
