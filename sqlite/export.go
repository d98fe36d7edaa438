package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"

	"github.com/google/uuid"

	"github.com/foyerhq/foyer"
)

var _ foyer.ExportService = (*ExportService)(nil)

// ExportService implements foyer.ExportService.
type ExportService struct {
	db *DB
}

// NewExportService returns an ExportService on db.
func NewExportService(db *DB) *ExportService { return &ExportService{db: db} }

// readTx is a read transaction on the read pool. In WAL mode every query
// of one read transaction sees the same snapshot of the database, the one
// its first query found, whatever the writer commits meanwhile.
type readTx struct {
	db *DB
	tx *sql.Tx
}

// beginRead starts a read transaction; the caller must end it with
// rollback.
func (db *DB) beginRead(ctx context.Context) (*readTx, error) {
	if db.rdb == nil {
		return nil, &foyer.Error{Code: foyer.EUnavailable, Message: "The database is not open."}
	}
	tx, err := db.rdb.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return nil, translate("begin read", err)
	}
	return &readTx{db: db, tx: tx}, nil
}

func (r *readTx) rollback() { r.tx.Rollback() }

// query runs a query of the read pool's prepared statements in the
// transaction.
func (r *readTx) query(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	st, err := r.db.rstmt(ctx, q)
	if err != nil {
		return nil, err
	}
	rows, err := r.tx.StmtContext(ctx, st).QueryContext(ctx, args...)
	if err != nil {
		return nil, translate("query", err)
	}
	return rows, nil
}

// queryRow runs a query that returns at most one row in the transaction.
// If the statement cannot be prepared, the error surfaces from Scan.
func (r *readTx) queryRow(ctx context.Context, q string, args ...any) *sql.Row {
	st, err := r.db.rstmt(ctx, q)
	if err != nil {
		return r.tx.QueryRowContext(ctx, q, args...)
	}
	return r.tx.StmtContext(ctx, st).QueryRowContext(ctx, args...)
}

// exportedIDs selects the user whose id is the first parameter and the
// anonymous accounts merged into it, whose id is the second: their events
// hold data that became the user's.
const exportedIDs = `SELECT ? UNION ALL SELECT from_id FROM aliases WHERE into_id = ?`

// ExportUser returns everything stored about the user with id, read in
// one read transaction, so the parts agree with each other: the user, all
// its stored sessions (without refresh token hashes), its pending
// conversion (address and times, without the token hash), its events and
// those of the anonymous accounts merged into it, the deliveries of those
// events, the aliases pointing to it, and the mail sent to its verified
// address (without link tokens). Lists are oldest first.
//
// Mail to a pending address is left out: a conversion request to an
// address that has an account sends its notice to the owner instead, so
// showing the link mail of a free address would tell the two apart
// (DESIGN §2.4). Returns ENotFound.
func (s *ExportService) ExportUser(ctx context.Context, id string) (*foyer.Export, error) {
	uid, ok := parseID(id)
	if !ok {
		return nil, foyer.Errorf(foyer.ENotFound, "User not found.")
	}
	now := s.db.now()
	rtx, err := s.db.beginRead(ctx)
	if err != nil {
		return nil, err
	}
	defer rtx.rollback()

	x := &foyer.Export{ExportedAt: now}
	if x.User, err = findUserByID(ctx, rtx, uid); err != nil {
		return nil, err
	}
	if x.Sessions, err = exportSessions(ctx, rtx, uid); err != nil {
		return nil, err
	}
	if x.Conversions, err = exportConversions(ctx, rtx, uid); err != nil {
		return nil, err
	}
	if x.Events, err = exportEvents(ctx, rtx, uid); err != nil {
		return nil, err
	}
	rows, err := rtx.query(ctx, `SELECT `+deliveryColumns+` FROM deliveries WHERE user_id IN (`+exportedIDs+`) ORDER BY id`, uid[:], uid[:])
	if err != nil {
		return nil, err
	}
	if x.Deliveries, err = collectDeliveries(rows, "export deliveries"); err != nil {
		return nil, err
	}
	if x.Aliases, err = exportAliases(ctx, rtx, uid); err != nil {
		return nil, err
	}
	if x.Mail, err = exportMail(ctx, rtx, uid, x.User.Email); err != nil {
		return nil, err
	}
	return x, nil
}

