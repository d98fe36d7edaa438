package postgres

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/foyerhq/foyer"
)

var _ foyer.UserService = (*UserService)(nil)

// UserService implements foyer.UserService.
type UserService struct {
	db *DB
}

// NewUserService returns a UserService on db.
func NewUserService(db *DB) *UserService { return &UserService{db: db} }

// userColumns are the columns scanUser reads, from userFrom. The pending
// email is the one of the user's conversion request, if any.
const (
	userColumns = `u.id, u.anonymous, u.email, u.email_verified, u.password_hash IS NOT NULL, u.data,
	u.created_at, u.updated_at, u.last_seen_at, u.converted_at, u.version, u.epoch, c.email`
	userFrom = `users u LEFT JOIN conversions c ON c.user_id = u.id`
)

// userRow receives one row of userColumns.
type userRow struct {
	u              foyer.User
	email, pending *string
	data           []byte
}

// dest returns the scan destinations of userColumns, in order.
func (r *userRow) dest() []any {
	u := &r.u
	return []any{&u.ID, &u.Anonymous, &r.email, &u.EmailVerified, &u.HasPassword, &r.data,
		&u.CreatedAt, &u.UpdatedAt, &u.LastSeenAt, &u.ConvertedAt, &u.Version, &u.Epoch, &r.pending}
}

// user returns the scanned user.
func (r *userRow) user() *foyer.User {
	u := r.u
	if r.email != nil {
		u.Email = *r.email
	}
	if r.pending != nil {
		u.PendingEmail = *r.pending
	}
	u.Data = decodeData(r.data)
	return &u
}

// scanUser reads one row of userColumns, followed by the columns that
// extra receives.
func scanUser(row pgx.Row, extra ...any) (*foyer.User, error) {
	var r userRow
	if err := row.Scan(append(r.dest(), extra...)...); err != nil {
		return nil, err
	}
	return r.user(), nil
}

// findUserByID returns the user with id. Returns ENotFound.
func findUserByID(ctx context.Context, q querier, id uuid.UUID) (*foyer.User, error) {
	u, _, err := findUserVersion(ctx, q, id, "")
	return u, err
}

// findUserVersion returns the user with id and its row version (xmin),
// which changes with every write of the row and so guards the write of a
// read-modify-write operation. lock is "" or a locking clause such as
// " FOR UPDATE OF u". Returns ENotFound.
func findUserVersion(ctx context.Context, q querier, id uuid.UUID, lock string) (*foyer.User, uint32, error) {
	var xmin uint32
	u, err := scanUser(q.QueryRow(ctx, `SELECT `+userColumns+`, u.xmin FROM `+userFrom+` WHERE u.id = $1`+lock, id), &xmin)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, 0, foyer.Errorf(foyer.ENotFound, "User not found.")
	}
	if err != nil {
		return nil, 0, translate("find user", err)
	}
	return u, xmin, nil
}

// decodeData turns the stored data column into a JSON object (NULL is {}).
func decodeData(b []byte) json.RawMessage {
	if len(b) == 0 {
		return json.RawMessage(`{}`)
	}
	return json.RawMessage(b)
}

// encodeData stores {} as NULL, which costs one bit of the row.
func encodeData(d json.RawMessage) []byte {
	if len(d) == 0 || bytes.Equal(d, []byte(`{}`)) {
		return nil
	}
	return d
}

// checkData validates new profile data: a JSON object (empty means {}) no
// larger than maxSize once compacted. Members with null values are dropped,
// as when the data is applied as a merge patch to {}.
func checkData(d json.RawMessage, maxSize int) (json.RawMessage, error) {
	if len(bytes.TrimSpace(d)) == 0 {
		return json.RawMessage(`{}`), nil
	}
	if b := bytes.TrimSpace(d); b[0] != '{' {
		return nil, foyer.Errorf(foyer.EInvalid, "data must be an object.")
	}
	out, err := foyer.MergePatch(nil, d)
	if err != nil {
		return nil, err
	}
	if len(out) > maxSize {
		return nil, foyer.Errorf(foyer.ETooLarge, "data is larger than %d bytes.", maxSize)
	}
	return out, nil
}

