package storetest

import (
	"encoding/json"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/foyerhq/foyer"
)

// fanOut dispatches every event not yet dispatched and returns how many.
func fanOut(t *testing.T, s Services) int {
	t.Helper()
	total := 0
	for {
		n, err := s.Deliveries.FanOutEvents(t.Context(), 100)
		ok(t, err)
		total += n
		if n < 100 {
			return total
		}
	}
}

// deliveries returns every delivery matching f, newest first.
func deliveries(t *testing.T, s Services, f foyer.DeliveryFilter) []*foyer.Delivery {
	t.Helper()
	var out []*foyer.Delivery
	f.Limit = foyer.MaxPageSize
	for {
		page, err := s.Deliveries.FindDeliveries(t.Context(), f)
		ok(t, err)
		out = append(out, page...)
		if len(page) < foyer.MaxPageSize {
			return out
		}
		f.After = page[len(page)-1].ID
	}
}

// findDelivery returns the stored delivery with id, which must exist.
func findDelivery(t *testing.T, s Services, id string) *foyer.Delivery {
	t.Helper()
	for _, d := range deliveries(t, s, foyer.DeliveryFilter{}) {
		if d.ID == id {
			return d
		}
	}
	t.Fatalf("delivery %s not found", id)
	return nil
}

// deliveryIDs lists the ids of deliveries.
func deliveryIDs(ds []*foyer.Delivery) []string {
	out := []string{}
	for _, d := range ds {
		out = append(out, d.ID)
	}
	return out
}

// claimedIDs lists the ids of claimed deliveries.
func claimedIDs(cds []*foyer.ClaimedDelivery) []string {
	out := []string{}
	for _, cd := range cds {
		out = append(out, cd.Delivery.ID)
	}
	return out
}

// pair names a delivery by its endpoint and event.
type pair struct{ Webhook, Event string }

// pairs lists the (endpoint, event) of each delivery, sorted.
func pairs(ds []*foyer.Delivery) []pair {
	out := []pair{}
	for _, d := range ds {
		out = append(out, pair{d.WebhookID, d.EventID})
	}
	slices.SortFunc(out, func(a, b pair) int {
		if a.Webhook != b.Webhook {
			return cmpString(a.Webhook, b.Webhook)
		}
		return cmpString(a.Event, b.Event)
	})
	return out
}

