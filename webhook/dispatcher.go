package webhook

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/foyerhq/foyer"
)

// Reasons the Dispatcher gives when it disables an endpoint, stored in
// foyer.Webhook.DisabledReason.
const (
	// DisabledGone: the endpoint answered 410 Gone.
	DisabledGone = "gone"
	// DisabledFailing: every attempt failed for longer than DisableAfter.
	DisabledFailing = "failing"
)

// SnippetSize is how many bytes of a response body are kept in the
// delivery log.
const SnippetSize = 1024

// MaxRetryAfter caps the wait a receiver can ask for with Retry-After, so
// that a mistaken header cannot hold deliveries back for weeks.
const MaxRetryAfter = 10 * time.Hour

// Dispatcher sends the events of the outbox to the webhook endpoints: it
// turns new events into deliveries (FanOutEvents), claims due deliveries,
// sends each one signed as the Standard Webhooks specification describes,
// and records the outcome. A delivery succeeds on any 2xx; otherwise it is
// retried on the schedule of the specification (5 seconds, 5 minutes,
// 30 minutes, 2 hours, 5 hours, then every 10 hours), with jitter, until
// it is MaxAge old. A 410 disables the endpoint; so does failing for
// longer than DisableAfter. Retry-After on a 429 or 503 is honoured.
//
// The Dispatcher only reads the outbox that service methods write in their
// own transactions, so a slow or failing endpoint never delays or fails a
// user's action. Delivery is at least once: a receiver may see a delivery
// twice (an attempt whose outcome was not recorded is made again), and
// tells repeats apart by the webhook-id header, which is the delivery's id.
//
// The exported fields are set before Run or RunOnce is called and not
// changed afterwards. Several Dispatchers may share a PostgreSQL store:
// their claims never overlap, and a crashed Dispatcher's claim lapses after
// Lease.
type Dispatcher struct {
	// Deliveries is the durable delivery queue. Required.
	Deliveries foyer.DeliveryService
	// Client sends the requests; nil means NewClient(ClientConfig{}),
	// which refuses non-public addresses.
	Client *http.Client
	// Logger receives failed attempts and disabled endpoints; nil discards.
	Logger *slog.Logger
	// Now is the clock, time.Now by default.
	Now func() time.Time

	// Interval is how often Run looks for new events and due deliveries,
	// 1 second by default so that a receiver hears of a change within
	// about a second even when nothing calls Notify.
	Interval time.Duration
	// Lease is how long a claim keeps a delivery from other claimers,
	// 5 minutes by default. It must be well above the client's timeout:
	// deliveries whose turn comes after half the lease has passed are not
	// sent but left for the next claim.
	Lease time.Duration
	// BatchSize is how many events one fan-out takes and how many
	// deliveries one claim takes, 20 by default.
	BatchSize int
	// Concurrency is how many requests are in flight at once, 4 by default.
	Concurrency int
	// MaxAge is how long a delivery is retried, counted from its
	// creation, 3 days by default; the last attempt is the last one
	// the schedule places before that.
	MaxAge time.Duration
	// DisableAfter disables an endpoint whose attempts have all failed
	// for this long, 5 days by default.
	DisableAfter time.Duration

	wakeOnce sync.Once
	wake     chan struct{}

	clientOnce    sync.Once
	defaultClient *http.Client
}

func (d *Dispatcher) now() time.Time {
	if d.Now != nil {
		return d.Now()
	}
	return time.Now()
}

func (d *Dispatcher) logger() *slog.Logger {
	if d.Logger != nil {
		return d.Logger
	}
	return slog.New(slog.DiscardHandler)
}

// client returns Client, or a default client built once so that its
// connections are reused from one round to the next.
func (d *Dispatcher) client() *http.Client {
	if d.Client != nil {
		return d.Client
	}
	d.clientOnce.Do(func() { d.defaultClient = NewClient(ClientConfig{}) })
	return d.defaultClient
}

func (d *Dispatcher) wakeChan() chan struct{} {
	d.wakeOnce.Do(func() { d.wake = make(chan struct{}, 1) })
	return d.wake
}

// Notify wakes Run at once, so that the events of a request go out without
// waiting for the next tick. It never blocks; wake-ups that arrive while
// Run is busy are merged into one.
func (d *Dispatcher) Notify() {
	select {
	case d.wakeChan() <- struct{}{}:
	default:
	}
}

