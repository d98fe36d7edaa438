package sqlite_test

import (
	"context"
	"database/sql"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/uuid"
	_ "modernc.org/sqlite"

	"github.com/foyerhq/foyer"
	"github.com/foyerhq/foyer/sqlite"
	"github.com/foyerhq/foyer/storetest"
)

// openDB opens and migrates a database in a fresh file of t's temporary
// directory, closed in t.Cleanup.
func openDB(tb testing.TB, now func() time.Time) (*sqlite.DB, string) {
	tb.Helper()
	path := filepath.Join(tb.TempDir(), "foyer.db")
	db := sqlite.NewDB(path)
	if now != nil {
		db.Now = now
	}
	if err := db.Open(context.Background()); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		if err := db.Close(); err != nil {
			tb.Errorf("close: %v", err)
		}
	})
	if err := db.Migrate(context.Background()); err != nil {
		tb.Fatal(err)
	}
	return db, path
}

func services(db *sqlite.DB) storetest.Services {
	return storetest.Services{
		Users:       sqlite.NewUserService(db),
		Conversions: sqlite.NewConversionService(db),
		Credentials: sqlite.NewCredentialService(db),
		Merges:      sqlite.NewMergeService(db),
		Sessions:    sqlite.NewSessionService(db),
		Mail:        sqlite.NewMailService(db),
		Events:      sqlite.NewEventService(db),
		APIKeys:     sqlite.NewAPIKeyService(db),
		SigningKeys: sqlite.NewSigningKeyService(db),
		Reaps:       sqlite.NewReapService(db),
		Webhooks:    sqlite.NewWebhookService(db),
		Deliveries:  sqlite.NewDeliveryService(db),
		Audit:       sqlite.NewAuditService(db),
		Exports:     sqlite.NewExportService(db),
		Retention:   sqlite.NewEventRetentionService(db),
		Expiry:      sqlite.NewExpiryService(db),
		Admins:      sqlite.NewAdminService(db),
		Reports:     sqlite.NewReportService(db),

		Apps:         sqlite.NewAppService(db),
		AuthRequests: sqlite.NewAuthRequestService(db),
	}
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T, now func() time.Time) storetest.Services {
		db, path := openDB(t, now)
		s := services(db)
		s.Mentions = func(t *testing.T, values ...string) map[string]int { return mentions(t, path, values...) }
		return s
	})
}

