package webhook_test

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/foyerhq/foyer"
	"github.com/foyerhq/foyer/sqlite"
	"github.com/foyerhq/foyer/webhook"
)

// clock is a settable clock shared by the store and the Dispatcher.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func (c *clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

// bundle is a real SQLite store in t.TempDir(): events are queued by the
// user service, in the transactions that change users, as in production.
type bundle struct {
	clock      *clock // nil when the bundle runs on time.Now
	now        func() time.Time
	users      *sqlite.UserService
	webhooks   *sqlite.WebhookService
	deliveries *sqlite.DeliveryService
}

// setup opens a fresh store on a settable clock.
func setup(t *testing.T) *bundle {
	t.Helper()
	clk := newClock()
	return open(t, &bundle{clock: clk, now: clk.Now})
}

// setupNow opens a fresh store on time.Now, the clock of a synctest bubble.
func setupNow(t *testing.T) *bundle {
	t.Helper()
	return open(t, &bundle{now: time.Now})
}

func open(t *testing.T, b *bundle) *bundle {
	t.Helper()
	db := sqlite.NewDB(filepath.Join(t.TempDir(), "foyer.db"))
	db.Now = b.now
	if err := db.Open(t.Context()); err != nil {
		t.Fatalf("open: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	if err := db.Migrate(t.Context()); err != nil {
		t.Fatalf("migrate: %v", err)
	}
	b.users = sqlite.NewUserService(db)
	b.webhooks = sqlite.NewWebhookService(db)
	b.deliveries = sqlite.NewDeliveryService(db)
	return b
}

// endpoint creates an enabled endpoint at url for the given event types
// (all when none).
func (b *bundle) endpoint(t *testing.T, url string, types ...string) *foyer.Webhook {
	t.Helper()
	if err := webhook.ValidateURL(url, true); err != nil {
		t.Fatalf("ValidateURL(%q): %v", url, err)
	}
	w := &foyer.Webhook{URL: url, EventTypes: types, Enabled: true, Secret: webhook.NewSecret()}
	if err := b.webhooks.CreateWebhook(t.Context(), w); err != nil {
		t.Fatalf("CreateWebhook: %v", err)
	}
	return w
}

func (b *bundle) webhook(t *testing.T, id string) *foyer.Webhook {
	t.Helper()
	w, err := b.webhooks.FindWebhookByID(t.Context(), id)
	if err != nil {
		t.Fatalf("FindWebhookByID: %v", err)
	}
	return w
}

// anonymous creates an anonymous user, which records user.anonymous.created.
func (b *bundle) anonymous(t *testing.T) *foyer.User {
	t.Helper()
	u := &foyer.User{Anonymous: true}
	if err := b.users.CreateUser(t.Context(), u); err != nil {
		t.Fatalf("CreateUser: %v", err)
	}
	return u
}

// deliveriesTo returns the deliveries to the endpoint id, newest first.
func (b *bundle) deliveriesTo(t *testing.T, id string) []*foyer.Delivery {
	t.Helper()
	ds, err := b.deliveries.FindDeliveries(t.Context(), foyer.DeliveryFilter{WebhookID: &id, Limit: foyer.MaxPageSize})
	if err != nil {
		t.Fatalf("FindDeliveries: %v", err)
	}
	return ds
}

// only returns the one delivery to the endpoint id.
func (b *bundle) only(t *testing.T, id string) *foyer.Delivery {
	t.Helper()
	ds := b.deliveriesTo(t, id)
	if len(ds) != 1 {
		t.Fatalf("%d deliveries to %s, want 1", len(ds), id)
	}
	return ds[0]
}

// dispatcher returns a Dispatcher over the store that may reach the
// receivers of the test, on the bundle's clock.
func (b *bundle) dispatcher(timeout time.Duration) *webhook.Dispatcher {
	return &webhook.Dispatcher{
		Deliveries: b.deliveries,
		Client:     webhook.NewClient(webhook.ClientConfig{AllowPrivate: true, Timeout: timeout}),
		Now:        b.now,
	}
}

func runOnce(t *testing.T, d *webhook.Dispatcher, wantSent int) {
	t.Helper()
	sent, err := d.RunOnce(t.Context())
	if err != nil {
		t.Fatalf("RunOnce: %v", err)
	}
	if sent != wantSent {
		t.Fatalf("RunOnce sent %d, want %d", sent, wantSent)
	}
}

// checkEvent checks that req carries the user.anonymous.created event of
// u, signed by the endpoint w at ts, under the delivery id.
func checkEvent(t *testing.T, req request, w *foyer.Webhook, deliveryID string, u *foyer.User, ts time.Time) {
	t.Helper()
	if !specVerify(t, w.Secret, req.header, req.body) {
		t.Errorf("the independent implementation does not verify the request")
	}
	if err := webhook.Verify(w.Secret, req.header, req.body, 0, ts); err != nil {
		t.Errorf("Verify: %v", err)
	}
	if got := req.header.Get("webhook-id"); got != deliveryID {
		t.Errorf("webhook-id %q, want the delivery id %q", got, deliveryID)
	}
	var body struct {
		Type      string    `json:"type"`
		Timestamp time.Time `json:"timestamp"`
		Data      struct {
			User foyer.User `json:"user"`
		} `json:"data"`
	}
	if err := json.Unmarshal(req.body, &body); err != nil {
		t.Fatalf("body %s: %v", req.body, err)
	}
	if body.Type != foyer.EventUserAnonymousCreated || body.Data.User.ID != u.ID || !body.Data.User.Anonymous {
		t.Errorf("body %s, want user.anonymous.created of %s", req.body, u.ID)
	}
	if !body.Timestamp.Equal(u.CreatedAt) {
		t.Errorf("body timestamp %v, want the event's time %v", body.Timestamp, u.CreatedAt)
	}
}

func TestDispatcher(t *testing.T) {
	t.Run("OK", func(t *testing.T) {
		b := setup(t)
		rc := newReceiver(t, status(http.StatusNoContent))
		w := b.endpoint(t, rc.URL+"/hooks")
		u := b.anonymous(t)
		d := b.dispatcher(0)
		runOnce(t, d, 1)

		reqs := rc.requests()
		if len(reqs) != 1 {
			t.Fatalf("receiver got %d requests, want 1", len(reqs))
		}
		dl := b.only(t, w.ID)
		checkEvent(t, reqs[0], w, dl.ID, u, b.now())
		if dl.Status != foyer.DeliverySucceeded || dl.Attempts != 1 || dl.LastStatusCode != 204 || dl.EventType != foyer.EventUserAnonymousCreated || dl.UserID != u.ID {
			t.Errorf("delivery %+v", dl)
		}
		if w := b.webhook(t, w.ID); !w.Enabled || w.FailingSince != nil {
			t.Errorf("endpoint %+v after a success", w)
		}

		// Nothing is sent twice.
		b.clock.Advance(time.Hour)
		runOnce(t, d, 0)
		if n := len(rc.requests()); n != 1 {
			t.Fatalf("receiver got %d requests, want still 1", n)
		}
	})

	t.Run("EventTypes", func(t *testing.T) {
		b := setup(t)
		all := newReceiver(t, status(http.StatusOK))
		updates := newReceiver(t, status(http.StatusOK))
		b.endpoint(t, all.URL)
		b.endpoint(t, updates.URL, foyer.EventUserUpdated)
		u := b.anonymous(t)
		if _, err := b.users.UpdateUser(t.Context(), u.ID, foyer.UserUpdate{DataPatch: json.RawMessage(`{"theme":"dark"}`)}); err != nil {
			t.Fatalf("UpdateUser: %v", err)
		}
		runOnce(t, b.dispatcher(0), 3)
		if n := len(all.requests()); n != 2 {
			t.Errorf("the endpoint for every type got %d requests, want 2", n)
		}
		reqs := updates.requests()
		if len(reqs) != 1 || !strings.Contains(string(reqs[0].body), `"type":"user.updated"`) {
			t.Errorf("the endpoint for user.updated got %d requests", len(reqs))
		}
	})

	t.Run("Many", func(t *testing.T) {
		// Several batches of fan-out and claims, sent concurrently: with
		// receivers that never fail, every event reaches every endpoint
		// exactly once.
		b := setup(t)
		var rcs []*receiver
		for range 3 {
			rc := newReceiver(t, status(http.StatusOK))
			b.endpoint(t, rc.URL)
			rcs = append(rcs, rc)
		}
		users := make(map[string]bool)
		for range 40 {
			users[b.anonymous(t).ID] = true
		}
		d := b.dispatcher(0)
		d.BatchSize, d.Concurrency = 7, 4
		runOnce(t, d, 120)
		for _, rc := range rcs {
			seen := make(map[string]int)
			for _, req := range rc.requests() {
				var body struct {
					Data struct{ User struct{ ID string } } `json:"data"`
				}
				if err := json.Unmarshal(req.body, &body); err != nil {
					t.Fatalf("body: %v", err)
				}
				seen[body.Data.User.ID]++
			}
			if len(seen) != len(users) {
				t.Errorf("a receiver heard of %d users, want %d", len(seen), len(users))
			}
			for id, n := range seen {
				if !users[id] || n != 1 {
					t.Errorf("a receiver got user %s %d times", id, n)
				}
			}
		}
	})

	t.Run("DownThenUp", func(t *testing.T) {
		b := setup(t)
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatalf("listen: %v", err)
		}
		addr := l.Addr().String()
		l.Close()
		w := b.endpoint(t, "http://"+addr+"/hooks")
		u := b.anonymous(t)
		d := b.dispatcher(0)
		runOnce(t, d, 0)

		dl := b.only(t, w.ID)
		if dl.Status != foyer.DeliveryPending || dl.Attempts != 1 || dl.LastStatusCode != 0 || !strings.Contains(dl.LastError, "refused") {
			t.Fatalf("delivery after the endpoint was down: %+v", dl)
		}
		if wait := dl.NextAttemptAt.Sub(b.now()); wait < 4*time.Second || wait > 6*time.Second {
			t.Fatalf("next attempt in %v, want about 5s", wait)
		}
		if w := b.webhook(t, w.ID); w.FailingSince == nil || !w.FailingSince.Equal(b.now()) {
			t.Errorf("FailingSince %v, want %v", w.FailingSince, b.now())
		}

		rc := newReceiverAt(t, addr, status(http.StatusOK))
		b.clock.Set(dl.NextAttemptAt)
		runOnce(t, d, 1)
		got := rc.requests()
		if len(got) != 1 {
			t.Fatalf("receiver got %d requests once up, want 1", len(got))
		}
		checkEvent(t, got[0], w, dl.ID, u, b.now())
		if dl := b.only(t, w.ID); dl.Status != foyer.DeliverySucceeded || dl.Attempts != 2 {
			t.Errorf("delivery %+v", dl)
		}
		if w := b.webhook(t, w.ID); w.FailingSince != nil {
			t.Errorf("FailingSince %v after a success", w.FailingSince)
		}
	})

	t.Run("Slow", func(t *testing.T) {
		// The first request outlasts the client's time-out; the retry is
		// answered. The receiver may have acted on the first one, so it
		// sees the same webhook-id twice: at least once, never lost.
		b := setup(t)
		release := make(chan struct{})
		t.Cleanup(func() { close(release) })
		rc := newReceiver(t, func(w http.ResponseWriter, r *http.Request, n int) {
			if n == 0 {
				select {
				case <-release:
				case <-r.Context().Done():
				}
			}
		})
		w := b.endpoint(t, rc.URL)
		u := b.anonymous(t)
		d := b.dispatcher(50 * time.Millisecond)
		runOnce(t, d, 0)
		dl := b.only(t, w.ID)
		if dl.Status != foyer.DeliveryPending || dl.LastStatusCode != 0 || !strings.Contains(dl.LastError, "Timeout") {
			t.Fatalf("delivery after a time-out: %+v", dl)
		}
		b.clock.Set(dl.NextAttemptAt)
		runOnce(t, d, 1)
		reqs := rc.requests()
		if len(reqs) != 2 {
			t.Fatalf("receiver got %d requests, want 2", len(reqs))
		}
		for _, req := range reqs {
			checkEvent(t, req, w, dl.ID, u, b.now())
		}
	})

	t.Run("ServerError", func(t *testing.T) {
		// Every attempt fails: the attempts follow the schedule, none
		// is made early, and after about three days the delivery fails
		// without disabling the endpoint (it has not failed for 5 days).
		b := setup(t)
		rc := newReceiver(t, status(http.StatusInternalServerError))
		w := b.endpoint(t, rc.URL)
		b.anonymous(t)
		created := b.now()
		d := b.dispatcher(0)
		// With ±20% jitter on each delay, the attempts that fit in three
		// days number 12 without jitter and 11 to 14 with it.
		var gaveUp int
		for attempt := 1; ; attempt++ {
			runOnce(t, d, 0)
			if n := len(rc.requests()); n != attempt {
				t.Fatalf("attempt %d: receiver got %d requests", attempt, n)
			}
			dl := b.only(t, w.ID)
			if dl.Attempts != attempt || dl.LastStatusCode != 500 {
				t.Fatalf("attempt %d: delivery %+v", attempt, dl)
			}
			if dl.Status == foyer.DeliveryFailed {
				if attempt < 11 || attempt > 14 || !strings.Contains(dl.LastError, "gave up") {
					t.Fatalf("gave up at attempt %d (%s), want 11 to 14", attempt, dl.LastError)
				}
				gaveUp = attempt
				break
			}
			wait, want := dl.NextAttemptAt.Sub(b.now()), webhook.RetryDelay(attempt)
			if wait < want-want/5 || wait > want+want/5 {
				t.Fatalf("attempt %d: next in %v, want about %v", attempt, wait, want)
			}
			b.clock.Set(dl.NextAttemptAt.Add(-time.Millisecond))
			runOnce(t, d, 0)
			if n := len(rc.requests()); n != attempt {
				t.Fatalf("attempt %d: a retry was made before it was due", attempt)
			}
			b.clock.Set(dl.NextAttemptAt)
		}
		if age := b.now().Sub(created); age > 3*24*time.Hour || age < 2*24*time.Hour {
			t.Errorf("gave up after %v, want about 3 days", age)
		}
		if w := b.webhook(t, w.ID); !w.Enabled || w.FailingSince == nil || !w.FailingSince.Equal(created) {
			t.Errorf("endpoint %+v, want enabled and failing since %v", w, created)
		}
		b.clock.Advance(24 * time.Hour)
		runOnce(t, d, 0)
		if n := len(rc.requests()); n != gaveUp {
			t.Fatalf("receiver got %d requests after giving up, want %d", n, gaveUp)
		}
	})

	t.Run("Failing", func(t *testing.T) {
		// An endpoint that fails for longer than DisableAfter is disabled
		// and hears nothing more.
		b := setup(t)
		rc := newReceiver(t, status(http.StatusBadGateway))
		w := b.endpoint(t, rc.URL)
		b.anonymous(t)
		d := b.dispatcher(0)
		d.DisableAfter = time.Hour
		start := b.now()
		for range 10 {
			runOnce(t, d, 0)
			dl := b.only(t, w.ID)
			if dl.Status != foyer.DeliveryPending {
				break
			}
			b.clock.Set(dl.NextAttemptAt)
		}
		dl := b.only(t, w.ID)
		if dl.Status != foyer.DeliveryFailed || b.now().Sub(start) < time.Hour {
			t.Fatalf("delivery %+v at %v", dl, b.now().Sub(start))
		}
		got := b.webhook(t, w.ID)
		if got.Enabled || got.DisabledReason != webhook.DisabledFailing {
			t.Fatalf("endpoint enabled %v, reason %q; want disabled as %q", got.Enabled, got.DisabledReason, webhook.DisabledFailing)
		}
		n := len(rc.requests())
		b.anonymous(t)
		b.clock.Advance(time.Hour)
		runOnce(t, d, 0)
		if got := len(rc.requests()); got != n {
			t.Fatalf("a disabled endpoint got %d more requests", got-n)
		}
	})

	t.Run("Gone", func(t *testing.T) {
		b := setup(t)
		rc := newReceiver(t, status(http.StatusGone))
		w := b.endpoint(t, rc.URL)
		b.anonymous(t)
		b.anonymous(t)
		d := b.dispatcher(0)
		d.Concurrency = 1
		runOnce(t, d, 0)
		if n := len(rc.requests()); n != 1 {
			t.Fatalf("receiver got %d requests, want 1: the second delivery must not be sent once the endpoint is gone", n)
		}
		got := b.webhook(t, w.ID)
		if got.Enabled || got.DisabledReason != webhook.DisabledGone {
			t.Fatalf("endpoint enabled %v, reason %q; want disabled as %q", got.Enabled, got.DisabledReason, webhook.DisabledGone)
		}
		for _, dl := range b.deliveriesTo(t, w.ID) {
			if dl.Status != foyer.DeliveryFailed {
				t.Errorf("delivery %+v, want failed", dl)
			}
		}
		b.anonymous(t)
		b.clock.Advance(24 * time.Hour)
		runOnce(t, d, 0)
		if n := len(rc.requests()); n != 1 {
			t.Fatalf("receiver got %d requests after it was gone, want 1", n)
		}
	})

	t.Run("RetryAfter", func(t *testing.T) {
		b := setup(t)
		rc := newReceiver(t, func(w http.ResponseWriter, _ *http.Request, n int) {
			if n == 0 {
				w.Header().Set("Retry-After", "120")
				w.WriteHeader(http.StatusTooManyRequests)
			}
		})
		w := b.endpoint(t, rc.URL)
		u := b.anonymous(t)
		d := b.dispatcher(0)
		runOnce(t, d, 0)
		dl := b.only(t, w.ID)
		if want := b.now().Add(120 * time.Second); dl.Status != foyer.DeliveryPending || dl.LastStatusCode != 429 || !dl.NextAttemptAt.Equal(want) {
			t.Fatalf("delivery %+v, want pending until %v", dl, want)
		}
		b.clock.Advance(119 * time.Second)
		runOnce(t, d, 0)
		if n := len(rc.requests()); n != 1 {
			t.Fatalf("retried before Retry-After: %d requests", n)
		}
		b.clock.Advance(time.Second)
		runOnce(t, d, 1)
		reqs := rc.requests()
		if len(reqs) != 2 {
			t.Fatalf("receiver got %d requests, want 2", len(reqs))
		}
		checkEvent(t, reqs[1], w, dl.ID, u, b.now())
	})

	t.Run("ErrPrivateAddress", func(t *testing.T) {
		// The default client refuses the loopback receiver, whether named
		// by address or by a name that resolves to it.
		b := setup(t)
		rc := newReceiver(t, status(http.StatusOK))
		byAddr := b.endpoint(t, rc.URL)
		byName := b.endpoint(t, "http://localhost:"+receiverPort(t, rc.Server)+"/")
		if err := webhook.ValidateURL(byAddr.URL, false); foyer.ErrorCode(err) != foyer.EInvalid {
			t.Errorf("ValidateURL(%q) = %v, want EInvalid", byAddr.URL, err)
		}
		if err := webhook.ValidateURL(byName.URL, false); foyer.ErrorCode(err) != foyer.EInvalid {
			t.Errorf("ValidateURL(%q) = %v, want EInvalid", byName.URL, err)
		}
		b.anonymous(t)
		d := &webhook.Dispatcher{Deliveries: b.deliveries, Now: b.now}
		runOnce(t, d, 0)
		for _, w := range []*foyer.Webhook{byAddr, byName} {
			dl := b.only(t, w.ID)
			if dl.Status != foyer.DeliveryPending || !strings.Contains(dl.LastError, webhook.ErrPrivateAddress.Error()) {
				t.Errorf("delivery to %s: %+v", w.URL, dl)
			}
		}
		if n := len(rc.requests()); n != 0 {
			t.Fatalf("receiver got %d requests", n)
		}
	})

	t.Run("Rotation", func(t *testing.T) {
		b := setup(t)
		rc := newReceiver(t, status(http.StatusOK))
		w := b.endpoint(t, rc.URL)
		old := w.Secret
		rotated, err := b.webhooks.RotateWebhookSecret(t.Context(), w.ID, webhook.NewSecret(), b.now().Add(24*time.Hour))
		if err != nil {
			t.Fatalf("RotateWebhookSecret: %v", err)
		}
		u := b.anonymous(t)
		d := b.dispatcher(0)
		runOnce(t, d, 1)
		dl := b.only(t, w.ID)
		checkEvent(t, rc.requests()[0], rotated, dl.ID, u, b.now())
		checkEvent(t, rc.requests()[0], &foyer.Webhook{Secret: old}, dl.ID, u, b.now())

		// Once the old secret expires, only the new one signs.
		b.clock.Advance(24 * time.Hour)
		if _, err := b.deliveries.Redeliver(t.Context(), dl.ID); err != nil {
			t.Fatalf("Redeliver: %v", err)
		}
		runOnce(t, d, 1)
		req := rc.requests()[1]
		if n := len(strings.Fields(req.header.Get("webhook-signature"))); n != 1 {
			t.Fatalf("%d signatures after the old secret expired, want 1", n)
		}
		checkEvent(t, req, rotated, dl.ID, u, b.now())
	})

	t.Run("Redeliver", func(t *testing.T) {
		b := setup(t)
		rc := newReceiver(t, status(http.StatusOK))
		w := b.endpoint(t, rc.URL)
		u := b.anonymous(t)
		d := b.dispatcher(0)
		runOnce(t, d, 1)
		dl := b.only(t, w.ID)
		b.clock.Advance(time.Minute)
		if _, err := b.deliveries.Redeliver(t.Context(), dl.ID); err != nil {
			t.Fatalf("Redeliver: %v", err)
		}
		runOnce(t, d, 1)
		reqs := rc.requests()
		if len(reqs) != 2 {
			t.Fatalf("receiver got %d requests, want 2", len(reqs))
		}
		checkEvent(t, reqs[1], w, dl.ID, u, b.now())
	})

	t.Run("LeaseLapses", func(t *testing.T) {
		// A dispatcher that claimed a delivery and crashed holds it until
		// its lease lapses; then another one sends it.
		b := setup(t)
		rc := newReceiver(t, status(http.StatusOK))
		w := b.endpoint(t, rc.URL)
		u := b.anonymous(t)
		if _, err := b.deliveries.FanOutEvents(t.Context(), 10); err != nil {
			t.Fatalf("FanOutEvents: %v", err)
		}
		cds, err := b.deliveries.ClaimDeliveries(t.Context(), b.now(), 5*time.Minute, 10)
		if err != nil || len(cds) != 1 {
			t.Fatalf("ClaimDeliveries: %d, %v", len(cds), err)
		}
		d := b.dispatcher(0)
		runOnce(t, d, 0)
		b.clock.Advance(5*time.Minute - time.Second)
		runOnce(t, d, 0)
		if n := len(rc.requests()); n != 0 {
			t.Fatalf("receiver got %d requests while the claim held", n)
		}
		b.clock.Advance(time.Second)
		runOnce(t, d, 1)
		checkEvent(t, rc.requests()[0], w, cds[0].Delivery.ID, u, b.now())
	})

	t.Run("Canceled", func(t *testing.T) {
		// Stopping in the middle of a request records nothing: the claim
		// lapses and the delivery is made later.
		b := setup(t)
		ctx, cancel := context.WithCancel(t.Context())
		rc := newReceiver(t, func(w http.ResponseWriter, r *http.Request, n int) {
			if n == 0 {
				cancel()
				<-r.Context().Done()
			}
		})
		w := b.endpoint(t, rc.URL)
		b.anonymous(t)
		d := b.dispatcher(0)
		if _, err := d.RunOnce(ctx); err == nil {
			t.Fatal("RunOnce stopped in the middle returned no error")
		}
		if dl := b.only(t, w.ID); dl.Status != foyer.DeliveryPending || dl.LastAttemptAt != nil {
			t.Fatalf("delivery %+v, want pending with no attempt recorded", dl)
		}
		b.clock.Advance(5 * time.Minute)
		runOnce(t, d, 1)
	})
}