// Run dispatches until ctx is done: at once, then every Interval and
// whenever Notify is called. A failing round is logged and retried at the
// next one. Run returns nil when ctx is done.
func (d *Dispatcher) Run(ctx context.Context) error {
	if d.Deliveries == nil {
		return errors.New("webhook: Dispatcher needs Deliveries")
	}
	wake := d.wakeChan()
	ticker := time.NewTicker(cmp.Or(d.Interval, time.Second))
	defer ticker.Stop()
	for {
		if _, err := d.RunOnce(ctx); err != nil && ctx.Err() == nil {
			d.logger().ErrorContext(ctx, "webhook: dispatch", slog.Any("err", err))
		}
		select {
		case <-ctx.Done():
			return nil
		case <-ticker.C:
		case <-wake:
		}
	}
}

// RunOnce turns new events into deliveries in batches until a batch comes
// back short, then claims due deliveries in batches until a batch comes
// back short, sends them, Concurrency at a time, and reports how many were
// delivered. A failed attempt is recorded on its delivery and is not an
// error of RunOnce; an error is returned when the store fails or ctx ends,
// and deliveries not yet attempted are then claimed again once their claim
// lapses.
func (d *Dispatcher) RunOnce(ctx context.Context) (sent int, err error) {
	if d.Deliveries == nil {
		return 0, errors.New("webhook: Dispatcher needs Deliveries")
	}
	batch := cmp.Or(d.BatchSize, 20)
	for {
		n, err := d.Deliveries.FanOutEvents(ctx, batch)
		if err != nil {
			return 0, fmt.Errorf("fan out events: %w", err)
		}
		if n < batch {
			break
		}
	}

	lease := cmp.Or(d.Lease, 5*time.Minute)
	r := &round{client: d.client(), disabled: make(map[string]bool)}
	for {
		claimedAt := d.now()
		cds, err := d.Deliveries.ClaimDeliveries(ctx, claimedAt, lease, batch)
		if err != nil {
			return sent, fmt.Errorf("claim deliveries: %w", err)
		}
		n, err := d.sendAll(ctx, r, cds, claimedAt.Add(lease/2))
		sent += n
		if err != nil {
			return sent, err
		}
		if len(cds) < batch {
			return sent, nil
		}
	}
}

// round is the state one RunOnce shares between its sends.
type round struct {
	client *http.Client

	mu sync.Mutex
	// disabled holds the endpoints disabled during this round, so that
	// their remaining deliveries are not sent.
	disabled map[string]bool
}

func (r *round) isDisabled(id string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.disabled[id]
}

func (r *round) disable(id string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.disabled[id] = true
}

// sendAll sends cds, Concurrency at a time, and reports how many were
// delivered. Deliveries whose turn comes after deadline are left for their
// claim to lapse: by then another claimer could take them.
func (d *Dispatcher) sendAll(ctx context.Context, r *round, cds []*foyer.ClaimedDelivery, deadline time.Time) (int, error) {
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		sent     int
		firstErr error
	)
	sem := make(chan struct{}, cmp.Or(d.Concurrency, 4))
	for _, cd := range cds {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
		mu.Lock()
		failed := firstErr != nil
		mu.Unlock()
		if failed {
			<-sem
			break
		}
		if !d.now().Before(deadline) {
			<-sem
			continue
		}
		wg.Go(func() {
			defer func() { <-sem }()
			ok, err := d.deliver(ctx, r, cd)
			mu.Lock()
			defer mu.Unlock()
			if ok {
				sent++
			}
			if err != nil && firstErr == nil {
				firstErr = err
			}
		})
	}
	wg.Wait()
	if firstErr == nil {
		firstErr = ctx.Err()
	}
	return sent, firstErr
}

// deliver makes one attempt at cd and records its outcome. It reports
// whether the delivery succeeded; an error means the outcome could not be
// recorded, or ctx ended before an answer came.
func (d *Dispatcher) deliver(ctx context.Context, r *round, cd *foyer.ClaimedDelivery) (bool, error) {
	var a foyer.DeliveryAttempt
	if cd.Webhook != nil && r.isDisabled(cd.Webhook.ID) {
		a = foyer.DeliveryAttempt{Status: foyer.DeliveryFailed, Error: notSentDisabled}
	} else {
		var ok bool
		if a, ok = d.attempt(ctx, r.client, cd); !ok {
			// Stopping: the failure is ours, not the endpoint's, so no
			// attempt is recorded and the claim is left to lapse.
			return false, ctx.Err()
		}
	}
	d.log(ctx, cd, a)
	if a.DisableWebhook != "" {
		r.disable(cd.Webhook.ID)
	}
	// The outcome is recorded even if ctx has just ended: forgetting a
	// success would send the delivery again.
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if err := d.Deliveries.RecordAttempt(rctx, cd.Delivery.ID, a); err != nil {
		if foyer.ErrorCode(err) == foyer.ENotFound {
			// The endpoint was deleted with its deliveries meanwhile.
			return false, nil
		}
		return false, fmt.Errorf("record attempt of delivery %s: %w", cd.Delivery.ID, err)
	}
	return a.Status == foyer.DeliverySucceeded, nil
}

