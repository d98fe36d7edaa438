package sqlite

import (
	"context"
	"database/sql"
	"errors"

	"github.com/foyerhq/foyer"
)

var _ foyer.SessionService = (*SessionService)(nil)

// SessionService implements foyer.SessionService.
type SessionService struct {
	db *DB
}

// NewSessionService returns a SessionService on db.
func NewSessionService(db *DB) *SessionService { return &SessionService{db: db} }

const sessionColumns = `s.id, s.user_id, s.refresh_hash, s.created_at, s.last_used_at, s.expires_at, s.user_agent, s.ip`

func scanSession(row interface{ Scan(...any) error }) (*foyer.Session, error) {
	var (
		s                      foyer.Session
		id, userID             []byte
		created, used, expires int64
		agent, ip              sql.NullString
	)
	if err := row.Scan(&id, &userID, &s.RefreshHash, &created, &used, &expires, &agent, &ip); err != nil {
		return nil, err
	}
	s.ID, s.UserID = idString(id), idString(userID)
	s.CreatedAt, s.LastUsedAt, s.ExpiresAt = msTime(created), msTime(used), msTime(expires)
	s.UserAgent, s.IP = agent.String, ip.String
	return &s, nil
}

func errSessionInvalid() error {
	return foyer.Errorf(foyer.EUnauthorized, "The session is not valid.")
}

// CreateSession stores s for a registered user, setting ID, CreatedAt and
// LastUsedAt, and records user.login.success with the session id. The
// user agent and address are stored through foyer.CleanText. Returns
// ENotFound, EConflict if the user is anonymous or the refresh hash is in
// use, or EInvalid without a refresh hash.
func (s *SessionService) CreateSession(ctx context.Context, sess *foyer.Session) (*foyer.User, error) {
	uid, ok := parseID(sess.UserID)
	if !ok {
		return nil, foyer.Errorf(foyer.ENotFound, "User not found.")
	}
	if err := checkSession(sess); err != nil {
		return nil, err
	}
	var (
		u      *foyer.User
		stored foyer.Session
	)
	err := s.db.write(ctx, func(tx *Tx) error {
		var err error
		if u, err = findUserByID(ctx, tx, uid); err != nil {
			return err
		}
		if u.Anonymous {
			return foyer.Errorf(foyer.EConflict, "An anonymous user has no sessions.")
		}
		stored = *sess
		return insertSession(ctx, tx, u, &stored)
	})
	if err != nil {
		return nil, err
	}
	*sess = stored
	return u, nil
}

// checkSession refuses a session that cannot be stored.
func checkSession(sess *foyer.Session) error {
	if len(sess.RefreshHash) == 0 {
		return foyer.Errorf(foyer.EInvalid, "A session needs a refresh token.")
	}
	return nil
}

// insertSession stores sess for the registered user u and records
// user.login.success with the session id. It sets the session's ID,
// UserID, times and cleaned user agent and address to what it stored.
// Returns EConflict if the refresh hash is in use.
func insertSession(ctx context.Context, tx *Tx, u *foyer.User, sess *foyer.Session) error {
	uid, _ := parseID(u.ID)
	id := tx.db.newID(tx.now)
	agent, ip := foyer.CleanText(sess.UserAgent), foyer.CleanText(sess.IP)
	if _, err := tx.exec(ctx, `INSERT INTO sessions (id, user_id, refresh_hash, created_at, last_used_at, expires_at, user_agent, ip)
VALUES (?, ?, ?, ?, ?, ?, ?, ?)`, id[:], uid[:], sess.RefreshHash, ms(tx.now), ms(tx.now), ms(sess.ExpiresAt),
		nullString(agent), nullString(ip)); err != nil {
		return translate("create session", err)
	}
	if err := insertUserEvent(ctx, tx, foyer.EventUserLoginSuccess, u, map[string]any{"session_id": id.String()}); err != nil {
		return err
	}
	sess.ID, sess.UserID = id.String(), u.ID
	sess.CreatedAt, sess.LastUsedAt = tx.now, tx.now
	sess.ExpiresAt = msTime(ms(sess.ExpiresAt))
	sess.UserAgent, sess.IP = agent, ip
	return nil
}

