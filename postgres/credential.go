package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/foyerhq/foyer"
)

var _ foyer.CredentialService = (*CredentialService)(nil)

// CredentialService implements foyer.CredentialService.
type CredentialService struct {
	db *DB
}

// NewCredentialService returns a CredentialService on db.
func NewCredentialService(db *DB) *CredentialService { return &CredentialService{db: db} }

// registered is the condition that makes u a registered user whose
// verified login identifier is $1. A pending address is not a login
// identifier (it lives in conversions), so it never matches.
const registered = `u.email = $1 AND NOT u.anonymous AND u.email_verified`

// findRegistered returns the registered user whose verified login
// identifier is email, with its password hash and its row version; lock
// is "" or a locking clause. Returns ENotFound.
func findRegistered(ctx context.Context, q querier, email, lock string) (*foyer.User, string, uint32, error) {
	var (
		hash *string
		xmin uint32
	)
	u, err := scanUser(q.QueryRow(ctx, `SELECT `+userColumns+`, u.password_hash, u.xmin FROM `+userFrom+`
WHERE `+registered+lock, email), &hash, &xmin)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, "", 0, foyer.Errorf(foyer.ENotFound, "User not found.")
	}
	if err != nil {
		return nil, "", 0, translate("find credential", err)
	}
	if hash == nil {
		return u, "", xmin, nil
	}
	return u, *hash, xmin, nil
}

// FindCredential returns the registered user whose verified email is
// email and its password hash ("" if none). Returns ENotFound.
func (s *CredentialService) FindCredential(ctx context.Context, email string) (*foyer.User, string, error) {
	u, hash, _, err := findRegistered(ctx, s.db.pool, email, "")
	return u, hash, err
}

// RequestPasswordReset stores the reset link of the registered user with
// the verified email, replacing any earlier link and its unsent mail, and
// queues MailPasswordReset with {"token": req.Token}. For any other
// address it changes nothing, and says nothing about which case it was.
// It is one batch: the first statement locks the user, stores the link
// and queues the mail; the second, which then sees every earlier request
// committed, deletes the mail of the links this one replaced.
func (s *CredentialService) RequestPasswordReset(ctx context.Context, req foyer.PasswordResetRequest) error {
	if len(req.TokenHash) == 0 || req.Token == "" {
		return foyer.Errorf(foyer.EInvalid, "A password reset request needs a token.")
	}
	data, err := json.Marshal(map[string]string{"token": req.Token})
	if err != nil {
		return err
	}
	now := s.db.now()
	mailID := s.db.newID(now)
	b := &pgx.Batch{}
	b.Queue(`WITH u AS (
	SELECT u.id FROM users u WHERE `+registered+` FOR NO KEY UPDATE
), r AS (
	INSERT INTO password_resets (user_id, token_hash, expires_at, created_at) SELECT u.id, $2, $3, $4 FROM u
	ON CONFLICT (user_id) DO UPDATE SET token_hash = excluded.token_hash, expires_at = excluded.expires_at,
		created_at = excluded.created_at
)
INSERT INTO mail (id, kind, to_address, user_id, data, created_at, next_attempt_at)
SELECT $5, $6, $1, u.id, $7, $4, $4 FROM u`,
		req.Email, req.TokenHash, msTime(req.ExpiresAt), now, mailID, foyer.MailPasswordReset, data)
	b.Queue(`WITH u AS (SELECT user_id AS id FROM mail WHERE id = $1)
`+deleteQueuedMail(foyer.MailPasswordReset)+` AND id <> $1`, mailID)
	_, err = execBatch(ctx, s.db.pool, "request password reset", b)
	return err
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
	var out *foyer.User
	err := s.db.readModifyWrite(ctx, "reset password", func(q querier, lock string) (bool, error) {
		var (
			xmin    uint32
			expires time.Time
		)
		u, err := scanUser(q.QueryRow(ctx, `SELECT `+userColumns+`, u.xmin, r.expires_at
FROM password_resets r JOIN `+userFrom+` ON u.id = r.user_id WHERE r.token_hash = $1`+lock, tokenHash), &xmin, &expires)
		if errors.Is(err, pgx.ErrNoRows) {
			return false, foyer.Errorf(foyer.ETokenInvalid, "The link is not valid.")
		}
		if err != nil {
			return false, translate("find password reset", err)
		}
		now := s.db.now()
		if !expires.After(now) || u.Anonymous {
			return false, foyer.Errorf(foyer.ETokenInvalid, "The link is not valid.")
		}
		uid, _ := parseID(u.ID)
		u.HasPassword = true
		u.Epoch++
		u.Version++
		u.UpdatedAt = now
		ev, err := s.db.userEvent(now, foyer.EventUserPasswordReset, u, nil)
		if err != nil {
			return false, err
		}
		b := &pgx.Batch{}
		b.Queue(`WITH u AS (
	UPDATE users SET password_hash = $3, epoch = epoch + 1, version = version + 1, updated_at = $4
	WHERE id = $1 AND xmin = $2 AND NOT anonymous
	RETURNING id
), r AS (
	DELETE FROM password_resets WHERE user_id = ANY (ARRAY(SELECT id FROM u))
)
INSERT INTO events (id, type, user_id, created_at, data) SELECT $5, $6, u.id, $4, $7 FROM u`,
			uid, xmin, passwordHash, now, ev.id, ev.typ, ev.data)
		b.Queue(deleteSessionsAfter, uid, ev.id)
		tags, err := execBatch(ctx, q, "reset password", b)
		if err != nil {
			return false, err
		}
		out = u
		return tags[0].RowsAffected() == 1, nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// deleteSessionsAfter deletes the sessions of user $1, and the
// authorization requests the user signed in for with their codes, if the
// event $2 was recorded, that is if the statement before it in the same
// batch applied. Running after that statement took the user's row, it
// sees every session and completed request committed before; a session
// created or a request completed later had to wait for the row and then
// found its new version (see CreateSession and CompleteAuthRequest).
const deleteSessionsAfter = `WITH s AS (
	DELETE FROM sessions WHERE user_id = $1 AND EXISTS (SELECT 1 FROM events WHERE id = $2)
)
DELETE FROM auth_requests WHERE user_id = $1 AND EXISTS (SELECT 1 FROM events WHERE id = $2)`

// RecordLoginFailure records user.login.failed for the registered account
// with email, if there is one. The event is written only while the user
// row still exists, with the version that was read.
func (s *CredentialService) RecordLoginFailure(ctx context.Context, email string) error {
	return s.db.readModifyWrite(ctx, "record login failure", func(q querier, lock string) (bool, error) {
		u, _, xmin, err := findRegistered(ctx, q, email, lock)
		if foyer.ErrorCode(err) == foyer.ENotFound {
			return true, nil
		}
		if err != nil {
			return false, err
		}
		now := s.db.now()
		ev, err := s.db.userEvent(now, foyer.EventUserLoginFailed, u, nil)
		if err != nil {
			return false, err
		}
		uid, _ := parseID(u.ID)
		tag, err := q.Exec(ctx, `WITH u AS (
	SELECT id FROM users WHERE id = $1 AND xmin = $2 FOR KEY SHARE
)
INSERT INTO events (id, type, user_id, created_at, data) SELECT $3, $4, u.id, $5, $6 FROM u`,
			uid, xmin, ev.id, ev.typ, now, ev.data)
		if err != nil {
			return false, translate("record login failure", err)
		}
		return tag.RowsAffected() == 1, nil
	})
}
