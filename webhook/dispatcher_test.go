package webhook_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"

	"github.com/foyerhq/foyer"
	"github.com/foyerhq/foyer/webhook"
)

func TestRetryDelay(t *testing.T) {
	tests := []struct {
		attempt int
		want    time.Duration
	}{
		{0, 5 * time.Second},
		{1, 5 * time.Second},
		{2, 5 * time.Minute},
		{3, 30 * time.Minute},
		{4, 2 * time.Hour},
		{5, 5 * time.Hour},
		{6, 10 * time.Hour},
		{7, 10 * time.Hour},
		{1000, 10 * time.Hour},
	}
	for _, tt := range tests {
		if got := webhook.RetryDelay(tt.attempt); got != tt.want {
			t.Errorf("RetryDelay(%d) = %v, want %v", tt.attempt, got, tt.want)
		}
	}

	t.Run("AboutThreeDays", func(t *testing.T) {
		// With the default MaxAge of 3 days, the schedule makes 12
		// attempts: at 0, 5s, 5m5s, 35m5s, 2h35m5s, 7h35m5s and then
		// every 10 hours up to 67h35m5s.
		var at time.Duration
		attempts := 1
		for {
			next := at + webhook.RetryDelay(attempts)
			if next > 72*time.Hour {
				break
			}
			at = next
			attempts++
		}
		if attempts != 12 || at != 67*time.Hour+35*time.Minute+5*time.Second {
			t.Fatalf("%d attempts, the last at %v", attempts, at)
		}
	})
}

func TestJitter(t *testing.T) {
	for _, d := range []time.Duration{0, 1, 5 * time.Second, 10 * time.Hour} {
		seen := make(map[time.Duration]bool)
		for range 200 {
			got := webhook.Jitter(d)
			if got < d-d/5 || got > d+d/5 {
				t.Fatalf("Jitter(%v) = %v, outside ±20%%", d, got)
			}
			seen[got] = true
		}
		if d >= 5*time.Second && len(seen) < 2 {
			t.Fatalf("Jitter(%v) always gives %v", d, d)
		}
	}
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name   string
		header string
		want   time.Duration
		wantOK bool
	}{
		{"Seconds", "120", 120 * time.Second, true},
		{"Zero", "0", 0, true},
		{"Spaces", " 30 ", 30 * time.Second, true},
		{"Large", "86400", webhook.MaxRetryAfter, true},
		{"Overflow", "99999999999999999999999", webhook.MaxRetryAfter, true},
		{"HTTPDate", "Sun, 01 Jun 2025 12:30:00 GMT", 30 * time.Minute, true},
		{"RFC850Date", "Sunday, 01-Jun-25 12:00:10 GMT", 10 * time.Second, true},
		{"ANSICDate", "Sun Jun  1 13:00:00 2025", time.Hour, true},
		{"PastDate", "Sun, 01 Jun 2025 11:00:00 GMT", 0, true},
		{"FarDate", "Fri, 01 Jun 2125 12:00:00 GMT", time.Date(2125, 6, 1, 12, 0, 0, 0, time.UTC).Sub(now), true},
		{"Empty", "", 0, false},
		{"Negative", "-5", 0, false},
		{"Plus", "+5", 0, false},
		{"Fraction", "1.5", 0, false},
		{"Unit", "5s", 0, false},
		{"Garbage", "soon", 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := webhook.ParseRetryAfter(tt.header, now)
			if got != tt.want || ok != tt.wantOK {
				t.Fatalf("ParseRetryAfter(%q) = %v, %v; want %v, %v", tt.header, got, ok, tt.want, tt.wantOK)
			}
		})
	}
}

// FuzzParseRetryAfter checks that the parser never panics and never
// returns a negative wait.
func FuzzParseRetryAfter(f *testing.F) {
	for _, s := range []string{"120", "", "Sun, 01 Jun 2025 12:30:00 GMT", "-1", "99999999999999999999", "1e9"} {
		f.Add(s)
	}
	now := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, s string) {
		d, ok := webhook.ParseRetryAfter(s, now)
		if d < 0 || (!ok && d != 0) {
			t.Fatalf("ParseRetryAfter(%q) = %v, %v", s, d, ok)
		}
	})
}

