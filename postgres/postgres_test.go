package postgres_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

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
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		u, err := url.Parse(dsn)
		if err != nil {
			tb.Fatalf("parse FOYER_TEST_POSTGRES: %v", err)
		}
		q := u.Query()
		q.Set("search_path", schema)
		u.RawQuery = q.Encode()
		return u.String()
	}
	return dsn + " search_path=" + schema
}

// clock is a settable clock for DB.Now.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock {
	return &clock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// openDB opens a migrated DB on a fresh schema, closed when the test ends.
func openDB(tb testing.TB, now func() time.Time) *postgres.DB {
	tb.Helper()
	db := postgres.NewDB(newSchema(tb))
	if now != nil {
		db.Now = now
	}
	ctx := context.Background()
	if err := db.Open(ctx); err != nil {
		tb.Fatalf("open: %v", err)
	}
	tb.Cleanup(func() { db.Close() })
	if err := db.Migrate(ctx); err != nil {
		tb.Fatalf("migrate: %v", err)
	}
	return db
}

// TestConformance runs the contract suite shared with the sqlite package,
// each test on a fresh schema.
func TestConformance(t *testing.T) {
	testDSN(t)
	storetest.Run(t, func(t *testing.T, now func() time.Time) storetest.Services {
		db := openDB(t, now)
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
		}
	})
}
