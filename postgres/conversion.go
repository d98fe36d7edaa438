package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/foyerhq/foyer"
)

var _ foyer.ConversionService = (*ConversionService)(nil)

// ConversionService implements foyer.ConversionService.
type ConversionService struct {
	db *DB
}

// NewConversionService returns a ConversionService on db.
func NewConversionService(db *DB) *ConversionService { return &ConversionService{db: db} }

// emailTaken is an SQL expression, true when an account has the email $N
// as its login identifier; it reads the unique index users_email.
func emailTaken(param string) string {
	return `EXISTS (SELECT 1 FROM users WHERE email = ` + param + `)`
}

// RequestConversion stores req as the user's only conversion request,
// killing the link of any earlier one and its unsent mail, and queues one
// mail: MailConversion with {"token": req.Token} when no account has the
// address, or MailConversionExisting to the owner (without the token) when
// one does. The rows written for the requesting user are the same either
// way. Records user.conversion.requested and counts the request. The
// user, its row version and whether the address is taken are read in one
// statement; the request, the mail, the user's new version, the event and
// the count are written in one statement guarded by that row version. Returns ENotFound, EConflict if
// the user is not anonymous, or EInvalid for an address that is not
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
	return s.db.readModifyWrite(ctx, "request conversion", func(q querier, lock string) (bool, error) {
		var (
			xmin  uint32
			taken bool
		)
		u, err := scanUser(q.QueryRow(ctx, `SELECT `+userColumns+`, u.xmin, `+emailTaken("$2")+`
FROM `+userFrom+` WHERE u.id = $1`+lock, uid, req.Email), &xmin, &taken)
		if errors.Is(err, pgx.ErrNoRows) {
			return false, foyer.Errorf(foyer.ENotFound, "User not found.")
		}
		if err != nil {
			return false, translate("find user", err)
		}
		if !u.Anonymous {
			return false, foyer.Errorf(foyer.EConflict, "The user is already registered.")
		}
		now := s.db.now()
		kind, data := foyer.MailConversion, []byte(nil)
		if taken {
			kind, data = foyer.MailConversionExisting, []byte(`{}`)
		} else if data, err = json.Marshal(map[string]string{"token": req.Token}); err != nil {
			return false, err
		}
		u.PendingEmail = req.Email
		u.Version++
		u.UpdatedAt = now
		ev, err := s.db.userEvent(now, foyer.EventUserConversionRequested, u, nil)
		if err != nil {
			return false, err
		}
		tag, err := q.Exec(ctx, `WITH u AS (
	UPDATE users SET version = version + 1, updated_at = $3 WHERE id = $1 AND xmin = $2 RETURNING id
), c AS (
	INSERT INTO conversions (user_id, email, token_hash, expires_at, created_at)
	SELECT u.id, $4, $5, $6, $3 FROM u
	ON CONFLICT (user_id) DO UPDATE SET email = excluded.email, token_hash = excluded.token_hash,
		expires_at = excluded.expires_at, created_at = excluded.created_at
), dm AS (
	`+deleteQueuedMail(foyer.MailConversion, foyer.MailConversionExisting)+`
), m AS (
	INSERT INTO mail (id, kind, to_address, user_id, data, created_at, next_attempt_at)
	SELECT $7, $8, $4, u.id, $9, $3, $3 FROM u
), `+countOne("rc", "u", foyer.MetricConversionRequested, "$3")+`
INSERT INTO events (id, type, user_id, created_at, data) SELECT $10, $11, u.id, $3, $12 FROM u`,
			uid, xmin, now, req.Email, req.TokenHash, msTime(req.ExpiresAt),
			s.db.newID(now), kind, data,
			ev.id, ev.typ, ev.data)
		if err != nil {
			return false, translate("request conversion", err)
		}
		return tag.RowsAffected() == 1, nil
	})
}