func TestActiveSecrets(t *testing.T) {
	now := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	later, earlier := now.Add(time.Hour), now.Add(-time.Second)
	tests := []struct {
		name string
		w    foyer.Webhook
		want []string
	}{
		{"OnlyCurrent", foyer.Webhook{Secret: "cur"}, []string{"cur"}},
		{"Rotating", foyer.Webhook{Secret: "cur", PreviousSecret: "prev", PreviousSecretExpiresAt: &later}, []string{"cur", "prev"}},
		{"Expired", foyer.Webhook{Secret: "cur", PreviousSecret: "prev", PreviousSecretExpiresAt: &earlier}, []string{"cur"}},
		{"ExpiresNow", foyer.Webhook{Secret: "cur", PreviousSecret: "prev", PreviousSecretExpiresAt: &now}, []string{"cur"}},
		{"NoExpiry", foyer.Webhook{Secret: "cur", PreviousSecret: "prev"}, []string{"cur"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, webhook.ActiveSecrets(&tt.w, now)); diff != "" {
				t.Fatalf("ActiveSecrets (-want +got):\n%s", diff)
			}
		})
	}
}

func TestBody(t *testing.T) {
	t.Run("OK", func(t *testing.T) {
		ev := &foyer.Event{
			ID: "e1", Type: foyer.EventUserConverted, UserID: "u1",
			CreatedAt: time.Date(2025, 6, 1, 14, 0, 0, 123_000_000, time.FixedZone("CEST", 2*3600)),
			Data:      json.RawMessage(`{"user":{"id":"u1"}}`),
		}
		b, err := webhook.Body(ev)
		if err != nil {
			t.Fatalf("Body: %v", err)
		}
		want := `{"type":"user.converted","timestamp":"2025-06-01T12:00:00.123Z","data":{"user":{"id":"u1"}}}`
		if string(b) != want {
			t.Fatalf("Body = %s, want %s", b, want)
		}
	})
	t.Run("NoData", func(t *testing.T) {
		b, err := webhook.Body(&foyer.Event{Type: foyer.EventUserDeleted, CreatedAt: time.Unix(0, 0)})
		if err != nil {
			t.Fatalf("Body: %v", err)
		}
		if want := `{"type":"user.deleted","timestamp":"1970-01-01T00:00:00Z","data":{}}`; string(b) != want {
			t.Fatalf("Body = %s, want %s", b, want)
		}
	})
}

