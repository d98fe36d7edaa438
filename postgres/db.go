// Package postgres stores Foyer's data in PostgreSQL, for production and
// for several foyer instances sharing one database. It owns the PostgreSQL
// schema (embedded, numbered migrations with the same numbers as the
// sqlite package), the SQL of every root service interface, and the
// translation of PostgreSQL errors into *foyer.Error codes.
//
// It imports only the root package and its own third-party dependencies
// (pgx with its pool, puddle, and github.com/google/uuid), never another
// Foyer package. It mirrors the sqlite package file for file, and the
// storetest suite proves that both behave the same.
//
// # Driver
//
// The driver is github.com/jackc/pgx/v5 used natively through pgxpool, not
// through database/sql, because Foyer's budgets are counted in round trips:
//
//   - pgx.Batch sends several statements in one network round trip, and
//     a data-modifying CTE lets one statement write a row and its event;
//   - the default QueryExecModeCacheStatement prepares each statement once
//     per connection and then sends only Bind/Execute, so every query runs
//     as a prepared statement without code to manage them;
//   - uuid, timestamptz, bytea and arrays travel in the binary format,
//     with no text parsing on either side;
//   - *pgconn.PgError carries the SQLSTATE and constraint name that the
//     error translation needs.
//
// Behind a connection pooler in transaction mode (PgBouncer before 1.21)
// set default_query_exec_mode=exec in the DSN, which keeps one round trip
// per statement without server-side prepared statements.
//
// # Round trips and concurrency
//
// A business operation is one statement where it can be: a data-modifying
// CTE writes the rows and the events row together, and a single statement
// is its own transaction. Where a later statement must see what committed
// while an earlier one waited for a lock, the statements go in one
// pgx.Batch: one round trip, one implicit transaction, and a fresh
// snapshot for each statement. Operations whose new state is computed in
// Go (a merge patch, an event payload) read the rows with their row
// version (xmin), then write in one statement guarded by that version,
// and read again if another writer got there first; after a few lost
// races they run in a transaction that holds the row locks
// (readModifyWrite). So no row lock is held across round trips.
//
// The tables of rows about a user have no foreign key to users, unlike
// their sqlite twins: a cascading key fires a trigger per deleted user and
// table, which cost the reaper two thirds of its time. Two rules keep them consistent instead. A
// statement that adds a row about a user (session, event, conversion
// request, reset link, alias, mail, completed authorization request)
// holds the user's row, checking the version it read (or reading it in
// the same statement), so it waits for a writer of that row and then
// fails its guard or finds the row gone; and a statement that deletes a user's
// rows runs after the statement that locked the user, so its snapshot
// holds every row committed before, while nothing can be added after.
// Revoking tokens, resetting a password and deleting or reaping a user
// therefore leave no session, event or other row behind that a concurrent
// call wrote; TestConcurrentDelete checks it.
//
// Mail and delivery claims, event fan-outs, the event retention, the
// deletion of expired sessions and authorization requests and the reaper
// take rows with "FOR UPDATE SKIP LOCKED" and a LIMIT, so several
// instances never process the same row twice.
//
// # Storage
//
// Ids are uuid (16 bytes), times are timestamptz (8 bytes, UTC, with the
// millisecond values the sqlite package stores), markers are boolean, and
// an empty profile is stored as NULL. Profiles and payloads are bytea, not
// jsonb: Foyer validates and merges JSON in Go (foyer.MergePatch) and
// never queries inside it, while jsonb parses on every write, renders on
// every read, and reorders keys. BenchmarkDataColumn measures both on a
// 93-byte profile: 141 bytes per row as bytea, 234 as jsonb; server-side,
// inserting 200,000 such rows took 2.8 s as bytea and 4.4 s as jsonb, and
// reading them back as text 48 ms and 273 ms (PostgreSQL 15).
//
// The users table has only the indexes a query needs: the primary key, a
// unique index on the email of registered users, a partial index on
// last_seen_at of anonymous users that serves the reaper, the anonymous
// count and the active-users report, and two partial indexes that
// anonymous users are not in: last_seen_at of registered users, for the
// active-users report, and converted_at of converted users, for the
// time-to-convert report. An anonymous user with empty data takes about
// 150 bytes of table and indexes (BenchmarkCreateAnonymousUser with
// -benchtime=100000x and TestStorageBudget report it), half the budget of
// 300.
//
// # Reports
//
// The per-day reports read counters (report_counts) that each change adds
// to in the statement that makes it, so they cost a few rows per day to
// read and survive the deletion of the accounts they count. Each counter
// is spread over 32 shards picked by the server process of the
// connection, so that concurrent sign-ups do not wait for one another's
// row lock on a single counter; the reports sum the shards.
package postgres

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/foyerhq/foyer"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/puddle/v2"
)