func TestRun(t *testing.T) {
	// The receivers live outside the bubble, so that the bubble only
	// waits for requests in flight; the client keeps no idle connections,
	// whose readers would never be durably blocked.
	ok := newReceiver(t, status(http.StatusOK))
	flaky := newReceiver(t, func(w http.ResponseWriter, _ *http.Request, n int) {
		if n == 0 {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	})

	run := func(t *testing.T) (*webhook.Dispatcher, *bundle) {
		b := setupNow(t)
		d := &webhook.Dispatcher{
			Deliveries: b.deliveries,
			Client:     &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 15 * time.Second},
			Interval:   time.Minute,
		}
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan error, 1)
		go func() { done <- d.Run(ctx) }()
		t.Cleanup(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("Run returned %v, want nil", err)
			}
		})
		synctest.Wait()
		return d, b
	}

	t.Run("Notify", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			d, b := run(t)
			w := b.endpoint(t, ok.URL+"/notify")
			u := b.anonymous(t)
			d.Notify()
			synctest.Wait()
			dl := b.only(t, w.ID)
			if dl.Status != foyer.DeliverySucceeded || dl.LastAttemptAt == nil || !dl.LastAttemptAt.Equal(u.CreatedAt) {
				t.Fatalf("delivery %+v, want delivered at once (%v)", dl, u.CreatedAt)
			}
		})
	})

	t.Run("Tick", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			_, b := run(t)
			w := b.endpoint(t, ok.URL+"/tick")
			b.anonymous(t)
			time.Sleep(59 * time.Second)
			synctest.Wait()
			if ds := b.deliveriesTo(t, w.ID); len(ds) != 0 {
				t.Fatalf("%d deliveries before the tick", len(ds))
			}
			time.Sleep(time.Second)
			synctest.Wait()
			if dl := b.only(t, w.ID); dl.Status != foyer.DeliverySucceeded {
				t.Fatalf("delivery %+v after the tick", dl)
			}
		})
	})

	t.Run("Retry", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			d, b := run(t)
			w := b.endpoint(t, flaky.URL+"/retry")
			b.anonymous(t)
			d.Notify()
			synctest.Wait()
			dl := b.only(t, w.ID)
			if dl.Status != foyer.DeliveryPending || dl.LastStatusCode != 503 {
				t.Fatalf("delivery %+v after the first attempt", dl)
			}
			// The retry is due in about 5 seconds, but the loop only looks
			// every minute.
			time.Sleep(time.Minute)
			synctest.Wait()
			if dl := b.only(t, w.ID); dl.Status != foyer.DeliverySucceeded || dl.Attempts != 2 {
				t.Fatalf("delivery %+v after the next tick", dl)
			}
		})
	})
}
