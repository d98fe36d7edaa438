package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"

	"github.com/foyerhq/foyer"
)

var _ foyer.ConversionService = (*ConversionService)(nil)

// ConversionService implements foyer.ConversionService.
type ConversionService struct {
	db *DB
}

// NewConversionService returns a ConversionService on db.
func NewConversionService(db *DB) *ConversionService { return &ConversionService{db: db} }

// RequestConversion stores req as the user's only conversion request,
// killing the link of any earlier one and its unsent mail, and queues one
// mail: MailConversion with {"token": req.Token} when no account has the
// address, or MailConversionExisting to the owner (without the token) when
// one does. The rows written for the requesting user are the same either
// way. Records user.conversion.requested and counts the request. Returns
// ENotFound, EConflict if the user is not anonymous, or EInvalid for an address that is not
// normalised or a missing token.
func (s *ConversionService) RequestConversion(ctx context.Context, req foyer.ConversionRequest) error {
	uid, ok := parseID(req.UserID)
	if !ok {
		return foyer.Errorf(foyer.ENotFound, "User not found.")
	}
	if err := checkEmail(req.Email); err != nil {
		return err
	}
	if len(req.TokenHash) == 0 || req.Token == "" {
		return foyer.Errorf(foyer.EInvalid, "A conversion request needs a token.")
	}
	return s.db.write(ctx, func(tx *Tx) error {
		u, err := findUserByID(ctx, tx, uid)
		if err != nil {
			return err
		}
		if !u.Anonymous {
			return foyer.Errorf(foyer.EConflict, "The user is already registered.")
		}
		if _, err := tx.exec(ctx, `INSERT INTO conversions (user_id, email, token_hash, expires_at, created_at) VALUES (?, ?, ?, ?, ?)
	ON CONFLICT (user_id) DO UPDATE SET email = excluded.email, token_hash = excluded.token_hash,
		expires_at = excluded.expires_at, created_at = excluded.created_at`,
			uid[:], req.Email, req.TokenHash, ms(req.ExpiresAt), ms(tx.now)); err != nil {
			return translate("store conversion request", err)
		}
		if err := deleteQueuedMail(ctx, tx, uid[:], foyer.MailConversion, foyer.MailConversionExisting); err != nil {
			return err
		}
		taken, err := emailTaken(ctx, tx, req.Email)
		if err != nil {
			return err
		}
		if taken {
			err = queueMail(ctx, tx, foyer.MailConversionExisting, req.Email, uid[:], json.RawMessage(`{}`))
		} else {
			var data []byte
			data, err = json.Marshal(map[string]string{"token": req.Token})
			if err == nil {
				err = queueMail(ctx, tx, foyer.MailConversion, req.Email, uid[:], data)
			}
		}
		if err != nil {
			return err
		}
		if _, err := tx.exec(ctx, `UPDATE users SET version = version + 1, updated_at = ? WHERE id = ?`, ms(tx.now), uid[:]); err != nil {
			return translate("update user", err)
		}
		u.PendingEmail = req.Email
		u.Version++
		u.UpdatedAt = tx.now
		if err := addCounts(ctx, tx, 1, counter{utcDay(tx.now), foyer.MetricConversionRequested}); err != nil {
			return err
		}
		return insertUserEvent(ctx, tx, foyer.EventUserConversionRequested, u, nil)
	})
}

// emailTaken reports whether an account has email as its login identifier.
func emailTaken(ctx context.Context, q querier, email string) (bool, error) {
	var n int
	if err := q.queryRow(ctx, `SELECT count(*) FROM users WHERE email = ?`, email).Scan(&n); err != nil {
		return false, translate("check email", err)
	}
	return n > 0, nil
}

// CompleteConversion redeems the conversion link whose token hashes to
// tokenHash. The request must exist (a newer request or a completed
// conversion deleted the older ones), be unexpired and belong to a user who
// is still anonymous; the address must still be free. Then, in the same
// transaction, the user becomes registered with the verified address and
// passwordHash, its epoch increases, its conversion and authorization
// requests are deleted and user.converted and user.email.verified are
// recorded; and when sess names
// the converted user, sess is stored as its session and
// user.login.success is recorded, as CreateSession does. Returns
// ETokenInvalid, EIdentifierTaken, EInvalid (no password hash, or a
// session without a refresh hash) or EConflict (the session's refresh hash
// is in use); on error nothing changes.
func (s *ConversionService) CompleteConversion(ctx context.Context, tokenHash []byte, passwordHash string, sess *foyer.Session) (*foyer.User, error) {
	if passwordHash == "" {
		return nil, foyer.Errorf(foyer.EInvalid, "A password is required.")
	}
	if sess != nil {
		if err := checkSession(sess); err != nil {
			return nil, err
		}
	}
	var (
		u      *foyer.User
		stored *foyer.Session
	)
	err := s.db.write(ctx, func(tx *Tx) error {
		stored = nil
		var (
			userID  []byte
			email   string
			expires int64
		)
		err := tx.queryRow(ctx, `SELECT user_id, email, expires_at FROM conversions WHERE token_hash = ?`, tokenHash).Scan(&userID, &email, &expires)
		if errors.Is(err, sql.ErrNoRows) {
			return foyer.Errorf(foyer.ETokenInvalid, "The link is not valid.")
		}
		if err != nil {
			return translate("find conversion request", err)
		}
		if expires <= ms(tx.now) {
			return foyer.Errorf(foyer.ETokenInvalid, "The link is not valid.")
		}
		uid, ok := parseID(idString(userID))
		if !ok {
			return foyer.Errorf(foyer.ETokenInvalid, "The link is not valid.")
		}
		u, err = findUserByID(ctx, tx, uid)
		if err != nil {
			return err
		}
		if !u.Anonymous {
			return foyer.Errorf(foyer.ETokenInvalid, "The link is not valid.")
		}
		if err := convertUser(ctx, tx, u, email, passwordHash, ""); err != nil {
			return err
		}
		if sess == nil || sess.UserID != u.ID {
			return nil
		}
		cp := *sess
		stored = &cp
		return insertSession(ctx, tx, u, stored)
	})
	if err != nil {
		return nil, err
	}
	if stored != nil {
		*sess = *stored
	}
	return u, nil
}