//go:embed migrations/*.sql
var migrationFS embed.FS

// DB is a connection pool to one PostgreSQL database (and the schema its
// search_path names) with Foyer's schema.
type DB struct {
	// Now is the clock. It is read once per transaction, and the time is
	// stored in UTC with millisecond precision. Defaults to time.Now.
	Now func() time.Time

	dsn  string
	pool *pgxpool.Pool

	// ids generates the ids of new rows.
	ids foyer.IDs
}

// NewDB returns a DB for the postgres:// URL or key=value DSN dsn. Pool
// settings (pool_max_conns, pool_min_conns, …) are read from the DSN.
// Call Open before use.
func NewDB(dsn string) *DB {
	return &DB{Now: time.Now, dsn: dsn}
}

// Open creates the connection pool and checks that the database answers.
// It does not migrate; call Migrate.
func (db *DB) Open(ctx context.Context) error {
	if db.pool != nil {
		return errors.New("open postgres: already open")
	}
	if db.Now == nil {
		db.Now = time.Now
	}
	cfg, err := pgxpool.ParseConfig(db.dsn)
	if err != nil {
		return fmt.Errorf("parse postgres dsn: %w", err)
	}
	cfg.AfterConnect = func(_ context.Context, conn *pgx.Conn) error {
		// Scan timestamptz in UTC, the only zone Foyer hands out.
		conn.TypeMap().RegisterType(&pgtype.Type{
			Name:  "timestamptz",
			OID:   pgtype.TimestamptzOID,
			Codec: &pgtype.TimestamptzCodec{ScanLocation: time.UTC},
		})
		return nil
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return fmt.Errorf("open postgres pool: %w", err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return translate("connect to postgres", err)
	}
	db.pool = pool
	return nil
}

// Ping checks that the database answers. It returns EUnavailable when it
// cannot be reached.
func (db *DB) Ping(ctx context.Context) error {
	if db.pool == nil {
		return foyer.Errorf(foyer.EUnavailable, "The database is not open.")
	}
	if err := db.pool.Ping(ctx); err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return &foyer.Error{Code: foyer.EUnavailable, Message: "The database is unavailable.", Err: err}
	}
	return nil
}

// Close closes every connection of the pool, waiting for the ones in use
// to be released. Calls after Close fail with EUnavailable.
func (db *DB) Close() error {
	if db.pool != nil {
		db.pool.Close()
	}
	return nil
}

