package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/foyerhq/foyer"
)

var _ foyer.DeliveryService = (*DeliveryService)(nil)

// DeliveryService implements foyer.DeliveryService.
type DeliveryService struct {
	db *DB
}

// NewDeliveryService returns a DeliveryService on db.
func NewDeliveryService(db *DB) *DeliveryService { return &DeliveryService{db: db} }

const deliveryColumns = `id, webhook_id, event_id, event_type, user_id, status, attempts,
	next_attempt_at, created_at, last_attempt_at, last_status_code, last_latency_ms,
	last_response, last_error`

func scanDelivery(row interface{ Scan(...any) error }) (*foyer.Delivery, error) {
	var (
		d                      foyer.Delivery
		id, webhookID, eventID []byte
		userID                 []byte
		next, created          int64
		last, code, latency    sql.NullInt64
		response, lastError    sql.NullString
	)
	if err := row.Scan(&id, &webhookID, &eventID, &d.EventType, &userID, &d.Status, &d.Attempts,
		&next, &created, &last, &code, &latency, &response, &lastError); err != nil {
		return nil, err
	}
	d.ID, d.WebhookID, d.EventID = idString(id), idString(webhookID), idString(eventID)
	if userID != nil {
		d.UserID = idString(userID)
	}
	d.NextAttemptAt, d.CreatedAt = msTime(next), msTime(created)
	d.LastAttemptAt = msTimePtr(last)
	d.LastStatusCode = int(code.Int64)
	d.LastLatencyMS = latency.Int64
	d.LastResponse, d.LastError = response.String, lastError.String
	return &d, nil
}

// collectDeliveries reads every row of deliveryColumns and closes rows.
func collectDeliveries(rows *sql.Rows, op string) ([]*foyer.Delivery, error) {
	defer rows.Close()
	out := []*foyer.Delivery{}
	for rows.Next() {
		d, err := scanDelivery(rows)
		if err != nil {
			return nil, translate(op, err)
		}
		out = append(out, d)
	}
	if err := rows.Err(); err != nil {
		return nil, translate(op, err)
	}
	return out, nil
}