func TestOutcome(t *testing.T) {
	now := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	ago := func(d time.Duration) *time.Time { t := now.Add(-d); return &t }
	d := &webhook.Dispatcher{}
	tests := []struct {
		name         string
		attempts     int
		age          time.Duration
		failingSince *time.Time
		status       int
		retryAfter   string
		err          error

		wantStatus  string
		wantDisable string
		wantMin     time.Duration // bounds of NextAttemptAt - now, for pending
		wantMax     time.Duration
		wantError   string // a substring of Error
	}{
		{name: "OK", attempts: 1, status: 200, wantStatus: foyer.DeliverySucceeded},
		{name: "OKNoContent", attempts: 3, status: 204, wantStatus: foyer.DeliverySucceeded},
		{name: "OK299WhileFailing", attempts: 9, age: 70 * time.Hour, failingSince: ago(6 * 24 * time.Hour), status: 299, wantStatus: foyer.DeliverySucceeded},
		{name: "ServerError", attempts: 1, status: 500, wantStatus: foyer.DeliveryPending, wantMin: 4 * time.Second, wantMax: 6 * time.Second, wantError: "unexpected status 500"},
		{name: "ServerErrorSecond", attempts: 2, status: 502, wantStatus: foyer.DeliveryPending, wantMin: 4 * time.Minute, wantMax: 6 * time.Minute},
		{name: "ServerErrorThird", attempts: 3, status: 500, wantStatus: foyer.DeliveryPending, wantMin: 24 * time.Minute, wantMax: 36 * time.Minute},
		{name: "ServerErrorSixth", attempts: 6, age: 8 * time.Hour, status: 500, wantStatus: foyer.DeliveryPending, wantMin: 8 * time.Hour, wantMax: 12 * time.Hour},
		{name: "Redirect", attempts: 1, status: 302, wantStatus: foyer.DeliveryPending, wantMin: 4 * time.Second, wantMax: 6 * time.Second},
		{name: "ClientError", attempts: 1, status: 400, wantStatus: foyer.DeliveryPending, wantMin: 4 * time.Second, wantMax: 6 * time.Second},
		{name: "NoResponse", attempts: 1, err: errors.New("dial tcp: connection refused"), wantStatus: foyer.DeliveryPending, wantMin: 4 * time.Second, wantMax: 6 * time.Second, wantError: "connection refused"},
		{name: "Gone", attempts: 1, status: 410, wantStatus: foyer.DeliveryFailed, wantDisable: webhook.DisabledGone, wantError: "gone"},
		{name: "RetryAfter", attempts: 1, status: 429, retryAfter: "120", wantStatus: foyer.DeliveryPending, wantMin: 120 * time.Second, wantMax: 120 * time.Second},
		{name: "RetryAfterDate", attempts: 1, status: 503, retryAfter: "Sun, 01 Jun 2025 13:00:00 GMT", wantStatus: foyer.DeliveryPending, wantMin: time.Hour, wantMax: time.Hour},
		{name: "RetryAfterShorterThanSchedule", attempts: 3, status: 429, retryAfter: "1", wantStatus: foyer.DeliveryPending, wantMin: 24 * time.Minute, wantMax: 36 * time.Minute},
		{name: "RetryAfterCapped", attempts: 1, status: 429, retryAfter: "Fri, 01 Jun 2125 12:00:00 GMT", wantStatus: foyer.DeliveryPending, wantMin: webhook.MaxRetryAfter, wantMax: webhook.MaxRetryAfter},
		{name: "RetryAfterMalformed", attempts: 1, status: 429, retryAfter: "soon", wantStatus: foyer.DeliveryPending, wantMin: 4 * time.Second, wantMax: 6 * time.Second},
		{name: "RetryAfterOn500Ignored", attempts: 1, status: 500, retryAfter: "3600", wantStatus: foyer.DeliveryPending, wantMin: 4 * time.Second, wantMax: 6 * time.Second},
		{name: "RetryAfterBeyondMaxAge", attempts: 2, age: 71 * time.Hour, status: 503, retryAfter: "7200", wantStatus: foyer.DeliveryFailed, wantError: "gave up after 2 attempts"},
		{name: "GiveUp", attempts: 12, age: 67*time.Hour + 35*time.Minute, status: 500, wantStatus: foyer.DeliveryFailed, wantError: "gave up after 12 attempts"},
		{name: "LastBeforeMaxAge", attempts: 11, age: 57*time.Hour + 35*time.Minute, status: 500, wantStatus: foyer.DeliveryPending, wantMin: 8 * time.Hour, wantMax: 12 * time.Hour},
		{name: "FailingNotYetLongEnough", attempts: 1, failingSince: ago(4 * 24 * time.Hour), status: 500, wantStatus: foyer.DeliveryPending, wantMin: 4 * time.Second, wantMax: 6 * time.Second},
		{name: "FailingTooLong", attempts: 1, failingSince: ago(5 * 24 * time.Hour), status: 500, wantStatus: foyer.DeliveryFailed, wantDisable: webhook.DisabledFailing, wantError: "failing since"},
		{name: "FailingTooLongNoResponse", attempts: 4, failingSince: ago(6 * 24 * time.Hour), err: errors.New("timeout"), wantStatus: foyer.DeliveryFailed, wantDisable: webhook.DisabledFailing},
		{name: "GoneWhileFailing", attempts: 1, failingSince: ago(6 * 24 * time.Hour), status: 410, wantStatus: foyer.DeliveryFailed, wantDisable: webhook.DisabledGone},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dl := &foyer.Delivery{ID: "d1", Attempts: tt.attempts, CreatedAt: now.Add(-tt.age), Status: foyer.DeliveryPending}
			w := &foyer.Webhook{ID: "w1", Enabled: true, FailingSince: tt.failingSince}
			a := d.Outcome(dl, w, tt.status, tt.retryAfter, tt.err, now)
			if a.Status != tt.wantStatus || a.DisableWebhook != tt.wantDisable {
				t.Fatalf("status %q, disable %q; want %q, %q (error %q)", a.Status, a.DisableWebhook, tt.wantStatus, tt.wantDisable, a.Error)
			}
			if a.StatusCode != tt.status {
				t.Errorf("StatusCode %d, want %d", a.StatusCode, tt.status)
			}
			if !strings.Contains(a.Error, tt.wantError) {
				t.Errorf("Error %q, want it to contain %q", a.Error, tt.wantError)
			}
			if tt.wantStatus == foyer.DeliverySucceeded && a.Error != "" {
				t.Errorf("Error %q on success", a.Error)
			}
			if tt.wantStatus != foyer.DeliveryPending {
				if !a.NextAttemptAt.IsZero() {
					t.Errorf("NextAttemptAt %v for a finished delivery", a.NextAttemptAt)
				}
				return
			}
			if wait := a.NextAttemptAt.Sub(now); wait < tt.wantMin || wait > tt.wantMax {
				t.Errorf("next attempt in %v, want within [%v, %v]", wait, tt.wantMin, tt.wantMax)
			}
		})
	}

	t.Run("Defaults", func(t *testing.T) {
		// MaxAge and DisableAfter apply as set.
		d := &webhook.Dispatcher{MaxAge: time.Hour, DisableAfter: time.Hour}
		dl := &foyer.Delivery{Attempts: 4, CreatedAt: now.Add(-30 * time.Minute)}
		if a := d.Outcome(dl, &foyer.Webhook{Enabled: true}, 500, "", nil, now); a.Status != foyer.DeliveryFailed || a.DisableWebhook != "" {
			t.Errorf("past a MaxAge of 1h: %+v", a)
		}
		if a := d.Outcome(&foyer.Delivery{Attempts: 1, CreatedAt: now}, &foyer.Webhook{Enabled: true, FailingSince: ago(time.Hour)}, 500, "", nil, now); a.DisableWebhook != webhook.DisabledFailing {
			t.Errorf("failing for DisableAfter: %+v", a)
		}
	})
}