// mentions counts, by table, the rows of the database file at path that
// hold one of values in any column: as text, or, for a UUID, as the
// 16-byte BLOB ids are stored as. It reads the schema, so a table added
// later is searched too.
func mentions(t *testing.T, path string, values ...string) map[string]int {
	t.Helper()
	raw, err := sql.Open("sqlite", path+"?_query_only=1")
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	var needles []any
	for _, v := range values {
		needles = append(needles, v)
		if id, err := uuid.Parse(v); err == nil {
			needles = append(needles, id[:])
		}
	}
	rows, err := raw.QueryContext(t.Context(), `SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name`)
	if err != nil {
		t.Fatal(err)
	}
	var tables []string
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			t.Fatal(err)
		}
		tables = append(tables, name)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	rows.Close()
	got := map[string]int{}
	for _, table := range tables {
		rows, err := raw.QueryContext(t.Context(), `SELECT name FROM pragma_table_info(?)`, table)
		if err != nil {
			t.Fatal(err)
		}
		var conds []string
		var args []any
		for rows.Next() {
			var col string
			if err := rows.Scan(&col); err != nil {
				t.Fatal(err)
			}
			for _, n := range needles {
				conds = append(conds, `instr("`+col+`", ?) > 0`)
				args = append(args, n)
			}
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		rows.Close()
		var n int
		if err := raw.QueryRowContext(t.Context(), `SELECT count(*) FROM "`+table+`" WHERE `+strings.Join(conds, " OR "), args...).Scan(&n); err != nil {
			t.Fatalf("search %s: %v", table, err)
		}
		if n > 0 {
			got[table] = n
		}
	}
	return got
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

func TestMigrate(t *testing.T) {
	t.Run("OK/Idempotent", func(t *testing.T) {
		db, path := openDB(t, nil)
		u := &foyer.User{Anonymous: true}
		if err := sqlite.NewUserService(db).CreateUser(t.Context(), u); err != nil {
			t.Fatal(err)
		}
		if err := db.Migrate(t.Context()); err != nil {
			t.Fatalf("second Migrate: %v", err)
		}
		// A new process opening the same file migrates again.
		db2 := sqlite.NewDB(path)
		if err := db2.Open(t.Context()); err != nil {
			t.Fatal(err)
		}
		defer db2.Close()
		if err := db2.Migrate(t.Context()); err != nil {
			t.Fatalf("Migrate on reopen: %v", err)
		}
		if _, err := sqlite.NewUserService(db2).FindUserByID(t.Context(), u.ID); err != nil {
			t.Fatalf("data lost across migrations: %v", err)
		}

		raw, err := sql.Open("sqlite", path)
		if err != nil {
			t.Fatal(err)
		}
		defer raw.Close()
		rows, err := raw.QueryContext(t.Context(), `SELECT version FROM schema_migrations ORDER BY version`)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		var applied []int
		for rows.Next() {
			var v int
			if err := rows.Scan(&v); err != nil {
				t.Fatal(err)
			}
			applied = append(applied, v)
		}
		if diff := cmp.Diff(migrationVersions(t, "migrations"), applied); diff != "" {
			t.Fatalf("schema_migrations (-files +applied):\n%s", diff)
		}
	})

	// A file of version 1 upgraded to 2: no endpoint existed, so the
	// events recorded until then are dispatched, and an endpoint created
	// after the upgrade does not receive the whole history.
	t.Run("OK/EventsBeforeWebhooksAreDispatched", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "foyer.db")
		raw, err := sql.Open("sqlite", path)
		if err != nil {
			t.Fatal(err)
		}
		defer raw.Close()
		v1, err := os.ReadFile(filepath.Join("migrations", "0001_init.sql"))
		if err != nil {
			t.Fatal(err)
		}
		for _, q := range []string{
			`CREATE TABLE schema_migrations (version INTEGER NOT NULL PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL) STRICT`,
			string(v1),
			`INSERT INTO schema_migrations VALUES (1, '0001_init.sql', 0)`,
			`INSERT INTO events (id, type, user_id, created_at, data) VALUES (x'0190a5d000007000800000000000000a', 'user.created', NULL, 0, '{}')`,
		} {
			if _, err := raw.ExecContext(t.Context(), q); err != nil {
				t.Fatal(err)
			}
		}
		raw.Close()

		db := sqlite.NewDB(path)
		if err := db.Open(t.Context()); err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		if err := db.Migrate(t.Context()); err != nil {
			t.Fatal(err)
		}
		w := &foyer.Webhook{URL: "https://hooks.example.com", Enabled: true, Secret: "whsec_c2VjcmV0"}
		if err := sqlite.NewWebhookService(db).CreateWebhook(t.Context(), w); err != nil {
			t.Fatal(err)
		}
		if n, err := sqlite.NewDeliveryService(db).FanOutEvents(t.Context(), 10); err != nil || n != 0 {
			t.Fatalf("FanOutEvents after the upgrade = %d, %v; want 0", n, err)
		}
		if err := sqlite.NewUserService(db).CreateUser(t.Context(), &foyer.User{Anonymous: true}); err != nil {
			t.Fatal(err)
		}
		if n, err := sqlite.NewDeliveryService(db).FanOutEvents(t.Context(), 10); err != nil || n != 1 {
			t.Fatalf("FanOutEvents of a new event = %d, %v; want 1", n, err)
		}
	})

	t.Run("OK/SameVersionsAsPostgres", func(t *testing.T) {
		pg := filepath.Join("..", "postgres", "migrations")
		if _, err := os.Stat(pg); os.IsNotExist(err) {
			t.Skip("no postgres migrations yet")
		}
		if diff := cmp.Diff(migrationVersions(t, "migrations"), migrationVersions(t, pg)); diff != "" {
			t.Fatalf("migration versions differ (-sqlite +postgres):\n%s", diff)
		}
	})

	t.Run("ErrOpen", func(t *testing.T) {
		db := sqlite.NewDB(filepath.Join(t.TempDir(), "missing", "foyer.db"))
		if err := db.Open(t.Context()); err == nil {
			db.Close()
			t.Fatal("Open succeeded in a directory that does not exist")
		}
	})
}

