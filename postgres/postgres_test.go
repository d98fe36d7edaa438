package postgres_test

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/foyerhq/foyer"
	"github.com/foyerhq/foyer/postgres"
	"github.com/foyerhq/foyer/storetest"
)

// testDSN returns the DSN of the test server from FOYER_TEST_POSTGRES. It
// skips the test when the variable is unset, except under CI, where the
// suite must not silently stop running.
func testDSN(tb testing.TB) string {
	tb.Helper()
	dsn := os.Getenv("FOYER_TEST_POSTGRES")
	if dsn == "" {
		if os.Getenv("CI") != "" {
			tb.Fatal("FOYER_TEST_POSTGRES must be set in CI")
		}
		tb.Skip("FOYER_TEST_POSTGRES not set")
	}
	return dsn
}

// newSchema creates a schema with a random name on the test server, drops
// it with everything in it when the test ends, and returns a DSN whose
// search_path is that schema. Tests on different schemas never see each
// other's rows, so they can run in parallel.
func newSchema(tb testing.TB) string {
	tb.Helper()
	dsn := testDSN(tb)
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		tb.Fatalf("connect: %v", err)
	}
	defer conn.Close(ctx)
	var b [8]byte
	rand.Read(b[:])
	schema := "foyer_test_" + hex.EncodeToString(b[:])
	if _, err := conn.Exec(ctx, `CREATE SCHEMA `+schema); err != nil {
		tb.Fatalf("create schema: %v", err)
	}
	tb.Cleanup(func() {
		ctx := context.Background()
		conn, err := pgx.Connect(ctx, dsn)
		if err != nil {
			tb.Errorf("connect: %v", err)
			return
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, `DROP SCHEMA `+schema+` CASCADE`); err != nil {
			tb.Errorf("drop schema: %v", err)
		}
	})
	return withSearchPath(tb, dsn, schema)
}

// withSearchPath adds search_path=schema to a postgres:// URL or a
// key=value DSN.
func withSearchPath(tb testing.TB, dsn, schema string) string {
	tb.Helper()
	return withParam(tb, dsn, "search_path", schema)
}

// withParam adds the setting key=value to a postgres:// URL or a key=value
// DSN, leaving the rest of it as it is.
func withParam(tb testing.TB, dsn, key, value string) string {
	tb.Helper()
	if !strings.HasPrefix(dsn, "postgres://") && !strings.HasPrefix(dsn, "postgresql://") {
		return dsn + " " + key + "=" + value
	}
	u, err := url.Parse(dsn)
	if err != nil {
		tb.Fatalf("parse FOYER_TEST_POSTGRES: %v", err)
	}
	if u.RawQuery != "" {
		u.RawQuery += "&"
	}
	u.RawQuery += url.QueryEscape(key) + "=" + url.QueryEscape(value)
	return u.String()
}

// openDB opens a migrated DB on a fresh schema, closed when the test ends.
func openDB(tb testing.TB, now func() time.Time) *postgres.DB {
	tb.Helper()
	db := postgres.NewDB(newSchema(tb))
	if now != nil {
		db.Now = now
	}
	if err := db.Open(context.Background()); err != nil {
		tb.Fatalf("open: %v", err)
	}
	tb.Cleanup(func() {
		if err := db.Close(); err != nil {
			tb.Errorf("close: %v", err)
		}
	})
	if err := db.Migrate(context.Background()); err != nil {
		tb.Fatalf("migrate: %v", err)
	}
	return db
}

func services(db *postgres.DB) storetest.Services {
	return storetest.Services{
		Users:       postgres.NewUserService(db),
		Conversions: postgres.NewConversionService(db),
		Credentials: postgres.NewCredentialService(db),
		Merges:      postgres.NewMergeService(db),
		Sessions:    postgres.NewSessionService(db),
		Mail:        postgres.NewMailService(db),
		Events:      postgres.NewEventService(db),
		APIKeys:     postgres.NewAPIKeyService(db),
		SigningKeys: postgres.NewSigningKeyService(db),
		Reaps:       postgres.NewReapService(db),
		Webhooks:    postgres.NewWebhookService(db),
		Deliveries:  postgres.NewDeliveryService(db),
		Audit:       postgres.NewAuditService(db),
		Exports:     postgres.NewExportService(db),
		Retention:   postgres.NewEventRetentionService(db),
		Expiry:      postgres.NewExpiryService(db),
		Admins:      postgres.NewAdminService(db),
		Reports:     postgres.NewReportService(db),

		Apps:         postgres.NewAppService(db),
		AuthRequests: postgres.NewAuthRequestService(db),
	}
}