// FanOutEvents takes up to limit events not yet dispatched, oldest first,
// inserts one pending delivery, due at once, for each enabled endpoint
// that accepts the event's type (foyer.Webhook.Accepts), and marks the
// events dispatched, in one transaction. An event that no endpoint wants
// is marked dispatched all the same. SQLite has one writer, so two
// fan-outs never overlap. It reports how many events it dispatched.
func (s *DeliveryService) FanOutEvents(ctx context.Context, limit int) (int, error) {
	if limit <= 0 {
		return 0, nil
	}
	var n int
	err := s.db.write(ctx, func(tx *Tx) error {
		type pending struct {
			id, userID []byte
			typ        string
		}
		rows, err := tx.query(ctx, `UPDATE events SET dispatched = 1
WHERE id IN (SELECT id FROM events WHERE dispatched IS NULL ORDER BY id LIMIT ?)
RETURNING id, type, user_id`, limit)
		if err != nil {
			return translate("dispatch events", err)
		}
		var evs []pending
		for rows.Next() {
			var e pending
			if err := rows.Scan(&e.id, &e.typ, &e.userID); err != nil {
				rows.Close()
				return translate("dispatch events", err)
			}
			evs = append(evs, e)
		}
		if err := rows.Close(); err != nil {
			return translate("dispatch events", err)
		}
		if err := rows.Err(); err != nil {
			return translate("dispatch events", err)
		}
		n = len(evs)
		if n == 0 {
			return nil
		}
		hooks, err := enabledWebhooks(ctx, tx)
		if err != nil || len(hooks) == 0 {
			return err
		}
		// Deliveries are created in event order, so that their ids,
		// and so the claim order among deliveries due at once, follow
		// the order of the events.
		slices.SortFunc(evs, func(a, b pending) int { return strings.Compare(string(a.id), string(b.id)) })
		for _, e := range evs {
			for _, w := range hooks {
				if !w.Accepts(e.typ) {
					continue
				}
				wid, _ := parseID(w.ID)
				id := s.db.newID(tx.now)
				if _, err := tx.exec(ctx, `INSERT INTO deliveries (id, webhook_id, event_id, event_type, user_id, status, next_attempt_at, created_at)
VALUES (?, ?, ?, ?, ?, 'pending', ?, ?)`, id[:], wid[:], e.id, e.typ, e.userID, ms(tx.now), ms(tx.now)); err != nil {
					return translate("insert delivery", err)
				}
			}
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	return n, nil
}

// enabledWebhooks returns the enabled endpoints, oldest first.
func enabledWebhooks(ctx context.Context, tx *Tx) ([]*foyer.Webhook, error) {
	rows, err := tx.query(ctx, `SELECT `+webhookColumns+` FROM webhooks WHERE enabled = 1 ORDER BY id`)
	if err != nil {
		return nil, translate("find webhooks", err)
	}
	defer rows.Close()
	var out []*foyer.Webhook
	for rows.Next() {
		w, err := scanWebhook(rows, tx.now)
		if err != nil {
			return nil, translate("find webhooks", err)
		}
		out = append(out, w)
	}
	if err := rows.Err(); err != nil {
		return nil, translate("find webhooks", err)
	}
	return out, translate("find webhooks", rows.Close())
}

// ClaimDeliveries returns up to limit pending deliveries due at now,
// oldest due first, with their events and endpoints, after moving their
// NextAttemptAt to now+lease and counting the attempt. Endpoints are
// returned as they are, disabled ones too: the dispatcher records those
// deliveries as failed. SQLite has one writer, so two claims never
// overlap.
func (s *DeliveryService) ClaimDeliveries(ctx context.Context, now time.Time, lease time.Duration, limit int) ([]*foyer.ClaimedDelivery, error) {
	claimed := []*foyer.ClaimedDelivery{}
	if limit <= 0 {
		return claimed, nil
	}
	err := s.db.write(ctx, func(tx *Tx) error {
		rows, err := tx.query(ctx, `UPDATE deliveries SET attempts = attempts + 1, next_attempt_at = ?
WHERE id IN (SELECT id FROM deliveries WHERE status = 'pending' AND next_attempt_at <= ? ORDER BY next_attempt_at, id LIMIT ?)
RETURNING `+deliveryColumns, ms(now.Add(lease)), ms(now), limit)
		if err != nil {
			return translate("claim deliveries", err)
		}
		ds, err := collectDeliveries(rows, "claim deliveries")
		if err != nil {
			return err
		}
		slices.SortFunc(ds, func(a, b *foyer.Delivery) int { return strings.Compare(a.ID, b.ID) })
		hooks := map[string]*foyer.Webhook{}
		for _, d := range ds {
			w, ok := hooks[d.WebhookID]
			if !ok {
				wid, _ := parseID(d.WebhookID)
				if w, err = findWebhookByID(ctx, tx, wid, tx.now); err != nil {
					return err
				}
				hooks[d.WebhookID] = w
			}
			eid, _ := parseID(d.EventID)
			ev, err := findEventByID(ctx, tx, eid)
			if err != nil {
				return err
			}
			claimed = append(claimed, &foyer.ClaimedDelivery{Delivery: d, Event: ev, Webhook: w})
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return claimed, nil
}

// findEventByID returns the event with id. Returns ENotFound.
func findEventByID(ctx context.Context, q querier, id uuid.UUID) (*foyer.Event, error) {
	var (
		e       foyer.Event
		userID  []byte
		created int64
		data    string
	)
	err := q.queryRow(ctx, `SELECT type, user_id, created_at, data FROM events WHERE id = ?`, id[:]).Scan(&e.Type, &userID, &created, &data)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, foyer.Errorf(foyer.ENotFound, "Event not found.")
	}
	if err != nil {
		return nil, translate("find event", err)
	}
	e.ID = id.String()
	if userID != nil {
		e.UserID = idString(userID)
	}
	e.CreatedAt = msTime(created)
	e.Data = json.RawMessage(data)
	return &e, nil
}

// checkAttempt returns EInvalid unless a.Status is a delivery state.
func checkAttempt(a foyer.DeliveryAttempt) error {
	switch a.Status {
	case foyer.DeliveryPending, foyer.DeliverySucceeded, foyer.DeliveryFailed:
		return nil
	}
	return foyer.Errorf(foyer.EInvalid, "Unknown delivery status %q.", a.Status)
}

// RecordAttempt stores the outcome of an attempt, made now, in the Last*
// fields, Status and, for a pending delivery, NextAttemptAt (due at once
// when a.NextAttemptAt is zero), leaving Attempts alone. In the same
// transaction it sets the endpoint's FailingSince to now on a failed
// attempt when it is unset, clears it on a success, and with
// a.DisableWebhook disables the endpoint with that reason. The response,
// error and reason are stored through foyer.CleanText. Returns
// ENotFound, or EInvalid for an unknown status.
func (s *DeliveryService) RecordAttempt(ctx context.Context, id string, a foyer.DeliveryAttempt) error {
	did, ok := parseID(id)
	if !ok {
		return foyer.Errorf(foyer.ENotFound, "Delivery not found.")
	}
	if err := checkAttempt(a); err != nil {
		return err
	}
	// What the endpoint answered is recorded as clean text, not refused.
	a.Response, a.Error, a.DisableWebhook = foyer.CleanText(a.Response), foyer.CleanText(a.Error), foyer.CleanText(a.DisableWebhook)
	return s.db.write(ctx, func(tx *Tx) error {
		next := ms(tx.now)
		if !a.NextAttemptAt.IsZero() {
			next = ms(a.NextAttemptAt)
		}
		var code, latency any
		if a.StatusCode != 0 {
			code = a.StatusCode
		}
		if a.StatusCode != 0 || a.Latency != 0 {
			latency = a.Latency.Milliseconds()
		}
		var webhookID []byte
		err := tx.queryRow(ctx, `UPDATE deliveries SET status = ?,
	next_attempt_at = CASE WHEN ? = 'pending' THEN ? ELSE next_attempt_at END,
	last_attempt_at = ?, last_status_code = ?, last_latency_ms = ?, last_response = ?, last_error = ?
WHERE id = ?
RETURNING webhook_id`, a.Status, a.Status, next, ms(tx.now), code, latency,
			nullString(a.Response), nullString(a.Error), did[:]).Scan(&webhookID)
		if errors.Is(err, sql.ErrNoRows) {
			return foyer.Errorf(foyer.ENotFound, "Delivery not found.")
		}
		if err != nil {
			return translate("record attempt", err)
		}
		if a.Status == foyer.DeliverySucceeded {
			_, err = tx.exec(ctx, `UPDATE webhooks SET failing_since = NULL WHERE id = ? AND failing_since IS NOT NULL`, webhookID)
		} else {
			_, err = tx.exec(ctx, `UPDATE webhooks SET failing_since = ? WHERE id = ? AND failing_since IS NULL`, ms(tx.now), webhookID)
		}
		if err != nil {
			return translate("record webhook failure", err)
		}
		if a.DisableWebhook != "" {
			if _, err := tx.exec(ctx, `UPDATE webhooks SET enabled = 0, disabled_reason = ?, updated_at = ? WHERE id = ?`,
				a.DisableWebhook, ms(tx.now), webhookID); err != nil {
				return translate("disable webhook", err)
			}
		}
		return nil
	})
}

// FindDeliveries returns up to filter.Limit deliveries matching filter,
// newest first. A Limit of zero or less, or above foyer.MaxPageSize, means
// foyer.MaxPageSize. An id filter that is not a UUID matches nothing.
// Returns EInvalid if After is not a delivery id.
func (s *DeliveryService) FindDeliveries(ctx context.Context, f foyer.DeliveryFilter) ([]*foyer.Delivery, error) {
	var (
		where []string
		args  []any
	)
	for _, c := range []struct {
		col string
		v   *string
	}{{"webhook_id", f.WebhookID}, {"event_id", f.EventID}, {"user_id", f.UserID}} {
		if c.v == nil {
			continue
		}
		id, ok := parseID(*c.v)
		if !ok {
			return []*foyer.Delivery{}, nil
		}
		where, args = append(where, c.col+" = ?"), append(args, id[:])
	}
	if f.Status != nil {
		if err := checkText(*f.Status); err != nil {
			return nil, err
		}
		where, args = append(where, "status = ?"), append(args, *f.Status)
	}
	if f.After != "" {
		after, ok := parseID(f.After)
		if !ok {
			return nil, foyer.Errorf(foyer.EInvalid, "The cursor is not valid.")
		}
		where, args = append(where, "id < ?"), append(args, after[:])
	}
	limit := f.Limit
	if limit <= 0 || limit > foyer.MaxPageSize {
		limit = foyer.MaxPageSize
	}
	q := `SELECT ` + deliveryColumns + ` FROM deliveries`
	if len(where) > 0 {
		q += ` WHERE ` + strings.Join(where, " AND ")
	}
	q += ` ORDER BY id DESC LIMIT ?`
	args = append(args, limit)
	rows, err := s.db.query(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	return collectDeliveries(rows, "find deliveries")
}

// Redeliver makes a delivery pending and due now, whatever its state,
// keeping its attempts and the outcome of the last one. Returns ENotFound.
func (s *DeliveryService) Redeliver(ctx context.Context, id string) (*foyer.Delivery, error) {
	did, ok := parseID(id)
	if !ok {
		return nil, foyer.Errorf(foyer.ENotFound, "Delivery not found.")
	}
	var d *foyer.Delivery
	err := s.db.write(ctx, func(tx *Tx) error {
		var err error
		d, err = scanDelivery(tx.queryRow(ctx, `UPDATE deliveries SET status = 'pending', next_attempt_at = ?
WHERE id = ?
RETURNING `+deliveryColumns, ms(tx.now), did[:]))
		if errors.Is(err, sql.ErrNoRows) {
			return foyer.Errorf(foyer.ENotFound, "Delivery not found.")
		}
		return translate("redeliver", err)
	})
	if err != nil {
		return nil, err
	}
	return d, nil
}