// request is one request a receiver got.
type request struct {
	header http.Header
	body   []byte
}

// receiver is a real HTTP endpoint that records what it gets and answers
// with respond, called with the number of the request (the first is 0).
type receiver struct {
	*httptest.Server
	respond func(w http.ResponseWriter, r *http.Request, n int)

	mu   sync.Mutex
	reqs []request
}

func newReceiver(t *testing.T, respond func(w http.ResponseWriter, r *http.Request, n int)) *receiver {
	t.Helper()
	return newReceiverAt(t, "127.0.0.1:0", respond)
}

// newReceiverAt starts a receiver listening on addr, which may be the
// address of one that was down.
func newReceiverAt(t *testing.T, addr string, respond func(w http.ResponseWriter, r *http.Request, n int)) *receiver {
	t.Helper()
	l, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("listen on %s: %v", addr, err)
	}
	rc := &receiver{respond: respond}
	rc.Server = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		rc.mu.Lock()
		n := len(rc.reqs)
		rc.reqs = append(rc.reqs, request{header: r.Header.Clone(), body: body})
		rc.mu.Unlock()
		if rc.respond != nil {
			rc.respond(w, r, n)
		}
	}))
	rc.Server.Listener.Close()
	rc.Server.Listener = l
	rc.Start()
	t.Cleanup(rc.Close)
	return rc
}

func (rc *receiver) requests() []request {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]request(nil), rc.reqs...)
}

// status answers every request with code.
func status(code int) func(http.ResponseWriter, *http.Request, int) {
	return func(w http.ResponseWriter, _ *http.Request, _ int) { w.WriteHeader(code) }
}

// claimed returns a delivery of a user.converted event to url, as
// ClaimDeliveries would return it for its first attempt.
func claimed(url string, now time.Time) *foyer.ClaimedDelivery {
	ev := &foyer.Event{
		ID: "0197a0c4-7f3a-7d2e-9b1c-5e6f7a8b9c0d", Type: foyer.EventUserConverted, UserID: "0197a0c4-0000-7000-8000-000000000001",
		CreatedAt: now.Add(-time.Second),
		Data:      json.RawMessage(`{"user":{"id":"0197a0c4-0000-7000-8000-000000000001","anonymous":false,"email":"ann@example.org"}}`),
	}
	w := &foyer.Webhook{ID: "0197a0c4-7f3a-7d2e-9b1c-000000000002", URL: url, Enabled: true, Secret: webhook.NewSecret(), CreatedAt: now.Add(-time.Hour)}
	return &foyer.ClaimedDelivery{
		Event:   ev,
		Webhook: w,
		Delivery: &foyer.Delivery{
			ID: "0197a0c4-7f3a-7d2e-9b1c-000000000003", WebhookID: w.ID, EventID: ev.ID, EventType: ev.Type, UserID: ev.UserID,
			Status: foyer.DeliveryPending, Attempts: 1, CreatedAt: now, NextAttemptAt: now,
		},
	}
}