// mentions counts, by table, the rows of the schema of dsn that hold one
// of values in any column: as text, or within a bytea column (JSON
// documents, tokens) as bytes, which encode(…, 'escape') keeps readable.
func mentions(t *testing.T, dsn string, values ...string) map[string]int {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	rows, err := conn.Query(ctx, `SELECT table_name, column_name, data_type FROM information_schema.columns
WHERE table_schema = current_schema() ORDER BY table_name, ordinal_position`)
	if err != nil {
		t.Fatal(err)
	}
	type column struct{ Table, Name, Type string }
	cols, err := pgx.CollectRows(rows, pgx.RowToStructByPos[column])
	if err != nil {
		t.Fatal(err)
	}
	exprs := map[string][]string{}
	var tables []string
	for _, c := range cols {
		e := pgx.Identifier{c.Name}.Sanitize() + "::text"
		if c.Type == "bytea" {
			e = "encode(" + pgx.Identifier{c.Name}.Sanitize() + ", 'escape')"
		}
		if _, ok := exprs[c.Table]; !ok {
			tables = append(tables, c.Table)
		}
		exprs[c.Table] = append(exprs[c.Table], e)
	}
	out := map[string]int{}
	for _, table := range tables {
		var n int
		if err := conn.QueryRow(ctx, `SELECT count(*) FROM `+pgx.Identifier{table}.Sanitize()+`
WHERE EXISTS (SELECT 1 FROM unnest($1::text[]) v WHERE strpos(concat_ws(' ', `+strings.Join(exprs[table], ", ")+`), v) > 0)`,
			values).Scan(&n); err != nil {
			t.Fatalf("search %s: %v", table, err)
		}
		if n > 0 {
			out[table] = n
		}
	}
	return out
}

// TestConformance runs the contract suite shared with the sqlite package,
// each test on a fresh schema.
func TestConformance(t *testing.T) {
	testDSN(t)
	storetest.Run(t, func(t *testing.T, now func() time.Time) storetest.Services {
		dsn := newSchema(t)
		db := openDSN(t, dsn)
		db.Now = now
		s := services(db)
		s.Mentions = func(t *testing.T, values ...string) map[string]int { return mentions(t, dsn, values...) }
		return s
	})
}

// clock is a settable clock for DB.Now, safe for concurrent use.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func newClock() *clock {
	return &clock{now: time.Date(2030, 1, 2, 3, 4, 5, 6_000_000, time.UTC)}
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// migrationVersions lists the version numbers of the NNNN_name.sql files
// in dir.
func migrationVersions(t *testing.T, dir string) []int {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var vs []int
	for _, e := range entries {
		if !strings.HasSuffix(e.Name(), ".sql") {
			continue
		}
		num, _, _ := strings.Cut(e.Name(), "_")
		v, err := strconv.Atoi(num)
		if err != nil {
			t.Fatalf("migration %s is not named NNNN_name.sql", e.Name())
		}
		vs = append(vs, v)
	}
	slices.Sort(vs)
	return vs
}

