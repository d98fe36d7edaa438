package reaper_test

import (
	"context"
	"io"
	"log/slog"
	"path/filepath"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/foyerhq/foyer"
	"github.com/foyerhq/foyer/reaper"
	"github.com/foyerhq/foyer/sqlite"
)

type bundle struct {
	db     *sqlite.DB
	users  *sqlite.UserService
	events *sqlite.EventService
	reaps  *sqlite.ReapService
	mu     sync.Mutex
	now    time.Time
}

func (b *bundle) clock() time.Time {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.now
}

func (b *bundle) advance(d time.Duration) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.now = b.now.Add(d)
}

func setup(t *testing.T) *bundle {
	t.Helper()
	b := &bundle{now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	b.db = sqlite.NewDB(filepath.Join(t.TempDir(), "foyer.db"))
	b.db.Now = b.clock
	if err := b.db.Open(t.Context()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.db.Close() })
	if err := b.db.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	b.users = sqlite.NewUserService(b.db)
	b.events = sqlite.NewEventService(b.db)
	b.reaps = sqlite.NewReapService(b.db)
	return b
}

func (b *bundle) createAnonymous(t *testing.T, n int) []*foyer.User {
	t.Helper()
	var out []*foyer.User
	for range n {
		u := &foyer.User{Anonymous: true}
		if err := b.users.CreateUser(t.Context(), u); err != nil {
			t.Fatal(err)
		}
		out = append(out, u)
	}
	return out
}

func discard() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func TestRunOnce(t *testing.T) {
	const retention = 40 * 24 * time.Hour

	t.Run("OK", func(t *testing.T) {
		b := setup(t)
		stale := b.createAnonymous(t, 5)
		active := b.createAnonymous(t, 1)[0]
		reg := &foyer.User{Email: "ann@example.org", EmailVerified: true}
		if err := b.users.CreateUser(t.Context(), reg); err != nil {
			t.Fatal(err)
		}
		b.advance(retention + time.Hour)
		// Activity just before the run keeps this one.
		if _, err := b.users.TouchUser(t.Context(), active.ID, b.clock(), time.Hour); err != nil {
			t.Fatal(err)
		}

		r := reaper.New(b.reaps, discard())
		r.Retention, r.BatchSize, r.Now = retention, 2, b.clock

		dry, err := r.RunOnce(t.Context(), true)
		if err != nil {
			t.Fatal(err)
		}
		if dry.Deleted != len(stale) {
			t.Fatalf("dry run counted %d, want %d", dry.Deleted, len(stale))
		}
		if _, err := b.users.FindUserByID(t.Context(), stale[0].ID); err != nil {
			t.Fatalf("dry run deleted a user: %v", err)
		}

		var seen []reaper.Result
		r.OnRun = func(res reaper.Result) { seen = append(seen, res) }
		res, err := r.RunOnce(t.Context(), false)
		if err != nil {
			t.Fatal(err)
		}
		// 5 stale users in batches of 2: 2, 2, 1 (short, so it stops).
		if res.Deleted != 5 || res.Batches != 3 {
			t.Fatalf("deleted=%d batches=%d, want 5 and 3", res.Deleted, res.Batches)
		}
		if len(seen) != 1 || seen[0].Deleted != 5 {
			t.Fatalf("OnRun saw %+v", seen)
		}
		for _, u := range stale {
			if _, err := b.users.FindUserByID(t.Context(), u.ID); foyer.ErrorCode(err) != foyer.ENotFound {
				t.Fatalf("stale user %s: err=%v, want not_found", u.ID, err)
			}
		}
		for _, id := range []string{active.ID, reg.ID} {
			if _, err := b.users.FindUserByID(t.Context(), id); err != nil {
				t.Fatalf("user %s was reaped: %v", id, err)
			}
		}
		typ := foyer.EventUserDeleted
		evs, err := b.events.FindEvents(t.Context(), foyer.EventFilter{Type: &typ, Limit: 100})
		if err != nil {
			t.Fatal(err)
		}
		if len(evs) != len(stale) {
			t.Fatalf("%d user.deleted events, want %d", len(evs), len(stale))
		}
	})

	t.Run("NotYetStale", func(t *testing.T) {
		b := setup(t)
		b.createAnonymous(t, 3)
		b.advance(retention - time.Minute)
		r := reaper.New(b.reaps, discard())
		r.Retention, r.Now = retention, b.clock
		res, err := r.RunOnce(t.Context(), false)
		if err != nil || res.Deleted != 0 {
			t.Fatalf("deleted=%d err=%v, want 0", res.Deleted, err)
		}
	})

	t.Run("ErrInvalid", func(t *testing.T) {
		b := setup(t)
		r := reaper.New(b.reaps, discard())
		if _, err := r.RunOnce(t.Context(), false); foyer.ErrorCode(err) != foyer.EInvalid {
			t.Fatalf("err=%v, want invalid", err)
		}
	})
}

// countingStore passes calls to the real store and counts them, so the
// loop test can see how often Run reaped.
type countingStore struct {
	foyer.ReapService
	mu    sync.Mutex
	calls int
}

func (c *countingStore) DeleteExpiredAnonymousUsers(ctx context.Context, cutoff time.Time, limit int, dryRun bool) ([]string, error) {
	c.mu.Lock()
	c.calls++
	c.mu.Unlock()
	return c.ReapService.DeleteExpiredAnonymousUsers(ctx, cutoff, limit, dryRun)
}

func TestRun(t *testing.T) {
	var calls int
	synctest.Test(t, func(t *testing.T) {
		// The store is opened inside the bubble so that its background
		// goroutines run on the bubble's clock, and closed before it ends.
		b := setup(t)
		cs := &countingStore{ReapService: b.reaps}
		r := reaper.New(cs, discard())
		r.Retention, r.Interval = time.Hour, 10*time.Minute
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan error)
		go func() { done <- r.Run(ctx) }()
		// Three intervals pass: three runs, each one short batch.
		time.Sleep(35 * time.Minute)
		synctest.Wait()
		cancel()
		if err := <-done; err != nil {
			t.Fatalf("Run returned %v, want nil on cancellation", err)
		}
		calls = cs.calls
		b.db.Close()
	})
	if calls != 3 {
		t.Fatalf("store called %d times, want 3", calls)
	}
}