// CompleteConversion redeems the conversion link whose token hashes to
// tokenHash. The request must exist (a newer request or a completed
// conversion deleted the older ones), be unexpired and belong to a user who
// is still anonymous; the address must still be free. Then, in one
// statement, the user becomes registered with the verified address and
// passwordHash, its epoch increases, its conversion and authorization
// requests are deleted and user.converted and user.email.verified are
// recorded; and when sess names
// the converted user, the same statement stores sess as its session and
// records user.login.success, as CreateSession does. Returns
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
		out    *foyer.User
		stored *foyer.Session
	)
	err := s.db.readModifyWrite(ctx, "complete conversion", func(q querier, lock string) (bool, error) {
		var (
			xmin    uint32
			expires time.Time
			taken   bool
		)
		u, err := scanUser(q.QueryRow(ctx, `SELECT `+userColumns+`, u.xmin, c.expires_at, `+emailTaken("c.email")+`
FROM conversions c JOIN users u ON u.id = c.user_id WHERE c.token_hash = $1`+lock, tokenHash), &xmin, &expires, &taken)
		if errors.Is(err, pgx.ErrNoRows) {
			return false, foyer.Errorf(foyer.ETokenInvalid, "The link is not valid.")
		}
		if err != nil {
			return false, translate("find conversion request", err)
		}
		now := s.db.now()
		if !expires.After(now) || !u.Anonymous {
			return false, foyer.Errorf(foyer.ETokenInvalid, "The link is not valid.")
		}
		if taken {
			return false, foyer.Errorf(foyer.EIdentifierTaken, "Another account already uses this address.")
		}
		var login *foyer.Session
		if sess != nil && sess.UserID == u.ID {
			login = sess
		}
		applied, ns, err := convertUser(ctx, s.db, q, u, xmin, now, u.PendingEmail, passwordHash, "", login)
		out, stored = u, nil
		if ns != nil {
			stored = &ns.s
		}
		return applied, err
	})
	if err != nil {
		return nil, err
	}
	if stored != nil {
		*sess = *stored
	}
	return out, nil
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
	var out *foyer.User
	err := s.db.readModifyWrite(ctx, "convert user", func(q querier, lock string) (bool, error) {
		var (
			xmin  uint32
			taken bool
		)
		u, err := scanUser(q.QueryRow(ctx, `SELECT `+userColumns+`, u.xmin, `+emailTaken("$2")+`
FROM `+userFrom+` WHERE u.id = $1`+lock, uid, email), &xmin, &taken)
		if errors.Is(err, pgx.ErrNoRows) {
			return false, foyer.Errorf(foyer.ENotFound, "User not found.")
		}
		if err != nil {
			return false, translate("find user", err)
		}
		if !u.Anonymous {
			return false, foyer.Errorf(foyer.EConflict, "The user is already registered.")
		}
		if taken {
			return false, foyer.Errorf(foyer.EIdentifierTaken, "Another account already uses this address.")
		}
		applied, _, err := convertUser(ctx, s.db, q, u, xmin, s.db.now(), email, "", actor, nil)
		out = u
		return applied, err
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// checkActor refuses an admin conversion that does not name who made it.
func checkActor(actor string) error {
	if actor == "" {
		return foyer.Errorf(foyer.EInvalid, "An admin conversion needs an actor.")
	}
	return checkText(actor)
}

// convertUser turns the anonymous user u, read at row version xmin, into a
// registered one with the verified email and passwordHash ("" for none),
// on the word of actor ("" for the person's own link), updating u to
// match: clears the anonymous marker, sets ConvertedAt, increases Epoch
// and Version, deletes the user's conversion requests and their unsent
// mail and the authorization requests it signed in for (an anonymous user
// cannot complete one, so this holds DESIGN §2.3 without relying on
// that), records user.converted (naming actor, if any) and
// user.email.verified and counts the conversion; with a login session, it
// also stores that session and records user.login.success, and returns the
// session as stored. All of it is one statement guarded by xmin. It
// reports whether the guard let the statement apply. Returns
// EIdentifierTaken if another account took email meanwhile; the unique
// index users_email is the last line of defence against a concurrent
// writer.
func convertUser(ctx context.Context, db *DB, q querier, u *foyer.User, xmin uint32, now time.Time, email, passwordHash, actor string, login *foyer.Session) (bool, *newSession, error) {
	uid, _ := parseID(u.ID)
	u.Anonymous = false
	u.Email = email
	u.EmailVerified = true
	u.HasPassword = passwordHash != ""
	u.PendingEmail = ""
	u.ConvertedAt = &now
	u.Epoch++
	u.Version++
	u.UpdatedAt = now
	var converted map[string]any
	if actor != "" {
		converted = map[string]any{"actor": actor}
	}
	var evs events
	for _, e := range []struct {
		typ   string
		extra map[string]any
	}{{foyer.EventUserConverted, converted}, {foyer.EventUserEmailVerified, nil}} {
		ev, err := db.userEvent(now, e.typ, u, e.extra)
		if err != nil {
			return false, nil, err
		}
		evs = append(evs, ev)
	}
	args := []any{uid, xmin, email, nullString(passwordHash), now}
	var (
		ns       *newSession
		sessions string
	)
	if login != nil {
		var err error
		if ns, err = db.newSession(now, u, login); err != nil {
			return false, nil, err
		}
		evs = append(evs, ns.ev)
		sessions = `, s AS (
	INSERT INTO sessions (id, user_id, refresh_hash, created_at, last_used_at, expires_at, user_agent, ip, app_id, scopes, auth_time)
	SELECT $9, u.id, $10, $5, $5, $11, $12, $13, $14, $15, $16 FROM u
)`
	}
	args = append(args, evs.ids(), evs.types(), evs.data())
	if ns != nil {
		args = append(args, ns.id, ns.s.RefreshHash, ns.s.ExpiresAt, nullString(ns.s.UserAgent), nullString(ns.s.IP), ns.app, ns.scopes, ns.authTime)
	}
	tag, err := q.Exec(ctx, `WITH u AS (
	UPDATE users SET anonymous = false, email = $3, email_verified = true, password_hash = $4,
		converted_at = $5, epoch = epoch + 1, version = version + 1, updated_at = $5
	WHERE id = $1 AND xmin = $2 AND anonymous
	RETURNING id
), c AS (
	DELETE FROM conversions WHERE user_id = ANY (ARRAY(SELECT id FROM u))
), ar AS (
	DELETE FROM auth_requests WHERE user_id = ANY (ARRAY(SELECT id FROM u))
), dm AS (
	`+deleteQueuedMail(foyer.MailConversion, foyer.MailConversionExisting)+`
)`+sessions+`, `+countOne("rc", "u", foyer.MetricConverted, "$5")+`
INSERT INTO events (id, type, user_id, created_at, data)
SELECT e.id, e.type, u.id, $5, e.data FROM u, unnest($6::uuid[], $7::text[], $8::bytea[]) AS e (id, type, data)`, args...)
	if err != nil {
		if isUnique(err, "users_email") {
			return false, nil, &foyer.Error{Code: foyer.EIdentifierTaken, Message: "Another account already uses this address.", Err: err}
		}
		if sessionAppMissing(err) {
			return false, nil, errAppNotFound()
		}
		return false, nil, translate("convert user", err)
	}
	return tag.RowsAffected() > 0, ns, nil
}
