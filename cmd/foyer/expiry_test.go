package main

import (
	"crypto/rand"
	"log/slog"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/foyerhq/foyer"
)

// testPruneExpired checks that the periodic pruning deletes expired
// sessions and authorization requests, all of them however small the
// batches, and keeps the live ones.
func testPruneExpired(t *testing.T, databaseURL string) {
	c := validConfig()
	c.DataDir = filepath.Join(t.TempDir(), "data")
	c.DatabaseURL = databaseURL
	s, err := openMigratedStore(t.Context(), c)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	ctx := t.Context()
	u := &foyer.User{Email: "ann@example.com", EmailVerified: true}
	if err := s.Users.CreateUser(ctx, u); err != nil {
		t.Fatal(err)
	}
	notes := &foyer.App{Name: "Notes", Type: foyer.AppPublic, RedirectURIs: []string{"https://notes.example.com/cb"}}
	if err := s.Apps.CreateApp(ctx, notes); err != nil {
		t.Fatal(err)
	}
	// seed stores n sessions and n requests that expired a minute ago,
	// and one live session, which it returns.
	seed := func(n int) *foyer.Session {
		t.Helper()
		session := func(expires time.Time) *foyer.Session {
			sess := &foyer.Session{UserID: u.ID, RefreshHash: []byte(rand.Text()), ExpiresAt: expires}
			if _, err := s.Sessions.CreateSession(ctx, sess); err != nil {
				t.Fatal(err)
			}
			return sess
		}
		expired := time.Now().Add(-time.Minute)
		for range n {
			session(expired)
			a := &foyer.AuthRequest{AppID: notes.ID, AuthParams: foyer.AuthParams{RedirectURI: notes.RedirectURIs[0], ResponseType: "code"}, ExpiresAt: expired}
			if err := s.AuthRequests.CreateAuthRequest(ctx, a); err != nil {
				t.Fatal(err)
			}
		}
		return session(time.Now().Add(time.Hour))
	}
	// stored lists the ids of the user's sessions that are still stored,
	// expired or not, as an export shows them.
	stored := func() []string {
		t.Helper()
		x, err := s.Exports.ExportUser(ctx, u.ID)
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, sess := range x.Sessions {
			ids = append(ids, sess.ID)
		}
		return ids
	}
	wantDrained := func(live ...string) {
		t.Helper()
		if n, err := s.Expiry.DeleteExpired(ctx, 100); err != nil || n != 0 {
			t.Fatalf("DeleteExpired after = %d, %v; want nothing left to delete", n, err)
		}
		if got := stored(); !slices.Equal(got, live) {
			t.Fatalf("stored sessions = %v, want only the live %v", got, live)
		}
	}

	first := seed(3)
	if n, err := deleteExpired(ctx, s.Expiry, 2); err != nil || n != 6 {
		t.Fatalf("deleteExpired = %d, %v; want 6", n, err)
	}
	wantDrained(first.ID)

	second := seed(2)
	a := &app{cfg: c, logger: slog.New(slog.DiscardHandler), store: s}
	a.prune(ctx)
	wantDrained(first.ID, second.ID)
}

func TestPruneExpired(t *testing.T) {
	t.Run("SQLite", func(t *testing.T) {
		t.Parallel()
		testPruneExpired(t, "")
	})
	t.Run("PostgreSQL", func(t *testing.T) {
		t.Parallel()
		testPruneExpired(t, freshSchema(t, postgresDSN(t)))
	})
}
