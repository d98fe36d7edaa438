package sqlite

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"strings"
	"time"

	"github.com/google/uuid"

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

// scanUser reads one row of userColumns, followed by the columns that
// extra receives.
func scanUser(row interface{ Scan(...any) error }, extra ...any) (*foyer.User, error) {
	var (
		u                      foyer.User
		id, data               []byte
		email, pending         sql.NullString
		created, updated, seen int64
		converted              sql.NullInt64
	)
	dest := []any{&id, &u.Anonymous, &email, &u.EmailVerified, &u.HasPassword, &data,
		&created, &updated, &seen, &converted, &u.Version, &u.Epoch, &pending}
	if err := row.Scan(append(dest, extra...)...); err != nil {
		return nil, err
	}
	u.ID = idString(id)
	u.Email = email.String
	u.PendingEmail = pending.String
	u.Data = decodeData(data)
	u.CreatedAt, u.UpdatedAt, u.LastSeenAt = msTime(created), msTime(updated), msTime(seen)
	u.ConvertedAt = msTimePtr(converted)
	return &u, nil
}

// findUserByID returns the user with id. Returns ENotFound.
func findUserByID(ctx context.Context, q querier, id uuid.UUID) (*foyer.User, error) {
	u, err := scanUser(q.queryRow(ctx, `SELECT `+userColumns+` FROM `+userFrom+` WHERE u.id = ?`, id[:]))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, foyer.Errorf(foyer.ENotFound, "User not found.")
	}
	if err != nil {
		return nil, translate("find user", err)
	}
	return u, nil
}

// findUserByEmail returns the user whose login identifier is email.
// Returns ENotFound.
func findUserByEmail(ctx context.Context, q querier, email string) (*foyer.User, error) {
	u, err := scanUser(q.queryRow(ctx, `SELECT `+userColumns+` FROM `+userFrom+` WHERE u.email = ?`, email))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, foyer.Errorf(foyer.ENotFound, "User not found.")
	}
	if err != nil {
		return nil, translate("find user", err)
	}
	return u, nil
}

// decodeData turns the stored data column into a JSON object (NULL is {}).
func decodeData(b []byte) json.RawMessage {
	if len(b) == 0 {
		return json.RawMessage(`{}`)
	}
	return json.RawMessage(bytes.Clone(b))
}

