// Package sqlite stores Foyer's data in one SQLite file, using the pure-Go
// driver modernc.org/sqlite so that Foyer stays a single static binary.
// It implements the root service interfaces (foyer.UserService and the
// others) and owns the SQLite schema and its migrations.
//
// It imports only the root package and its own third-party dependencies
// (the driver and github.com/google/uuid), never another Foyer package.
//
// SQLite has a single writer, so every write goes through one connection,
// owned by one goroutine (see DB.write). Reads go through a separate pool
// of read-only connections, which in WAL mode never wait for the writer.
// The package postgres mirrors this one file for file.
//
// The per-day reports read counters (report_counts) that each change adds
// to in its own transaction, so they survive the deletion of the accounts
// they count. With one writer no counter row is contended, so every count
// goes to shard 0 of its counter, where PostgreSQL spreads it over 32.
package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
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

const (
	// busyTimeout is how long a connection waits for a lock held by
	// another process (a "foyer reap" run beside "foyer serve", say)
	// before failing.
	busyTimeout = 5 * time.Second
	// maxBatch is the most operations one write transaction carries.
	maxBatch = 128
	// checkpointEvery is how often the checkpointer copies committed WAL
	// frames into the database file when there were writes.
	checkpointEvery = 200 * time.Millisecond
	// walBackstop is the WAL size, in pages, at which the writer
	// checkpoints by itself because the checkpointer fell behind.
	walBackstop = 8192
)

// DB is a Foyer database in one SQLite file.
type DB struct {
	// Now is the clock. It is read once per operation, and the time is
	// stored in UTC with millisecond precision. Defaults to time.Now.
	Now func() time.Time

	path string

	// wdb holds the single writer connection, wconn, which only the
	// writer goroutine uses, with its prepared statements in wstmts.
	wdb    *sql.DB
	wconn  *sql.Conn
	wstmts map[string]*sql.Stmt
	writes chan *writeReq
	quit   chan struct{}
	exited chan struct{}

	// rdb is the read-only pool; rstmts its prepared statements.
	rdb    *sql.DB
	rstmts sync.Map // string → *sql.Stmt

	// cdb is the checkpointer's connection; commits counts the write
	// transactions, so that it only works after writes.
	cdb      *sql.DB
	commits  atomic.Int64
	cpExited chan struct{}

	// ids generates the ids of new rows.
	ids foyer.IDs
}

// NewDB returns a DB for the SQLite file at path. Call Open to use it.
func NewDB(path string) *DB {
	return &DB{Now: time.Now, path: path}
}

