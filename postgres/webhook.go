package postgres

import (
	"context"
	"errors"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/foyerhq/foyer"
)

var _ foyer.WebhookService = (*WebhookService)(nil)

// WebhookService implements foyer.WebhookService.
type WebhookService struct {
	db *DB
}

// NewWebhookService returns a WebhookService on db.
func NewWebhookService(db *DB) *WebhookService { return &WebhookService{db: db} }

const webhookColumns = `w.id, w.url, w.event_types, w.enabled, w.secret, w.previous_secret, w.previous_secret_expires_at,
	w.disabled_reason, w.failing_since, w.created_at, w.updated_at`

// webhookRow receives one row of webhookColumns.
type webhookRow struct {
	w                    foyer.Webhook
	prev, reason         *string
	prevExpires, failing *time.Time
}

// dest returns the scan destinations of webhookColumns, in order.
func (r *webhookRow) dest() []any {
	w := &r.w
	return []any{&w.ID, &w.URL, &w.EventTypes, &w.Enabled, &w.Secret, &r.prev, &r.prevExpires,
		&r.reason, &r.failing, &w.CreatedAt, &w.UpdatedAt}
}

// webhook returns the scanned endpoint. A previous secret that has
// expired at now is left out, as if it were gone.
func (r *webhookRow) webhook(now time.Time) *foyer.Webhook {
	w := r.w
	if w.EventTypes == nil {
		w.EventTypes = []string{}
	}
	if r.prevExpires != nil && now.Before(*r.prevExpires) && r.prev != nil {
		w.PreviousSecret = *r.prev
		w.PreviousSecretExpiresAt = r.prevExpires
	}
	if r.reason != nil {
		w.DisabledReason = *r.reason
	}
	w.FailingSince = r.failing
	return &w
}

// scanWebhook reads one row of webhookColumns.
func scanWebhook(row pgx.Row, now time.Time) (*foyer.Webhook, error) {
	var r webhookRow
	if err := row.Scan(r.dest()...); err != nil {
		return nil, err
	}
	return r.webhook(now), nil
}

// encodeEventTypes stores an empty list (every type) as NULL.
func encodeEventTypes(types []string) []string {
	if len(types) == 0 {
		return nil
	}
	return types
}

// findWebhookByID returns the endpoint with id. Returns ENotFound.
func findWebhookByID(ctx context.Context, q querier, id uuid.UUID, now time.Time) (*foyer.Webhook, error) {
	w, err := scanWebhook(q.QueryRow(ctx, `SELECT `+webhookColumns+` FROM webhooks w WHERE w.id = $1`, id), now)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, foyer.Errorf(foyer.ENotFound, "Webhook not found.")
	}
	if err != nil {
		return nil, translate("find webhook", err)
	}
	return w, nil
}

// CreateWebhook stores w, setting ID and timestamps; DisabledReason,
// FailingSince and the previous secret start empty. Returns EInvalid
// without a URL or a secret.
func (s *WebhookService) CreateWebhook(ctx context.Context, w *foyer.Webhook) error {
	if w.URL == "" || w.Secret == "" {
		return foyer.Errorf(foyer.EInvalid, "A webhook needs a URL and a secret.")
	}
	now := s.db.now()
	id := s.db.newID(now)
	if _, err := s.db.pool.Exec(ctx, `INSERT INTO webhooks (id, url, event_types, enabled, secret, created_at, updated_at)
VALUES ($1, $2, $3, $4, $5, $6, $6)`, id, w.URL, encodeEventTypes(w.EventTypes), w.Enabled, w.Secret, now); err != nil {
		return translate("create webhook", err)
	}
	*w = foyer.Webhook{
		ID: id.String(), URL: w.URL, EventTypes: append([]string{}, w.EventTypes...), Enabled: w.Enabled,
		Secret: w.Secret, CreatedAt: now, UpdatedAt: now,
	}
	return nil
}

// FindWebhookByID returns the endpoint with id, secrets included.
// Returns ENotFound.
func (s *WebhookService) FindWebhookByID(ctx context.Context, id string) (*foyer.Webhook, error) {
	wid, ok := parseID(id)
	if !ok {
		return nil, foyer.Errorf(foyer.ENotFound, "Webhook not found.")
	}
	return findWebhookByID(ctx, s.db.pool, wid, s.db.now())
}