func TestPing(t *testing.T) {
	db, _ := openDB(t, nil)
	if err := db.Ping(t.Context()); err != nil {
		t.Fatal(err)
	}
	closed := sqlite.NewDB(filepath.Join(t.TempDir(), "x.db"))
	if got := foyer.ErrorCode(closed.Ping(t.Context())); got != foyer.EUnavailable {
		t.Fatalf("Ping before Open: code %q, want %q", got, foyer.EUnavailable)
	}
}

func TestUserCounts(t *testing.T) {
	db, _ := openDB(t, nil)
	users := sqlite.NewUserService(db)
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

// TestConcurrentWrites checks that writers queue for the single writer
// connection instead of failing with SQLITE_BUSY, while readers go on.
func TestConcurrentWrites(t *testing.T) {
	db, _ := openDB(t, nil)
	users := sqlite.NewUserService(db)
	const workers, each = 8, 40
	var wg sync.WaitGroup
	errs := make(chan error, workers*each)
	for range workers {
		wg.Go(func() {
			for range each {
				u := &foyer.User{Anonymous: true}
				if err := users.CreateUser(t.Context(), u); err != nil {
					errs <- err
					return
				}
				if _, err := users.FindUserByID(t.Context(), u.ID); err != nil {
					errs <- err
					return
				}
				if _, err := users.UpdateUser(t.Context(), u.ID, foyer.UserUpdate{DataPatch: []byte(`{"n":1}`)}); err != nil {
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
	anon, _, err := db.UserCounts(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if anon != workers*each {
		t.Fatalf("%d users, want %d", anon, workers*each)
	}
}

// TestWriteAfterCancel checks that a caller whose context is already done
// gets its error and changes nothing.
func TestWriteAfterCancel(t *testing.T) {
	db, _ := openDB(t, nil)
	users := sqlite.NewUserService(db)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if err := users.CreateUser(ctx, &foyer.User{Anonymous: true}); err == nil {
		t.Fatal("CreateUser succeeded with a cancelled context")
	}
	anon, _, err := db.UserCounts(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if anon != 0 {
		t.Fatalf("%d users, want 0", anon)
	}
}

// TestCloseThenWrite checks that writes after Close fail cleanly.
func TestCloseThenWrite(t *testing.T) {
	db := sqlite.NewDB(filepath.Join(t.TempDir(), "foyer.db"))
	if err := db.Open(t.Context()); err != nil {
		t.Fatal(err)
	}
	if err := db.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	err := sqlite.NewUserService(db).CreateUser(t.Context(), &foyer.User{Anonymous: true})
	if got := foyer.ErrorCode(err); got != foyer.EUnavailable {
		t.Fatalf("code %q, want %q (%v)", got, foyer.EUnavailable, err)
	}
}

// usersBytes returns the bytes of the pages that the users table and its
// indexes occupy, free space included, as reported by dbstat.
func usersBytes(tb testing.TB, path string) int64 {
	tb.Helper()
	raw, err := sql.Open("sqlite", path)
	if err != nil {
		tb.Fatal(err)
	}
	defer raw.Close()
	var n int64
	if err := raw.QueryRow(`SELECT coalesce(sum(pgsize), 0) FROM dbstat
WHERE name = 'users' OR name IN (SELECT name FROM sqlite_schema WHERE type = 'index' AND tbl_name = 'users')`).Scan(&n); err != nil {
		tb.Fatal(err)
	}
	return n
}

// storageBudget is DESIGN §5's budget per anonymous user with empty data,
// indexes included.
const storageBudget = 300

// TestStorageBudget creates anonymous users as the service does and checks
// the bytes per user of the users table and its indexes.
func TestStorageBudget(t *testing.T) {
	if testing.Short() {
		t.Skip("creates 20,000 users")
	}
	db, path := openDB(t, nil)
	users := sqlite.NewUserService(db)
	const n = 20000
	empty := usersBytes(t, path)
	for range n {
		if err := users.CreateUser(t.Context(), &foyer.User{Anonymous: true}); err != nil {
			t.Fatal(err)
		}
	}
	perUser := float64(usersBytes(t, path)-empty) / n
	t.Logf("users table and indexes: %.1f bytes per anonymous user", perUser)
	if perUser > storageBudget {
		t.Fatalf("%.1f bytes per anonymous user, budget %d", perUser, storageBudget)
	}
}

// BenchmarkCreateAnonymousUser measures a sign-up's store work (the user
// row and its event in one transaction) and reports the bytes per user of
// the users table and its indexes.
func BenchmarkCreateAnonymousUser(b *testing.B) {
	db, path := openDB(b, nil)
	users := sqlite.NewUserService(db)
	ctx := context.Background()
	before := usersBytes(b, path)
	n := 0
	for b.Loop() {
		if err := users.CreateUser(ctx, &foyer.User{Anonymous: true}); err != nil {
			b.Fatal(err)
		}
		n++
	}
	b.StopTimer()
	b.ReportMetric(float64(usersBytes(b, path)-before)/float64(n), "bytes/user")
}

// BenchmarkCreateAnonymousUserParallel is the same with 16 concurrent
// callers per core, as behind a busy HTTP server, where writes queue for
// the single writer and commit in groups.
func BenchmarkCreateAnonymousUserParallel(b *testing.B) {
	db, _ := openDB(b, nil)
	users := sqlite.NewUserService(db)
	ctx := context.Background()
	b.SetParallelism(16)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if err := users.CreateUser(ctx, &foyer.User{Anonymous: true}); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkFindUserByID measures a profile read on the read pool.
func BenchmarkFindUserByID(b *testing.B) {
	db, _ := openDB(b, nil)
	users := sqlite.NewUserService(db)
	ctx := context.Background()
	u := &foyer.User{Anonymous: true, Data: []byte(`{"cart":[1,2,3]}`)}
	if err := users.CreateUser(ctx, u); err != nil {
		b.Fatal(err)
	}
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := users.FindUserByID(ctx, u.ID); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkUpdateUser measures a profile write.
func BenchmarkUpdateUser(b *testing.B) {
	db, _ := openDB(b, nil)
	users := sqlite.NewUserService(db)
	ctx := context.Background()
	u := &foyer.User{Anonymous: true}
	if err := users.CreateUser(ctx, u); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := users.UpdateUser(ctx, u.ID, foyer.UserUpdate{DataPatch: []byte(`{"count":1}`)}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkReap measures the reaper deleting stale anonymous users in
// batches of 1,000, with their user.deleted events.
func BenchmarkReap(b *testing.B) {
	t0 := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	now := t0
	db, _ := openDB(b, func() time.Time { return now })
	users := sqlite.NewUserService(db)
	reaps := sqlite.NewReapService(db)
	ctx := context.Background()
	for b.Loop() {
		b.StopTimer()
		var wg sync.WaitGroup
		for range 16 {
			wg.Go(func() {
				for range 1000 / 16 {
					if err := users.CreateUser(ctx, &foyer.User{Anonymous: true}); err != nil {
						b.Error(err)
						return
					}
				}
			})
		}
		wg.Wait()
		b.StartTimer()
		ids, err := reaps.DeleteExpiredAnonymousUsers(ctx, t0.Add(time.Hour), 1000, false)
		if err != nil {
			b.Fatal(err)
		}
		if len(ids) != 1000/16*16 {
			b.Fatalf("reaped %d", len(ids))
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*(1000/16*16)), "ns/user")
}
