package postgres_test

import (
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/foyerhq/foyer"
	"github.com/foyerhq/foyer/postgres"
	"github.com/foyerhq/foyer/storetest"
)

// total returns the sum of metric's counts over [from, to).
func total(t *testing.T, s storetest.Services, metric string, from, to time.Time) int64 {
	t.Helper()
	days, err := s.Reports.CountPerDay(t.Context(), metric, from, to)
	if err != nil {
		t.Fatal(err)
	}
	var n int64
	for _, d := range days {
		n += d.Count
	}
	return n
}

// TestConcurrentSignUpCounts has many sign-ups at once: the counters they
// add to are spread over shards, so they do not queue on one row, and
// the shards add up to exactly the number of users created.
func TestConcurrentSignUpCounts(t *testing.T) {
	t.Parallel()
	c := newClock()
	dsn := newSchema(t)
	db := openDSN(t, dsn)
	db.Now = c.Now
	s := services(db)
	const anonymous, registered = 400, 40
	var wg sync.WaitGroup
	errs := make(chan error, registered)
	for i := range registered {
		wg.Go(func() {
			errs <- s.Users.CreateUser(t.Context(), &foyer.User{Email: fmt.Sprintf("u%d@example.com", i), EmailVerified: true})
		})
	}
	createUsers(t, s.Users, anonymous)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}

	from, to := c.Now().AddDate(0, -1, 0), c.Now().AddDate(0, 1, 0)
	for _, tt := range []struct {
		metric string
		want   int64
	}{
		{foyer.MetricAnonymousCreated, anonymous},
		{foyer.MetricActiveAnonymous, anonymous},
		{foyer.MetricRegisteredCreated, registered},
		{foyer.MetricActiveRegistered, registered},
	} {
		if got := total(t, s, tt.metric, from, to); got != tt.want {
			t.Errorf("%s = %d, want %d", tt.metric, got, tt.want)
		}
	}

	conn, err := pgx.Connect(t.Context(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(t.Context())
	var shards int
	if err := conn.QueryRow(t.Context(), `SELECT count(*) FROM report_counts WHERE metric = $1`, foyer.MetricAnonymousCreated).Scan(&shards); err != nil {
		t.Fatal(err)
	}
	if shards < 2 {
		t.Fatalf("%d sign-ups added to %d shard, want them spread", anonymous, shards)
	}
}

// TestConcurrentTouchCounts has every user come back several times at
// once at the start of a month: each is counted active in the new month
// exactly once, however the touches interleave.
func TestConcurrentTouchCounts(t *testing.T) {
	t.Parallel()
	c := newClock()
	db := openDB(t, c.Now)
	s := services(db)
	const n, touchers = 100, 6
	users := createUsers(t, s.Users, n)
	month := time.Date(2030, 2, 1, 0, 0, 0, 0, time.UTC)
	c.Advance(month.Sub(c.Now()))

	start := make(chan struct{})
	var wg sync.WaitGroup
	errs := make(chan error, touchers)
	for k := range touchers {
		wg.Go(func() {
			<-start
			for _, u := range users {
				// Each toucher writes a later time than the one before,
				// so several of them write the same user.
				if _, err := s.Users.TouchUser(t.Context(), u.ID, month.Add(time.Duration(k)*time.Millisecond), 0); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	close(start)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if got := total(t, s, foyer.MetricActiveAnonymous, month, month.AddDate(0, 0, 1)); got != n {
		t.Fatalf("%d active in February, want %d", got, n)
	}
	anon, _, err := s.Reports.ActiveUsers(t.Context(), month)
	if err != nil {
		t.Fatal(err)
	}
	if anon != n {
		t.Fatalf("ActiveUsers = %d, want %d", anon, n)
	}
}

// TestConcurrentReapCounts has several reapers take batches at once: the
// reaped count of the day is the number of users deleted.
func TestConcurrentReapCounts(t *testing.T) {
	t.Parallel()
	c := newClock()
	db := openDB(t, c.Now)
	s := services(db)
	const n, reapers, batch = 300, 4, 20
	createUsers(t, s.Users, n)
	c.Advance(2 * time.Hour)
	cutoff := c.Now().Add(-time.Hour)

	var wg sync.WaitGroup
	errs := make(chan error, reapers)
	for range reapers {
		wg.Go(func() {
			for {
				ids, err := s.Reaps.DeleteExpiredAnonymousUsers(t.Context(), cutoff, batch, false)
				if err != nil {
					errs <- err
					return
				}
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
	if got := total(t, s, foyer.MetricReaped, c.Now(), c.Now().Add(time.Nanosecond)); got != n {
		t.Fatalf("%d reaped, want %d", got, n)
	}
	if got := total(t, s, foyer.MetricAnonymousCreated, c.Now(), c.Now().Add(time.Nanosecond)); got != n {
		t.Fatalf("%d created, want %d: the count outlives the users", got, n)
	}
}

// TestMigrateReportCounts upgrades a schema of version 2 with users in
// it: version 3 starts the report counters from what the users table
// tells, and the changes after the upgrade add to them.
func TestMigrateReportCounts(t *testing.T) {
	t.Parallel()
	dsn := newSchema(t)
	conn, err := pgx.Connect(t.Context(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(t.Context())
	at := func(m time.Month, d, h int) time.Time { return time.Date(2030, m, d, h, 0, 0, 0, time.UTC) }
	queries := []string{`CREATE TABLE schema_migrations (version integer NOT NULL PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL)`}
	for _, name := range []string{"0001_init.sql", "0002_webhooks.sql"} {
		b, err := os.ReadFile(filepath.Join("migrations", name))
		if err != nil {
			t.Fatal(err)
		}
		queries = append(queries, string(b))
	}
	queries = append(queries, `INSERT INTO schema_migrations VALUES (1, '0001_init.sql', now()), (2, '0002_webhooks.sql', now())`)
	for _, q := range queries {
		if _, err := conn.Exec(t.Context(), q); err != nil {
			t.Fatal(err)
		}
	}
	const insert = `INSERT INTO users (id, anonymous, email, email_verified, created_at, updated_at, last_seen_at, converted_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`
	for _, u := range [][]any{
		// Anonymous, created on 2 January, back in February.
		{uuid.Must(uuid.NewV7()), true, nil, false, at(time.January, 2, 10), at(time.January, 2, 10), at(time.February, 3, 9), nil},
		// Created anonymous on 2 January, converted on 5 January.
		{uuid.Must(uuid.NewV7()), false, "ann@example.com", true, at(time.January, 2, 11), at(time.January, 5, 8), at(time.January, 5, 8), at(time.January, 5, 8)},
		// Created registered on 3 January.
		{uuid.Must(uuid.NewV7()), false, "bob@example.com", true, at(time.January, 3, 12), at(time.January, 3, 12), at(time.January, 3, 12), nil},
	} {
		if _, err := conn.Exec(t.Context(), insert, u...); err != nil {
			t.Fatal(err)
		}
	}

	db := openDSN(t, dsn)
	db.Now = func() time.Time { return at(time.January, 3, 18) }
	if err := postgres.NewUserService(db).CreateUser(t.Context(), &foyer.User{Anonymous: true}); err != nil {
		t.Fatal(err)
	}

	reports := postgres.NewReportService(db)
	jan, mar := at(time.January, 1, 0), at(time.March, 1, 0)
	for _, tt := range []struct {
		metric string
		want   map[time.Time]int64
	}{
		{foyer.MetricAnonymousCreated, map[time.Time]int64{jan.AddDate(0, 0, 1): 2, jan.AddDate(0, 0, 2): 1}},
		{foyer.MetricRegisteredCreated, map[time.Time]int64{jan.AddDate(0, 0, 2): 1}},
		{foyer.MetricConverted, map[time.Time]int64{jan.AddDate(0, 0, 4): 1}},
		{foyer.MetricActiveAnonymous, map[time.Time]int64{jan: 1, jan.AddDate(0, 1, 0): 1}},
		{foyer.MetricActiveRegistered, map[time.Time]int64{jan: 2}},
		{foyer.MetricReaped, map[time.Time]int64{}},
	} {
		days, err := reports.CountPerDay(t.Context(), tt.metric, jan, mar)
		if err != nil {
			t.Fatal(err)
		}
		got := map[time.Time]int64{}
		for _, d := range days {
			if d.Count != 0 {
				got[d.Day] = d.Count
			}
		}
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("%s after the upgrade (-want +got):\n%s", tt.metric, diff)
		}
	}
}