// checkEmail returns EInvalid unless email is a normalised address.
func checkEmail(email string) error {
	n, err := foyer.NormalizeEmail(email)
	if err != nil {
		return err
	}
	if n != email {
		return foyer.Errorf(foyer.EInvalid, "The email address is not normalised.")
	}
	return nil
}

// checkText returns EInvalid unless every value is text that both stores
// can keep (see foyer.ValidText). Text bound for a text column needs no
// check, as translate turns the server's refusal into the same EInvalid;
// text that only goes into a JSON document, which keeps anything, does.
func checkText(values ...string) error {
	for _, v := range values {
		if !foyer.ValidText(v) {
			return foyer.Errorf(foyer.EInvalid, "The text contains characters that cannot be stored.")
		}
	}
	return nil
}

// CreateUser creates u, records user.anonymous.created or user.created,
// and counts the user as created that day and active that month, in one
// statement. An anonymous user may not have an email; a registered
// user must have a normalised one. Data must be an object (empty means {})
// of at most foyer.MaxDataSize bytes. Returns EInvalid, ETooLarge, or
// EConflict if the email belongs to another account.
func (s *UserService) CreateUser(ctx context.Context, u *foyer.User) error {
	data, err := checkData(u.Data, foyer.MaxDataSize)
	if err != nil {
		return err
	}
	typ := foyer.EventUserAnonymousCreated
	if u.Anonymous {
		if u.Email != "" || u.EmailVerified {
			return foyer.Errorf(foyer.EInvalid, "An anonymous user has no email.")
		}
	} else {
		if err := checkEmail(u.Email); err != nil {
			return err
		}
		typ = foyer.EventUserCreated
	}

	now := s.db.now()
	id := s.db.newID(now)
	created := *u
	created.ID = id.String()
	created.Data = data
	created.PendingEmail = ""
	created.CreatedAt, created.UpdatedAt, created.LastSeenAt = now, now, now
	created.ConvertedAt = nil
	created.Version, created.Epoch = 1, 0
	created.HasPassword = false
	ev, err := s.db.userEvent(now, typ, &created, nil)
	if err != nil {
		return err
	}
	if _, err := s.db.pool.Exec(ctx, `WITH u AS (
	INSERT INTO users (id, anonymous, email, email_verified, data, created_at, updated_at, last_seen_at)
	VALUES ($1, $2, $3, $4, $5, $6, $6, $6)
	RETURNING id
), `+countCreated(u.Anonymous, "$6")+`
INSERT INTO events (id, type, user_id, created_at, data) SELECT $7, $8, u.id, $6, $9 FROM u`,
		id, u.Anonymous, nullString(u.Email), u.EmailVerified, encodeData(data), now, ev.id, ev.typ, ev.data); err != nil {
		if isUnique(err, "users_email") {
			return &foyer.Error{Code: foyer.EConflict, Message: "The email belongs to another account.", Err: err}
		}
		return translate("insert user", err)
	}
	*u = created
	return nil
}

// FindUserByID returns the user with id. Returns ENotFound.
func (s *UserService) FindUserByID(ctx context.Context, id string) (*foyer.User, error) {
	uid, ok := parseID(id)
	if !ok {
		return nil, foyer.Errorf(foyer.ENotFound, "User not found.")
	}
	return findUserByID(ctx, s.db.pool, uid)
}

// FindUsers returns up to filter.Limit users matching filter, ordered by
// id. A Limit of zero or less, or above foyer.MaxPageSize, means
// foyer.MaxPageSize. CreatedAfter and CreatedBefore are strict bounds and
// are applied as id ranges (a UUIDv7 starts with its creation millisecond),
// so they need no index. Returns EInvalid if After is not a user id.
func (s *UserService) FindUsers(ctx context.Context, f foyer.UserFilter) ([]*foyer.User, error) {
	return findUsers(ctx, s.db.pool, f)
}