// Migrate applies the embedded migrations that have not run yet, in
// order, each in its own transaction, and records them in
// schema_migrations. Each transaction first takes a transaction-level
// advisory lock, so several instances starting at once apply every
// migration exactly once. It is safe to run on every start.
func (db *DB) Migrate(ctx context.Context) error {
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

// migrateLockKey names the advisory lock that serialises Migrate across
// instances; it is combined with the current schema so that databases
// holding several Foyer schemas migrate them independently.
const migrateLockKey = "foyer.migrate"

func (db *DB) migrate(ctx context.Context, m migration) error {
	tx, err := db.pool.Begin(ctx)
	if err != nil {
		return translate("begin", err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx))

	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtextextended($1 || '.' || current_schema(), 0))`, migrateLockKey); err != nil {
		return translate("lock", err)
	}
	if _, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
	version    integer     NOT NULL PRIMARY KEY,
	name       text        NOT NULL,
	applied_at timestamptz NOT NULL
)`); err != nil {
		return translate("create schema_migrations", err)
	}
	var applied bool
	if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM schema_migrations WHERE version = $1)`, m.version).Scan(&applied); err != nil {
		return translate("read schema_migrations", err)
	}
	if applied {
		return nil
	}
	// Exec without arguments uses the simple protocol, which runs a file
	// of several statements.
	if _, err := tx.Exec(ctx, m.sql); err != nil {
		return translate("apply", err)
	}
	if _, err := tx.Exec(ctx, `INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)`,
		m.version, m.name, db.now()); err != nil {
		return translate("record", err)
	}
	return translate("commit", tx.Commit(ctx))
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
	slices.SortFunc(out, func(a, b migration) int { return a.version - b.version })
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

// UserCounts returns how many anonymous and registered users exist, for
// the foyer_users gauge. Each count is answered from a partial index.
func (db *DB) UserCounts(ctx context.Context) (anonymous, registered int64, err error) {
	err = db.pool.QueryRow(ctx, `SELECT
	(SELECT count(*) FROM users WHERE anonymous),
	(SELECT count(*) FROM users WHERE email IS NOT NULL)`).Scan(&anonymous, &registered)
	if err != nil {
		return 0, 0, translate("count users", err)
	}
	return anonymous, registered, nil
}

// now reads the clock once, in UTC, at the millisecond precision that the
// sqlite package stores, so that both stores hand out the same times and
// what a method returns equals what it stored.
func (db *DB) now() time.Time {
	return msTime(db.Now())
}

// msTime truncates t to its millisecond, in UTC.
func msTime(t time.Time) time.Time {
	return time.UnixMilli(t.UnixMilli()).UTC()
}

// ceilMs returns t rounded up to its millisecond, in UTC.
func ceilMs(t time.Time) time.Time {
	m := t.UnixMilli()
	if time.UnixMilli(m).Before(t) {
		m++
	}
	return time.UnixMilli(m).UTC()
}

// utcPtr returns a copy of a nullable scanned time, nil for NULL.
func utcPtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}

// nullString stores "" as NULL.
func nullString(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// querier is what both the pool and a transaction offer, so that helpers
// run either on their own or inside a transaction.
type querier interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
	SendBatch(ctx context.Context, b *pgx.Batch) pgx.BatchResults
}

// newID returns a new UUIDv7 for the millisecond of now (see foyer.IDs).
func (db *DB) newID(now time.Time) uuid.UUID { return uuid.UUID(db.ids.New(now)) }

// idFloor returns foyer.IDFloor(ms) as a uuid.
func idFloor(ms int64) uuid.UUID { return uuid.UUID(foyer.IDFloor(ms)) }

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

// SQLSTATE codes this package translates.
const (
	codeUniqueViolation     = "23505"
	codeForeignKeyViolation = "23503"
	codeInvalidText         = "22P02"
	// Text with a NUL character or invalid UTF-8 (character_not_in_repertoire),
	// or a \u0000 a JSON document turns into text (untranslatable_character).
	codeCharacterNotInRepertoire = "22021"
	codeUntranslatableCharacter  = "22P05"
)

// isUnique reports whether err is a unique violation of constraint, or of
// any constraint when constraint is "".
func isUnique(err error, constraint string) bool {
	e, ok := errors.AsType[*pgconn.PgError](err)
	return ok && e.Code == codeUniqueViolation && (constraint == "" || e.ConstraintName == constraint)
}

// translate turns a driver error into what callers may see. A *foyer.Error
// passes through, and so does a cancelled or expired context, as the bare
// context error. A constraint violation is a conflict, text that is not a
// uuid names nothing (ENotFound), text that PostgreSQL cannot store (NUL
// characters, invalid UTF-8) is invalid, as the sqlite package refuses it
// too, and a server that cannot be reached or a connection that breaks is
// unavailable. Anything else is wrapped once with what was being done,
// which the edge reports as internal.
func translate(op string, err error) error {
	if err == nil {
		return nil
	}
	if _, ok := errors.AsType[*foyer.Error](err); ok {
		return err
	}
	switch {
	case errors.Is(err, context.Canceled):
		return context.Canceled
	case errors.Is(err, context.DeadlineExceeded):
		return context.DeadlineExceeded
	}
	if e, ok := errors.AsType[*pgconn.PgError](err); ok {
		switch {
		case e.Code == codeInvalidText:
			return &foyer.Error{Code: foyer.ENotFound, Message: "Not found.", Err: fmt.Errorf("%s: %w", op, err)}
		case e.Code == codeCharacterNotInRepertoire, e.Code == codeUntranslatableCharacter:
			return &foyer.Error{Code: foyer.EInvalid, Message: "The text contains characters that cannot be stored.", Err: fmt.Errorf("%s: %w", op, err)}
		case strings.HasPrefix(e.Code, "23"): // integrity constraint violation
			return &foyer.Error{Code: foyer.EConflict, Message: "The change conflicts with the current state.", Err: fmt.Errorf("%s: %w", op, err)}
		case strings.HasPrefix(e.Code, "08"), strings.HasPrefix(e.Code, "57P"): // connection exception, operator intervention
			return &foyer.Error{Code: foyer.EUnavailable, Message: "The database is unavailable.", Err: fmt.Errorf("%s: %w", op, err)}
		}
		return fmt.Errorf("%s: %w", op, err)
	}
	if errors.Is(err, puddle.ErrClosedPool) {
		return &foyer.Error{Code: foyer.EUnavailable, Message: "The database is closed.", Err: fmt.Errorf("%s: %w", op, err)}
	}
	if _, ok := errors.AsType[*pgconn.ConnectError](err); ok {
		return &foyer.Error{Code: foyer.EUnavailable, Message: "The database is unavailable.", Err: fmt.Errorf("%s: %w", op, err)}
	}
	if _, ok := errors.AsType[net.Error](err); ok {
		return &foyer.Error{Code: foyer.EUnavailable, Message: "The database is unavailable.", Err: fmt.Errorf("%s: %w", op, err)}
	}
	return fmt.Errorf("%s: %w", op, err)
}

// optimisticAttempts is how many times a read-modify-write runs without
// locks before it runs in a transaction that holds them.
const optimisticAttempts = 3

// readModifyWrite runs one business operation whose writes are computed in
// Go from the rows it reads (a merge patch, an event payload). fn reads
// the rows, appending lock to the query that reads them, then writes in
// one statement guarded by the row versions (xmin) it read, and reports
// whether the guarded write applied. It runs first without locks, which
// costs two round trips and holds no lock across them; if another writer
// keeps changing the rows in between, it runs in a transaction with lock
// set to FOR UPDATE OF u, where the guard holds.
func (db *DB) readModifyWrite(ctx context.Context, op string, fn func(q querier, lock string) (bool, error)) error {
	for range optimisticAttempts {
		applied, err := fn(db.pool, "")
		if err != nil || applied {
			return err
		}
	}
	tx, err := db.pool.Begin(ctx)
	if err != nil {
		return translate(op, err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	applied, err := fn(tx, " FOR UPDATE OF u")
	if err != nil {
		return err
	}
	if !applied {
		return fmt.Errorf("%s: the row changed while locked", op)
	}
	return translate(op, tx.Commit(ctx))
}

// sendBatch sends b in one round trip and lets read consume its results in
// order. Without an explicit transaction the statements of a batch run in
// one implicit transaction, each with its own snapshot: a statement sees
// what the statements before it wrote and every transaction that committed
// before it started. The server runs every statement as soon as it
// arrives, so a condition that must stop later statements is written in
// their SQL, never checked in read.
func sendBatch(ctx context.Context, q querier, op string, b *pgx.Batch, read func(pgx.BatchResults) error) error {
	br := q.SendBatch(ctx, b)
	err := read(br)
	if cerr := br.Close(); err == nil {
		err = cerr
	}
	return translate(op, err)
}

// execBatch sends b, whose statements return no rows, and returns their
// command tags.
func execBatch(ctx context.Context, q querier, op string, b *pgx.Batch) ([]pgconn.CommandTag, error) {
	tags := make([]pgconn.CommandTag, 0, b.Len())
	err := sendBatch(ctx, q, op, b, func(br pgx.BatchResults) error {
		for range b.Len() {
			tag, err := br.Exec()
			if err != nil {
				return err
			}
			tags = append(tags, tag)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return tags, nil
}
