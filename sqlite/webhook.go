package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"time"

	"github.com/google/uuid"

	"github.com/foyerhq/foyer"
)

var _ foyer.WebhookService = (*WebhookService)(nil)

// WebhookService implements foyer.WebhookService.
type WebhookService struct {
	db *DB
}

// NewWebhookService returns a WebhookService on db.
func NewWebhookService(db *DB) *WebhookService { return &WebhookService{db: db} }

const webhookColumns = `id, url, event_types, enabled, secret, previous_secret, previous_secret_expires_at,
	disabled_reason, failing_since, created_at, updated_at`

// scanWebhook reads one row of webhookColumns. A previous secret that has
// expired at now is left out, as if it were gone.
func scanWebhook(row interface{ Scan(...any) error }, now time.Time) (*foyer.Webhook, error) {
	var (
		w                    foyer.Webhook
		id                   []byte
		types, prev, reason  sql.NullString
		prevExpires, failing sql.NullInt64
		created, updated     int64
	)
	if err := row.Scan(&id, &w.URL, &types, &w.Enabled, &w.Secret, &prev, &prevExpires,
		&reason, &failing, &created, &updated); err != nil {
		return nil, err
	}
	w.ID = idString(id)
	w.EventTypes = []string{}
	if types.Valid {
		if err := json.Unmarshal([]byte(types.String), &w.EventTypes); err != nil {
			return nil, err
		}
	}
	if prevExpires.Valid && now.Before(msTime(prevExpires.Int64)) {
		w.PreviousSecret = prev.String
		w.PreviousSecretExpiresAt = msTimePtr(prevExpires)
	}
	w.DisabledReason = reason.String
	w.FailingSince = msTimePtr(failing)
	w.CreatedAt, w.UpdatedAt = msTime(created), msTime(updated)
	return &w, nil
}

// encodeEventTypes stores an empty list (every type) as NULL.
func encodeEventTypes(types []string) (any, error) {
	if len(types) == 0 {
		return nil, nil
	}
	b, err := json.Marshal(types)
	if err != nil {
		return nil, err
	}
	return string(b), nil
}

