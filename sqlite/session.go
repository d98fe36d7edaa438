package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/foyerhq/foyer"
)

var _ foyer.SessionService = (*SessionService)(nil)

// SessionService implements foyer.SessionService.
type SessionService struct {
	db *DB
}

// NewSessionService returns a SessionService on db.
func NewSessionService(db *DB) *SessionService { return &SessionService{db: db} }

const sessionColumns = `s.id, s.user_id, s.refresh_hash, s.created_at, s.last_used_at, s.expires_at, s.user_agent, s.ip, s.app_id, s.scopes, s.auth_time`

func scanSession(row interface{ Scan(...any) error }) (*foyer.Session, error) {
	var (
		s                      foyer.Session
		id, userID, appID      []byte
		created, used, expires int64
		agent, ip, scopes      sql.NullString
		authTime               sql.NullInt64
	)
	if err := row.Scan(&id, &userID, &s.RefreshHash, &created, &used, &expires, &agent, &ip, &appID, &scopes, &authTime); err != nil {
		return nil, err
	}
	s.ID, s.UserID = idString(id), idString(userID)
	s.CreatedAt, s.LastUsedAt, s.ExpiresAt = msTime(created), msTime(used), msTime(expires)
	s.UserAgent, s.IP = agent.String, ip.String
	if appID != nil {
		s.AppID = idString(appID)
	}
	if scopes.Valid {
		if err := json.Unmarshal([]byte(scopes.String), &s.Scopes); err != nil {
			return nil, fmt.Errorf("session scopes: %w", err)
		}
	}
	s.AuthTime = s.CreatedAt
	if authTime.Valid {
		s.AuthTime = msTime(authTime.Int64)
	}
	return &s, nil
}

// sessionApp is the app_id of Foyer's own sessions (NULL) when appID is
// "", or the stored id of appID. ok is false if appID names no app.
func sessionApp(appID string) (v any, ok bool) {
	if appID == "" {
		return nil, true
	}
	id, ok := parseID(appID)
	if !ok {
		return nil, false
	}
	return id[:], true
}

// sessionAppID is the AppID of a session whose app_id is app.
func sessionAppID(app any) string {
	if b, ok := app.([]byte); ok {
		return idString(b)
	}
	return ""
}

// nullStrings stores an empty list as NULL and any other as a JSON array.
func nullStrings(v []string) (any, error) {
	if len(v) == 0 {
		return nil, nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	return string(b), nil
}

func errSessionInvalid() error {
	return foyer.Errorf(foyer.EUnauthorized, "The session is not valid.")
}

// CreateSession stores s for a registered user, setting ID, CreatedAt and
// LastUsedAt (and AuthTime to CreatedAt when it is zero), and records
// user.login.success with the session id. The user agent and address are
// stored through foyer.CleanText. Returns ENotFound if the user or the
// session's app does not exist, EConflict if the user is anonymous or the
// refresh hash is in use, or EInvalid without a refresh hash.
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
	if _, ok := sessionApp(sess.AppID); !ok {
		return errAppNotFound()
	}
	return checkText(sess.Scopes...)
}