// ConvertUser makes the anonymous user registered with email, verified,
// and no password, on the word of actor, whom user.converted names.
// Returns ENotFound, EConflict if the user is not anonymous,
// EIdentifierTaken if the address has an account, or EInvalid if it is not
// normalised or there is no actor.
func (s *ConversionService) ConvertUser(ctx context.Context, id, email, actor string) (*foyer.User, error) {
	uid, ok := parseID(id)
	if !ok {
		return nil, foyer.Errorf(foyer.ENotFound, "User not found.")
	}
	if err := checkEmail(email); err != nil {
		return nil, err
	}
	if err := checkActor(actor); err != nil {
		return nil, err
	}
	var u *foyer.User
	err := s.db.write(ctx, func(tx *Tx) error {
		var err error
		u, err = findUserByID(ctx, tx, uid)
		if err != nil {
			return err
		}
		if !u.Anonymous {
			return foyer.Errorf(foyer.EConflict, "The user is already registered.")
		}
		return convertUser(ctx, tx, u, email, "", actor)
	})
	if err != nil {
		return nil, err
	}
	return u, nil
}

// checkActor refuses an admin conversion that does not name who made it.
func checkActor(actor string) error {
	if actor == "" {
		return foyer.Errorf(foyer.EInvalid, "An admin conversion needs an actor.")
	}
	return checkText(actor)
}

// convertUser turns the anonymous user u into a registered one with the
// verified email and passwordHash ("" for none), on the word of actor
// ("" for the person's own link), updating u to match:
// clears the anonymous marker, sets ConvertedAt, increases Epoch and
// Version, deletes the user's conversion requests and their unsent mail
// and the authorization requests it signed in for (an anonymous user
// cannot complete one, so this holds DESIGN §2.3 without relying on
// that), records user.converted (naming actor, if any) and user.email.verified
// and counts the conversion. Returns
// EIdentifierTaken if another account has email; the unique index on
// users.email is the last line of defence against a concurrent writer.
func convertUser(ctx context.Context, tx *Tx, u *foyer.User, email, passwordHash, actor string) error {
	uid, _ := parseID(u.ID)
	taken, err := emailTaken(ctx, tx, email)
	if err != nil {
		return err
	}
	if taken {
		return foyer.Errorf(foyer.EIdentifierTaken, "Another account already uses this address.")
	}
	if _, err := tx.exec(ctx, `UPDATE users SET anonymous = 0, email = ?, email_verified = 1, password_hash = ?,
	converted_at = ?, epoch = epoch + 1, version = version + 1, updated_at = ?
WHERE id = ? AND anonymous = 1`, email, nullString(passwordHash), ms(tx.now), ms(tx.now), uid[:]); err != nil {
		if isUnique(err) {
			return &foyer.Error{Code: foyer.EIdentifierTaken, Message: "Another account already uses this address.", Err: err}
		}
		return translate("convert user", err)
	}
	if _, err := tx.exec(ctx, `DELETE FROM conversions WHERE user_id = ?`, uid[:]); err != nil {
		return translate("delete conversion requests", err)
	}
	if _, err := tx.exec(ctx, `DELETE FROM auth_requests WHERE user_id = ?`, uid[:]); err != nil {
		return translate("delete authorization requests", err)
	}
	if err := deleteQueuedMail(ctx, tx, uid[:], foyer.MailConversion, foyer.MailConversionExisting); err != nil {
		return err
	}
	now := tx.now
	u.Anonymous = false
	u.Email = email
	u.EmailVerified = true
	u.HasPassword = passwordHash != ""
	u.PendingEmail = ""
	u.ConvertedAt = &now
	u.Epoch++
	u.Version++
	u.UpdatedAt = now
	if err := addCounts(ctx, tx, 1, counter{utcDay(now), foyer.MetricConverted}); err != nil {
		return err
	}
	var extra map[string]any
	if actor != "" {
		extra = map[string]any{"actor": actor}
	}
	if err := insertUserEvent(ctx, tx, foyer.EventUserConverted, u, extra); err != nil {
		return err
	}
	return insertUserEvent(ctx, tx, foyer.EventUserEmailVerified, u, nil)
}