// FindSessionUser returns the user of the live session sessionID, which
// must belong to userID. Returns EUnauthorized otherwise.
func (s *SessionService) FindSessionUser(ctx context.Context, userID, sessionID string) (*foyer.User, error) {
	uid, ok1 := parseID(userID)
	sid, ok2 := parseID(sessionID)
	if !ok1 || !ok2 {
		return nil, errSessionInvalid()
	}
	u, err := scanUser(s.db.queryRow(ctx, `SELECT `+userColumns+` FROM sessions s
JOIN users u ON u.id = s.user_id LEFT JOIN conversions c ON c.user_id = u.id
WHERE s.id = ? AND s.user_id = ? AND s.expires_at > ?`, sid[:], uid[:], ms(s.db.now())))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, errSessionInvalid()
	}
	if err != nil {
		return nil, translate("find session", err)
	}
	return u, nil
}

// RotateSession replaces the refresh token oldHash of a live session with
// newHash and keeps oldHash as the previous one. Presenting a previous
// token again is reuse: the session is deleted (and stays deleted) and
// EUnauthorized is returned. Unknown or expired tokens give EUnauthorized;
// a newHash already in use gives EConflict.
func (s *SessionService) RotateSession(ctx context.Context, oldHash, newHash []byte) (*foyer.Session, *foyer.User, error) {
	if len(oldHash) == 0 || len(newHash) == 0 {
		return nil, nil, errSessionInvalid()
	}
	var (
		sess *foyer.Session
		u    *foyer.User
	)
	err := s.db.write(ctx, func(tx *Tx) error {
		var err error
		sess, err = scanSession(tx.queryRow(ctx, `SELECT `+sessionColumns+` FROM sessions s WHERE s.refresh_hash = ?`, oldHash))
		if errors.Is(err, sql.ErrNoRows) {
			return detectReuse(ctx, tx, oldHash)
		}
		if err != nil {
			return translate("find session", err)
		}
		if sess.Expired(tx.now) {
			return errSessionInvalid()
		}
		sid, _ := parseID(sess.ID)
		if _, err := tx.exec(ctx, `UPDATE sessions SET previous_refresh_hash = refresh_hash, refresh_hash = ?, last_used_at = ? WHERE id = ?`,
			newHash, ms(tx.now), sid[:]); err != nil {
			return translate("rotate session", err)
		}
		sess.RefreshHash = newHash
		sess.LastUsedAt = tx.now
		uid, _ := parseID(sess.UserID)
		u, err = findUserByID(ctx, tx, uid)
		return err
	})
	if err != nil {
		return nil, nil, err
	}
	return sess, u, nil
}

// detectReuse deletes the session whose previous refresh token is hash, if
// any, and returns EUnauthorized either way; the deletion commits.
func detectReuse(ctx context.Context, tx *Tx, hash []byte) error {
	res, err := tx.exec(ctx, `DELETE FROM sessions WHERE previous_refresh_hash = ?`, hash)
	if err != nil {
		return translate("revoke reused session", err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return translate("revoke reused session", err)
	} else if n > 0 {
		return commitAnyway(foyer.Errorf(foyer.EUnauthorized, "The refresh token was used before; the session is revoked."))
	}
	return errSessionInvalid()
}

// FindSessions returns the live sessions of a user, newest first.
func (s *SessionService) FindSessions(ctx context.Context, userID string) ([]*foyer.Session, error) {
	out := []*foyer.Session{}
	uid, ok := parseID(userID)
	if !ok {
		return out, nil
	}
	rows, err := s.db.query(ctx, `SELECT `+sessionColumns+` FROM sessions s WHERE s.user_id = ? AND s.expires_at > ? ORDER BY s.id DESC`,
		uid[:], ms(s.db.now()))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		sess, err := scanSession(rows)
		if err != nil {
			return nil, translate("find sessions", err)
		}
		out = append(out, sess)
	}
	if err := rows.Err(); err != nil {
		return nil, translate("find sessions", err)
	}
	return out, nil
}

// DeleteSession ends one session. Returns ENotFound.
func (s *SessionService) DeleteSession(ctx context.Context, id string) error {
	sid, ok := parseID(id)
	if !ok {
		return foyer.Errorf(foyer.ENotFound, "Session not found.")
	}
	return s.db.write(ctx, func(tx *Tx) error {
		res, err := tx.exec(ctx, `DELETE FROM sessions WHERE id = ?`, sid[:])
		if err != nil {
			return translate("delete session", err)
		}
		return expectOne(res, "Session not found.")
	})
}
