package sqlite_test

import (
	"database/sql"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/uuid"

	"github.com/foyerhq/foyer"
	"github.com/foyerhq/foyer/sqlite"
)

// TestReapKeepsCredentials checks DESIGN §2.8 in the reaper's own
// statement: it never deletes a registered account or one with an email or
// a password, whatever else holds. The services never write such anonymous
// rows and the schema's CHECK refuses them, so the test asserts the CHECK,
// then writes the rows with CHECK constraints ignored, as a damaged or
// hand-edited database could hold them, and reaps: every one of them must
// stay, while a really stale user goes.
func TestReapKeepsCredentials(t *testing.T) {
	now := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	db, path := openDB(t, func() time.Time { return now })
	users, reaps := sqlite.NewUserService(db), sqlite.NewReapService(db)
	stale := &foyer.User{Anonymous: true}
	if err := users.CreateUser(t.Context(), stale); err != nil {
		t.Fatal(err)
	}

	raw, err := sql.Open("sqlite", path+"?_busy_timeout=5000")
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	raw.SetMaxOpenConns(1)

	longAgo := now.Add(-30 * 24 * time.Hour).UnixMilli()
	rows := []struct {
		name      string
		anonymous int
		email     any
		password  any
		// checked is whether the schema's CHECK refuses the row.
		checked bool
	}{
		{"AnonymousWithPassword", 1, nil, "$argon2id$hash", true},
		{"AnonymousWithEmail", 1, "ann@example.com", nil, true},
		{"RegisteredWithPassword", 0, nil, "$argon2id$hash", false},
		{"RegisteredWithoutCredentials", 0, nil, nil, false},
	}
	insert := func(id uuid.UUID, anonymous int, email, password any) error {
		_, err := raw.ExecContext(t.Context(), `INSERT INTO users (id, anonymous, email, email_verified, password_hash,
	created_at, updated_at, last_seen_at) VALUES (?, ?, ?, 0, ?, ?, ?, ?)`,
			id[:], anonymous, email, password, longAgo, longAgo, longAgo)
		return err
	}
	var kept []string
	for _, r := range rows {
		id := uuid.Must(uuid.NewV7())
		err := insert(id, r.anonymous, r.email, r.password)
		switch {
		case r.checked && (err == nil || !strings.Contains(err.Error(), "CHECK constraint failed")):
			t.Fatalf("%s: the schema took the row (%v), want its CHECK to refuse it", r.name, err)
		case !r.checked && err != nil:
			t.Fatalf("%s: %v", r.name, err)
		}
		if r.checked {
			if _, err := raw.ExecContext(t.Context(), `PRAGMA ignore_check_constraints = ON`); err != nil {
				t.Fatal(err)
			}
			err = insert(id, r.anonymous, r.email, r.password)
			if _, perr := raw.ExecContext(t.Context(), `PRAGMA ignore_check_constraints = OFF`); perr != nil {
				t.Fatal(perr)
			}
			if err != nil {
				t.Fatalf("%s: %v", r.name, err)
			}
		}
		kept = append(kept, id.String())
	}

	cutoff := now.Add(time.Hour)
	for _, dryRun := range []bool{true, false} {
		got, err := reaps.DeleteExpiredAnonymousUsers(t.Context(), cutoff, 100, dryRun)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff([]string{stale.ID}, got); diff != "" {
			t.Fatalf("reaped with dryRun=%v (-want +got):\n%s", dryRun, diff)
		}
	}
	for i, id := range kept {
		uid := uuid.MustParse(id)
		var n int
		if err := raw.QueryRowContext(t.Context(), `SELECT count(*) FROM users WHERE id = ?`, uid[:]).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n != 1 {
			t.Errorf("%s was reaped", rows[i].name)
		}
	}
	if _, err := users.FindUserByID(t.Context(), stale.ID); foyer.ErrorCode(err) != foyer.ENotFound {
		t.Fatalf("the stale user remains: %v", err)
	}
}