// checkSigned checks that req is cd's event, signed at ts as the
// specification says, for a receiver holding secret.
func checkSigned(t *testing.T, req request, cd *foyer.ClaimedDelivery, secret string, ts time.Time) {
	t.Helper()
	if !specVerify(t, secret, req.header, req.body) {
		t.Errorf("the independent implementation does not verify the request: %v", req.header)
	}
	if err := webhook.Verify(secret, req.header, req.body, 0, ts); err != nil {
		t.Errorf("Verify: %v", err)
	}
	if got := req.header.Get("webhook-id"); got != cd.Delivery.ID {
		t.Errorf("webhook-id %q, want the delivery id %q", got, cd.Delivery.ID)
	}
	if got, want := req.header.Get("webhook-timestamp"), ts.Unix(); got != strconv.FormatInt(want, 10) {
		t.Errorf("webhook-timestamp %q, want %d", got, want)
	}
	if got := req.header.Get("Content-Type"); got != "application/json" {
		t.Errorf("Content-Type %q", got)
	}
	var body struct {
		Type      string          `json:"type"`
		Timestamp string          `json:"timestamp"`
		Data      json.RawMessage `json:"data"`
	}
	if err := json.Unmarshal(req.body, &body); err != nil {
		t.Fatalf("body %s: %v", req.body, err)
	}
	if body.Type != cd.Event.Type || string(body.Data) != string(cd.Event.Data) {
		t.Errorf("body %s, want type %s and the event's data", req.body, cd.Event.Type)
	}
	if ts, err := time.Parse(time.RFC3339, body.Timestamp); err != nil || !ts.Equal(cd.Event.CreatedAt) {
		t.Errorf("body timestamp %q (%v), want %s", body.Timestamp, err, cd.Event.CreatedAt)
	}
}