const notSentDisabled = "not sent: the endpoint is disabled"

// attempt makes one attempt at cd, unless its endpoint is disabled or its
// event gone, and decides the outcome. It reports false, and no outcome,
// when ctx ended before an answer came.
func (d *Dispatcher) attempt(ctx context.Context, client *http.Client, cd *foyer.ClaimedDelivery) (foyer.DeliveryAttempt, bool) {
	switch {
	case cd.Webhook == nil || !cd.Webhook.Enabled:
		return foyer.DeliveryAttempt{Status: foyer.DeliveryFailed, Error: notSentDisabled}, true
	case cd.Event == nil:
		return foyer.DeliveryAttempt{Status: foyer.DeliveryFailed, Error: "not sent: the event no longer exists"}, true
	}
	res := d.send(ctx, client, cd)
	if res.statusCode == 0 && ctx.Err() != nil {
		return foyer.DeliveryAttempt{}, false
	}
	return d.outcome(cd.Delivery, cd.Webhook, res, d.now()), true
}

func (d *Dispatcher) log(ctx context.Context, cd *foyer.ClaimedDelivery, a foyer.DeliveryAttempt) {
	if a.Status == foyer.DeliverySucceeded {
		return
	}
	attrs := []slog.Attr{
		slog.String("delivery_id", cd.Delivery.ID),
		slog.String("webhook_id", cd.Delivery.WebhookID),
		slog.Int("attempt", attemptNumber(cd.Delivery)),
		slog.Int("status_code", a.StatusCode),
		slog.String("error", a.Error),
	}
	switch {
	case a.DisableWebhook != "":
		d.logger().LogAttrs(ctx, slog.LevelWarn, "webhook: endpoint disabled", append(attrs, slog.String("reason", a.DisableWebhook))...)
	case a.Status == foyer.DeliveryFailed:
		d.logger().LogAttrs(ctx, slog.LevelWarn, "webhook: delivery failed, giving up", attrs...)
	default:
		d.logger().LogAttrs(ctx, slog.LevelInfo, "webhook: delivery failed, will retry", append(attrs, slog.Time("next_attempt_at", a.NextAttemptAt))...)
	}
}

// result is what one HTTP attempt produced.
type result struct {
	statusCode int // 0 when no response was received
	retryAfter string
	latency    time.Duration
	response   string
	err        error
}

// payload is the body of a delivery, as the Standard Webhooks
// specification shapes it.
type payload struct {
	Type      string          `json:"type"`
	Timestamp time.Time       `json:"timestamp"`
	Data      json.RawMessage `json:"data"`
}

// Body returns the body of a delivery of ev: {"type", "timestamp" (the
// event's time, RFC 3339 in UTC), "data"}.
func Body(ev *foyer.Event) ([]byte, error) {
	data := ev.Data
	if len(data) == 0 {
		data = json.RawMessage("{}")
	}
	return json.Marshal(payload{Type: ev.Type, Timestamp: ev.CreatedAt.UTC(), Data: data})
}

// activeSecrets returns the secrets w signs with at now: the current one
// and, until it expires, the previous one.
func activeSecrets(w *foyer.Webhook, now time.Time) []string {
	secrets := []string{w.Secret}
	if w.PreviousSecret != "" && w.PreviousSecretExpiresAt != nil && now.Before(*w.PreviousSecretExpiresAt) {
		secrets = append(secrets, w.PreviousSecret)
	}
	return secrets
}

// send makes one HTTP attempt at cd.
func (d *Dispatcher) send(ctx context.Context, client *http.Client, cd *foyer.ClaimedDelivery) result {
	body, err := Body(cd.Event)
	if err != nil {
		return result{err: fmt.Errorf("encode body: %w", err)}
	}
	now := d.now()
	h, err := Headers(activeSecrets(cd.Webhook, now), cd.Delivery.ID, now, body)
	if err != nil {
		return result{err: err}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, cd.Webhook.URL, bytes.NewReader(body))
	if err != nil {
		return result{err: err}
	}
	for k, v := range h {
		req.Header[k] = v
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "Foyer-Webhooks/1")

	start := time.Now() // the real clock: latency is measured, not scheduled
	resp, err := client.Do(req)
	if err != nil {
		return result{latency: time.Since(start), err: err}
	}
	defer resp.Body.Close()
	snippet, _ := io.ReadAll(io.LimitReader(resp.Body, SnippetSize))
	// Drain a little more so that the connection can be reused.
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	return result{
		statusCode: resp.StatusCode,
		retryAfter: resp.Header.Get("Retry-After"),
		latency:    time.Since(start),
		response:   cleanSnippet(snippet),
	}
}

