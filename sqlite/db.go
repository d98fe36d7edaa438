// Package sqlite stores Foyer's data in one SQLite file, using the pure-Go
// driver modernc.org/sqlite so that Foyer stays a single static binary.
// It implements the root service interfaces (foyer.UserService and the
// others) and owns the SQLite schema and its migrations.
//
// It imports only the root package and its own third-party dependencies
// (the driver and github.com/google/uuid), never another Foyer package.
//
// Writes go through one connection (SQLite has a single writer), in
// transactions started with BEGIN IMMEDIATE so that a transaction never has
// to upgrade a read lock and fail with SQLITE_BUSY halfway. Reads go through
// a separate pool of read-only connections, which in WAL mode never wait
// for the writer. The package postgres mirrors this one file for file.
package sqlite

import (
	"context"
	"crypto/rand"
	"database/sql"
	"embed"
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/foyerhq/foyer"
)

// migrationFS holds the schema, one forward-only file per version. The
// postgres package has a file with the same number for each of them.
//
//go:embed migrations/*.sql
var migrationFS embed.FS

// busyTimeout is how long a connection waits for a lock held by another
// process (a "foyer reap" run beside "foyer serve", say) before failing.
const busyTimeout = 5 * time.Second

// DB is a Foyer database in one SQLite file.
type DB struct {
	// Now is the clock. It is read once per transaction, and the time is
	// stored in UTC with millisecond precision. Defaults to time.Now.
	Now func() time.Time

	path string

	// wdb is the single writer connection; rdb the read-only pool.
	wdb *sql.DB
	rdb *sql.DB

	// Prepared statements, by query text. Writer statements are prepared
	// after the transaction that first used them, because preparing on
	// wdb while a transaction holds its one connection would wait forever.
	wstmts sync.Map // string → *sql.Stmt
	rstmts sync.Map // string → *sql.Stmt

	// idMu guards the state of newID.
	idMu   sync.Mutex
	lastMs int64
	lastID uuid.UUID
}

// NewDB returns a DB for the SQLite file at path. Call Open to use it.
func NewDB(path string) *DB {
	return &DB{Now: time.Now, path: path}
}

// Open opens the writer connection and the read pool. It creates the file
// if it does not exist, and switches it to WAL mode. It does not migrate.
func (db *DB) Open(ctx context.Context) error {
	if db.path == "" {
		return errors.New("open sqlite: no database path")
	}
	if db.Now == nil {
		db.Now = time.Now
	}
	ms := strconv.FormatInt(busyTimeout.Milliseconds(), 10)

	// synchronous=NORMAL in WAL mode keeps every committed transaction
	// across a crash of the process; only a power loss may lose the last
	// ones, never corrupt the file.
	w := url.Values{}
	w.Set("_busy_timeout", ms)
	w.Set("_journal_mode", "WAL")
	w.Set("_synchronous", "NORMAL")
	w.Set("_foreign_keys", "1")
	w.Set("_txlock", "immediate")
	w.Add("_pragma", "temp_store(MEMORY)")
	wdb, err := sql.Open("sqlite", db.path+"?"+w.Encode())
	if err != nil {
		return fmt.Errorf("open sqlite: %w", err)
	}
	wdb.SetMaxOpenConns(1)
	wdb.SetMaxIdleConns(1)
	wdb.SetConnMaxLifetime(0)
	wdb.SetConnMaxIdleTime(0)
	// The writer connection sets WAL mode, which the readers then find.
	if err := wdb.PingContext(ctx); err != nil {
		wdb.Close()
		return fmt.Errorf("open sqlite: %w", err)
	}

	r := url.Values{}
	r.Set("_busy_timeout", ms)
	r.Set("_query_only", "1")
	r.Add("_pragma", "temp_store(MEMORY)")
	rdb, err := sql.Open("sqlite", db.path+"?"+r.Encode())
	if err != nil {
		wdb.Close()
		return fmt.Errorf("open sqlite: %w", err)
	}
	n := max(4, runtime.GOMAXPROCS(0))
	rdb.SetMaxOpenConns(n)
	rdb.SetMaxIdleConns(n)
	rdb.SetConnMaxLifetime(0)
	if err := rdb.PingContext(ctx); err != nil {
		wdb.Close()
		rdb.Close()
		return fmt.Errorf("open sqlite: %w", err)
	}
	db.wdb, db.rdb = wdb, rdb
	return nil
}

