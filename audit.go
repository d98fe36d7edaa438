package foyer

import (
	"context"
	"encoding/json"
	"time"
)

// AuditEntry records one server-API or admin action: who, what, when.
type AuditEntry struct {
	ID string `json:"id"`
	// Actor names who acted: "api_key:<id>" or "admin:<id>".
	Actor string `json:"actor"`
	// Action is the route pattern or admin action, e.g.
	// "DELETE /v1/users/{id}".
	Action string `json:"action"`
	// Target is the id acted on, if any.
	Target    string          `json:"target,omitempty"`
	Status    int             `json:"status"`
	IP        string          `json:"ip,omitempty"`
	Details   json.RawMessage `json:"details,omitempty"`
	CreatedAt time.Time       `json:"created_at"`
}

// AuditFilter selects audit entries; newest first.
type AuditFilter struct {
	Actor  *string
	Target *string
	Since  *time.Time
	After  string
	Limit  int
}

// AuditService keeps the audit log.
type AuditService interface {
	// CreateAuditEntry appends e, setting ID and CreatedAt.
	CreateAuditEntry(ctx context.Context, e *AuditEntry) error
	// FindAuditEntries lists entries.
	FindAuditEntries(ctx context.Context, filter AuditFilter) ([]*AuditEntry, error)
}

// Export is everything Foyer stores about one person (GET /v1/me/export).
type Export struct {
	User        *User                `json:"user"`
	Sessions    []*Session           `json:"sessions"`
	Conversions []ExportedConversion `json:"pending_conversions"`
	Events      []*Event             `json:"events"`
	Deliveries  []*Delivery          `json:"deliveries"`
	Aliases     []*Alias             `json:"aliases"`
	Mail        []*Mail              `json:"mail"`
	ExportedAt  time.Time            `json:"exported_at"`
}

// ExportedConversion is a pending conversion request, without its token.
type ExportedConversion struct {
	Email     string    `json:"email"`
	CreatedAt time.Time `json:"created_at"`
	ExpiresAt time.Time `json:"expires_at"`
}

// ExportService gathers a person's data.
type ExportService interface {
	// ExportUser returns everything stored about the user with id, read in
	// one consistent snapshot. Secrets (token hashes, password hash, mail
	// links) are left out. Returns ENotFound.
	ExportUser(ctx context.Context, id string) (*Export, error)
}

// EventRetentionService deletes old events from the event log.
type EventRetentionService interface {
	// DeleteEventsBefore deletes up to limit dispatched events created
	// before t, and the finished deliveries of those events, and reports
	// how many events it deleted.
	DeleteEventsBefore(ctx context.Context, t time.Time, limit int) (int, error)
}