// cleanSnippet makes a response body storable as text in either database:
// valid UTF-8 without NUL bytes.
func cleanSnippet(b []byte) string {
	return strings.ReplaceAll(strings.ToValidUTF8(string(b), "\uFFFD"), "\x00", "")
}

// attemptNumber returns the number of the attempt being made at dl:
// ClaimDeliveries counts each claim as an attempt.
func attemptNumber(dl *foyer.Delivery) int {
	return max(dl.Attempts, 1)
}

// outcome decides what an attempt's result means for the delivery and its
// endpoint, at now.
func (d *Dispatcher) outcome(dl *foyer.Delivery, w *foyer.Webhook, res result, now time.Time) foyer.DeliveryAttempt {
	a := foyer.DeliveryAttempt{
		StatusCode: res.statusCode,
		Latency:    res.latency,
		Response:   res.response,
	}
	if res.statusCode >= 200 && res.statusCode < 300 {
		a.Status = foyer.DeliverySucceeded
		return a
	}
	switch {
	case res.err != nil:
		a.Error = res.err.Error()
	default:
		a.Error = "unexpected status " + strconv.Itoa(res.statusCode)
	}

	if res.statusCode == http.StatusGone {
		a.Status = foyer.DeliveryFailed
		a.DisableWebhook = DisabledGone
		a.Error += ": the endpoint is gone and was disabled"
		return a
	}
	if w.FailingSince != nil && now.Sub(*w.FailingSince) >= cmp.Or(d.DisableAfter, 5*24*time.Hour) {
		a.Status = foyer.DeliveryFailed
		a.DisableWebhook = DisabledFailing
		a.Error += ": the endpoint has been failing since " + w.FailingSince.UTC().Format(time.RFC3339) + " and was disabled"
		return a
	}

	delay := jitter(retryDelay(attemptNumber(dl)))
	if res.statusCode == http.StatusTooManyRequests || res.statusCode == http.StatusServiceUnavailable {
		if ra, ok := parseRetryAfter(res.retryAfter, now); ok {
			delay = max(delay, min(ra, MaxRetryAfter))
		}
	}
	next := now.Add(delay)
	if next.After(dl.CreatedAt.Add(cmp.Or(d.MaxAge, 3*24*time.Hour))) {
		a.Status = foyer.DeliveryFailed
		a.Error += fmt.Sprintf(": gave up after %d attempts", attemptNumber(dl))
		return a
	}
	a.Status = foyer.DeliveryPending
	a.NextAttemptAt = next
	return a
}

// retryDelay returns the wait after the given failed attempt (the first
// is 1), following the schedule of the Standard Webhooks specification:
// 5 seconds, 5 minutes, 30 minutes, 2 hours, 5 hours, then 10 hours.
func retryDelay(attempt int) time.Duration {
	switch {
	case attempt <= 1:
		return 5 * time.Second
	case attempt == 2:
		return 5 * time.Minute
	case attempt == 3:
		return 30 * time.Minute
	case attempt == 4:
		return 2 * time.Hour
	case attempt == 5:
		return 5 * time.Hour
	default:
		return 10 * time.Hour
	}
}

// jitter returns a random duration within 20% of d either way, so that
// deliveries that failed together do not all retry together.
func jitter(d time.Duration) time.Duration {
	if d <= 0 {
		return d
	}
	return d - d/5 + rand.N(2*(d/5)+1)
}

// parseRetryAfter parses a Retry-After header, either a number of seconds
// or an HTTP date, into a wait from now. It reports false when the header
// is absent or malformed. A date in the past is a wait of zero; a number
// of seconds beyond MaxRetryAfter is returned as MaxRetryAfter, which the
// caller caps the wait at anyway, so that it cannot overflow.
func parseRetryAfter(v string, now time.Time) (time.Duration, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if v[0] >= '0' && v[0] <= '9' {
		secs, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			if errors.Is(err, strconv.ErrRange) {
				return MaxRetryAfter, true
			}
			return 0, false
		}
		if secs > uint64(MaxRetryAfter/time.Second) {
			return MaxRetryAfter, true
		}
		return time.Duration(secs) * time.Second, true
	}
	t, err := http.ParseTime(v)
	if err != nil {
		return 0, false
	}
	return max(t.Sub(now), 0), true
}
