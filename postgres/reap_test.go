package postgres_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/foyerhq/foyer"
	"github.com/foyerhq/foyer/postgres"
)

// TestReapKeepsCredentials checks DESIGN §2.8 in the reaper's own
// statement: it never deletes a registered account or one with an email or
// a password, whatever else holds. The services never write such rows and
// the schema's CHECK constraints refuse them, so the test first asserts
// each CHECK, then drops them in its own schema, as a damaged or
// hand-edited database could lack them, writes the rows and reaps: every
// one of them must stay, while a really stale user goes.
func TestReapKeepsCredentials(t *testing.T) {
	t.Parallel()
	dsn := newSchema(t)
	db := openDSN(t, dsn)
	now := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	db.Now = func() time.Time { return now }
	users, reaps := postgres.NewUserService(db), postgres.NewReapService(db)
	stale := &foyer.User{Anonymous: true}
	if err := users.CreateUser(t.Context(), stale); err != nil {
		t.Fatal(err)
	}

	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)

	longAgo := now.Add(-30 * 24 * time.Hour)
	password := "$argon2id$hash"
	email := "ann@example.com"
	rows := []struct {
		name      string
		anonymous bool
		email     *string
		password  *string
		// check is the constraint that refuses the row.
		check string
	}{
		{"AnonymousWithPassword", true, nil, &password, "users_anonymous_password_check"},
		{"AnonymousWithEmail", true, &email, nil, "users_anonymous_check"},
		{"RegisteredWithPassword", false, nil, &password, "users_anonymous_check"},
		{"RegisteredWithoutCredentials", false, nil, nil, "users_anonymous_check"},
	}
	insert := func(id uuid.UUID, anonymous bool, email, password *string) error {
		_, err := conn.Exec(ctx, `INSERT INTO users (id, anonymous, email, password_hash, created_at, updated_at, last_seen_at)
VALUES ($1, $2, $3, $4, $5, $5, $5)`, id, anonymous, email, password, longAgo)
		return err
	}
	for _, r := range rows {
		err := insert(uuid.Must(uuid.NewV7()), r.anonymous, r.email, r.password)
		var pe *pgconn.PgError
		if !errors.As(err, &pe) || pe.Code != "23514" || pe.ConstraintName != r.check {
			t.Fatalf("%s: the schema answered %v, want a violation of %s", r.name, err, r.check)
		}
	}

	if _, err := conn.Exec(ctx, `ALTER TABLE users DROP CONSTRAINT users_anonymous_check, DROP CONSTRAINT users_anonymous_password_check`); err != nil {
		t.Fatal(err)
	}
	var kept []uuid.UUID
	for _, r := range rows {
		id := uuid.Must(uuid.NewV7())
		if err := insert(id, r.anonymous, r.email, r.password); err != nil {
			t.Fatalf("%s: %v", r.name, err)
		}
		kept = append(kept, id)
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
	var left []uuid.UUID
	if err := conn.QueryRow(ctx, `SELECT array_agg(id) FROM users WHERE id = ANY($1)`, kept).Scan(&left); err != nil {
		t.Fatal(err)
	}
	for i, id := range kept {
		if !slices.Contains(left, id) {
			t.Errorf("%s was reaped", rows[i].name)
		}
	}
	if _, err := users.FindUserByID(t.Context(), stale.ID); foyer.ErrorCode(err) != foyer.ENotFound {
		t.Fatalf("the stale user remains: %v", err)
	}
}
