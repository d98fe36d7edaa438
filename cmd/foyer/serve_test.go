package main

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/foyerhq/foyer"
)

// testDeleteEventsBefore checks that the event-log retention drains old
// events in batches and keeps those the dispatcher has not handled yet.
func testDeleteEventsBefore(t *testing.T, databaseURL string) {
	c := validConfig()
	c.DataDir = filepath.Join(t.TempDir(), "data")
	c.DatabaseURL = databaseURL
	s, err := openMigratedStore(t.Context(), c)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	ctx := t.Context()
	for range 5 {
		if err := s.Users.CreateUser(ctx, &foyer.User{Anonymous: true}); err != nil {
			t.Fatal(err)
		}
	}
	if n, err := s.Deliveries.FanOutEvents(ctx, 100); err != nil || n != 5 {
		t.Fatalf("FanOutEvents = %d, %v; want 5 events dispatched", n, err)
	}
	// This one's event is not dispatched yet: the retention keeps it.
	waiting := &foyer.User{Anonymous: true}
	if err := s.Users.CreateUser(ctx, waiting); err != nil {
		t.Fatal(err)
	}

	n, err := deleteEventsBefore(ctx, s.Retention, time.Now().Add(time.Hour), 2)
	if err != nil {
		t.Fatal(err)
	}
	if n != 5 {
		t.Fatalf("deleteEventsBefore deleted %d events, want 5", n)
	}
	left, err := s.Events.FindEvents(ctx, foyer.EventFilter{Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	if len(left) != 1 || left[0].UserID != waiting.ID {
		t.Fatalf("events left: %+v, want only the undispatched one of %s", left, waiting.ID)
	}
}

func TestDeleteEventsBefore(t *testing.T) {
	t.Run("SQLite", func(t *testing.T) {
		t.Parallel()
		testDeleteEventsBefore(t, "")
	})
	t.Run("PostgreSQL", func(t *testing.T) {
		t.Parallel()
		testDeleteEventsBefore(t, freshSchema(t, postgresDSN(t)))
	})
}