// Ping checks that both the writer and a reader can reach the file.
func (db *DB) Ping(ctx context.Context) error {
	if db.wdb == nil {
		return &foyer.Error{Code: foyer.EUnavailable, Message: "The database is not open."}
	}
	if err := db.rdb.PingContext(ctx); err != nil {
		return &foyer.Error{Code: foyer.EUnavailable, Message: "The database is unavailable.", Err: err}
	}
	var one int
	if err := db.rdb.QueryRowContext(ctx, "SELECT 1").Scan(&one); err != nil {
		return &foyer.Error{Code: foyer.EUnavailable, Message: "The database is unavailable.", Err: err}
	}
	return nil
}

// Close lets SQLite refresh its query planner statistics, then closes the
// statements and both pools.
func (db *DB) Close() error {
	if db.wdb == nil {
		return nil
	}
	var errs []error
	// PRAGMA optimize is cheap and only analyzes tables whose statistics
	// are stale; running it on close is what the SQLite documentation
	// recommends for long-lived connections.
	if _, err := db.wdb.Exec("PRAGMA optimize"); err != nil {
		errs = append(errs, err)
	}
	for _, m := range []*sync.Map{&db.wstmts, &db.rstmts} {
		m.Range(func(k, v any) bool {
			v.(*sql.Stmt).Close()
			m.Delete(k)
			return true
		})
	}
	errs = append(errs, db.rdb.Close(), db.wdb.Close())
	db.wdb, db.rdb = nil, nil
	return errors.Join(errs...)
}

