package webhook

import (
	"context"
	"net/netip"
	"time"

	"github.com/foyerhq/foyer"
)

// This file lets the external tests reach the pure rules and the single
// attempt, which have no reason to be part of the package's API.

func PublicAddr(a netip.Addr) bool { return publicAddr(a) }

func RetryDelay(attempt int) time.Duration { return retryDelay(attempt) }

func Jitter(d time.Duration) time.Duration { return jitter(d) }

func ParseRetryAfter(v string, now time.Time) (time.Duration, bool) { return parseRetryAfter(v, now) }

func ActiveSecrets(w *foyer.Webhook, now time.Time) []string { return activeSecrets(w, now) }

// Attempt makes one attempt at cd with the Dispatcher's client, as RunOnce
// does, without recording it; it reports false when ctx ended first.
func (d *Dispatcher) Attempt(ctx context.Context, cd *foyer.ClaimedDelivery) (foyer.DeliveryAttempt, bool) {
	return d.attempt(ctx, d.client(), cd)
}

// Outcome decides the outcome of an attempt that got statusCode (0 with
// err for no response) and the Retry-After header retryAfter, at now.
func (d *Dispatcher) Outcome(dl *foyer.Delivery, w *foyer.Webhook, statusCode int, retryAfter string, err error, now time.Time) foyer.DeliveryAttempt {
	return d.outcome(dl, w, result{statusCode: statusCode, retryAfter: retryAfter, err: err}, now)
}