func findUsers(ctx context.Context, q querier, f foyer.UserFilter) ([]*foyer.User, error) {
	var (
		where []string
		args  []any
	)
	arg := func(v any) string {
		args = append(args, v)
		return "$" + strconv.Itoa(len(args))
	}
	if f.Anonymous != nil {
		// A literal, not a parameter, so that the planner can use the
		// partial index users_anonymous_last_seen.
		if *f.Anonymous {
			where = append(where, "u.anonymous")
		} else {
			where = append(where, "NOT u.anonymous")
		}
	}
	if f.Email != nil {
		where = append(where, "u.email = "+arg(*f.Email))
	}
	if f.CreatedAfter != nil {
		where = append(where, "u.id >= "+arg(idFloor(f.CreatedAfter.UnixMilli()+1)))
	}
	if f.CreatedBefore != nil {
		where = append(where, "u.id < "+arg(idFloor(ceilMs(*f.CreatedBefore).UnixMilli())))
	}
	if f.InactiveSince != nil {
		where = append(where, "u.last_seen_at < "+arg(ceilMs(*f.InactiveSince)))
	}
	if f.After != "" {
		after, ok := parseID(f.After)
		if !ok {
			return nil, foyer.Errorf(foyer.EInvalid, "The cursor is not valid.")
		}
		where = append(where, "u.id > "+arg(after))
	}
	limit := f.Limit
	if limit <= 0 || limit > foyer.MaxPageSize {
		limit = foyer.MaxPageSize
	}
	sqlText := `SELECT ` + userColumns + ` FROM ` + userFrom
	if len(where) > 0 {
		sqlText += ` WHERE ` + strings.Join(where, " AND ")
	}
	sqlText += ` ORDER BY u.id LIMIT ` + arg(limit)

	rows, err := q.Query(ctx, sqlText, args...)
	if err != nil {
		return nil, translate("find users", err)
	}
	defer rows.Close()
	users := []*foyer.User{}
	for rows.Next() {
		u, err := scanUser(rows)
		if err != nil {
			return nil, translate("find users", err)
		}
		users = append(users, u)
	}
	if err := rows.Err(); err != nil {
		return nil, translate("find users", err)
	}
	return users, nil
}

