package foyer

import (
	"context"
	"time"
)

// Webhook is an endpoint that receives events, signed as the Standard
// Webhooks specification describes.
type Webhook struct {
	ID  string `json:"id"`
	URL string `json:"url"`
	// EventTypes lists the event types delivered; empty means all.
	EventTypes []string `json:"event_types"`
	Enabled    bool     `json:"enabled"`
	// Secret is "whsec_" + base64 of the HMAC key. Shown once, when the
	// endpoint is created or its secret rotated.
	Secret string `json:"-"`
	// PreviousSecret keeps signing alongside Secret until
	// PreviousSecretExpiresAt, so receivers can roll over.
	PreviousSecret          string     `json:"-"`
	PreviousSecretExpiresAt *time.Time `json:"previous_secret_expires_at,omitempty"`
	// DisabledReason says why Foyer disabled the endpoint ("gone" after a
	// 410, "failing" after failing for days); "" when enabled or disabled
	// by a person.
	DisabledReason string `json:"disabled_reason,omitempty"`
	// FailingSince is the time of the first failure of the current run of
	// failures, nil when the last delivery succeeded.
	FailingSince *time.Time `json:"failing_since,omitempty"`
	CreatedAt    time.Time  `json:"created_at"`
	UpdatedAt    time.Time  `json:"updated_at"`
}

// Accepts reports whether the endpoint wants events of type typ.
func (w *Webhook) Accepts(typ string) bool {
	if len(w.EventTypes) == 0 {
		return true
	}
	for _, t := range w.EventTypes {
		if t == typ {
			return true
		}
	}
	return false
}

// WebhookUpdate changes an endpoint; nil fields are left alone.
type WebhookUpdate struct {
	URL        *string
	EventTypes *[]string
	Enabled    *bool
}

// WebhookService manages webhook endpoints.
type WebhookService interface {
	// CreateWebhook stores w, setting ID and timestamps.
	CreateWebhook(ctx context.Context, w *Webhook) error
	// FindWebhookByID returns the endpoint with id, secrets included.
	// Returns ENotFound.
	FindWebhookByID(ctx context.Context, id string) (*Webhook, error)
	// FindWebhooks returns every endpoint, oldest first.
	FindWebhooks(ctx context.Context) ([]*Webhook, error)
	// UpdateWebhook applies upd. Enabling clears DisabledReason and
	// FailingSince. Returns ENotFound.
	UpdateWebhook(ctx context.Context, id string, upd WebhookUpdate) (*Webhook, error)
	// RotateWebhookSecret makes secret the signing secret and keeps the
	// old one signing until keepOldUntil. Returns ENotFound.
	RotateWebhookSecret(ctx context.Context, id, secret string, keepOldUntil time.Time) (*Webhook, error)
	// DeleteWebhook deletes the endpoint and its deliveries. Returns ENotFound.
	DeleteWebhook(ctx context.Context, id string) error
}

// Delivery states.
const (
	DeliveryPending   = "pending"   // waiting for its next attempt
	DeliverySucceeded = "succeeded" // a 2xx was received
	DeliveryFailed    = "failed"    // gave up: retries exhausted, endpoint gone or disabled
)

// Delivery is one event on its way to one endpoint. Its ID is the
// webhook-id header, stable across retries.
type Delivery struct {
	ID            string     `json:"id"`
	WebhookID     string     `json:"webhook_id"`
	EventID       string     `json:"event_id"`
	EventType     string     `json:"event_type"`
	UserID        string     `json:"user_id,omitempty"`
	Status        string     `json:"status"`
	Attempts      int        `json:"attempts"`
	NextAttemptAt time.Time  `json:"next_attempt_at"`
	CreatedAt     time.Time  `json:"created_at"`
	LastAttemptAt *time.Time `json:"last_attempt_at,omitempty"`
	// LastStatusCode is the HTTP status of the last attempt, 0 if none
	// was received (connection error, time-out).
	LastStatusCode int    `json:"last_status_code,omitempty"`
	LastLatencyMS  int64  `json:"last_latency_ms,omitempty"`
	LastResponse   string `json:"last_response,omitempty"` // the first bytes of the body
	LastError      string `json:"last_error,omitempty"`
}

// DeliveryAttempt is the outcome of one attempt, recorded by the dispatcher.
type DeliveryAttempt struct {
	StatusCode int
	Latency    time.Duration
	Response   string
	Error      string
	// Status is the delivery's state after this attempt.
	Status string
	// NextAttemptAt is when to retry, for DeliveryPending.
	NextAttemptAt time.Time
	// DisableWebhook, when non-empty, disables the endpoint with this
	// reason in the same transaction (a 410, or failing for days).
	DisableWebhook string
}

// DeliveryFilter selects deliveries; nil fields do not filter. Newest first.
type DeliveryFilter struct {
	WebhookID *string
	EventID   *string
	UserID    *string
	Status    *string
	After     string // cursor: the id of the last delivery of the previous page
	Limit     int
}

// DeliveryService is the durable webhook delivery queue.
type DeliveryService interface {
	// FanOutEvents turns up to limit events that are not yet dispatched
	// into one pending delivery per enabled endpoint that accepts the
	// event's type, and marks those events dispatched, in one transaction.
	// On PostgreSQL concurrent callers never dispatch an event twice. It
	// reports how many events it dispatched.
	FanOutEvents(ctx context.Context, limit int) (int, error)
	// ClaimDeliveries returns up to limit pending deliveries due at now,
	// with their events and endpoints, pushing NextAttemptAt to now+lease
	// so that a crashed dispatcher's claim lapses, and incrementing
	// Attempts (as ClaimMail does), so the returned Attempts is the number
	// of the attempt about to be made.
	ClaimDeliveries(ctx context.Context, now time.Time, lease time.Duration, limit int) ([]*ClaimedDelivery, error)
	// RecordAttempt stores the outcome of an attempt in the Last* fields,
	// Status and NextAttemptAt, leaving Attempts alone. It sets the
	// endpoint's FailingSince on a failed attempt when it is unset and
	// clears it on success. Returns ENotFound.
	RecordAttempt(ctx context.Context, id string, a DeliveryAttempt) error
	// FindDeliveries lists deliveries.
	FindDeliveries(ctx context.Context, filter DeliveryFilter) ([]*Delivery, error)
	// Redeliver makes a delivery pending and due now, whatever its state.
	// Returns ENotFound.
	Redeliver(ctx context.Context, id string) (*Delivery, error)
}

// ClaimedDelivery is a delivery with what the dispatcher needs to send it.
type ClaimedDelivery struct {
	Delivery *Delivery
	Event    *Event
	Webhook  *Webhook
}
