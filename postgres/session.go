package postgres

import (
	"context"
	"errors"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

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

// scanSession reads one row of sessionColumns, followed by the columns
// that extra receives.
func scanSession(row pgx.Row, extra ...any) (*foyer.Session, error) {
	var (
		s                foyer.Session
		agent, ip, appID *string
		authTime         *time.Time
	)
	dest := []any{&s.ID, &s.UserID, &s.RefreshHash, &s.CreatedAt, &s.LastUsedAt, &s.ExpiresAt, &agent, &ip, &appID, &s.Scopes, &authTime}
	if err := row.Scan(append(dest, extra...)...); err != nil {
		return nil, err
	}
	if agent != nil {
		s.UserAgent = *agent
	}
	if ip != nil {
		s.IP = *ip
	}
	if appID != nil {
		s.AppID = *appID
	}
	if len(s.Scopes) == 0 {
		s.Scopes = nil
	}
	s.AuthTime = s.CreatedAt
	if authTime != nil {
		s.AuthTime = *authTime
	}
	return &s, nil
}

// sessionApp is the app_id of Foyer's own sessions (NULL) when appID is
// "", or the id of appID. ok is false if appID names no app.
func sessionApp(appID string) (id *uuid.UUID, ok bool) {
	if appID == "" {
		return nil, true
	}
	aid, ok := parseID(appID)
	if !ok {
		return nil, false
	}
	return &aid, true
}

// sessionAppMissing reports whether err is the refusal of a session whose
// app does not exist (or was deleted meanwhile), which the app's foreign
// key gives.
func sessionAppMissing(err error) bool {
	e, ok := errors.AsType[*pgconn.PgError](err)
	return ok && e.Code == codeForeignKeyViolation && e.ConstraintName == "sessions_app_id_fkey"
}

func errSessionInvalid() error {
	return foyer.Errorf(foyer.EUnauthorized, "The session is not valid.")
}

// CreateSession stores s for a registered user, setting ID, CreatedAt and
// LastUsedAt, and records user.login.success with the session id. The user
// agent and address are stored through foyer.CleanText. The
// statement that writes the session takes the user's row FOR SHARE, guarded
// by the row version read just before: a concurrent revocation or password
// reset either sees the new session and deletes it, or changes the row
// first, and then this login is retried against the new epoch. Returns
// ENotFound, EConflict if the user is anonymous or the refresh hash is in
// use, or EInvalid without a refresh hash. A session of an app that does
// not exist gives ENotFound: the app's foreign key refuses it, and holds
// the app's row until the session commits.
func (s *SessionService) CreateSession(ctx context.Context, sess *foyer.Session) (*foyer.User, error) {
	uid, ok := parseID(sess.UserID)
	if !ok {
		return nil, foyer.Errorf(foyer.ENotFound, "User not found.")
	}
	if err := checkSession(sess); err != nil {
		return nil, err
	}
	var out *foyer.User
	err := s.db.readModifyWrite(ctx, "create session", func(q querier, lock string) (bool, error) {
		u, xmin, err := findUserVersion(ctx, q, uid, lock)
		if err != nil {
			return false, err
		}
		if u.Anonymous {
			return false, foyer.Errorf(foyer.EConflict, "An anonymous user has no sessions.")
		}
		now := s.db.now()
		ns, err := s.db.newSession(now, u, sess)
		if err != nil {
			return false, err
		}
		tag, err := q.Exec(ctx, `WITH u AS (
	SELECT id FROM users WHERE id = $1 AND xmin = $2 AND NOT anonymous FOR SHARE
), s AS (
	INSERT INTO sessions (id, user_id, refresh_hash, created_at, last_used_at, expires_at, user_agent, ip, app_id, scopes, auth_time)
	SELECT $3, u.id, $4, $5, $5, $6, $7, $8, $12, $13, $14 FROM u
)
INSERT INTO events (id, type, user_id, created_at, data) SELECT $9, $10, u.id, $5, $11 FROM u`,
			uid, xmin, ns.id, ns.s.RefreshHash, now, ns.s.ExpiresAt, nullString(ns.s.UserAgent), nullString(ns.s.IP),
			ns.ev.id, ns.ev.typ, ns.ev.data, ns.app, ns.scopes, ns.authTime)
		if err != nil {
			if sessionAppMissing(err) {
				return false, errAppNotFound()
			}
			return false, translate("create session", err)
		}
		if tag.RowsAffected() == 0 {
			return false, nil
		}
		*sess = ns.s
		out = u
		return true, nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// checkSession refuses a session that cannot be stored.
func checkSession(sess *foyer.Session) error {
	if len(sess.RefreshHash) == 0 {
		return foyer.Errorf(foyer.EInvalid, "A session needs a refresh token.")
	}
	if _, ok := sessionApp(sess.AppID); !ok {
		return errAppNotFound()
	}
	return nil
}

// newSession is a session about to be stored for a registered user, with
// its user.login.success event.
type newSession struct {
	id uuid.UUID
	// s is the session as it will be stored: its id, user, times and
	// cleaned user agent and address set.
	s  foyer.Session
	ev event
	// app, scopes and authTime are the values of the app_id, scopes and
	// auth_time columns: NULL for Foyer's own sessions.
	app      *uuid.UUID
	scopes   []string
	authTime *time.Time
}

// newSession prepares sess to be stored at now for the registered user
// u, leaving sess itself alone.
func (db *DB) newSession(now time.Time, u *foyer.User, sess *foyer.Session) (*newSession, error) {
	id := db.newID(now)
	ev, err := db.userEvent(now, foyer.EventUserLoginSuccess, u, foyer.LoginEventData(id.String(), sess.AppID))
	if err != nil {
		return nil, err
	}
	ns := &newSession{id: id, s: *sess, ev: ev}
	ns.s.ID, ns.s.UserID = id.String(), u.ID
	ns.s.CreatedAt, ns.s.LastUsedAt = now, now
	ns.s.ExpiresAt = msTime(sess.ExpiresAt)
	ns.s.UserAgent, ns.s.IP = foyer.CleanText(sess.UserAgent), foyer.CleanText(sess.IP)
	ns.app, _ = sessionApp(sess.AppID)
	if len(sess.Scopes) > 0 {
		ns.scopes = sess.Scopes
	} else {
		ns.s.Scopes = nil
	}
	ns.s.AuthTime = now
	if !sess.AuthTime.IsZero() {
		ns.s.AuthTime = msTime(sess.AuthTime)
		ns.authTime = &ns.s.AuthTime
	}
	return ns, nil
}

// FindSessionUser returns the user of the live session sessionID, which
// must belong to userID. Returns EUnauthorized otherwise.
func (s *SessionService) FindSessionUser(ctx context.Context, userID, sessionID string) (*foyer.User, error) {
	uid, ok1 := parseID(userID)
	sid, ok2 := parseID(sessionID)
	if !ok1 || !ok2 {
		return nil, errSessionInvalid()
	}
	u, err := scanUser(s.db.pool.QueryRow(ctx, `SELECT `+userColumns+` FROM sessions s
JOIN users u ON u.id = s.user_id LEFT JOIN conversions c ON c.user_id = u.id
WHERE s.id = $1 AND s.user_id = $2 AND s.expires_at > $3`, sid, uid, s.db.now()))
	if errors.Is(err, pgx.ErrNoRows) {
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
	sess, err := scanSession(s.db.pool.QueryRow(ctx, `SELECT `+sessionColumns+` FROM sessions s WHERE s.id = $1 AND s.user_id = $2 AND s.expires_at > $3`, sid, uid, s.db.now()))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, errSessionInvalid()
	}
	if err != nil {
		return nil, translate("find session", err)
	}
	return sess, nil
}

// RotateSession replaces the refresh token oldHash of a live session of
// appID ("" for Foyer's own sessions) with newHash and keeps oldHash as
// the previous one, and returns the session with its user, in one
// statement. Presenting a previous token again is reuse: the session is
// deleted (and stays deleted) and EUnauthorized is returned. Unknown or
// expired tokens, and tokens of another app's session, give EUnauthorized
// and change nothing; a newHash already in use gives EConflict.
func (s *SessionService) RotateSession(ctx context.Context, appID string, oldHash, newHash []byte) (*foyer.Session, *foyer.User, error) {
	app, ok := sessionApp(appID)
	if len(oldHash) == 0 || len(newHash) == 0 || !ok {
		return nil, nil, errSessionInvalid()
	}
	now := s.db.now()
	var ur userRow
	sess, err := scanSession(s.db.pool.QueryRow(ctx, `WITH s AS (
	UPDATE sessions SET previous_refresh_hash = refresh_hash, refresh_hash = $2, last_used_at = $3
	WHERE refresh_hash = $1 AND expires_at > $3 AND app_id IS NOT DISTINCT FROM $4::uuid
	RETURNING *
)
SELECT `+sessionColumns+`, `+userColumns+` FROM s JOIN `+userFrom+` ON u.id = s.user_id`, oldHash, newHash, now, app),
		ur.dest()...)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil, s.detectReuse(ctx, app, oldHash)
	}
	if err != nil {
		return nil, nil, translate("rotate session", err)
	}
	return sess, ur.user(), nil
}

// detectReuse deletes the session of app (nil for Foyer's own) whose
// previous refresh token is hash, if any, and returns EUnauthorized either
// way.
func (s *SessionService) detectReuse(ctx context.Context, app *uuid.UUID, hash []byte) error {
	tag, err := s.db.pool.Exec(ctx, `DELETE FROM sessions WHERE previous_refresh_hash = $1 AND app_id IS NOT DISTINCT FROM $2::uuid`, hash, app)
	if err != nil {
		return translate("revoke reused session", err)
	}
	if tag.RowsAffected() > 0 {
		return foyer.Errorf(foyer.EUnauthorized, "The refresh token was used before; the session is revoked.")
	}
	return errSessionInvalid()
}

// FindSessionByRefresh returns the live session whose current refresh
// token hash is hash, without rotating it. Returns EUnauthorized.
func (s *SessionService) FindSessionByRefresh(ctx context.Context, hash []byte) (*foyer.Session, error) {
	if len(hash) == 0 {
		return nil, errSessionInvalid()
	}
	sess, err := scanSession(s.db.pool.QueryRow(ctx, `SELECT `+sessionColumns+` FROM sessions s WHERE s.refresh_hash = $1 AND s.expires_at > $2`,
		hash, s.db.now()))
	if errors.Is(err, pgx.ErrNoRows) {
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
	var n int
	err := s.db.pool.QueryRow(ctx, `WITH s AS (
	DELETE FROM sessions WHERE app_id = $1 AND user_id = $2 RETURNING 1
), a AS (
	DELETE FROM auth_requests WHERE app_id = $1 AND user_id = $2
)
SELECT count(*) FROM s`, aid, uid).Scan(&n)
	if err != nil {
		return 0, translate("delete app sessions", err)
	}
	return n, nil
}

// FindSessions returns the live sessions of a user, newest first.
func (s *SessionService) FindSessions(ctx context.Context, userID string) ([]*foyer.Session, error) {
	out := []*foyer.Session{}
	uid, ok := parseID(userID)
	if !ok {
		return out, nil
	}
	rows, err := s.db.pool.Query(ctx, `SELECT `+sessionColumns+` FROM sessions s WHERE s.user_id = $1 AND s.expires_at > $2 ORDER BY s.id DESC`,
		uid, s.db.now())
	if err != nil {
		return nil, translate("find sessions", err)
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
	tag, err := s.db.pool.Exec(ctx, `DELETE FROM sessions WHERE id = $1`, sid)
	if err != nil {
		return translate("delete session", err)
	}
	return expectOne(tag, "Session not found.")
}