// Migrate applies the embedded migrations that have not run yet, each in
// its own transaction, and records them in schema_migrations. It is safe to
// run on every start.
func (db *DB) Migrate(ctx context.Context) error {
	if _, err := db.wdb.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
	version    INTEGER NOT NULL PRIMARY KEY,
	name       TEXT    NOT NULL,
	applied_at INTEGER NOT NULL
) STRICT`); err != nil {
		return fmt.Errorf("create schema_migrations: %w", err)
	}
	migs, err := migrations()
	if err != nil {
		return err
	}
	for _, m := range migs {
		if err := db.migrate(ctx, m); err != nil {
			return fmt.Errorf("migration %s: %w", m.name, err)
		}
	}
	return nil
}

func (db *DB) migrate(ctx context.Context, m migration) error {
	tx, err := db.wdb.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	var n int
	if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM schema_migrations WHERE version = ?`, m.version).Scan(&n); err != nil {
		return err
	}
	if n > 0 {
		return nil
	}
	if _, err := tx.ExecContext(ctx, m.sql); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)`,
		m.version, m.name, db.now().UnixMilli()); err != nil {
		return err
	}
	return tx.Commit()
}

// migration is one embedded schema file.
type migration struct {
	version int
	name    string
	sql     string
}

// migrations returns the embedded migrations in version order.
func migrations() ([]migration, error) {
	names, err := fs.Glob(migrationFS, "migrations/*.sql")
	if err != nil {
		return nil, err
	}
	var out []migration
	for _, p := range names {
		name := strings.TrimPrefix(p, "migrations/")
		v, err := migrationVersion(name)
		if err != nil {
			return nil, err
		}
		b, err := migrationFS.ReadFile(p)
		if err != nil {
			return nil, err
		}
		out = append(out, migration{version: v, name: name, sql: string(b)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].version < out[j].version })
	for i := 1; i < len(out); i++ {
		if out[i].version == out[i-1].version {
			return nil, fmt.Errorf("migrations %s and %s share a version", out[i-1].name, out[i].name)
		}
	}
	return out, nil
}

// migrationVersion parses the number of a file named NNNN_name.sql.
func migrationVersion(name string) (int, error) {
	num, _, ok := strings.Cut(name, "_")
	if !ok {
		return 0, fmt.Errorf("migration %q is not named NNNN_name.sql", name)
	}
	v, err := strconv.Atoi(num)
	if err != nil || v <= 0 {
		return 0, fmt.Errorf("migration %q is not named NNNN_name.sql", name)
	}
	return v, nil
}

// UserCounts reports how many anonymous and registered users there are,
// for the foyer_users gauge. Both counts are ranges of the
// users_anonymous_last_seen index, so they never read the table itself.
func (db *DB) UserCounts(ctx context.Context) (anonymous, registered int64, err error) {
	row := db.queryRow(ctx, `SELECT
	(SELECT count(*) FROM users WHERE anonymous = 1),
	(SELECT count(*) FROM users WHERE anonymous = 0)`)
	if err := row.Scan(&anonymous, &registered); err != nil {
		return 0, 0, fmt.Errorf("count users: %w", err)
	}
	return anonymous, registered, nil
}

// now reads the clock once, in UTC, at the millisecond precision that the
// database stores, so that what a method returns equals what it stored.
func (db *DB) now() time.Time {
	return time.UnixMilli(db.Now().UnixMilli()).UTC()
}

// Tx is a write transaction on the single writer connection, with the time
// it started (read once from DB.Now).
type Tx struct {
	*sql.Tx
	db  *DB
	now time.Time
	// misses lists queries that had no prepared statement yet; they are
	// prepared once the transaction has released the connection.
	misses []string
}

// BeginTx starts a write transaction (BEGIN IMMEDIATE).
func (db *DB) BeginTx(ctx context.Context) (*Tx, error) {
	tx, err := db.wdb.BeginTx(ctx, nil)
	if err != nil {
		return nil, translate("begin", err)
	}
	return &Tx{Tx: tx, db: db, now: db.now()}, nil
}

// Commit commits the transaction, then prepares the statements it used
// for the first time.
func (tx *Tx) Commit() error {
	err := tx.Tx.Commit()
	tx.prepareMisses()
	if err != nil {
		return translate("commit", err)
	}
	return nil
}

// Rollback aborts the transaction; it is a no-op after Commit, so it can
// be deferred.
func (tx *Tx) Rollback() error {
	err := tx.Tx.Rollback()
	tx.prepareMisses()
	if err != nil && !errors.Is(err, sql.ErrTxDone) {
		return err
	}
	return nil
}

func (tx *Tx) prepareMisses() {
	for _, q := range tx.misses {
		if _, ok := tx.db.wstmts.Load(q); ok {
			continue
		}
		st, err := tx.db.wdb.Prepare(q)
		if err != nil {
			// The query ran unprepared and will again; nothing is lost.
			continue
		}
		if _, loaded := tx.db.wstmts.LoadOrStore(q, st); loaded {
			st.Close()
		}
	}
	tx.misses = nil
}

// stmt returns the transaction's handle on the prepared statement for q,
// or nil (and remembers q) when it is not prepared yet.
func (tx *Tx) stmt(ctx context.Context, q string) *sql.Stmt {
	if v, ok := tx.db.wstmts.Load(q); ok {
		return tx.StmtContext(ctx, v.(*sql.Stmt))
	}
	tx.misses = append(tx.misses, q)
	return nil
}

// exec runs a statement in the transaction.
func (tx *Tx) exec(ctx context.Context, q string, args ...any) (sql.Result, error) {
	if st := tx.stmt(ctx, q); st != nil {
		return st.ExecContext(ctx, args...)
	}
	return tx.ExecContext(ctx, q, args...)
}

// query runs a query in the transaction.
func (tx *Tx) query(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	if st := tx.stmt(ctx, q); st != nil {
		return st.QueryContext(ctx, args...)
	}
	return tx.QueryContext(ctx, q, args...)
}

// queryRow runs a query that returns at most one row in the transaction.
func (tx *Tx) queryRow(ctx context.Context, q string, args ...any) *sql.Row {
	if st := tx.stmt(ctx, q); st != nil {
		return st.QueryRowContext(ctx, args...)
	}
	return tx.QueryRowContext(ctx, q, args...)
}

// rstmt returns the prepared statement for q on the read pool.
func (db *DB) rstmt(ctx context.Context, q string) (*sql.Stmt, error) {
	if v, ok := db.rstmts.Load(q); ok {
		return v.(*sql.Stmt), nil
	}
	st, err := db.rdb.PrepareContext(ctx, q)
	if err != nil {
		return nil, translate("prepare", err)
	}
	if v, loaded := db.rstmts.LoadOrStore(q, st); loaded {
		st.Close()
		return v.(*sql.Stmt), nil
	}
	return st, nil
}

// query runs a read-only query on the read pool.
func (db *DB) query(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	st, err := db.rstmt(ctx, q)
	if err != nil {
		return nil, err
	}
	rows, err := st.QueryContext(ctx, args...)
	if err != nil {
		return nil, translate("query", err)
	}
	return rows, nil
}

// queryRow runs a read-only query that returns at most one row. If the
// statement cannot be prepared, the error surfaces from Scan.
func (db *DB) queryRow(ctx context.Context, q string, args ...any) *sql.Row {
	st, err := db.rstmt(ctx, q)
	if err != nil {
		return db.rdb.QueryRowContext(ctx, q, args...)
	}
	return st.QueryRowContext(ctx, args...)
}

// exec runs one statement on the writer, outside an explicit transaction.
func (db *DB) exec(ctx context.Context, q string, args ...any) (sql.Result, error) {
	st, err := db.wstmt(ctx, q)
	if err != nil {
		return nil, err
	}
	res, err := st.ExecContext(ctx, args...)
	if err != nil {
		return nil, translate("exec", err)
	}
	return res, nil
}

// wstmt returns the prepared statement for q on the writer. It must not
// be called while the caller holds a transaction.
func (db *DB) wstmt(ctx context.Context, q string) (*sql.Stmt, error) {
	if v, ok := db.wstmts.Load(q); ok {
		return v.(*sql.Stmt), nil
	}
	st, err := db.wdb.PrepareContext(ctx, q)
	if err != nil {
		return nil, translate("prepare", err)
	}
	if v, loaded := db.wstmts.LoadOrStore(q, st); loaded {
		st.Close()
		return v.(*sql.Stmt), nil
	}
	return st, nil
}

// querier runs queries either in a write transaction or on the read pool,
// so that lookups are written once for both.
type querier interface {
	query(ctx context.Context, q string, args ...any) (*sql.Rows, error)
	queryRow(ctx context.Context, q string, args ...any) *sql.Row
}

// newID returns a UUIDv7 whose timestamp is now's millisecond, so that the
// id order is the creation order and a creation-time range is an id range.
// Within one millisecond the ids count up from a random start (RFC 9562
// §6.2, method 3), so they stay ordered even when the clock stands still;
// only a clock that goes backwards produces ids out of order, and they are
// still unique.
func (db *DB) newID(now time.Time) uuid.UUID {
	ms := now.UnixMilli()
	db.idMu.Lock()
	defer db.idMu.Unlock()
	var id uuid.UUID
	if ms == db.lastMs {
		id = db.lastID
		// The 62 bits after the variant count up; they started below
		// 2^61, so they cannot overflow within one millisecond.
		v := binary.BigEndian.Uint64(id[8:]) & (1<<62 - 1)
		binary.BigEndian.PutUint64(id[8:], v+1)
	} else {
		rand.Read(id[6:])
		id[8] &= 0x1f // start the counter below 2^61
	}
	id[0] = byte(ms >> 40)
	id[1] = byte(ms >> 32)
	id[2] = byte(ms >> 24)
	id[3] = byte(ms >> 16)
	id[4] = byte(ms >> 8)
	id[5] = byte(ms)
	id[6] = 0x70 | id[6]&0x0f // version 7
	id[8] = 0x80 | id[8]&0x3f // RFC 9562 variant
	db.lastMs, db.lastID = ms, id
	return id
}

// idFloor returns the smallest UUIDv7 of the millisecond ms: every id
// created at ms or later sorts at or after it.
func idFloor(ms int64) []byte {
	var id [16]byte
	id[0] = byte(ms >> 40)
	id[1] = byte(ms >> 32)
	id[2] = byte(ms >> 24)
	id[3] = byte(ms >> 16)
	id[4] = byte(ms >> 8)
	id[5] = byte(ms)
	return id[:]
}

// parseID decodes a canonical UUID string. Anything else is not the id of
// a stored row, so callers answer ENotFound.
func parseID(s string) (uuid.UUID, bool) {
	if len(s) != 36 {
		return uuid.UUID{}, false
	}
	id, err := uuid.Parse(s)
	if err != nil {
		return uuid.UUID{}, false
	}
	return id, true
}

// idString encodes a stored 16-byte id as a canonical lowercase string.
func idString(b []byte) string {
	id, err := uuid.FromBytes(b)
	if err != nil {
		return ""
	}
	return id.String()
}

// ms encodes a time as stored: integer unix milliseconds.
func ms(t time.Time) int64 { return t.UnixMilli() }

// msTime decodes a stored time.
func msTime(v int64) time.Time { return time.UnixMilli(v).UTC() }

// msTimePtr decodes a nullable stored time.
func msTimePtr(v sql.NullInt64) *time.Time {
	if !v.Valid {
		return nil
	}
	t := msTime(v.Int64)
	return &t
}

// nullMs encodes an optional time.
func nullMs(t *time.Time) any {
	if t == nil {
		return nil
	}
	return t.UnixMilli()
}

// nullString stores "" as NULL.
func nullString(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// ceilMs returns t in milliseconds, rounded up.
func ceilMs(t time.Time) int64 {
	m := t.UnixMilli()
	if time.UnixMilli(m).Before(t) {
		m++
	}
	return m
}

// isUnique reports whether err is a UNIQUE or PRIMARY KEY violation.
func isUnique(err error) bool {
	var e *sqlite.Error
	if !errors.As(err, &e) {
		return false
	}
	return e.Code() == sqlite3.SQLITE_CONSTRAINT_UNIQUE || e.Code() == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY
}

// translate turns a driver error into a *foyer.Error where one applies
// (a constraint violation is a conflict, a lock that outlasted
// busy_timeout means the database is unavailable) and otherwise wraps it
// with what was being done, which the edge reports as internal.
func translate(op string, err error) error {
	if err == nil {
		return nil
	}
	var fe *foyer.Error
	if errors.As(err, &fe) {
		return err
	}
	var e *sqlite.Error
	if errors.As(err, &e) {
		switch e.Code() & 0xff {
		case sqlite3.SQLITE_CONSTRAINT:
			return &foyer.Error{Code: foyer.EConflict, Message: "The change conflicts with the current state.", Err: fmt.Errorf("%s: %w", op, err)}
		case sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED:
			return &foyer.Error{Code: foyer.EUnavailable, Message: "The database is busy.", Err: fmt.Errorf("%s: %w", op, err)}
		}
	}
	return fmt.Errorf("%s: %w", op, err)
}