// Open opens the writer connection and the read pool and starts the
// writer. It creates the file if it does not exist, and switches it to WAL
// mode. It does not migrate.
func (db *DB) Open(ctx context.Context) error {
	if db.path == "" {
		return errors.New("open sqlite: no database path")
	}
	if db.wdb != nil {
		return errors.New("open sqlite: already open")
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
	w.Add("_pragma", "temp_store(MEMORY)")
	w.Add("_pragma", "wal_autocheckpoint("+strconv.Itoa(walBackstop)+")")
	wdb, err := sql.Open("sqlite", db.path+"?"+w.Encode())
	if err != nil {
		return fmt.Errorf("open sqlite: %w", err)
	}
	wdb.SetMaxOpenConns(1)
	wdb.SetMaxIdleConns(1)
	wdb.SetConnMaxLifetime(0)
	wdb.SetConnMaxIdleTime(0)
	// The writer connection sets WAL mode, which the readers then find.
	wconn, err := wdb.Conn(ctx)
	if err == nil {
		err = wconn.PingContext(ctx)
	}
	if err != nil {
		wdb.Close()
		return fmt.Errorf("open sqlite: %w", err)
	}

	r := url.Values{}
	r.Set("_busy_timeout", ms)
	r.Set("_query_only", "1")
	r.Add("_pragma", "temp_store(MEMORY)")
	rdb, err := sql.Open("sqlite", db.path+"?"+r.Encode())
	if err != nil {
		wconn.Close()
		wdb.Close()
		return fmt.Errorf("open sqlite: %w", err)
	}
	n := max(4, runtime.GOMAXPROCS(0))
	rdb.SetMaxOpenConns(n)
	rdb.SetMaxIdleConns(n)
	rdb.SetConnMaxLifetime(0)
	if err := rdb.PingContext(ctx); err != nil {
		wconn.Close()
		wdb.Close()
		rdb.Close()
		return fmt.Errorf("open sqlite: %w", err)
	}
	// Checkpoints copy the WAL into the database file and fsync both; run
	// by the writer they would stall every write queued behind them, so a
	// separate connection does them in the background.
	cdb, err := sql.Open("sqlite", db.path+"?_busy_timeout="+ms)
	if err != nil {
		wconn.Close()
		wdb.Close()
		rdb.Close()
		return fmt.Errorf("open sqlite: %w", err)
	}
	cdb.SetMaxOpenConns(1)
	cdb.SetMaxIdleConns(1)
	cdb.SetConnMaxLifetime(0)
	db.wdb, db.wconn, db.rdb, db.cdb = wdb, wconn, rdb, cdb
	db.wstmts = map[string]*sql.Stmt{}
	db.writes = make(chan *writeReq)
	db.quit = make(chan struct{})
	db.exited = make(chan struct{})
	db.cpExited = make(chan struct{})
	go db.writer()
	go db.checkpointer()
	return nil
}

// checkpointer runs passive checkpoints after writes until Close. A
// passive checkpoint never blocks the writer or the readers; if one fails
// or falls behind, the next one, or the writer's own backstop at
// walBackstop pages, catches up.
func (db *DB) checkpointer() {
	defer close(db.cpExited)
	t := time.NewTicker(checkpointEvery)
	defer t.Stop()
	var done int64
	for {
		select {
		case <-db.quit:
			return
		case <-t.C:
		}
		n := db.commits.Load()
		if n == done {
			continue
		}
		if _, err := db.cdb.Exec("PRAGMA wal_checkpoint(PASSIVE)"); err == nil {
			done = n
		}
	}
}

// Ping checks that a reader can query the file and that the writer takes
// the write lock.
func (db *DB) Ping(ctx context.Context) error {
	if db.wdb == nil {
		return &foyer.Error{Code: foyer.EUnavailable, Message: "The database is not open."}
	}
	var one int
	if err := db.rdb.QueryRowContext(ctx, "SELECT 1").Scan(&one); err != nil {
		return &foyer.Error{Code: foyer.EUnavailable, Message: "The database is unavailable.", Err: err}
	}
	if err := db.write(ctx, func(*Tx) error { return nil }); err != nil {
		return &foyer.Error{Code: foyer.EUnavailable, Message: "The database is unavailable.", Err: err}
	}
	return nil
}

// Close stops the writer once the queued writes are done, lets SQLite
// refresh its query planner statistics, and closes both pools.
func (db *DB) Close() error {
	if db.wdb == nil {
		return nil
	}
	close(db.quit)
	<-db.exited
	<-db.cpExited
	var errs []error
	// PRAGMA optimize is cheap and only analyzes tables whose statistics
	// are stale; the SQLite documentation recommends it on close.
	if _, err := db.wconn.ExecContext(context.Background(), "PRAGMA optimize"); err != nil {
		errs = append(errs, err)
	}
	for _, st := range db.wstmts {
		st.Close()
	}
	db.rstmts.Range(func(k, v any) bool {
		v.(*sql.Stmt).Close()
		db.rstmts.Delete(k)
		return true
	})
	errs = append(errs, db.cdb.Close(), db.wconn.Close(), db.rdb.Close(), db.wdb.Close())
	db.wdb, db.wconn, db.rdb, db.cdb, db.wstmts = nil, nil, nil, nil, nil
	return errors.Join(errs...)
}

// Migrate applies the embedded migrations that have not run yet, each in
// its own transaction, and records them in schema_migrations. It is safe to
// run on every start.
func (db *DB) Migrate(ctx context.Context) error {
	if db.wdb == nil {
		return errors.New("migrate: the database is not open")
	}
	migs, err := migrations()
	if err != nil {
		return err
	}
	return db.exclusive(ctx, func(conn *sql.Conn) error {
		if _, err := conn.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
	version    INTEGER NOT NULL PRIMARY KEY,
	name       TEXT    NOT NULL,
	applied_at INTEGER NOT NULL
) STRICT`); err != nil {
			return fmt.Errorf("create schema_migrations: %w", err)
		}
		for _, m := range migs {
			if err := db.migrate(ctx, conn, m); err != nil {
				return fmt.Errorf("migration %s: %w", m.name, err)
			}
		}
		return nil
	})
}

func (db *DB) migrate(ctx context.Context, conn *sql.Conn, m migration) (err error) {
	// BEGIN IMMEDIATE takes the write lock before the version is read, so
	// two processes migrating at once apply each file once.
	if _, err := conn.ExecContext(ctx, "BEGIN IMMEDIATE"); err != nil {
		return err
	}
	defer func() {
		if err != nil {
			conn.ExecContext(context.WithoutCancel(ctx), "ROLLBACK")
		}
	}()
	var n int
	if err := conn.QueryRowContext(ctx, `SELECT count(*) FROM schema_migrations WHERE version = ?`, m.version).Scan(&n); err != nil {
		return err
	}
	if n == 0 {
		if _, err := conn.ExecContext(ctx, m.sql); err != nil {
			return err
		}
		if _, err := conn.ExecContext(ctx, `INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)`,
			m.version, m.name, db.now().UnixMilli()); err != nil {
			return err
		}
	}
	_, err = conn.ExecContext(ctx, "COMMIT")
	return err
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
		return 0, 0, translate("count users", err)
	}
	return anonymous, registered, nil
}

// now reads the clock once, in UTC, at the millisecond precision that the
// database stores, so that what a method returns equals what it stored.
func (db *DB) now() time.Time {
	return time.UnixMilli(db.Now().UnixMilli()).UTC()
}

// Tx is one operation's view of the write transaction: the statements it
// runs and the time it started (read once from DB.Now). It is only valid
// inside the function given to DB.write.
type Tx struct {
	db  *DB
	now time.Time
	// ctx runs the statements. It is never cancelled: interrupting a
	// statement rolls back the whole SQLite transaction, which carries
	// other callers' operations too.
	ctx context.Context
}

// writeReq is one operation queued for the writer; exclusive ones run on
// the bare connection, outside any batch.
type writeReq struct {
	ctx       context.Context
	fn        func(*Tx) error
	exclusive func(*sql.Conn) error
	done      chan error
}

// keepError is an error after which the operation's changes still commit
// (a detected refresh-token reuse revokes the session and fails).
type keepError struct{ err error }

func (e keepError) Error() string { return e.err.Error() }
func (e keepError) Unwrap() error { return e.err }

// commitAnyway makes write commit the operation's changes and then return
// err to the caller.
func commitAnyway(err error) error { return keepError{err} }

// write runs fn as one atomic operation on the writer and returns once it
// is durable (committed) or has failed without a trace.
//
// This is group commit: the writer goroutine takes every operation queued
// while it was busy, up to maxBatch, into one BEGIN IMMEDIATE transaction,
// each inside its own SAVEPOINT. An operation that fails is rolled back to
// its savepoint and leaves nothing behind; the others commit together. On
// a 2-core machine this cuts the cost of a sign-up about fourfold under
// load, because the pages a sign-up touches (the users and events
// B-trees' last leaves) are written to the WAL once per batch instead of
// once per operation, while a lone operation still commits at once.
// Every write, even a single statement, goes through here, so there is
// only ever one writer and no SQLITE_BUSY between our own connections.
func (db *DB) write(ctx context.Context, fn func(tx *Tx) error) error {
	return db.submit(ctx, &writeReq{ctx: ctx, fn: fn, done: make(chan error, 1)})
}

// exclusive runs fn on the writer connection alone, between batches.
func (db *DB) exclusive(ctx context.Context, fn func(conn *sql.Conn) error) error {
	return db.submit(ctx, &writeReq{ctx: ctx, exclusive: fn, done: make(chan error, 1)})
}

func (db *DB) submit(ctx context.Context, req *writeReq) error {
	if db.writes == nil {
		return &foyer.Error{Code: foyer.EUnavailable, Message: "The database is not open."}
	}
	select {
	case db.writes <- req:
	case <-ctx.Done():
		return ctx.Err()
	case <-db.quit:
		return &foyer.Error{Code: foyer.EUnavailable, Message: "The database is closing."}
	}
	// Once queued, wait for the outcome even if ctx ends: the operation
	// may already be committed, and the caller must not be told otherwise.
	return <-req.done
}

// writer is the goroutine that owns the writer connection.
func (db *DB) writer() {
	defer close(db.exited)
	batch := make([]*writeReq, 0, maxBatch)
	for {
		var req *writeReq
		select {
		case req = <-db.writes:
		case <-db.quit:
			return
		}
		if req.exclusive != nil {
			req.done <- req.exclusive(db.wconn)
			continue
		}
		batch = append(batch[:0], req)
	fill:
		for len(batch) < maxBatch {
			select {
			case r := <-db.writes:
				if r.exclusive != nil {
					db.runBatch(batch)
					batch = batch[:0]
					r.done <- r.exclusive(db.wconn)
					continue
				}
				batch = append(batch, r)
			default:
				break fill
			}
		}
		if len(batch) > 0 {
			db.runBatch(batch)
		}
	}
}

// runBatch runs the operations of batch in one transaction and reports
// each outcome.
func (db *DB) runBatch(batch []*writeReq) {
	ctx := context.Background()
	results := make([]error, len(batch))
	fail := func(err error) {
		for i, r := range batch {
			if results[i] == nil {
				results[i] = err
			}
			r.done <- results[i]
		}
	}
	if err := db.control(ctx, "BEGIN IMMEDIATE"); err != nil {
		fail(translate("begin", err))
		return
	}
	ran := 0
	kept := make([]bool, len(batch))
	for i, r := range batch {
		if err := r.ctx.Err(); err != nil {
			results[i] = err
			continue
		}
		if err := db.control(ctx, "SAVEPOINT op"); err != nil {
			db.control(ctx, "ROLLBACK")
			fail(translate("savepoint", err))
			return
		}
		tx := &Tx{db: db, now: db.now(), ctx: context.WithoutCancel(r.ctx)}
		err := runOp(r.fn, tx)
		var keep keepError
		switch {
		case err == nil:
			ran++
		case errors.As(err, &keep):
			ran++
			results[i], kept[i] = keep.err, true
		default:
			results[i] = err
			if rerr := db.control(ctx, "ROLLBACK TO op"); rerr != nil {
				db.control(ctx, "ROLLBACK")
				fail(translate("rollback to savepoint", rerr))
				return
			}
		}
		if err := db.control(ctx, "RELEASE op"); err != nil {
			db.control(ctx, "ROLLBACK")
			fail(translate("release savepoint", err))
			return
		}
	}
	if ran == 0 {
		db.control(ctx, "ROLLBACK")
	} else if err := db.control(ctx, "COMMIT"); err == nil {
		db.commits.Add(1)
	} else {
		db.control(ctx, "ROLLBACK")
		err = translate("commit", err)
		for i := range batch {
			if results[i] == nil || kept[i] {
				results[i] = err
			}
		}
	}
	for i, r := range batch {
		r.done <- results[i]
	}
}

// runOp runs one operation, turning a panic into an error so that it
// rolls back alone instead of ending the writer goroutine.
func runOp(fn func(*Tx) error, tx *Tx) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = &foyer.Error{Code: foyer.EInternal, Message: "An internal error occurred.", Err: fmt.Errorf("panic in write: %v", p)}
		}
	}()
	return fn(tx)
}

// control runs a transaction control statement on the writer.
func (db *DB) control(ctx context.Context, q string) error {
	st, err := db.wstmt(ctx, q)
	if err != nil {
		return err
	}
	_, err = st.ExecContext(ctx)
	return err
}

// wstmt returns the prepared statement for q on the writer connection.
// Only the writer goroutine calls it.
func (db *DB) wstmt(ctx context.Context, q string) (*sql.Stmt, error) {
	if st, ok := db.wstmts[q]; ok {
		return st, nil
	}
	st, err := db.wconn.PrepareContext(ctx, q)
	if err != nil {
		return nil, err
	}
	db.wstmts[q] = st
	return st, nil
}

// exec runs a statement in the operation.
func (tx *Tx) exec(_ context.Context, q string, args ...any) (sql.Result, error) {
	st, err := tx.db.wstmt(tx.ctx, q)
	if err != nil {
		return nil, err
	}
	return st.ExecContext(tx.ctx, args...)
}

// query runs a query in the operation.
func (tx *Tx) query(_ context.Context, q string, args ...any) (*sql.Rows, error) {
	st, err := tx.db.wstmt(tx.ctx, q)
	if err != nil {
		return nil, err
	}
	return st.QueryContext(tx.ctx, args...)
}

// queryRow runs a query that returns at most one row in the operation. If
// the statement cannot be prepared, the error surfaces from Scan.
func (tx *Tx) queryRow(_ context.Context, q string, args ...any) *sql.Row {
	st, err := tx.db.wstmt(tx.ctx, q)
	if err != nil {
		return tx.db.wconn.QueryRowContext(tx.ctx, q, args...)
	}
	return st.QueryRowContext(tx.ctx, args...)
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

// querier runs queries either in a write operation or on the read pool,
// so that lookups are written once for both.
type querier interface {
	query(ctx context.Context, q string, args ...any) (*sql.Rows, error)
	queryRow(ctx context.Context, q string, args ...any) *sql.Row
}

// newID returns a new UUIDv7 for the millisecond of now (see foyer.IDs).
func (db *DB) newID(now time.Time) uuid.UUID { return uuid.UUID(db.ids.New(now)) }

// idFloor returns foyer.IDFloor(ms) as the BLOB the id columns hold.
func idFloor(ms int64) []byte {
	id := foyer.IDFloor(ms)
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