func TestAttempt(t *testing.T) {
	now := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	dispatcher := func(timeout time.Duration) *webhook.Dispatcher {
		return &webhook.Dispatcher{
			Client: webhook.NewClient(webhook.ClientConfig{AllowPrivate: true, Timeout: timeout}),
			Now:    func() time.Time { return now },
		}
	}

	t.Run("OK", func(t *testing.T) {
		rc := newReceiver(t, status(http.StatusOK))
		cd := claimed(rc.URL+"/hooks", now)
		a, ok := dispatcher(0).Attempt(t.Context(), cd)
		if !ok || a.Status != foyer.DeliverySucceeded || a.StatusCode != 200 || a.Error != "" {
			t.Fatalf("attempt %+v, %v", a, ok)
		}
		if a.Latency <= 0 {
			t.Errorf("latency %v", a.Latency)
		}
		reqs := rc.requests()
		if len(reqs) != 1 {
			t.Fatalf("receiver got %d requests, want 1", len(reqs))
		}
		checkSigned(t, reqs[0], cd, cd.Webhook.Secret, now)
	})

	t.Run("OKRotating", func(t *testing.T) {
		rc := newReceiver(t, status(http.StatusAccepted))
		cd := claimed(rc.URL, now)
		previous := webhook.NewSecret()
		expires := now.Add(24 * time.Hour)
		cd.Webhook.PreviousSecret, cd.Webhook.PreviousSecretExpiresAt = previous, &expires
		if a, ok := dispatcher(0).Attempt(t.Context(), cd); !ok || a.Status != foyer.DeliverySucceeded {
			t.Fatalf("attempt %+v, %v", a, ok)
		}
		req := rc.requests()[0]
		if n := len(strings.Split(req.header.Get("webhook-signature"), " ")); n != 2 {
			t.Fatalf("%d signatures, want 2", n)
		}
		checkSigned(t, req, cd, cd.Webhook.Secret, now)
		checkSigned(t, req, cd, previous, now)
	})

	t.Run("ServerError", func(t *testing.T) {
		long := strings.Repeat("é", 600) + "\x00\xff" // 1200 bytes of UTF-8, a NUL and an invalid byte
		rc := newReceiver(t, func(w http.ResponseWriter, _ *http.Request, _ int) {
			w.WriteHeader(http.StatusInternalServerError)
			io.WriteString(w, "\x00oops\xff"+long)
		})
		a, ok := dispatcher(0).Attempt(t.Context(), claimed(rc.URL, now))
		if !ok || a.Status != foyer.DeliveryPending || a.StatusCode != 500 {
			t.Fatalf("attempt %+v, %v", a, ok)
		}
		if wait := a.NextAttemptAt.Sub(now); wait < 4*time.Second || wait > 6*time.Second {
			t.Errorf("next attempt in %v, want about 5s", wait)
		}
		if !strings.HasPrefix(a.Response, "oops\uFFFDéé") || len(a.Response) > webhook.SnippetSize+2 ||
			!utf8.ValidString(a.Response) || strings.ContainsRune(a.Response, 0) {
			t.Errorf("response snippet %q (%d bytes)", a.Response, len(a.Response))
		}
	})

	t.Run("Gone", func(t *testing.T) {
		rc := newReceiver(t, status(http.StatusGone))
		a, ok := dispatcher(0).Attempt(t.Context(), claimed(rc.URL, now))
		if !ok || a.Status != foyer.DeliveryFailed || a.DisableWebhook != webhook.DisabledGone || a.StatusCode != 410 {
			t.Fatalf("attempt %+v, %v", a, ok)
		}
	})

	t.Run("RetryAfter", func(t *testing.T) {
		rc := newReceiver(t, func(w http.ResponseWriter, _ *http.Request, _ int) {
			w.Header().Set("Retry-After", "120")
			w.WriteHeader(http.StatusTooManyRequests)
		})
		a, ok := dispatcher(0).Attempt(t.Context(), claimed(rc.URL, now))
		if !ok || a.Status != foyer.DeliveryPending || a.StatusCode != 429 {
			t.Fatalf("attempt %+v, %v", a, ok)
		}
		if want := now.Add(120 * time.Second); !a.NextAttemptAt.Equal(want) {
			t.Errorf("next attempt at %v, want %v", a.NextAttemptAt, want)
		}
	})

	t.Run("Slow", func(t *testing.T) {
		release := make(chan struct{})
		rc := newReceiver(t, func(w http.ResponseWriter, r *http.Request, _ int) {
			select {
			case <-release:
			case <-r.Context().Done():
			}
		})
		t.Cleanup(func() { close(release) })
		a, ok := dispatcher(50*time.Millisecond).Attempt(t.Context(), claimed(rc.URL, now))
		if !ok || a.Status != foyer.DeliveryPending || a.StatusCode != 0 {
			t.Fatalf("attempt %+v, %v", a, ok)
		}
		if !strings.Contains(a.Error, "Timeout") {
			t.Errorf("error %q, want a time-out", a.Error)
		}
	})

	t.Run("Down", func(t *testing.T) {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatalf("listen: %v", err)
		}
		url := "http://" + l.Addr().String() + "/"
		l.Close()
		a, ok := dispatcher(0).Attempt(t.Context(), claimed(url, now))
		if !ok || a.Status != foyer.DeliveryPending || a.StatusCode != 0 || !strings.Contains(a.Error, "refused") {
			t.Fatalf("attempt %+v, %v", a, ok)
		}
	})

	t.Run("ErrPrivateAddress", func(t *testing.T) {
		rc := newReceiver(t, status(http.StatusOK))
		d := &webhook.Dispatcher{Now: func() time.Time { return now }} // the default client
		for _, url := range []string{rc.URL, "http://localhost:" + receiverPort(t, rc.Server) + "/"} {
			a, ok := d.Attempt(t.Context(), claimed(url, now))
			if !ok || a.Status != foyer.DeliveryPending || a.StatusCode != 0 || !strings.Contains(a.Error, webhook.ErrPrivateAddress.Error()) {
				t.Fatalf("attempt at %s: %+v, %v", url, a, ok)
			}
		}
		if n := len(rc.requests()); n != 0 {
			t.Fatalf("receiver got %d requests", n)
		}
	})

	t.Run("Disabled", func(t *testing.T) {
		rc := newReceiver(t, status(http.StatusOK))
		cd := claimed(rc.URL, now)
		cd.Webhook.Enabled, cd.Webhook.DisabledReason = false, webhook.DisabledGone
		a, ok := dispatcher(0).Attempt(t.Context(), cd)
		if !ok || a.Status != foyer.DeliveryFailed || a.DisableWebhook != "" {
			t.Fatalf("attempt %+v, %v", a, ok)
		}
		if n := len(rc.requests()); n != 0 {
			t.Fatalf("receiver got %d requests", n)
		}
	})

	t.Run("Canceled", func(t *testing.T) {
		rc := newReceiver(t, status(http.StatusOK))
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		if a, ok := dispatcher(0).Attempt(ctx, claimed(rc.URL, now)); ok {
			t.Fatalf("attempt %+v after cancellation, want none to record", a)
		}
	})
}
