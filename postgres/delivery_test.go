package postgres_test

import (
	"sync"
	"testing"
	"time"

	"github.com/foyerhq/foyer"
	"github.com/foyerhq/foyer/storetest"
)

// allDeliveries pages through every delivery.
func allDeliveries(t *testing.T, s storetest.Services) []*foyer.Delivery {
	t.Helper()
	var out []*foyer.Delivery
	f := foyer.DeliveryFilter{Limit: foyer.MaxPageSize}
	for {
		page, err := s.Deliveries.FindDeliveries(t.Context(), f)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, page...)
		if len(page) < f.Limit {
			return out
		}
		f.After = page[len(page)-1].ID
	}
}

// createEndpoints creates n enabled endpoints for every event type.
func createEndpoints(t *testing.T, s storetest.Services, n int) []*foyer.Webhook {
	t.Helper()
	var out []*foyer.Webhook
	for range n {
		w := &foyer.Webhook{URL: "https://hooks.example.com/foyer", Enabled: true, Secret: "whsec_c2VjcmV0"}
		if err := s.Webhooks.CreateWebhook(t.Context(), w); err != nil {
			t.Fatal(err)
		}
		out = append(out, w)
	}
	return out
}

// TestConcurrentFanOut has several dispatchers fan events out at once, as
// several instances do. The events are taken FOR UPDATE SKIP LOCKED, so
// each event is dispatched by exactly one of them: every event gets
// exactly one delivery per endpoint, and the counts they report add up to
// the number of events.
func TestConcurrentFanOut(t *testing.T) {
	t.Parallel()
	c := newClock()
	db := openDB(t, c.Now)
	s := services(db)
	const events, endpoints, dispatchers, batch = 300, 2, 4, 7
	hooks := createEndpoints(t, s, endpoints)
	createUsers(t, s.Users, events)

	start := make(chan struct{})
	var wg sync.WaitGroup
	counts := make([]int, dispatchers)
	errs := make(chan error, dispatchers)
	for d := range dispatchers {
		wg.Go(func() {
			<-start
			for {
				n, err := s.Deliveries.FanOutEvents(t.Context(), batch)
				if err != nil {
					errs <- err
					return
				}
				counts[d] += n
				if n == 0 {
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
	total := 0
	for _, n := range counts {
		total += n
	}
	t.Logf("events dispatched by each dispatcher: %v", counts)
	if total != events {
		t.Fatalf("dispatchers reported %d events, want %d", total, events)
	}
	if n, err := s.Deliveries.FanOutEvents(t.Context(), batch); err != nil || n != 0 {
		t.Fatalf("a fan-out after the dispatchers stopped = %d, %v; want 0", n, err)
	}

	type pair struct{ webhook, event string }
	seen := map[pair]bool{}
	perEvent := map[string]int{}
	for _, d := range allDeliveries(t, s) {
		p := pair{d.WebhookID, d.EventID}
		if seen[p] {
			t.Fatalf("event %s fanned out twice to endpoint %s", d.EventID, d.WebhookID)
		}
		seen[p] = true
		perEvent[d.EventID]++
	}
	if len(seen) != events*endpoints || len(perEvent) != events {
		t.Fatalf("%d deliveries of %d events, want %d of %d", len(seen), len(perEvent), events*endpoints, events)
	}
	for _, w := range hooks {
		for e := range perEvent {
			if !seen[pair{w.ID, e}] {
				t.Fatalf("event %s was not fanned out to endpoint %s", e, w.ID)
			}
		}
	}
}

// TestConcurrentClaimDeliveries has several dispatchers claim at once: no
// delivery is claimed twice, every delivery is claimed, and each claim
// counts one attempt and sets the lease.
func TestConcurrentClaimDeliveries(t *testing.T) {
	t.Parallel()
	c := newClock()
	db := openDB(t, c.Now)
	s := services(db)
	const deliveries, claimers, batch = 300, 4, 7
	createEndpoints(t, s, 1)
	createUsers(t, s.Users, deliveries)
	for {
		n, err := s.Deliveries.FanOutEvents(t.Context(), 100)
		if err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			break
		}
	}
	now := c.Now()

	start := make(chan struct{})
	var wg sync.WaitGroup
	got := make([][]*foyer.ClaimedDelivery, claimers)
	errs := make(chan error, claimers)
	for w := range claimers {
		wg.Go(func() {
			<-start
			for {
				cds, err := s.Deliveries.ClaimDeliveries(t.Context(), now, time.Hour, batch)
				if err != nil {
					errs <- err
					return
				}
				got[w] = append(got[w], cds...)
				if len(cds) == 0 {
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
	seen := map[string]bool{}
	for _, cds := range got {
		for _, cd := range cds {
			d := cd.Delivery
			if seen[d.ID] {
				t.Fatalf("delivery %s claimed twice", d.ID)
			}
			seen[d.ID] = true
			if d.Attempts != 1 || !d.NextAttemptAt.Equal(now.Add(time.Hour)) {
				t.Fatalf("delivery %s after one claim: %d attempts, next at %v", d.ID, d.Attempts, d.NextAttemptAt)
			}
			if cd.Event == nil || cd.Event.ID != d.EventID || cd.Webhook == nil || cd.Webhook.ID != d.WebhookID {
				t.Fatalf("delivery %s claimed without its event and endpoint", d.ID)
			}
		}
	}
	if len(seen) != deliveries {
		t.Fatalf("%d deliveries claimed, want %d", len(seen), deliveries)
	}
	if cds, err := s.Deliveries.ClaimDeliveries(t.Context(), now, time.Hour, batch); err != nil || len(cds) != 0 {
		t.Fatalf("a claim within the lease got %d deliveries, %v", len(cds), err)
	}
}