// exportSessions returns every stored session of the user, expired ones
// too, without its refresh token hash.
func exportSessions(ctx context.Context, q querier, uid uuid.UUID) ([]*foyer.Session, error) {
	rows, err := q.query(ctx, `SELECT `+sessionColumns+` FROM sessions s WHERE s.user_id = ? ORDER BY s.id`, uid[:])
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []*foyer.Session{}
	for rows.Next() {
		sess, err := scanSession(rows)
		if err != nil {
			return nil, translate("export sessions", err)
		}
		sess.RefreshHash = nil
		out = append(out, sess)
	}
	if err := rows.Err(); err != nil {
		return nil, translate("export sessions", err)
	}
	return out, nil
}

func exportConversions(ctx context.Context, q querier, uid uuid.UUID) ([]foyer.ExportedConversion, error) {
	var (
		c                foyer.ExportedConversion
		created, expires int64
	)
	err := q.queryRow(ctx, `SELECT email, created_at, expires_at FROM conversions WHERE user_id = ?`, uid[:]).Scan(&c.Email, &created, &expires)
	if errors.Is(err, sql.ErrNoRows) {
		return []foyer.ExportedConversion{}, nil
	}
	if err != nil {
		return nil, translate("export conversions", err)
	}
	c.CreatedAt, c.ExpiresAt = msTime(created), msTime(expires)
	return []foyer.ExportedConversion{c}, nil
}

func exportEvents(ctx context.Context, q querier, uid uuid.UUID) ([]*foyer.Event, error) {
	rows, err := q.query(ctx, `SELECT id, type, user_id, created_at, data FROM events
WHERE user_id IN (`+exportedIDs+`) ORDER BY id`, uid[:], uid[:])
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []*foyer.Event{}
	for rows.Next() {
		var (
			e          foyer.Event
			id, userID []byte
			created    int64
			data       string
		)
		if err := rows.Scan(&id, &e.Type, &userID, &created, &data); err != nil {
			return nil, translate("export events", err)
		}
		e.ID, e.UserID = idString(id), idString(userID)
		e.CreatedAt = msTime(created)
		e.Data = json.RawMessage(data)
		out = append(out, &e)
	}
	if err := rows.Err(); err != nil {
		return nil, translate("export events", err)
	}
	return out, nil
}

func exportAliases(ctx context.Context, q querier, uid uuid.UUID) ([]*foyer.Alias, error) {
	rows, err := q.query(ctx, `SELECT from_id, created_at FROM aliases WHERE into_id = ? ORDER BY created_at, from_id`, uid[:])
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []*foyer.Alias{}
	for rows.Next() {
		var (
			from    []byte
			created int64
		)
		if err := rows.Scan(&from, &created); err != nil {
			return nil, translate("export aliases", err)
		}
		out = append(out, &foyer.Alias{From: idString(from), Into: uid.String(), CreatedAt: msTime(created)})
	}
	if err := rows.Err(); err != nil {
		return nil, translate("export aliases", err)
	}
	return out, nil
}

// exportMail returns the mail sent to the verified address email, none
// when it is empty, without link tokens.
func exportMail(ctx context.Context, q querier, uid uuid.UUID, email string) ([]*foyer.Mail, error) {
	out := []*foyer.Mail{}
	if email == "" {
		return out, nil
	}
	rows, err := q.query(ctx, `SELECT `+mailColumns+` FROM mail WHERE to_address = ? ORDER BY id`, email)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		m, err := scanMail(rows)
		if err != nil {
			return nil, translate("export mail", err)
		}
		out = append(out, exportedMail(m, uid.String()))
	}
	if err := rows.Err(); err != nil {
		return nil, translate("export mail", err)
	}
	return out, nil
}

// exportedMail strips m of what the export must not show: the link token
// of its data, and the id of another account it was about (the notice to
// an owner names the anonymous account that tried their address).
func exportedMail(m *foyer.Mail, userID string) *foyer.Mail {
	var d foyer.MailData
	if err := json.Unmarshal(m.Data, &d); err != nil {
		d = foyer.MailData{}
	}
	d.Token = ""
	m.Data, _ = json.Marshal(d)
	if m.UserID != userID {
		m.UserID = ""
	}
	return m
}