// encodeData stores {} as NULL, which costs nothing in the row.
func encodeData(d json.RawMessage) any {
	if len(d) == 0 || bytes.Equal(d, []byte(`{}`)) {
		return nil
	}
	return string(d)
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

// CreateUser creates u and records user.anonymous.created or user.created,
// and counts it as created that day and active that month. An anonymous
// user may not have an email; a registered user must have a
// normalised one. Data must be an object (empty means {}) of at most
// foyer.MaxDataSize bytes. Returns EInvalid, ETooLarge, or EConflict if the
// email belongs to another account.
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

	var created foyer.User
	err = s.db.write(ctx, func(tx *Tx) error {
		id := s.db.newID(tx.now)
		if _, err := tx.exec(ctx, `INSERT INTO users (id, anonymous, email, email_verified, data, created_at, updated_at, last_seen_at)
VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
			id[:], u.Anonymous, nullString(u.Email), u.EmailVerified, encodeData(data), ms(tx.now), ms(tx.now), ms(tx.now)); err != nil {
			if isUnique(err) {
				return &foyer.Error{Code: foyer.EConflict, Message: "The email belongs to another account.", Err: err}
			}
			return translate("insert user", err)
		}
		created = *u
		created.ID = id.String()
		created.Data = data
		created.PendingEmail = ""
		created.CreatedAt, created.UpdatedAt, created.LastSeenAt = tx.now, tx.now, tx.now
		created.ConvertedAt = nil
		created.Version, created.Epoch = 1, 0
		created.HasPassword = false
		if err := insertUserEvent(ctx, tx, typ, &created, nil); err != nil {
			return err
		}
		return addCounts(ctx, tx, 1, createdCounters(tx.now, u.Anonymous)...)
	})
	if err != nil {
		return err
	}
	*u = created
	return nil
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
// can keep (see foyer.ValidText). SQLite would store invalid UTF-8 and NUL
// characters that PostgreSQL refuses, and the stores must answer the
// same; the postgres package gets this answer from the server's error.
func checkText(values ...string) error {
	for _, v := range values {
		if !foyer.ValidText(v) {
			return foyer.Errorf(foyer.EInvalid, "The text contains characters that cannot be stored.")
		}
	}
	return nil
}

// FindUserByID returns the user with id. Returns ENotFound.
func (s *UserService) FindUserByID(ctx context.Context, id string) (*foyer.User, error) {
	uid, ok := parseID(id)
	if !ok {
		return nil, foyer.Errorf(foyer.ENotFound, "User not found.")
	}
	return findUserByID(ctx, s.db, uid)
}

// FindUsers returns up to filter.Limit users matching filter, ordered by
// id. A Limit of zero or less, or above foyer.MaxPageSize, means
// foyer.MaxPageSize. CreatedAfter and CreatedBefore are strict bounds and
// are applied as id ranges (a UUIDv7 starts with its creation millisecond),
// so they need no index. Returns EInvalid if After is not a user id.
func (s *UserService) FindUsers(ctx context.Context, f foyer.UserFilter) ([]*foyer.User, error) {
	return findUsers(ctx, s.db, f)
}

func findUsers(ctx context.Context, q querier, f foyer.UserFilter) ([]*foyer.User, error) {
	var (
		where []string
		args  []any
	)
	// Pages are in id order and small, so walking the primary key and
	// stopping after limit matches is the fast plan. The unary + keeps
	// SQLite from choosing users_anonymous_last_seen instead for the
	// anonymous and inactive_since filters, which would read and sort
	// every match before taking the first few (seconds with a million
	// users). The reaper has its own statement that does use that index.
	if f.Anonymous != nil {
		where, args = append(where, "+u.anonymous = ?"), append(args, *f.Anonymous)
	}
	if f.Email != nil {
		if err := checkText(*f.Email); err != nil {
			return nil, err
		}
		where, args = append(where, "u.email = ?"), append(args, *f.Email)
	}
	if f.CreatedAfter != nil {
		where, args = append(where, "u.id >= ?"), append(args, idFloor(f.CreatedAfter.UnixMilli()+1))
	}
	if f.CreatedBefore != nil {
		where, args = append(where, "u.id < ?"), append(args, idFloor(ceilMs(*f.CreatedBefore)))
	}
	if f.InactiveSince != nil {
		where, args = append(where, "+u.last_seen_at < ?"), append(args, ceilMs(*f.InactiveSince))
	}
	if f.After != "" {
		after, ok := parseID(f.After)
		if !ok {
			return nil, foyer.Errorf(foyer.EInvalid, "The cursor is not valid.")
		}
		where, args = append(where, "u.id > ?"), append(args, after[:])
	}
	limit := f.Limit
	if limit <= 0 || limit > foyer.MaxPageSize {
		limit = foyer.MaxPageSize
	}
	sqlText := `SELECT ` + userColumns + ` FROM ` + userFrom
	if len(where) > 0 {
		sqlText += ` WHERE ` + strings.Join(where, " AND ")
	}
	sqlText += ` ORDER BY u.id LIMIT ?`
	args = append(args, limit)

	rows, err := q.query(ctx, sqlText, args...)
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
// and records user.updated. Returns ENotFound, EPreconditionFailed,
// EInvalid or EMalformedJSON (a bad patch) or ETooLarge.
func (s *UserService) UpdateUser(ctx context.Context, id string, upd foyer.UserUpdate) (*foyer.User, error) {
	uid, ok := parseID(id)
	if !ok {
		return nil, foyer.Errorf(foyer.ENotFound, "User not found.")
	}
	maxSize := upd.MaxSize
	if maxSize <= 0 {
		maxSize = foyer.MaxDataSize
	}

	var u *foyer.User
	err := s.db.write(ctx, func(tx *Tx) error {
		var err error
		u, err = findUserByID(ctx, tx, uid)
		if err != nil {
			return err
		}
		if upd.IfVersion != nil && *upd.IfVersion != u.Version {
			return foyer.Errorf(foyer.EPreconditionFailed, "The user has changed since version %d.", *upd.IfVersion)
		}
		data, err := foyer.MergePatch(u.Data, upd.DataPatch)
		if err != nil {
			return err
		}
		if len(data) > maxSize {
			return foyer.Errorf(foyer.ETooLarge, "data would be larger than %d bytes.", maxSize)
		}
		if _, err := tx.exec(ctx, `UPDATE users SET data = ?, version = version + 1, updated_at = ? WHERE id = ?`,
			encodeData(data), ms(tx.now), uid[:]); err != nil {
			return translate("update user", err)
		}
		u.Data = data
		u.Version++
		u.UpdatedAt = tx.now
		return insertUserEvent(ctx, tx, foyer.EventUserUpdated, u, nil)
	})
	if err != nil {
		return nil, err
	}
	return u, nil
}

// DeleteUser deletes the user and everything personal about it: its
// sessions, conversion request, reset link, aliases, mail and
// authorization requests (through the foreign keys), mail sent to its
// address, and its earlier events and
// those of the anonymous accounts merged into it, whose payloads hold its
// data. What remains is one user.deleted event with the
// id and the reason, and the count of deletions that day. Returns
// ENotFound.
func (s *UserService) DeleteUser(ctx context.Context, id, reason string) error {
	uid, ok := parseID(id)
	if !ok {
		return foyer.Errorf(foyer.ENotFound, "User not found.")
	}
	return s.db.write(ctx, func(tx *Tx) error {
		return deleteUser(ctx, tx, uid, reason)
	})
}

// deleteUser deletes one user as DeleteUser describes. Returns ENotFound.
func deleteUser(ctx context.Context, tx *Tx, id uuid.UUID, reason string) error {
	// The events of anonymous accounts merged into this one hold data
	// that became this user's; they go too, before the aliases that name
	// them cascade away.
	if _, err := tx.exec(ctx, `DELETE FROM events WHERE user_id IN (SELECT from_id FROM aliases WHERE into_id = ?)`, id[:]); err != nil {
		return translate("delete merged events", err)
	}
	var email sql.NullString
	err := tx.queryRow(ctx, `DELETE FROM users WHERE id = ? RETURNING email`, id[:]).Scan(&email)
	if errors.Is(err, sql.ErrNoRows) {
		return foyer.Errorf(foyer.ENotFound, "User not found.")
	}
	if err != nil {
		return translate("delete user", err)
	}
	if email.Valid {
		if _, err := tx.exec(ctx, `DELETE FROM mail WHERE to_address = ?`, email.String); err != nil {
			return translate("delete mail", err)
		}
	}
	if err := addCounts(ctx, tx, 1, counter{utcDay(tx.now), foyer.MetricDeleted}); err != nil {
		return err
	}
	return recordDeleted(ctx, tx, id, reason)
}

// recordDeleted replaces the events of a deleted user with one minimal
// user.deleted event.
func recordDeleted(ctx context.Context, tx *Tx, id uuid.UUID, reason string) error {
	if _, err := tx.exec(ctx, `DELETE FROM events WHERE user_id = ?`, id[:]); err != nil {
		return translate("delete events", err)
	}
	data, err := foyer.EventPayload(nil, map[string]any{
		"user":   map[string]string{"id": id.String()},
		"reason": reason,
	})
	if err != nil {
		return err
	}
	return insertEvent(ctx, tx, foyer.EventUserDeleted, id[:], data)
}

// TouchUser sets LastSeenAt to now if the stored value is older than now
// minus granularity, and reports whether it wrote. The check runs first on
// the read pool, so activity within the granularity never waits for the
// writer; the write reads the stored value again. A write that moves
// LastSeenAt into a new UTC month counts the user as active in that
// month, in the same transaction. Returns ENotFound.
func (s *UserService) TouchUser(ctx context.Context, id string, now time.Time, granularity time.Duration) (bool, error) {
	uid, ok := parseID(id)
	if !ok {
		return false, foyer.Errorf(foyer.ENotFound, "User not found.")
	}
	threshold := ms(now.Add(-granularity))
	var seen int64
	err := s.db.queryRow(ctx, `SELECT last_seen_at FROM users WHERE id = ?`, uid[:]).Scan(&seen)
	if errors.Is(err, sql.ErrNoRows) {
		return false, foyer.Errorf(foyer.ENotFound, "User not found.")
	}
	if err != nil {
		return false, translate("touch user", err)
	}
	if seen >= threshold {
		return false, nil
	}
	var wrote bool
	err = s.db.write(ctx, func(tx *Tx) error {
		var anonymous bool
		err := tx.queryRow(ctx, `SELECT last_seen_at, anonymous FROM users WHERE id = ?`, uid[:]).Scan(&seen, &anonymous)
		if errors.Is(err, sql.ErrNoRows) {
			return foyer.Errorf(foyer.ENotFound, "User not found.")
		}
		if err != nil {
			return translate("touch user", err)
		}
		if seen >= threshold {
			return nil
		}
		if _, err := tx.exec(ctx, `UPDATE users SET last_seen_at = ? WHERE id = ?`, ms(now), uid[:]); err != nil {
			return translate("touch user", err)
		}
		wrote = true
		if month := utcMonth(now); seen < ms(month) {
			return addCounts(ctx, tx, 1, counter{month, activeMetric(anonymous)})
		}
		return nil
	})
	if err != nil {
		return false, err
	}
	return wrote, nil
}

// RevokeUserTokens increases the user's Epoch and Version and deletes its
// sessions and the authorization requests it signed in for, with their
// codes. Returns ENotFound.
func (s *UserService) RevokeUserTokens(ctx context.Context, id string) (*foyer.User, error) {
	uid, ok := parseID(id)
	if !ok {
		return nil, foyer.Errorf(foyer.ENotFound, "User not found.")
	}
	var u *foyer.User
	err := s.db.write(ctx, func(tx *Tx) error {
		if err := bumpEpoch(ctx, tx, uid); err != nil {
			return err
		}
		if _, err := tx.exec(ctx, `DELETE FROM sessions WHERE user_id = ?`, uid[:]); err != nil {
			return translate("delete sessions", err)
		}
		if _, err := tx.exec(ctx, `DELETE FROM auth_requests WHERE user_id = ?`, uid[:]); err != nil {
			return translate("delete authorization requests", err)
		}
		var err error
		u, err = findUserByID(ctx, tx, uid)
		return err
	})
	if err != nil {
		return nil, err
	}
	return u, nil
}

// bumpEpoch increases the user's Epoch (revoking its tokens) and Version.
// Returns ENotFound.
func bumpEpoch(ctx context.Context, tx *Tx, id uuid.UUID) error {
	res, err := tx.exec(ctx, `UPDATE users SET epoch = epoch + 1, version = version + 1, updated_at = ? WHERE id = ?`, ms(tx.now), id[:])
	if err != nil {
		return translate("revoke tokens", err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return translate("revoke tokens", err)
	} else if n == 0 {
		return foyer.Errorf(foyer.ENotFound, "User not found.")
	}
	return nil
}