func cmpString(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// oneDelivery creates an endpoint for every type and an anonymous user,
// fans the user.anonymous.created event out, and returns the endpoint
// and the delivery.
func oneDelivery(t *testing.T, s Services) (*foyer.Webhook, *foyer.Delivery) {
	t.Helper()
	w := createWebhook(t, s)
	createAnonymous(t, s, "")
	fanOut(t, s)
	ds := deliveries(t, s, foyer.DeliveryFilter{WebhookID: &w.ID})
	if len(ds) != 1 {
		t.Fatalf("%d deliveries, want 1", len(ds))
	}
	return w, ds[0]
}

func testDeliveries(t *testing.T, open Opener) {
	t.Run("FanOutEvents", func(t *testing.T) {
		t.Run("OK", func(t *testing.T) {
			s, c := setup(t, open)
			// An event recorded while no endpoint exists is dispatched
			// to nobody, and never later.
			u1 := createAnonymous(t, s, "")
			if n := fanOut(t, s); n != 1 {
				t.Fatalf("dispatched %d events with no endpoint, want 1", n)
			}
			all := createWebhook(t, s)
			updates := createWebhook(t, s, foyer.EventUserUpdated)
			disabled := createWebhook(t, s)
			_, err := s.Webhooks.UpdateWebhook(t.Context(), disabled.ID, foyer.WebhookUpdate{Enabled: ptr(false)})
			ok(t, err)
			if n := fanOut(t, s); n != 0 {
				t.Fatalf("dispatched %d events again", n)
			}
			if got := deliveries(t, s, foyer.DeliveryFilter{}); len(got) != 0 {
				t.Fatalf("%d deliveries of an event recorded before any endpoint", len(got))
			}

			c.Advance(time.Second)
			_, err = s.Users.UpdateUser(t.Context(), u1.ID, foyer.UserUpdate{DataPatch: json.RawMessage(`{"a":1}`)})
			ok(t, err)
			u2 := createAnonymous(t, s, "")
			evs, err := s.Events.FindEvents(t.Context(), foyer.EventFilter{})
			ok(t, err)
			updated, created := evs[1], evs[2]

			c.Advance(time.Second)
			n, err := s.Deliveries.FanOutEvents(t.Context(), 1)
			ok(t, err)
			if n != 1 {
				t.Fatalf("FanOutEvents(1) = %d", n)
			}
			got := deliveries(t, s, foyer.DeliveryFilter{})
			if diff := cmp.Diff(pairs([]*foyer.Delivery{
				{WebhookID: all.ID, EventID: updated.ID}, {WebhookID: updates.ID, EventID: updated.ID},
			}), pairs(got)); diff != "" {
				t.Fatalf("the oldest event first (-want +got):\n%s", diff)
			}
			for _, d := range got {
				want := &foyer.Delivery{
					ID: d.ID, WebhookID: d.WebhookID, EventID: updated.ID, EventType: foyer.EventUserUpdated, UserID: u1.ID,
					Status: foyer.DeliveryPending, NextAttemptAt: c.Now(), CreatedAt: c.Now(),
				}
				if diff := cmp.Diff(want, d); diff != "" {
					t.Fatalf("delivery (-want +got):\n%s", diff)
				}
			}

			n, err = s.Deliveries.FanOutEvents(t.Context(), 10)
			ok(t, err)
			if n != 1 {
				t.Fatalf("FanOutEvents(10) = %d, want the one event left", n)
			}
			got = deliveries(t, s, foyer.DeliveryFilter{EventID: &created.ID})
			if len(got) != 1 || got[0].WebhookID != all.ID || got[0].UserID != u2.ID || got[0].EventType != foyer.EventUserAnonymousCreated {
				t.Fatalf("deliveries of user.anonymous.created = %+v, want one to the endpoint for every type", got)
			}
			n, err = s.Deliveries.FanOutEvents(t.Context(), 10)
			ok(t, err)
			if n != 0 {
				t.Fatalf("FanOutEvents dispatched %d events twice", n)
			}
			if got := deliveries(t, s, foyer.DeliveryFilter{WebhookID: &disabled.ID}); len(got) != 0 {
				t.Fatalf("a disabled endpoint got %d deliveries", len(got))
			}
			if got := deliveries(t, s, foyer.DeliveryFilter{}); len(got) != 3 {
				t.Fatalf("%d deliveries in all, want 3", len(got))
			}
			if n, err := s.Deliveries.FanOutEvents(t.Context(), 0); err != nil || n != 0 {
				t.Fatalf("FanOutEvents(0) = %d, %v", n, err)
			}
		})

		t.Run("OK/NeverTwice", func(t *testing.T) {
			s, _ := setup(t, open)
			w1, w2 := createWebhook(t, s), createWebhook(t, s)
			const users = 25
			for range users {
				createAnonymous(t, s, "")
			}
			total := 0
			for {
				n, err := s.Deliveries.FanOutEvents(t.Context(), 4)
				ok(t, err)
				total += n
				if n == 0 {
					break
				}
			}
			if total != users {
				t.Fatalf("dispatched %d events, want %d", total, users)
			}
			got := pairs(deliveries(t, s, foyer.DeliveryFilter{}))
			if len(got) != 2*users {
				t.Fatalf("%d deliveries, want %d", len(got), 2*users)
			}
			seen := map[pair]bool{}
			for _, p := range got {
				if seen[p] {
					t.Fatalf("event %s delivered twice to %s", p.Event, p.Webhook)
				}
				if p.Webhook != w1.ID && p.Webhook != w2.ID {
					t.Fatalf("delivery to unknown endpoint %s", p.Webhook)
				}
				seen[p] = true
			}
		})
	})

	t.Run("ClaimDeliveries", func(t *testing.T) {
		t.Run("OK", func(t *testing.T) {
			s, c := setup(t, open)
			w := createWebhook(t, s)
			var users []*foyer.User
			for range 3 {
				users = append(users, createAnonymous(t, s, `{"n":1}`))
			}
			fanOut(t, s)
			ds := deliveries(t, s, foyer.DeliveryFilter{})
			slices.Reverse(ds) // oldest first
			const lease = time.Minute

			got, err := s.Deliveries.ClaimDeliveries(t.Context(), c.Now(), lease, 2)
			ok(t, err)
			if diff := cmp.Diff(deliveryIDs(ds[:2]), claimedIDs(got)); diff != "" {
				t.Fatalf("first claim (-want +got):\n%s", diff)
			}
			events := userEvents(t, s, users[0].ID)
			for i, cd := range got {
				want := *ds[i]
				want.Attempts = 1
				want.NextAttemptAt = c.Now().Add(lease)
				if diff := cmp.Diff(&want, cd.Delivery); diff != "" {
					t.Fatalf("claimed delivery (-want +got):\n%s", diff)
				}
				if diff := cmp.Diff(w, cd.Webhook); diff != "" {
					t.Fatalf("claimed endpoint (-want +got):\n%s", diff)
				}
				if cd.Event == nil || cd.Event.ID != cd.Delivery.EventID || cd.Event.UserID != users[i].ID {
					t.Fatalf("claimed event = %+v, want the delivery's", cd.Event)
				}
			}
			if diff := cmp.Diff(events[0], got[0].Event); diff != "" {
				t.Fatalf("claimed event (-want +got):\n%s", diff)
			}

			got, err = s.Deliveries.ClaimDeliveries(t.Context(), c.Now(), lease, 2)
			ok(t, err)
			if diff := cmp.Diff(deliveryIDs(ds[2:]), claimedIDs(got)); diff != "" {
				t.Fatalf("second claim (-want +got):\n%s", diff)
			}
			got, err = s.Deliveries.ClaimDeliveries(t.Context(), c.Now(), lease, 2)
			ok(t, err)
			if len(got) != 0 {
				t.Fatalf("leased deliveries were claimed again: %v", claimedIDs(got))
			}

			// A dispatcher that crashed lets its lease lapse.
			c.Advance(lease)
			got, err = s.Deliveries.ClaimDeliveries(t.Context(), c.Now(), lease, 10)
			ok(t, err)
			if diff := cmp.Diff(deliveryIDs(ds), claimedIDs(got)); diff != "" {
				t.Fatalf("claim after the lease (-want +got):\n%s", diff)
			}
			for _, cd := range got {
				if cd.Delivery.Attempts != 2 {
					t.Fatalf("Attempts = %d, want 2", cd.Delivery.Attempts)
				}
			}
			got, err = s.Deliveries.ClaimDeliveries(t.Context(), c.Now().Add(time.Hour), lease, 0)
			ok(t, err)
			if len(got) != 0 {
				t.Fatalf("a claim of 0 returned %d", len(got))
			}
		})

		t.Run("OK/NotDueYet", func(t *testing.T) {
			s, c := setup(t, open)
			oneDelivery(t, s)
			got, err := s.Deliveries.ClaimDeliveries(t.Context(), c.Now().Add(-time.Millisecond), time.Minute, 10)
			ok(t, err)
			if len(got) != 0 {
				t.Fatalf("claimed %d deliveries before they were due", len(got))
			}
		})

		t.Run("OK/DisabledEndpoint", func(t *testing.T) {
			// Deliveries of an endpoint disabled after the fan-out are
			// still claimed, with the endpoint as it is, so that the
			// dispatcher can finish them.
			s, c := setup(t, open)
			w, d := oneDelivery(t, s)
			_, err := s.Webhooks.UpdateWebhook(t.Context(), w.ID, foyer.WebhookUpdate{Enabled: ptr(false)})
			ok(t, err)
			got, err := s.Deliveries.ClaimDeliveries(t.Context(), c.Now(), time.Minute, 10)
			ok(t, err)
			if len(got) != 1 || got[0].Delivery.ID != d.ID || got[0].Webhook.Enabled {
				t.Fatalf("claimed %+v, want the delivery with its disabled endpoint", got)
			}
		})
	})

	t.Run("RecordAttempt", func(t *testing.T) {
		t.Run("OK/Succeeded", func(t *testing.T) {
			s, c := setup(t, open)
			w, d := oneDelivery(t, s)
			_, err := s.Deliveries.ClaimDeliveries(t.Context(), c.Now(), time.Minute, 10)
			ok(t, err)
			c.Advance(time.Second)
			ok(t, s.Deliveries.RecordAttempt(t.Context(), d.ID, foyer.DeliveryAttempt{
				StatusCode: 204, Latency: 120 * time.Millisecond, Response: "thanks", Status: foyer.DeliverySucceeded,
			}))
			got := findDelivery(t, s, d.ID)
			want := *d
			want.Status = foyer.DeliverySucceeded
			want.Attempts = 1
			want.NextAttemptAt = d.NextAttemptAt.Add(time.Minute)
			want.LastAttemptAt = ptr(c.Now())
			want.LastStatusCode, want.LastLatencyMS, want.LastResponse = 204, 120, "thanks"
			if diff := cmp.Diff(&want, got); diff != "" {
				t.Fatalf("(-want +got):\n%s", diff)
			}
			c.Advance(time.Hour)
			claimed, err := s.Deliveries.ClaimDeliveries(t.Context(), c.Now(), time.Minute, 10)
			ok(t, err)
			if len(claimed) != 0 {
				t.Fatalf("a succeeded delivery was claimed again")
			}
			if fw := findWebhook(t, s, w.ID); fw.FailingSince != nil || !fw.Enabled {
				t.Fatalf("endpoint after a success: %+v", fw)
			}
		})

		t.Run("OK/FailingSince", func(t *testing.T) {
			s, c := setup(t, open)
			w := createWebhook(t, s)
			createAnonymous(t, s, "")
			createAnonymous(t, s, "")
			fanOut(t, s)
			ds := deliveries(t, s, foyer.DeliveryFilter{})
			_, err := s.Deliveries.ClaimDeliveries(t.Context(), c.Now(), time.Minute, 10)
			ok(t, err)

			first := c.Now()
			next := first.Add(5 * time.Second)
			ok(t, s.Deliveries.RecordAttempt(t.Context(), ds[0].ID, foyer.DeliveryAttempt{
				StatusCode: 500, Latency: 30 * time.Millisecond, Response: "oops", Error: "unexpected status 500",
				Status: foyer.DeliveryPending, NextAttemptAt: next,
			}))
			got := findDelivery(t, s, ds[0].ID)
			if got.Status != foyer.DeliveryPending || !got.NextAttemptAt.Equal(next) || got.Attempts != 1 ||
				got.LastStatusCode != 500 || got.LastError != "unexpected status 500" || got.LastResponse != "oops" {
				t.Fatalf("after a failed attempt: %+v", got)
			}
			if fw := findWebhook(t, s, w.ID); fw.FailingSince == nil || !fw.FailingSince.Equal(first) {
				t.Fatalf("FailingSince = %v, want %v", fw.FailingSince, first)
			}

			// A later failure keeps the start of the run of failures.
			c.Advance(time.Minute)
			ok(t, s.Deliveries.RecordAttempt(t.Context(), ds[1].ID, foyer.DeliveryAttempt{
				Error: "dial tcp: connection refused", Status: foyer.DeliveryPending, NextAttemptAt: c.Now().Add(time.Minute),
			}))
			if fw := findWebhook(t, s, w.ID); fw.FailingSince == nil || !fw.FailingSince.Equal(first) {
				t.Fatalf("FailingSince = %v after a second failure, want %v", fw.FailingSince, first)
			}
			got = findDelivery(t, s, ds[1].ID)
			if got.LastStatusCode != 0 || got.LastError != "dial tcp: connection refused" || got.LastResponse != "" {
				t.Fatalf("after a connection error: %+v", got)
			}

			// The retry is claimed when it is due, and a success ends
			// the run of failures and clears the last error.
			claimed, err := s.Deliveries.ClaimDeliveries(t.Context(), c.Now(), time.Minute, 10)
			ok(t, err)
			if len(claimed) != 1 || claimed[0].Delivery.ID != ds[0].ID || claimed[0].Delivery.Attempts != 2 {
				t.Fatalf("retry claim = %v, want %s at its second attempt", claimedIDs(claimed), ds[0].ID)
			}
			if claimed[0].Webhook.FailingSince == nil {
				t.Fatal("the claimed endpoint has no FailingSince")
			}
			ok(t, s.Deliveries.RecordAttempt(t.Context(), ds[0].ID, foyer.DeliveryAttempt{StatusCode: 200, Status: foyer.DeliverySucceeded}))
			if fw := findWebhook(t, s, w.ID); fw.FailingSince != nil {
				t.Fatalf("FailingSince = %v after a success, want nil", fw.FailingSince)
			}
			got = findDelivery(t, s, ds[0].ID)
			if got.Status != foyer.DeliverySucceeded || got.LastError != "" || got.LastResponse != "" || got.LastStatusCode != 200 {
				t.Fatalf("after the success: %+v", got)
			}
		})

		t.Run("OK/DisableWebhook", func(t *testing.T) {
			s, c := setup(t, open)
			w, d := oneDelivery(t, s)
			other := createWebhook(t, s)
			c.Advance(time.Second)
			ok(t, s.Deliveries.RecordAttempt(t.Context(), d.ID, foyer.DeliveryAttempt{
				StatusCode: 410, Error: "unexpected status 410: the endpoint is gone and was disabled",
				Status: foyer.DeliveryFailed, DisableWebhook: "gone",
			}))
			if got := findDelivery(t, s, d.ID); got.Status != foyer.DeliveryFailed || got.LastStatusCode != 410 {
				t.Fatalf("delivery = %+v, want failed with 410", got)
			}
			fw := findWebhook(t, s, w.ID)
			if fw.Enabled || fw.DisabledReason != "gone" || fw.FailingSince == nil || !fw.UpdatedAt.Equal(c.Now()) {
				t.Fatalf("endpoint = %+v, want disabled as gone", fw)
			}
			if ow := findWebhook(t, s, other.ID); !ow.Enabled || ow.DisabledReason != "" || ow.FailingSince != nil {
				t.Fatalf("another endpoint changed: %+v", ow)
			}
			// A disabled endpoint gets no new deliveries.
			createAnonymous(t, s, "")
			fanOut(t, s)
			if got := deliveries(t, s, foyer.DeliveryFilter{WebhookID: &w.ID}); len(got) != 1 {
				t.Fatalf("a disabled endpoint has %d deliveries, want 1", len(got))
			}
			// Enabling it clears the reason and the run of failures.
			en, err := s.Webhooks.UpdateWebhook(t.Context(), w.ID, foyer.WebhookUpdate{Enabled: ptr(true)})
			ok(t, err)
			if !en.Enabled || en.DisabledReason != "" || en.FailingSince != nil {
				t.Fatalf("enabled endpoint = %+v", en)
			}
		})

		t.Run("ErrInvalid", func(t *testing.T) {
			s, _ := setup(t, open)
			_, d := oneDelivery(t, s)
			wantCode(t, s.Deliveries.RecordAttempt(t.Context(), d.ID, foyer.DeliveryAttempt{Status: "lost"}), foyer.EInvalid)
			if got := findDelivery(t, s, d.ID); got.Status != foyer.DeliveryPending || got.LastAttemptAt != nil {
				t.Fatalf("a refused attempt changed the delivery: %+v", got)
			}
		})

		for _, nf := range notFoundIDs() {
			t.Run(nf.name, func(t *testing.T) {
				s, _ := setup(t, open)
				oneDelivery(t, s)
				wantCode(t, s.Deliveries.RecordAttempt(t.Context(), nf.id, foyer.DeliveryAttempt{Status: foyer.DeliverySucceeded}), foyer.ENotFound)
			})
		}
	})

	t.Run("Redeliver", func(t *testing.T) {
		t.Run("OK", func(t *testing.T) {
			s, c := setup(t, open)
			_, d := oneDelivery(t, s)
			_, err := s.Deliveries.ClaimDeliveries(t.Context(), c.Now(), time.Minute, 10)
			ok(t, err)
			ok(t, s.Deliveries.RecordAttempt(t.Context(), d.ID, foyer.DeliveryAttempt{StatusCode: 200, Status: foyer.DeliverySucceeded}))
			c.Advance(time.Hour)

			got, err := s.Deliveries.Redeliver(t.Context(), d.ID)
			ok(t, err)
			want := findDelivery(t, s, d.ID)
			if diff := cmp.Diff(want, got); diff != "" {
				t.Fatalf("returned and stored differ (-stored +returned):\n%s", diff)
			}
			if got.Status != foyer.DeliveryPending || !got.NextAttemptAt.Equal(c.Now()) || got.Attempts != 1 || got.LastStatusCode != 200 {
				t.Fatalf("redelivered = %+v, want pending, due now, with its history", got)
			}
			claimed, err := s.Deliveries.ClaimDeliveries(t.Context(), c.Now(), time.Minute, 10)
			ok(t, err)
			if len(claimed) != 1 || claimed[0].Delivery.ID != d.ID || claimed[0].Delivery.Attempts != 2 {
				t.Fatalf("claim after redelivery = %v", claimedIDs(claimed))
			}
		})
		for _, nf := range notFoundIDs() {
			t.Run(nf.name, func(t *testing.T) {
				s, _ := setup(t, open)
				oneDelivery(t, s)
				_, err := s.Deliveries.Redeliver(t.Context(), nf.id)
				wantCode(t, err, foyer.ENotFound)
			})
		}
	})

	t.Run("FindDeliveries", func(t *testing.T) {
		s, c := setup(t, open)
		a, b := createWebhook(t, s), createWebhook(t, s)
		u1 := createAnonymous(t, s, "")
		c.Advance(time.Second)
		u2 := createAnonymous(t, s, "")
		fanOut(t, s)
		c.Advance(time.Second)
		_, err := s.Users.UpdateUser(t.Context(), u1.ID, foyer.UserUpdate{DataPatch: json.RawMessage(`{"a":1}`)})
		ok(t, err)
		fanOut(t, s)
		all := deliveries(t, s, foyer.DeliveryFilter{})
		if len(all) != 6 {
			t.Fatalf("%d deliveries, want 6", len(all))
		}
		for i := 1; i < len(all); i++ {
			if all[i-1].ID <= all[i].ID {
				t.Fatalf("deliveries are not newest first: %v", deliveryIDs(all))
			}
		}
		ok(t, s.Deliveries.RecordAttempt(t.Context(), all[5].ID, foyer.DeliveryAttempt{StatusCode: 200, Status: foyer.DeliverySucceeded}))
		all = deliveries(t, s, foyer.DeliveryFilter{})
		byEvent := func(event string) []*foyer.Delivery {
			var out []*foyer.Delivery
			for _, d := range all {
				if d.EventID == event {
					out = append(out, d)
				}
			}
			return out
		}
		filter := func(keep func(*foyer.Delivery) bool) []*foyer.Delivery {
			out := []*foyer.Delivery{}
			for _, d := range all {
				if keep(d) {
					out = append(out, d)
				}
			}
			return out
		}
		e := all[0].EventID
		tests := []struct {
			name     string
			filter   foyer.DeliveryFilter
			want     []*foyer.Delivery
			wantCode string
		}{
			{name: "OK/All", want: all},
			{name: "OK/WebhookID", filter: foyer.DeliveryFilter{WebhookID: &b.ID}, want: filter(func(d *foyer.Delivery) bool { return d.WebhookID == b.ID })},
			{name: "OK/EventID", filter: foyer.DeliveryFilter{EventID: &e}, want: byEvent(e)},
			{name: "OK/UserID", filter: foyer.DeliveryFilter{UserID: &u2.ID}, want: filter(func(d *foyer.Delivery) bool { return d.UserID == u2.ID })},
			{name: "OK/Status", filter: foyer.DeliveryFilter{Status: ptr(foyer.DeliverySucceeded)}, want: []*foyer.Delivery{all[5]}},
			{name: "OK/WebhookAndUser", filter: foyer.DeliveryFilter{WebhookID: &a.ID, UserID: &u1.ID},
				want: filter(func(d *foyer.Delivery) bool { return d.WebhookID == a.ID && d.UserID == u1.ID })},
			{name: "OK/Limit", filter: foyer.DeliveryFilter{Limit: 2}, want: all[:2]},
			{name: "OK/After", filter: foyer.DeliveryFilter{After: all[1].ID, Limit: 3}, want: all[2:5]},
			{name: "OK/AfterLast", filter: foyer.DeliveryFilter{After: all[5].ID}, want: []*foyer.Delivery{}},
			{name: "OK/MalformedWebhookID", filter: foyer.DeliveryFilter{WebhookID: ptr("nope")}, want: []*foyer.Delivery{}},
			{name: "OK/MalformedEventID", filter: foyer.DeliveryFilter{EventID: ptr("nope")}, want: []*foyer.Delivery{}},
			{name: "OK/MalformedUserID", filter: foyer.DeliveryFilter{UserID: ptr("nope")}, want: []*foyer.Delivery{}},
			{name: "ErrInvalid/After", filter: foyer.DeliveryFilter{After: "bogus"}, wantCode: foyer.EInvalid},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				got, err := s.Deliveries.FindDeliveries(t.Context(), tt.filter)
				wantCode(t, err, tt.wantCode)
				if tt.wantCode != "" {
					return
				}
				if diff := cmp.Diff(tt.want, got); diff != "" {
					t.Fatalf("(-want +got):\n%s", diff)
				}
			})
		}

		t.Run("OK/Pages", func(t *testing.T) {
			var walked []*foyer.Delivery
			f := foyer.DeliveryFilter{Limit: 4}
			for {
				page, err := s.Deliveries.FindDeliveries(t.Context(), f)
				ok(t, err)
				walked = append(walked, page...)
				if len(page) < f.Limit {
					break
				}
				f.After = page[len(page)-1].ID
			}
			if diff := cmp.Diff(all, walked); diff != "" {
				t.Fatalf("pages (-want +got):\n%s", diff)
			}
		})
	})
}
