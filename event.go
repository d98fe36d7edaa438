package foyer

import (
	"context"
	"encoding/json"
	"time"
)

// Event types. They are part of the public API (webhooks and the event
// log): never rename one.
const (
	EventUserCreated             = "user.created"
	EventUserAnonymousCreated    = "user.anonymous.created"
	EventUserUpdated             = "user.updated"
	EventUserConversionRequested = "user.conversion.requested"
	EventUserConverted           = "user.converted"
	EventUserEmailVerified       = "user.email.verified"
	EventUserLoginSuccess        = "user.login.success"
	EventUserLoginFailed         = "user.login.failed"
	EventUserMerged              = "user.merged"
	EventUserDeleted             = "user.deleted"
	EventUserPasswordReset       = "user.password.reset"
)

// EventTypes lists every event type, in the order of the documentation.
var EventTypes = []string{
	EventUserCreated, EventUserAnonymousCreated, EventUserUpdated,
	EventUserConversionRequested, EventUserConverted, EventUserEmailVerified,
	EventUserLoginSuccess, EventUserLoginFailed, EventUserMerged,
	EventUserDeleted, EventUserPasswordReset,
}

// Event is one entry of the event log, written in the same transaction as
// the change it describes (transactional outbox).
type Event struct {
	ID        string    `json:"id"`
	Type      string    `json:"type"`
	UserID    string    `json:"user_id,omitempty"`
	CreatedAt time.Time `json:"created_at"`
	// Data is the event payload: {"user": …} with the user as it is after
	// the change, plus type-specific members (reason, from, into).
	Data json.RawMessage `json:"data"`
}

// EventFilter selects events; nil fields do not filter. Results are
// ordered by id (time-ordered).
type EventFilter struct {
	Type   *string
	UserID *string
	Since  *time.Time
	Until  *time.Time
	After  string
	Limit  int
}

// EventService reads the event log.
type EventService interface {
	// FindEvents returns up to filter.Limit events matching filter.
	FindEvents(ctx context.Context, filter EventFilter) ([]*Event, error)
}

// EventPayload builds the Data of an event about u, with extra members
// added beside "user". Stores call it so both record the same shape.
func EventPayload(u *User, extra map[string]any) (json.RawMessage, error) {
	m := make(map[string]any, len(extra)+1)
	for k, v := range extra {
		m[k] = v
	}
	if u != nil {
		m["user"] = u
	}
	return marshalCompact(m)
}

// LoginEventData is the data of a user.login.success event: the id of the
// session signed in and, for a sign-in through an OpenID Connect
// application, the application's id.
func LoginEventData(sessionID, appID string) map[string]any {
	data := map[string]any{"session_id": sessionID}
	if appID != "" {
		data["app_id"] = appID
	}
	return data
}