// FindWebhooks returns every endpoint, oldest first.
func (s *WebhookService) FindWebhooks(ctx context.Context) ([]*foyer.Webhook, error) {
	now := s.db.now()
	rows, err := s.db.pool.Query(ctx, `SELECT `+webhookColumns+` FROM webhooks w ORDER BY w.id`)
	if err != nil {
		return nil, translate("find webhooks", err)
	}
	defer rows.Close()
	out := []*foyer.Webhook{}
	for rows.Next() {
		w, err := scanWebhook(rows, now)
		if err != nil {
			return nil, translate("find webhooks", err)
		}
		out = append(out, w)
	}
	if err := rows.Err(); err != nil {
		return nil, translate("find webhooks", err)
	}
	return out, nil
}

// UpdateWebhook applies upd and sets UpdatedAt, in one statement.
// Enabling clears DisabledReason and FailingSince; disabling records no
// reason, as a person did it. Returns ENotFound, or EInvalid for an empty
// URL.
func (s *WebhookService) UpdateWebhook(ctx context.Context, id string, upd foyer.WebhookUpdate) (*foyer.Webhook, error) {
	wid, ok := parseID(id)
	if !ok {
		return nil, foyer.Errorf(foyer.ENotFound, "Webhook not found.")
	}
	if upd.URL != nil && *upd.URL == "" {
		return nil, foyer.Errorf(foyer.EInvalid, "A webhook needs a URL.")
	}
	var types []string
	if upd.EventTypes != nil {
		types = encodeEventTypes(*upd.EventTypes)
	}
	enabling := upd.Enabled != nil && *upd.Enabled
	now := s.db.now()
	w, err := scanWebhook(s.db.pool.QueryRow(ctx, `UPDATE webhooks w SET
	url = coalesce($2, w.url),
	event_types = CASE WHEN $3 THEN $4::text[] ELSE w.event_types END,
	enabled = coalesce($5, w.enabled),
	disabled_reason = CASE WHEN $5::boolean IS NULL THEN w.disabled_reason END,
	failing_since = CASE WHEN $6 THEN NULL ELSE w.failing_since END,
	updated_at = $7
WHERE w.id = $1
RETURNING `+webhookColumns, wid, upd.URL, upd.EventTypes != nil, types, upd.Enabled, enabling, now), now)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, foyer.Errorf(foyer.ENotFound, "Webhook not found.")
	}
	if err != nil {
		return nil, translate("update webhook", err)
	}
	return w, nil
}

// RotateWebhookSecret makes secret the signing secret and keeps the old
// one signing until keepOldUntil; a keepOldUntil that is not after now
// drops the old one at once. Returns ENotFound, or EInvalid for an empty
// secret.
func (s *WebhookService) RotateWebhookSecret(ctx context.Context, id, secret string, keepOldUntil time.Time) (*foyer.Webhook, error) {
	wid, ok := parseID(id)
	if !ok {
		return nil, foyer.Errorf(foyer.ENotFound, "Webhook not found.")
	}
	if secret == "" {
		return nil, foyer.Errorf(foyer.EInvalid, "A webhook needs a secret.")
	}
	now := s.db.now()
	w, err := scanWebhook(s.db.pool.QueryRow(ctx, `UPDATE webhooks w SET
	previous_secret = CASE WHEN $3::timestamptz > $4::timestamptz THEN w.secret END,
	previous_secret_expires_at = CASE WHEN $3::timestamptz > $4::timestamptz THEN $3::timestamptz END,
	secret = $2, updated_at = $4
WHERE w.id = $1
RETURNING `+webhookColumns, wid, secret, msTime(keepOldUntil), now), now)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, foyer.Errorf(foyer.ENotFound, "Webhook not found.")
	}
	if err != nil {
		return nil, translate("rotate webhook secret", err)
	}
	return w, nil
}

// DeleteWebhook deletes the endpoint and, through the foreign key, its
// deliveries. Returns ENotFound.
func (s *WebhookService) DeleteWebhook(ctx context.Context, id string) error {
	wid, ok := parseID(id)
	if !ok {
		return foyer.Errorf(foyer.ENotFound, "Webhook not found.")
	}
	tag, err := s.db.pool.Exec(ctx, `DELETE FROM webhooks WHERE id = $1`, wid)
	if err != nil {
		return translate("delete webhook", err)
	}
	return expectOne(tag, "Webhook not found.")
}