// insertSession stores sess for the registered user u and records
// user.login.success with the session id. It sets the session's ID,
// UserID, times and cleaned user agent and address to what it stored.
// Returns ENotFound if the session's app does not exist, EConflict if the
// refresh hash is in use.
func insertSession(ctx context.Context, tx *Tx, u *foyer.User, sess *foyer.Session) error {
	uid, _ := parseID(u.ID)
	app, ok := sessionApp(sess.AppID)
	if !ok {
		return errAppNotFound()
	}
	if app != nil {
		var one int
		err := tx.queryRow(ctx, `SELECT 1 FROM apps WHERE id = ?`, app).Scan(&one)
		if errors.Is(err, sql.ErrNoRows) {
			return errAppNotFound()
		}
		if err != nil {
			return translate("find app", err)
		}
	}
	scopes, err := nullStrings(sess.Scopes)
	if err != nil {
		return fmt.Errorf("create session: %w", err)
	}
	var authTime any
	if !sess.AuthTime.IsZero() {
		authTime = ms(sess.AuthTime)
	}
	id := tx.db.newID(tx.now)
	agent, ip := foyer.CleanText(sess.UserAgent), foyer.CleanText(sess.IP)
	if _, err := tx.exec(ctx, `INSERT INTO sessions (id, user_id, refresh_hash, created_at, last_used_at, expires_at, user_agent, ip, app_id, scopes, auth_time)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, id[:], uid[:], sess.RefreshHash, ms(tx.now), ms(tx.now), ms(sess.ExpiresAt),
		nullString(agent), nullString(ip), app, scopes, authTime); err != nil {
		return translate("create session", err)
	}
	if err := insertUserEvent(ctx, tx, foyer.EventUserLoginSuccess, u, foyer.LoginEventData(id.String(), sess.AppID)); err != nil {
		return err
	}
	sess.ID, sess.UserID = id.String(), u.ID
	sess.CreatedAt, sess.LastUsedAt = tx.now, tx.now
	sess.ExpiresAt = msTime(ms(sess.ExpiresAt))
	sess.UserAgent, sess.IP = agent, ip
	if authTime != nil {
		sess.AuthTime = msTime(ms(sess.AuthTime))
	} else {
		sess.AuthTime = tx.now
	}
	if len(sess.Scopes) == 0 {
		sess.Scopes = nil
	}
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

// FindSession returns the live session sessionID of userID, by its
// primary key. Returns EUnauthorized if it is gone, expired or another
// user's.
func (s *SessionService) FindSession(ctx context.Context, userID, sessionID string) (*foyer.Session, error) {
	uid, ok1 := parseID(userID)
	sid, ok2 := parseID(sessionID)
	if !ok1 || !ok2 {
		return nil, errSessionInvalid()
	}
	sess, err := scanSession(s.db.queryRow(ctx, `SELECT `+sessionColumns+` FROM sessions s WHERE s.id = ? AND s.user_id = ? AND s.expires_at > ?`, sid[:], uid[:], ms(s.db.now())))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, errSessionInvalid()
	}
	if err != nil {
		return nil, translate("find session", err)
	}
	return sess, nil
}

// RotateSession replaces the refresh token oldHash of a live session of
// appID ("" for Foyer's own sessions) with newHash and keeps oldHash as
// the previous one. Presenting a previous token again is reuse: the
// session is deleted (and stays deleted) and EUnauthorized is returned.
// Unknown or expired tokens, and tokens of another app's session, give
// EUnauthorized and change nothing; a newHash already in use gives
// EConflict.
func (s *SessionService) RotateSession(ctx context.Context, appID string, oldHash, newHash []byte) (*foyer.Session, *foyer.User, error) {
	app, ok := sessionApp(appID)
	if len(oldHash) == 0 || len(newHash) == 0 || !ok {
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
			return detectReuse(ctx, tx, app, oldHash)
		}
		if err != nil {
			return translate("find session", err)
		}
		if sess.Expired(tx.now) || sess.AppID != sessionAppID(app) {
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

// detectReuse deletes the session of app (nil for Foyer's own) whose
// previous refresh token is hash, if any, and returns EUnauthorized either
// way; the deletion commits.
func detectReuse(ctx context.Context, tx *Tx, app any, hash []byte) error {
	res, err := tx.exec(ctx, `DELETE FROM sessions WHERE previous_refresh_hash = ? AND app_id IS ?`, hash, app)
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

// FindSessionByRefresh returns the live session whose current refresh
// token hash is hash, without rotating it. Returns EUnauthorized.
func (s *SessionService) FindSessionByRefresh(ctx context.Context, hash []byte) (*foyer.Session, error) {
	if len(hash) == 0 {
		return nil, errSessionInvalid()
	}
	sess, err := scanSession(s.db.queryRow(ctx, `SELECT `+sessionColumns+` FROM sessions s WHERE s.refresh_hash = ? AND s.expires_at > ?`,
		hash, ms(s.db.now())))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, errSessionInvalid()
	}
	if err != nil {
		return nil, translate("find session", err)
	}
	return sess, nil
}

// DeleteAppSessions ends every session of userID signed in through appID,
// and returns how many it ended.
func (s *SessionService) DeleteAppSessions(ctx context.Context, userID, appID string) (int, error) {
	uid, ok1 := parseID(userID)
	aid, ok2 := parseID(appID)
	if !ok1 || !ok2 {
		return 0, nil
	}
	var n int64
	err := s.db.write(ctx, func(tx *Tx) error {
		res, err := tx.exec(ctx, `DELETE FROM sessions WHERE app_id = ? AND user_id = ?`, aid[:], uid[:])
		if err != nil {
			return translate("delete app sessions", err)
		}
		if n, err = res.RowsAffected(); err != nil {
			return translate("delete app sessions", err)
		}
		_, err = tx.exec(ctx, `DELETE FROM auth_requests WHERE app_id = ? AND user_id = ?`, aid[:], uid[:])
		return translate("delete app sessions", err)
	})
	if err != nil {
		return 0, err
	}
	return int(n), nil
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
