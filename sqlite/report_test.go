package sqlite_test

import (
	"database/sql"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/uuid"

	"github.com/foyerhq/foyer"
	"github.com/foyerhq/foyer/sqlite"
)

// TestMigrateReportCounts upgrades a file of version 2 with users in it:
// version 3 starts the report counters from what the users table tells,
// and the changes after the upgrade add to them.
func TestMigrateReportCounts(t *testing.T) {
	path := filepath.Join(t.TempDir(), "foyer.db")
	raw, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	at := func(m time.Month, d, h int) int64 { return time.Date(2030, m, d, h, 0, 0, 0, time.UTC).UnixMilli() }
	id := func() []byte {
		u := uuid.Must(uuid.NewV7())
		return u[:]
	}
	queries := []string{`CREATE TABLE schema_migrations (version INTEGER NOT NULL PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL) STRICT`}
	for _, name := range []string{"0001_init.sql", "0002_webhooks.sql"} {
		b, err := os.ReadFile(filepath.Join("migrations", name))
		if err != nil {
			t.Fatal(err)
		}
		queries = append(queries, string(b))
	}
	queries = append(queries, `INSERT INTO schema_migrations VALUES (1, '0001_init.sql', 0), (2, '0002_webhooks.sql', 0)`)
	for _, q := range queries {
		if _, err := raw.ExecContext(t.Context(), q); err != nil {
			t.Fatal(err)
		}
	}
	const insert = `INSERT INTO users (id, anonymous, email, email_verified, created_at, updated_at, last_seen_at, converted_at)
VALUES (?, ?, ?, ?, ?, ?, ?, ?)`
	for _, u := range [][]any{
		// Anonymous, created on 2 January, back in February.
		{id(), 1, nil, 0, at(time.January, 2, 10), at(time.January, 2, 10), at(time.February, 3, 9), nil},
		// Created anonymous on 2 January, converted on 5 January.
		{id(), 0, "ann@example.com", 1, at(time.January, 2, 11), at(time.January, 5, 8), at(time.January, 5, 8), at(time.January, 5, 8)},
		// Created registered on 3 January.
		{id(), 0, "bob@example.com", 1, at(time.January, 3, 12), at(time.January, 3, 12), at(time.January, 3, 12), nil},
	} {
		if _, err := raw.ExecContext(t.Context(), insert, u...); err != nil {
			t.Fatal(err)
		}
	}
	raw.Close()

	db := sqlite.NewDB(path)
	db.Now = func() time.Time { return time.Date(2030, time.January, 3, 18, 0, 0, 0, time.UTC) }
	if err := db.Open(t.Context()); err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	if err := sqlite.NewUserService(db).CreateUser(t.Context(), &foyer.User{Anonymous: true}); err != nil {
		t.Fatal(err)
	}

	reports := sqlite.NewReportService(db)
	jan, mar := time.Date(2030, time.January, 1, 0, 0, 0, 0, time.UTC), time.Date(2030, time.March, 1, 0, 0, 0, 0, time.UTC)
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