// findWebhookByID returns the endpoint with id. Returns ENotFound.
func findWebhookByID(ctx context.Context, q querier, id uuid.UUID, now time.Time) (*foyer.Webhook, error) {
	w, err := scanWebhook(q.queryRow(ctx, `SELECT `+webhookColumns+` FROM webhooks WHERE id = ?`, id[:]), now)
	if errors.Is(err, sql.ErrNoRows) {
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
	if err := checkText(append([]string{w.URL, w.Secret}, w.EventTypes...)...); err != nil {
		return err
	}
	types, err := encodeEventTypes(w.EventTypes)
	if err != nil {
		return err
	}
	var created foyer.Webhook
	err = s.db.write(ctx, func(tx *Tx) error {
		id := s.db.newID(tx.now)
		if _, err := tx.exec(ctx, `INSERT INTO webhooks (id, url, event_types, enabled, secret, created_at, updated_at)
VALUES (?, ?, ?, ?, ?, ?, ?)`, id[:], w.URL, types, w.Enabled, w.Secret, ms(tx.now), ms(tx.now)); err != nil {
			return translate("create webhook", err)
		}
		created = foyer.Webhook{
			ID: id.String(), URL: w.URL, EventTypes: append([]string{}, w.EventTypes...), Enabled: w.Enabled,
			Secret: w.Secret, CreatedAt: tx.now, UpdatedAt: tx.now,
		}
		return nil
	})
	if err != nil {
		return err
	}
	*w = created
	return nil
}

// FindWebhookByID returns the endpoint with id, secrets included.
// Returns ENotFound.
func (s *WebhookService) FindWebhookByID(ctx context.Context, id string) (*foyer.Webhook, error) {
	wid, ok := parseID(id)
	if !ok {
		return nil, foyer.Errorf(foyer.ENotFound, "Webhook not found.")
	}
	return findWebhookByID(ctx, s.db, wid, s.db.now())
}

// FindWebhooks returns every endpoint, oldest first.
func (s *WebhookService) FindWebhooks(ctx context.Context) ([]*foyer.Webhook, error) {
	now := s.db.now()
	rows, err := s.db.query(ctx, `SELECT `+webhookColumns+` FROM webhooks ORDER BY id`)
	if err != nil {
		return nil, err
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

// UpdateWebhook applies upd and sets UpdatedAt. Enabling clears
// DisabledReason and FailingSince; disabling records no reason, as a
// person did it. Returns ENotFound, or EInvalid for an empty URL.
func (s *WebhookService) UpdateWebhook(ctx context.Context, id string, upd foyer.WebhookUpdate) (*foyer.Webhook, error) {
	wid, ok := parseID(id)
	if !ok {
		return nil, foyer.Errorf(foyer.ENotFound, "Webhook not found.")
	}
	if upd.URL != nil && *upd.URL == "" {
		return nil, foyer.Errorf(foyer.EInvalid, "A webhook needs a URL.")
	}
	if upd.URL != nil {
		if err := checkText(*upd.URL); err != nil {
			return nil, err
		}
	}
	if upd.EventTypes != nil {
		if err := checkText(*upd.EventTypes...); err != nil {
			return nil, err
		}
	}
	var types any
	if upd.EventTypes != nil {
		var err error
		if types, err = encodeEventTypes(*upd.EventTypes); err != nil {
			return nil, err
		}
	}
	var enabled any
	if upd.Enabled != nil {
		enabled = *upd.Enabled
	}
	enabling := upd.Enabled != nil && *upd.Enabled
	var w *foyer.Webhook
	err := s.db.write(ctx, func(tx *Tx) error {
		var err error
		w, err = scanWebhook(tx.queryRow(ctx, `UPDATE webhooks SET
	url = coalesce(?, url),
	event_types = CASE WHEN ? THEN ? ELSE event_types END,
	enabled = coalesce(?, enabled),
	disabled_reason = CASE WHEN ? IS NULL THEN disabled_reason END,
	failing_since = CASE WHEN ? THEN NULL ELSE failing_since END,
	updated_at = ?
WHERE id = ?
RETURNING `+webhookColumns, upd.URL, upd.EventTypes != nil, types, enabled, enabled, enabling, ms(tx.now), wid[:]), tx.now)
		if errors.Is(err, sql.ErrNoRows) {
			return foyer.Errorf(foyer.ENotFound, "Webhook not found.")
		}
		return translate("update webhook", err)
	})
	if err != nil {
		return nil, err
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
	if err := checkText(secret); err != nil {
		return nil, err
	}
	var w *foyer.Webhook
	err := s.db.write(ctx, func(tx *Tx) error {
		keep := ms(keepOldUntil)
		var err error
		w, err = scanWebhook(tx.queryRow(ctx, `UPDATE webhooks SET
	previous_secret = CASE WHEN ? > ? THEN secret END,
	previous_secret_expires_at = CASE WHEN ? > ? THEN ? END,
	secret = ?, updated_at = ?
WHERE id = ?
RETURNING `+webhookColumns, keep, ms(tx.now), keep, ms(tx.now), keep, secret, ms(tx.now), wid[:]), tx.now)
		if errors.Is(err, sql.ErrNoRows) {
			return foyer.Errorf(foyer.ENotFound, "Webhook not found.")
		}
		return translate("rotate webhook secret", err)
	})
	if err != nil {
		return nil, err
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
	return s.db.write(ctx, func(tx *Tx) error {
		res, err := tx.exec(ctx, `DELETE FROM webhooks WHERE id = ?`, wid[:])
		if err != nil {
			return translate("delete webhook", err)
		}
		return expectOne(res, "Webhook not found.")
	})
}
