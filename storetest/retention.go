package storetest

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/foyerhq/foyer"
)

// eventIDs lists the ids of every stored event, oldest first.
func eventIDs(t *testing.T, s Services) []string {
	t.Helper()
	evs, err := s.Events.FindEvents(t.Context(), foyer.EventFilter{})
	ok(t, err)
	out := []string{}
	for _, e := range evs {
		out = append(out, e.ID)
	}
	return out
}

func testRetention(t *testing.T, open Opener) {
	t.Run("OK", func(t *testing.T) {
		s, c := setup(t, open)
		ctx := t.Context()
		createWebhook(t, s)
		// e1 is dispatched and its delivery succeeded; e2 is dispatched
		// and its delivery still pending; e3 was never dispatched; e4 is
		// dispatched but recent.
		createAnonymous(t, s, "")
		fanOut(t, s)
		claimed, err := s.Deliveries.ClaimDeliveries(ctx, c.Now(), time.Minute, 10)
		ok(t, err)
		ok(t, s.Deliveries.RecordAttempt(ctx, claimed[0].Delivery.ID, foyer.DeliveryAttempt{StatusCode: 200, Status: foyer.DeliverySucceeded}))
		c.Advance(time.Hour)
		createAnonymous(t, s, "")
		fanOut(t, s)
		c.Advance(time.Hour)
		createAnonymous(t, s, "")
		c.Advance(time.Hour)
		cutoff := c.Now()
		ids := eventIDs(t, s)
		e1, e2, e3 := ids[0], ids[1], ids[2]
		c.Advance(time.Millisecond)
		createAnonymous(t, s, "")
		e4 := eventIDs(t, s)[3]
		n, err := s.Deliveries.FanOutEvents(ctx, 1)
		ok(t, err)
		if n != 1 {
			t.Fatalf("FanOutEvents(1) = %d", n)
		}
		// e3 was dispatched by that fan-out; e4 is left undispatched
		// but is too recent anyway.
		d2 := deliveries(t, s, foyer.DeliveryFilter{EventID: &e2})
		d3 := deliveries(t, s, foyer.DeliveryFilter{EventID: &e3})
		if len(d2) != 1 || len(d3) != 1 {
			t.Fatalf("%d and %d deliveries of e2 and e3, want 1 each", len(d2), len(d3))
		}

		n, err = s.Retention.DeleteEventsBefore(ctx, cutoff, 10)
		ok(t, err)
		if n != 1 {
			t.Fatalf("deleted %d events, want 1", n)
		}
		if diff := cmp.Diff([]string{e2, e3, e4}, eventIDs(t, s)); diff != "" {
			t.Fatalf("events left (-want +got):\n%s", diff)
		}
		if got := deliveries(t, s, foyer.DeliveryFilter{EventID: &e1}); len(got) != 0 {
			t.Fatalf("%d deliveries of a deleted event remain", len(got))
		}

		// Once their deliveries finish, e2 and e3 go too; e4 stays.
		ok(t, s.Deliveries.RecordAttempt(ctx, d2[0].ID, foyer.DeliveryAttempt{StatusCode: 500, Status: foyer.DeliveryFailed}))
		ok(t, s.Deliveries.RecordAttempt(ctx, d3[0].ID, foyer.DeliveryAttempt{StatusCode: 200, Status: foyer.DeliverySucceeded}))
		n, err = s.Retention.DeleteEventsBefore(ctx, cutoff, 10)
		ok(t, err)
		if n != 2 {
			t.Fatalf("deleted %d events, want 2", n)
		}
		if diff := cmp.Diff([]string{e4}, eventIDs(t, s)); diff != "" {
			t.Fatalf("events left (-want +got):\n%s", diff)
		}
		if got := deliveries(t, s, foyer.DeliveryFilter{}); len(got) != 0 {
			t.Fatalf("%d deliveries of deleted events remain", len(got))
		}

		// e4 is recent: even dispatched with no delivery, it stays.
		fanOut(t, s)
		n, err = s.Retention.DeleteEventsBefore(ctx, cutoff, 10)
		ok(t, err)
		if n != 0 {
			t.Fatalf("deleted %d recent events", n)
		}
	})

	t.Run("OK/Undispatched", func(t *testing.T) {
		s, c := setup(t, open)
		createAnonymous(t, s, "")
		c.Advance(time.Hour)
		n, err := s.Retention.DeleteEventsBefore(t.Context(), c.Now(), 10)
		ok(t, err)
		if n != 0 {
			t.Fatalf("deleted %d events the dispatcher has not seen", n)
		}
		// Dispatched with no endpoint, it is old enough to go.
		fanOut(t, s)
		n, err = s.Retention.DeleteEventsBefore(t.Context(), c.Now(), 10)
		ok(t, err)
		if n != 1 || len(eventIDs(t, s)) != 0 {
			t.Fatalf("deleted %d events, want 1", n)
		}
	})

	t.Run("OK/Batches", func(t *testing.T) {
		s, c := setup(t, open)
		for range 5 {
			createAnonymous(t, s, "")
			c.Advance(time.Second)
		}
		fanOut(t, s)
		ids := eventIDs(t, s)
		n, err := s.Retention.DeleteEventsBefore(t.Context(), c.Now(), 2)
		ok(t, err)
		if n != 2 {
			t.Fatalf("deleted %d events, want a batch of 2", n)
		}
		if diff := cmp.Diff(ids[2:], eventIDs(t, s)); diff != "" {
			t.Fatalf("the oldest go first (-want +got):\n%s", diff)
		}
		// Only events created strictly before t go.
		n, err = s.Retention.DeleteEventsBefore(t.Context(), t0.Add(3*time.Second), 10)
		ok(t, err)
		if n != 1 {
			t.Fatalf("deleted %d events created before t0+3s, want 1", n)
		}
		n, err = s.Retention.DeleteEventsBefore(t.Context(), c.Now(), 0)
		ok(t, err)
		if n != 0 {
			t.Fatalf("a limit of 0 deleted %d", n)
		}
	})
}