// UpdateUser applies upd.DataPatch to the user's data, increases Version
// and records user.updated. It reads the user, merges in Go, and writes
// the row and the event in one statement guarded by the row version it
// read. Returns ENotFound, EPreconditionFailed, EInvalid or EMalformedJSON
// (a bad patch) or ETooLarge.
func (s *UserService) UpdateUser(ctx context.Context, id string, upd foyer.UserUpdate) (*foyer.User, error) {
	uid, ok := parseID(id)
	if !ok {
		return nil, foyer.Errorf(foyer.ENotFound, "User not found.")
	}
	maxSize := upd.MaxSize
	if maxSize <= 0 {
		maxSize = foyer.MaxDataSize
	}
	var out *foyer.User
	err := s.db.readModifyWrite(ctx, "update user", func(q querier, lock string) (bool, error) {
		u, xmin, err := findUserVersion(ctx, q, uid, lock)
		if err != nil {
			return false, err
		}
		if upd.IfVersion != nil && *upd.IfVersion != u.Version {
			return false, foyer.Errorf(foyer.EPreconditionFailed, "The user has changed since version %d.", *upd.IfVersion)
		}
		data, err := foyer.MergePatch(u.Data, upd.DataPatch)
		if err != nil {
			return false, err
		}
		if len(data) > maxSize {
			return false, foyer.Errorf(foyer.ETooLarge, "data would be larger than %d bytes.", maxSize)
		}
		now := s.db.now()
		u.Data = data
		u.Version++
		u.UpdatedAt = now
		ev, err := s.db.userEvent(now, foyer.EventUserUpdated, u, nil)
		if err != nil {
			return false, err
		}
		tag, err := q.Exec(ctx, `WITH u AS (
	UPDATE users SET data = $3, version = version + 1, updated_at = $4
	WHERE id = $1 AND xmin = $2
	RETURNING id
)
INSERT INTO events (id, type, user_id, created_at, data) SELECT $5, $6, u.id, $4, $7 FROM u`,
			uid, xmin, encodeData(data), now, ev.id, ev.typ, ev.data)
		if err != nil {
			return false, translate("update user", err)
		}
		out = u
		return tag.RowsAffected() == 1, nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// DeleteUser deletes the user and everything personal about it: its
// sessions, conversion request, reset link, aliases, mail and
// authorization requests, mail sent
// to its address, and its earlier events and those of the anonymous
// accounts merged into it, whose payloads hold its data, with their
// deliveries (through the foreign key). What remains is one user.deleted
// event with the id and the reason. Returns ENotFound.
func (s *UserService) DeleteUser(ctx context.Context, id, reason string) error {
	uid, ok := parseID(id)
	if !ok {
		return foyer.Errorf(foyer.ENotFound, "User not found.")
	}
	return deleteUser(ctx, s.db, uid, reason)
}

// deleteUser deletes one user as DeleteUser describes, in one batch. The
// first statement locks the user's row; the second, whose snapshot is
// taken once the lock is held, so that it sees every row about the user
// committed before and no writer can add one any more, deletes the user
// with everything about it, records user.deleted and counts the deletion.
// Returns ENotFound.
func deleteUser(ctx context.Context, db *DB, id uuid.UUID, reason string) error {
	now := db.now()
	ev, err := db.deletedEvent(now, id, reason)
	if err != nil {
		return err
	}
	evs := events{ev}
	b := &pgx.Batch{}
	b.Queue(`SELECT 1 FROM users WHERE id = $1 FOR UPDATE`, id)
	b.Queue(`WITH d AS (
	DELETE FROM users WHERE id = $1 RETURNING id, email
), m AS (
	DELETE FROM mail WHERE to_address = ANY (ARRAY(SELECT email FROM d))
)`+deleteDependents("d")+`, `+countOne("rc", "d", foyer.MetricDeleted, "$5")+recordDeleted("$2", "$3", "$4", "$5"),
		id, []uuid.UUID{id}, evs.ids(), evs.data(), now)
	tags, err := execBatch(ctx, db.pool, "delete user", b)
	if err != nil {
		return err
	}
	if tags[1].RowsAffected() == 0 {
		return foyer.Errorf(foyer.ENotFound, "User not found.")
	}
	return nil
}

// deleteDependents returns CTEs, for a statement whose CTE cte returns the
// ids of the users it deleted, that delete the rows about those users: the
// sessions, conversion requests, reset links, aliases naming them as the
// account merged into, mail about them and the authorization requests
// they signed in for. The statement must run while
// the users' rows are locked by an earlier statement of the same
// transaction or by a CTE of its own, so that no row about them can be
// added that its snapshot does not hold. The arrays make the planner probe
// each table's index on the user id, whatever the number of users.
func deleteDependents(cte string) string {
	ids := `ANY (ARRAY(SELECT id FROM ` + cte + `))`
	return `, ` + cte + `_sessions AS (
	DELETE FROM sessions WHERE user_id = ` + ids + `
), ` + cte + `_conversions AS (
	DELETE FROM conversions WHERE user_id = ` + ids + `
), ` + cte + `_password_resets AS (
	DELETE FROM password_resets WHERE user_id = ` + ids + `
), ` + cte + `_aliases AS (
	DELETE FROM aliases WHERE into_id = ` + ids + `
), ` + cte + `_mail AS (
	DELETE FROM mail WHERE user_id = ` + ids + `
), ` + cte + `_auth_requests AS (
	DELETE FROM auth_requests WHERE user_id = ` + ids + `
)`
}

// recordDeleted returns the end of a statement whose CTE d returns the ids
// of the users it deleted: it deletes their earlier events, and those of
// the anonymous accounts merged into them, whose payloads hold their
// data, and records one minimal user.deleted event for each, taken from
// the arrays of user ids, event ids and payloads in the parameters users,
// ids and data, at the time in the parameter now. The statement must
// run while the users' rows are locked by an earlier statement of the same
// transaction, so that its snapshot holds every event about them.
func recordDeleted(users, ids, data, now string) string {
	return `, old AS (
	DELETE FROM events WHERE user_id = ANY (ARRAY(SELECT id FROM d))
		OR user_id = ANY (ARRAY(SELECT a.from_id FROM aliases a WHERE a.into_id = ANY (ARRAY(SELECT id FROM d))))
)
INSERT INTO events (id, type, user_id, created_at, data)
SELECT e.id, '` + foyer.EventUserDeleted + `', e.user_id, ` + now + `, e.data
FROM unnest(` + users + `::uuid[], ` + ids + `::uuid[], ` + data + `::bytea[]) AS e (user_id, id, data)
JOIN d ON d.id = e.user_id
RETURNING user_id`
}

// TouchUser sets LastSeenAt to now if the stored value is older than now
// minus granularity, and reports whether it wrote. One statement checks
// that the user exists and updates it only when the stored time is old
// enough, so activity within the granularity costs no write. A write
// that moves LastSeenAt into a new UTC month counts the user as active in
// that month. UPDATE … RETURNING shows only the new row, so the statement
// has two updates with exclusive conditions on the old time, before and
// after the start of the month: each is checked again on the latest row
// if a concurrent touch changed it, so at most one applies and a user is
// never counted twice in a month. Returns ENotFound.
func (s *UserService) TouchUser(ctx context.Context, id string, now time.Time, granularity time.Duration) (bool, error) {
	uid, ok := parseID(id)
	if !ok {
		return false, foyer.Errorf(foyer.ENotFound, "User not found.")
	}
	var found, wrote bool
	err := s.db.pool.QueryRow(ctx, `WITH nm AS (
	UPDATE users SET last_seen_at = $2 WHERE id = $1 AND last_seen_at < $3 AND last_seen_at < $4 RETURNING id, anonymous
), t AS (
	UPDATE users SET last_seen_at = $2 WHERE id = $1 AND last_seen_at < $3 AND last_seen_at >= $4 RETURNING id
), `+addCounts("rc", `SELECT `+sqlDay("$4")+`, CASE WHEN nm.anonymous THEN '`+foyer.MetricActiveAnonymous+`' ELSE '`+
		foyer.MetricActiveRegistered+`' END, `+sqlShard+`, 1 FROM nm`)+`
SELECT EXISTS (SELECT 1 FROM users WHERE id = $1), EXISTS (SELECT 1 FROM nm) OR EXISTS (SELECT 1 FROM t)`,
		uid, msTime(now), msTime(now.Add(-granularity)), utcMonth(now)).Scan(&found, &wrote)
	if err != nil {
		return false, translate("touch user", err)
	}
	if !found {
		return false, foyer.Errorf(foyer.ENotFound, "User not found.")
	}
	return wrote, nil
}

// RevokeUserTokens increases the user's Epoch and Version and deletes its
// sessions and the authorization requests it signed in for, with their
// codes, in one batch. Returns ENotFound.
func (s *UserService) RevokeUserTokens(ctx context.Context, id string) (*foyer.User, error) {
	uid, ok := parseID(id)
	if !ok {
		return nil, foyer.Errorf(foyer.ENotFound, "User not found.")
	}
	now := s.db.now()
	b := &pgx.Batch{}
	b.Queue(bumpEpoch, uid, now)
	b.Queue(`WITH s AS (
	DELETE FROM sessions WHERE user_id = $1
)
DELETE FROM auth_requests WHERE user_id = $1`, uid)
	var u *foyer.User
	err := sendBatch(ctx, s.db.pool, "revoke tokens", b, func(br pgx.BatchResults) error {
		var err error
		if u, err = scanUser(br.QueryRow()); err != nil {
			if errors.Is(err, pgx.ErrNoRows) {
				return foyer.Errorf(foyer.ENotFound, "User not found.")
			}
			return err
		}
		_, err = br.Exec()
		return err
	})
	if err != nil {
		return nil, err
	}
	return u, nil
}

// bumpEpoch increases the Epoch (revoking every token) and Version of user
// $1 at time $2 and returns the user as userColumns. Sessions and
// completed authorization requests are deleted by a following statement
// of the same batch, which runs once this one holds the row: a session
// created or a request completed concurrently is then either visible to
// it or created after the new epoch.
const bumpEpoch = `WITH u AS (
	UPDATE users SET epoch = epoch + 1, version = version + 1, updated_at = $2 WHERE id = $1 RETURNING *
)
SELECT ` + userColumns + ` FROM u LEFT JOIN conversions c ON c.user_id = u.id`