// appliedVersions reads schema_migrations through a connection to dsn.
func appliedVersions(t *testing.T, dsn string) []int {
	t.Helper()
	conn, err := pgx.Connect(t.Context(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	rows, err := conn.Query(t.Context(), `SELECT version FROM schema_migrations ORDER BY version`)
	if err != nil {
		t.Fatal(err)
	}
	applied, err := pgx.CollectRows(rows, pgx.RowTo[int])
	if err != nil {
		t.Fatal(err)
	}
	return applied
}

func TestMigrate(t *testing.T) {
	t.Run("OK/Idempotent", func(t *testing.T) {
		t.Parallel()
		dsn := newSchema(t)
		db := postgres.NewDB(dsn)
		if err := db.Open(t.Context()); err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		if err := db.Migrate(t.Context()); err != nil {
			t.Fatal(err)
		}
		u := &foyer.User{Anonymous: true}
		if err := postgres.NewUserService(db).CreateUser(t.Context(), u); err != nil {
			t.Fatal(err)
		}
		if err := db.Migrate(t.Context()); err != nil {
			t.Fatalf("second Migrate: %v", err)
		}
		// Another instance starting on the same schema migrates again.
		db2 := postgres.NewDB(dsn)
		if err := db2.Open(t.Context()); err != nil {
			t.Fatal(err)
		}
		defer db2.Close()
		if err := db2.Migrate(t.Context()); err != nil {
			t.Fatalf("Migrate of a second instance: %v", err)
		}
		if _, err := postgres.NewUserService(db2).FindUserByID(t.Context(), u.ID); err != nil {
			t.Fatalf("data lost across migrations: %v", err)
		}
		if diff := cmp.Diff(migrationVersions(t, "migrations"), appliedVersions(t, dsn)); diff != "" {
			t.Fatalf("schema_migrations (-files +applied):\n%s", diff)
		}
	})

	// Several instances starting at once on a fresh schema: the advisory
	// lock lets exactly one apply each migration, and none fails.
	t.Run("OK/Concurrent", func(t *testing.T) {
		t.Parallel()
		dsn := newSchema(t)
		const instances = 8
		var wg sync.WaitGroup
		errs := make(chan error, instances)
		for range instances {
			wg.Go(func() {
				db := postgres.NewDB(dsn)
				if err := db.Open(t.Context()); err != nil {
					errs <- err
					return
				}
				defer db.Close()
				errs <- db.Migrate(t.Context())
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatalf("concurrent Migrate: %v", err)
			}
		}
		if diff := cmp.Diff(migrationVersions(t, "migrations"), appliedVersions(t, dsn)); diff != "" {
			t.Fatalf("schema_migrations (-files +applied):\n%s", diff)
		}
	})

	t.Run("OK/SameVersionsAsSQLite", func(t *testing.T) {
		lite := filepath.Join("..", "sqlite", "migrations")
		if _, err := os.Stat(lite); os.IsNotExist(err) {
			t.Skip("no sqlite migrations")
		}
		if diff := cmp.Diff(migrationVersions(t, lite), migrationVersions(t, "migrations")); diff != "" {
			t.Fatalf("migration versions differ (-sqlite +postgres):\n%s", diff)
		}
	})

	t.Run("ErrOpen", func(t *testing.T) {
		db := postgres.NewDB("postgres://postgres@127.0.0.1:1/postgres?sslmode=disable&connect_timeout=2")
		err := db.Open(t.Context())
		if err == nil {
			db.Close()
			t.Fatal("Open succeeded on a port where nothing listens")
		}
		if got := foyer.ErrorCode(err); got != foyer.EUnavailable {
			t.Fatalf("Open: code %q, want %q (err: %v)", got, foyer.EUnavailable, err)
		}
		if err := postgres.NewDB("mysql://nope").Open(t.Context()); err == nil {
			t.Fatal("Open accepted a DSN that is not PostgreSQL's")
		}
	})
}

func TestPing(t *testing.T) {
	t.Parallel()
	db := openDB(t, nil)
	if err := db.Ping(t.Context()); err != nil {
		t.Fatal(err)
	}
	closed := postgres.NewDB(testDSN(t))
	if got := foyer.ErrorCode(closed.Ping(t.Context())); got != foyer.EUnavailable {
		t.Fatalf("Ping before Open: code %q, want %q", got, foyer.EUnavailable)
	}
}

func TestUserCounts(t *testing.T) {
	t.Parallel()
	db := openDB(t, nil)
	users := postgres.NewUserService(db)
	for range 3 {
		if err := users.CreateUser(t.Context(), &foyer.User{Anonymous: true}); err != nil {
			t.Fatal(err)
		}
	}
	if err := users.CreateUser(t.Context(), &foyer.User{Email: "ann@example.com", EmailVerified: true}); err != nil {
		t.Fatal(err)
	}
	anon, reg, err := db.UserCounts(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if anon != 3 || reg != 1 {
		t.Fatalf("UserCounts = %d, %d; want 3, 1", anon, reg)
	}
}

// TestErrors checks the translation of what the driver reports: a
// cancelled context comes back as itself, never wrapped in a store error.
func TestErrors(t *testing.T) {
	t.Parallel()
	db := openDB(t, nil)
	users := postgres.NewUserService(db)
	u := &foyer.User{Anonymous: true}
	if err := users.CreateUser(t.Context(), u); err != nil {
		t.Fatal(err)
	}
	t.Run("ErrCanceled", func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		if _, err := users.FindUserByID(ctx, u.ID); err != context.Canceled {
			t.Fatalf("FindUserByID with a cancelled context: %v, want context.Canceled", err)
		}
		if _, err := users.UpdateUser(ctx, u.ID, foyer.UserUpdate{DataPatch: []byte(`{"a":1}`)}); err != context.Canceled {
			t.Fatalf("UpdateUser with a cancelled context: %v, want context.Canceled", err)
		}
		if err := users.CreateUser(ctx, &foyer.User{Anonymous: true}); err != context.Canceled {
			t.Fatalf("CreateUser with a cancelled context: %v, want context.Canceled", err)
		}
		if anon, _, err := db.UserCounts(t.Context()); err != nil || anon != 1 {
			t.Fatalf("UserCounts = %d, %v; want 1: a cancelled call wrote", anon, err)
		}
	})
	t.Run("ErrDeadlineExceeded", func(t *testing.T) {
		ctx, cancel := context.WithDeadline(t.Context(), time.Now().Add(-time.Second))
		defer cancel()
		if err := users.DeleteUser(ctx, u.ID, foyer.DeleteReasonSelf); err != context.DeadlineExceeded {
			t.Fatalf("DeleteUser past its deadline: %v, want context.DeadlineExceeded", err)
		}
	})
}

// TestCloseThenWrite checks that calls after Close fail cleanly, as the
// database being unavailable.
func TestCloseThenWrite(t *testing.T) {
	t.Parallel()
	db := openDB(t, nil)
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	err := postgres.NewUserService(db).CreateUser(t.Context(), &foyer.User{Anonymous: true})
	if got := foyer.ErrorCode(err); got != foyer.EUnavailable {
		t.Fatalf("CreateUser after Close: code %q, want %q (%v)", got, foyer.EUnavailable, err)
	}
	if got := foyer.ErrorCode(db.Ping(t.Context())); got != foyer.EUnavailable {
		t.Fatalf("Ping after Close: code %q, want %q", got, foyer.EUnavailable)
	}
}

// TestConcurrentWrites has several writers patch the same user at once.
// Each write reads the user, merges in Go and writes guarded by the row
// version it read, so none may be lost: every key ends up in the data, the
// version counts every write, and each write has its event.
func TestConcurrentWrites(t *testing.T) {
	t.Parallel()
	db := openDB(t, nil)
	users := postgres.NewUserService(db)
	u := &foyer.User{Anonymous: true}
	if err := users.CreateUser(t.Context(), u); err != nil {
		t.Fatal(err)
	}
	const workers, each = 8, 25
	var wg sync.WaitGroup
	errs := make(chan error, workers*each)
	for w := range workers {
		wg.Go(func() {
			for i := range each {
				patch := fmt.Sprintf(`{"w%d_%d":true}`, w, i)
				if _, err := users.UpdateUser(t.Context(), u.ID, foyer.UserUpdate{DataPatch: []byte(patch)}); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	got, err := users.FindUserByID(t.Context(), u.ID)
	if err != nil {
		t.Fatal(err)
	}
	var data map[string]bool
	if err := json.Unmarshal(got.Data, &data); err != nil {
		t.Fatal(err)
	}
	if len(data) != workers*each {
		t.Fatalf("%d keys in data, want %d: updates were lost", len(data), workers*each)
	}
	if got.Version != 1+workers*each {
		t.Fatalf("version %d, want %d", got.Version, 1+workers*each)
	}
	updated := foyer.EventUserUpdated
	evs := allEvents(t, postgres.NewEventService(db), foyer.EventFilter{Type: &updated, UserID: &u.ID})
	if len(evs) != workers*each {
		t.Fatalf("%d user.updated events, want %d", len(evs), workers*each)
	}
}

// allEvents pages through every event matching f.
func allEvents(t *testing.T, events foyer.EventService, f foyer.EventFilter) []*foyer.Event {
	t.Helper()
	var out []*foyer.Event
	for {
		page, err := events.FindEvents(t.Context(), f)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, page...)
		if len(page) < foyer.MaxPageSize {
			return out
		}
		f.After = page[len(page)-1].ID
	}
}

// createUsers creates n anonymous users with up to 8 writers at once.
func createUsers(tb testing.TB, users foyer.UserService, n int) []*foyer.User {
	tb.Helper()
	out := make([]*foyer.User, n)
	var (
		wg   sync.WaitGroup
		next atomic.Int64
		errs = make(chan error, 8)
	)
	for range 8 {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				u := &foyer.User{Anonymous: true}
				if err := users.CreateUser(context.Background(), u); err != nil {
					errs <- err
					return
				}
				out[i] = u
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		tb.Fatal(err)
	}
	return out
}

// TestConcurrentReapers runs several reapers at once on the same stale
// users, as several instances do. FOR UPDATE SKIP LOCKED gives them
// disjoint batches: each stale user is deleted exactly once, reported by
// exactly one reaper, with exactly one user.deleted event, and no fresh
// user is touched.
func TestConcurrentReapers(t *testing.T) {
	t.Parallel()
	c := newClock()
	db := openDB(t, c.Now)
	s := services(db)
	const staleCount, freshCount, reapers, batch = 600, 50, 4, 25
	stale := createUsers(t, s.Users, staleCount)
	c.Advance(2 * time.Hour)
	fresh := createUsers(t, s.Users, freshCount)
	cutoff := c.Now().Add(-time.Hour)

	var wg sync.WaitGroup
	got := make([][]string, reapers)
	errs := make(chan error, reapers)
	for r := range reapers {
		wg.Go(func() {
			for {
				ids, err := s.Reaps.DeleteExpiredAnonymousUsers(t.Context(), cutoff, batch, false)
				if err != nil {
					errs <- err
					return
				}
				got[r] = append(got[r], ids...)
				if len(ids) == 0 {
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	left, err := s.Reaps.DeleteExpiredAnonymousUsers(t.Context(), cutoff, batch, false)
	if err != nil {
		t.Fatal(err)
	}
	if len(left) != 0 {
		t.Fatalf("%d stale users left after the reapers stopped", len(left))
	}

	seen := map[string]int{}
	total := 0
	for _, ids := range got {
		total += len(ids)
		for _, id := range ids {
			seen[id]++
		}
	}
	if total != staleCount {
		t.Fatalf("reapers reported %d deletions, want %d", total, staleCount)
	}
	for _, u := range stale {
		if seen[u.ID] != 1 {
			t.Fatalf("user %s reported deleted %d times, want once", u.ID, seen[u.ID])
		}
	}
	deleted := foyer.EventUserDeleted
	evs := allEvents(t, s.Events, foyer.EventFilter{Type: &deleted})
	perUser := map[string]int{}
	for _, e := range evs {
		perUser[e.UserID]++
	}
	if len(evs) != staleCount || len(perUser) != staleCount {
		t.Fatalf("%d user.deleted events for %d users, want %d for %d", len(evs), len(perUser), staleCount, staleCount)
	}
	for _, u := range stale {
		if perUser[u.ID] != 1 {
			t.Fatalf("user %s has %d user.deleted events, want 1", u.ID, perUser[u.ID])
		}
	}
	for _, u := range fresh {
		if _, err := s.Users.FindUserByID(t.Context(), u.ID); err != nil {
			t.Fatalf("fresh user %s: %v", u.ID, err)
		}
	}
	anon, _, err := db.UserCounts(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if anon != freshCount {
		t.Fatalf("%d anonymous users left, want %d", anon, freshCount)
	}
}

// TestConcurrentClaimMail has several mail workers claim at once, as
// several instances do: no message is claimed twice, and every message is
// claimed.
func TestConcurrentClaimMail(t *testing.T) {
	t.Parallel()
	c := newClock()
	db := openDB(t, c.Now)
	s := services(db)
	const messages, claimers, batch = 300, 4, 7
	for i, u := range createUsers(t, s.Users, messages) {
		h := sha256.Sum256([]byte(u.ID))
		if err := s.Conversions.RequestConversion(t.Context(), foyer.ConversionRequest{
			UserID: u.ID, Email: fmt.Sprintf("visitor%d@example.com", i), TokenHash: h[:], Token: u.ID,
			ExpiresAt: c.Now().Add(time.Hour),
		}); err != nil {
			t.Fatal(err)
		}
	}
	now := c.Now()

	var wg sync.WaitGroup
	got := make([][]*foyer.Mail, claimers)
	errs := make(chan error, claimers)
	for w := range claimers {
		wg.Go(func() {
			for {
				ms, err := s.Mail.ClaimMail(t.Context(), now, time.Hour, batch)
				if err != nil {
					errs <- err
					return
				}
				got[w] = append(got[w], ms...)
				if len(ms) == 0 {
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, ms := range got {
		for _, m := range ms {
			if seen[m.ID] {
				t.Fatalf("message %s claimed twice", m.ID)
			}
			seen[m.ID] = true
			if m.Attempts != 1 {
				t.Fatalf("message %s has %d attempts after one claim", m.ID, m.Attempts)
			}
			if !m.NextAttemptAt.Equal(now.Add(time.Hour)) {
				t.Fatalf("message %s is next due at %v, want %v", m.ID, m.NextAttemptAt, now.Add(time.Hour))
			}
		}
	}
	if len(seen) != messages {
		t.Fatalf("%d messages claimed, want %d", len(seen), messages)
	}
	if ms, err := s.Mail.ClaimMail(t.Context(), now, time.Hour, batch); err != nil || len(ms) != 0 {
		t.Fatalf("a claim within the lease got %d messages, %v", len(ms), err)
	}
}

// orphans counts, per table, the rows about users that no longer exist;
// events count when they are not the user.deleted event of a deleted user
// (or about an anonymous account merged into one that exists).
func orphans(t *testing.T, dsn string) map[string]int {
	t.Helper()
	conn, err := pgx.Connect(t.Context(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	rows, err := conn.Query(t.Context(), `
SELECT 'sessions', count(*) FROM sessions x WHERE NOT EXISTS (SELECT 1 FROM users u WHERE u.id = x.user_id)
UNION ALL SELECT 'conversions', count(*) FROM conversions x WHERE NOT EXISTS (SELECT 1 FROM users u WHERE u.id = x.user_id)
UNION ALL SELECT 'password_resets', count(*) FROM password_resets x WHERE NOT EXISTS (SELECT 1 FROM users u WHERE u.id = x.user_id)
UNION ALL SELECT 'aliases', count(*) FROM aliases x WHERE NOT EXISTS (SELECT 1 FROM users u WHERE u.id = x.into_id)
UNION ALL SELECT 'mail', count(*) FROM mail x WHERE x.user_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM users u WHERE u.id = x.user_id)
UNION ALL SELECT 'auth_requests', count(*) FROM auth_requests x WHERE x.user_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM users u WHERE u.id = x.user_id)
UNION ALL SELECT 'events', count(*) FROM events x WHERE x.type <> 'user.deleted' AND x.user_id IS NOT NULL
	AND NOT EXISTS (SELECT 1 FROM users u WHERE u.id = x.user_id)
	AND NOT EXISTS (SELECT 1 FROM aliases a JOIN users u ON u.id = a.into_id WHERE a.from_id = x.user_id)`)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]int{}
	for rows.Next() {
		var (
			table string
			n     int
		)
		if err := rows.Scan(&table, &n); err != nil {
			t.Fatal(err)
		}
		if n > 0 {
			out[table] = n
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestConcurrentDelete deletes users while other callers keep adding rows
// about them: sessions, reset links, login failures, conversion requests,
// profile writes, merges, completed authorization requests. The schema has no foreign keys to users, so this
// checks that the statements alone leave no row about a deleted user.
func TestConcurrentDelete(t *testing.T) {
	t.Parallel()
	c := newClock()
	dsn := newSchema(t)
	db := openDSN(t, dsn)
	db.Now = c.Now
	s := services(db)
	const pairs, rounds = 12, 15
	var wg sync.WaitGroup
	errs := make(chan error, 4*pairs)
	// expected reports err unless it is nil or one of the codes that a
	// call racing the deletion may get.
	expected := func(err error, codes ...string) {
		if err != nil && !slices.Contains(codes, foyer.ErrorCode(err)) {
			errs <- err
		}
	}
	app := &foyer.App{Name: "Notes", Type: foyer.AppPublic, RedirectURIs: []string{"https://notes.example.com/cb"}}
	if err := s.Apps.CreateApp(t.Context(), app); err != nil {
		t.Fatal(err)
	}
	for i := range pairs {
		email := fmt.Sprintf("owner%d@example.com", i)
		owner := &foyer.User{Email: email, EmailVerified: true}
		anon := &foyer.User{Anonymous: true}
		merged := &foyer.User{Anonymous: true}
		for _, u := range []*foyer.User{owner, anon, merged} {
			if err := s.Users.CreateUser(t.Context(), u); err != nil {
				t.Fatal(err)
			}
		}
		started := make(chan struct{}, 2)
		wg.Go(func() {
			for r := range rounds {
				_, err := s.Sessions.CreateSession(t.Context(), &foyer.Session{UserID: owner.ID,
					RefreshHash: []byte(fmt.Sprintf("%s-%d", owner.ID, r)), ExpiresAt: c.Now().Add(time.Hour)})
				expected(err, foyer.ENotFound)
				h := sha256.Sum256([]byte(fmt.Sprintf("reset-%s-%d", owner.ID, r)))
				expected(s.Credentials.RequestPasswordReset(t.Context(), foyer.PasswordResetRequest{
					Email: email, TokenHash: h[:], Token: "t", ExpiresAt: c.Now().Add(time.Hour)}))
				expected(s.Credentials.RecordLoginFailure(t.Context(), email))
				ar := &foyer.AuthRequest{AppID: app.ID, AuthParams: foyer.AuthParams{RedirectURI: app.RedirectURIs[0], Scopes: []string{"openid"},
					ResponseType: "code"}, ExpiresAt: c.Now().Add(time.Hour)}
				expected(s.AuthRequests.CreateAuthRequest(t.Context(), ar))
				expected(s.AuthRequests.CompleteAuthRequest(t.Context(), ar.ID, owner.ID, c.Now()), foyer.ENotFound)
				if r == 0 {
					_, err := s.Merges.MergeUsers(t.Context(), merged.ID, owner.ID, foyer.MergeRegisteredWins)
					expected(err, foyer.ENotFound)
					started <- struct{}{}
				}
			}
		})
		wg.Go(func() {
			for r := range rounds {
				h := sha256.Sum256([]byte(fmt.Sprintf("conv-%s-%d", anon.ID, r)))
				expected(s.Conversions.RequestConversion(t.Context(), foyer.ConversionRequest{UserID: anon.ID,
					Email: fmt.Sprintf("anon%d@example.com", i), TokenHash: h[:], Token: "t", ExpiresAt: c.Now().Add(time.Hour)}),
					foyer.ENotFound)
				_, err := s.Users.UpdateUser(t.Context(), anon.ID, foyer.UserUpdate{DataPatch: []byte(fmt.Sprintf(`{"r":%d}`, r))})
				expected(err, foyer.ENotFound)
				if r == 0 {
					started <- struct{}{}
				}
			}
		})
		wg.Go(func() {
			<-started
			<-started
			expected(s.Users.DeleteUser(t.Context(), owner.ID, foyer.DeleteReasonAdmin))
			expected(s.Users.DeleteUser(t.Context(), anon.ID, foyer.DeleteReasonSelf))
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if got := orphans(t, dsn); len(got) != 0 {
		t.Fatalf("rows about deleted users remain: %v", got)
	}
	if anon, reg, err := db.UserCounts(t.Context()); err != nil || anon != 0 || reg != 0 {
		t.Fatalf("UserCounts = %d, %d, %v; want no users left", anon, reg, err)
	}
}

// usersBytes returns pg_total_relation_size of the users table: its heap,
// its indexes and its TOAST table, free space included.
func usersBytes(tb testing.TB, dsn string) int64 {
	tb.Helper()
	conn, err := pgx.Connect(context.Background(), dsn)
	if err != nil {
		tb.Fatal(err)
	}
	defer conn.Close(context.Background())
	var n int64
	if err := conn.QueryRow(context.Background(), `SELECT pg_total_relation_size('users')`).Scan(&n); err != nil {
		tb.Fatal(err)
	}
	return n
}

// storageBudget is DESIGN §5's budget per anonymous user with empty data,
// indexes included.
const storageBudget = 300

// TestStorageBudget creates anonymous users as the service does, by
// several writers at once, and checks the bytes per user of the users
// table and its indexes.
func TestStorageBudget(t *testing.T) {
	if testing.Short() {
		t.Skip("creates 20,000 users")
	}
	t.Parallel()
	dsn := newSchema(t)
	db := openDSN(t, dsn)
	const n = 20000
	empty := usersBytes(t, dsn)
	createUsers(t, postgres.NewUserService(db), n)
	perUser := float64(usersBytes(t, dsn)-empty) / n
	t.Logf("users table and indexes: %.1f bytes per anonymous user", perUser)
	if perUser > storageBudget {
		t.Fatalf("%.1f bytes per anonymous user, budget %d", perUser, storageBudget)
	}
}

// openDSN opens and migrates a DB on dsn, closed when the test ends.
func openDSN(tb testing.TB, dsn string) *postgres.DB {
	tb.Helper()
	db := postgres.NewDB(dsn)
	if err := db.Open(context.Background()); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { db.Close() })
	if err := db.Migrate(context.Background()); err != nil {
		tb.Fatal(err)
	}
	return db
}

// benchClients is how many clients the benchmarks run at once, as DESIGN
// §5 measures them: 16 connections.
const benchClients = 16

// openBench opens a migrated DB on a fresh schema with a pool of
// benchClients connections, and returns it with its DSN.
func openBench(b *testing.B, now func() time.Time) (*postgres.DB, string) {
	b.Helper()
	dsn := newSchema(b)
	db := postgres.NewDB(withParam(b, dsn, "pool_max_conns", strconv.Itoa(benchClients)))
	if now != nil {
		db.Now = now
	}
	if err := db.Open(context.Background()); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
	if err := db.Migrate(context.Background()); err != nil {
		b.Fatal(err)
	}
	b.SetParallelism(max(1, benchClients/runtime.GOMAXPROCS(0)))
	return db, dsn
}

// BenchmarkCreateAnonymousUser measures a sign-up's store work (the user
// row and its event, one statement) with concurrent callers, and reports
// the bytes per user of the users table and its indexes. Run it with
// -benchtime=100000x for a stable size.
func BenchmarkCreateAnonymousUser(b *testing.B) {
	db, dsn := openBench(b, nil)
	users := postgres.NewUserService(db)
	ctx := context.Background()
	before := usersBytes(b, dsn)
	var n atomic.Int64
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if err := users.CreateUser(ctx, &foyer.User{Anonymous: true}); err != nil {
				b.Fatal(err)
			}
			n.Add(1)
		}
	})
	b.StopTimer()
	b.ReportMetric(float64(usersBytes(b, dsn)-before)/float64(n.Load()), "bytes/user")
}

// BenchmarkFindUserByID measures profile reads of one user by concurrent
// clients.
func BenchmarkFindUserByID(b *testing.B) {
	db, _ := openBench(b, nil)
	users := postgres.NewUserService(db)
	ctx := context.Background()
	u := &foyer.User{Anonymous: true, Data: []byte(`{"cart":[1,2,3]}`)}
	if err := users.CreateUser(ctx, u); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := users.FindUserByID(ctx, u.ID); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkUpdateUser measures profile writes of many users at once.
func BenchmarkUpdateUser(b *testing.B) {
	db, _ := openBench(b, nil)
	users := postgres.NewUserService(db)
	ctx := context.Background()
	all := createUsers(b, users, 1000)
	var next atomic.Int64
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			u := all[int(next.Add(1))%len(all)]
			if _, err := users.UpdateUser(ctx, u.ID, foyer.UserUpdate{DataPatch: []byte(`{"count":1}`)}); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkReap measures the reaper deleting stale anonymous users in
// batches of 1,000, and reports the users deleted per second.
func BenchmarkReap(b *testing.B) {
	c := newClock()
	db := openDB(b, c.Now)
	s := services(db)
	createUsers(b, s.Users, b.N)
	c.Advance(2 * time.Hour)
	b.ResetTimer()
	start := time.Now()
	total := 0
	for {
		ids, err := s.Reaps.DeleteExpiredAnonymousUsers(context.Background(), c.Now().Add(-time.Hour), 1000, false)
		if err != nil {
			b.Fatal(err)
		}
		total += len(ids)
		if len(ids) < 1000 {
			break
		}
	}
	b.ReportMetric(float64(total)/time.Since(start).Seconds(), "users/s")
	if total != b.N {
		b.Fatalf("reaped %d, want %d", total, b.N)
	}
}

// BenchmarkDataColumn compares the two candidate types of users.data with
// a typical 100-byte profile: bytea, which the schema uses, and jsonb. It
// reports the cost of writing and reading a row and the bytes per row.
func BenchmarkDataColumn(b *testing.B) {
	profile := []byte(`{"cart":["sku-1042","sku-7"],"favourites":{"a":1,"b":[1,2,3]},"theme":"dark","volume":0.75}`)
	for _, typ := range []string{"bytea", "jsonb"} {
		b.Run(typ, func(b *testing.B) {
			ctx := context.Background()
			pool, err := pgxpool.New(ctx, newSchema(b))
			if err != nil {
				b.Fatal(err)
			}
			defer pool.Close()
			if _, err := pool.Exec(ctx, `CREATE TABLE profiles (id uuid PRIMARY KEY, data `+typ+`)`); err != nil {
				b.Fatal(err)
			}
			b.Run("Write", func(b *testing.B) {
				n := 0
				for b.Loop() {
					id := uuid.Must(uuid.NewV7())
					if _, err := pool.Exec(ctx, `INSERT INTO profiles (id, data) VALUES ($1, $2)`, id, profile); err != nil {
						b.Fatal(err)
					}
					n++
				}
				b.StopTimer()
				var size int64
				if err := pool.QueryRow(ctx, `SELECT pg_relation_size('profiles')`).Scan(&size); err != nil {
					b.Fatal(err)
				}
				b.ReportMetric(float64(size)/float64(n), "bytes/row")
			})
			b.Run("Read", func(b *testing.B) {
				var id uuid.UUID
				if err := pool.QueryRow(ctx, `SELECT id FROM profiles LIMIT 1`).Scan(&id); err != nil {
					b.Fatal(err)
				}
				var data []byte
				for b.Loop() {
					if err := pool.QueryRow(ctx, `SELECT data FROM profiles WHERE id = $1`, id).Scan(&data); err != nil {
						b.Fatal(err)
					}
				}
			})
		})
	}
}
