package postgres

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/foyerhq/foyer"
)

var _ foyer.DeliveryService = (*DeliveryService)(nil)

// DeliveryService implements foyer.DeliveryService.
type DeliveryService struct {
	db *DB
}

// NewDeliveryService returns a DeliveryService on db.
func NewDeliveryService(db *DB) *DeliveryService { return &DeliveryService{db: db} }

const deliveryColumns = `d.id, d.webhook_id, d.event_id, d.event_type, d.user_id, d.status, d.attempts,
	d.next_attempt_at, d.created_at, d.last_attempt_at, d.last_status_code, d.last_latency_ms,
	d.last_response, d.last_error`

// deliveryRow receives one row of deliveryColumns.
type deliveryRow struct {
	d                   foyer.Delivery
	userID              *string
	code                *int
	latency             *int64
	response, lastError *string
}

// dest returns the scan destinations of deliveryColumns, in order.
func (r *deliveryRow) dest() []any {
	d := &r.d
	return []any{&d.ID, &d.WebhookID, &d.EventID, &d.EventType, &r.userID, &d.Status, &d.Attempts,
		&d.NextAttemptAt, &d.CreatedAt, &d.LastAttemptAt, &r.code, &r.latency, &r.response, &r.lastError}
}

// delivery returns the scanned delivery.
func (r *deliveryRow) delivery() *foyer.Delivery {
	d := r.d
	if r.userID != nil {
		d.UserID = *r.userID
	}
	if r.code != nil {
		d.LastStatusCode = *r.code
	}
	if r.latency != nil {
		d.LastLatencyMS = *r.latency
	}
	if r.response != nil {
		d.LastResponse = *r.response
	}
	if r.lastError != nil {
		d.LastError = *r.lastError
	}
	return &d
}

func scanDelivery(row pgx.Row) (*foyer.Delivery, error) {
	var r deliveryRow
	if err := row.Scan(r.dest()...); err != nil {
		return nil, err
	}
	return r.delivery(), nil
}

// collectDeliveries reads every row of deliveryColumns and closes rows.
func collectDeliveries(rows pgx.Rows, op string) ([]*foyer.Delivery, error) {
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
// events dispatched, in one transaction of three round trips: the events
// are taken FOR UPDATE SKIP LOCKED together with the endpoints, the
// deliveries are written and the events marked in one batch, then the
// transaction commits. Concurrent fan-outs take disjoint events, and an
// event taken by one is skipped by the others until it is marked, so no
// event is dispatched twice. An event that no endpoint wants is marked
// dispatched all the same. It reports how many events it dispatched.
func (s *DeliveryService) FanOutEvents(ctx context.Context, limit int) (int, error) {
	if limit <= 0 {
		return 0, nil
	}
	now := s.db.now()
	type pending struct {
		id     uuid.UUID
		typ    string
		userID *uuid.UUID
	}
	var (
		evs   []pending
		hooks []*foyer.Webhook
	)
	b := &pgx.Batch{}
	b.BeginTx(pgx.TxOptions{})
	b.Queue(`SELECT id, type, user_id FROM events WHERE dispatched IS NULL ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED`, limit)
	b.Queue(`SELECT ` + webhookColumns + ` FROM webhooks w WHERE w.enabled ORDER BY w.id`)
	br := s.db.pool.SendBatch(ctx, b)
	tx := br.Tx()
	defer tx.Rollback(context.WithoutCancel(ctx))
	err := func() error {
		if _, err := br.Exec(); err != nil {
			return err
		}
		rows, err := br.Query()
		if err != nil {
			return err
		}
		for rows.Next() {
			var e pending
			if err := rows.Scan(&e.id, &e.typ, &e.userID); err != nil {
				rows.Close()
				return err
			}
			evs = append(evs, e)
		}
		if rows.Close(); rows.Err() != nil {
			return rows.Err()
		}
		rows, err = br.Query()
		if err != nil {
			return err
		}
		for rows.Next() {
			w, err := scanWebhook(rows, now)
			if err != nil {
				rows.Close()
				return err
			}
			hooks = append(hooks, w)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		return br.Close()
	}()
	if err != nil {
		br.Close()
		return 0, translate("dispatch events", err)
	}
	if len(evs) == 0 {
		return 0, translate("dispatch events", tx.Commit(ctx))
	}

	// Deliveries are created in event order, so that their ids, and so
	// the claim order among deliveries due at once, follow the order of
	// the events.
	var (
		ids, webhookIDs, eventIDs []uuid.UUID
		userIDs                   []*uuid.UUID
		types                     []string
		dispatched                = make([]uuid.UUID, len(evs))
	)
	for i, e := range evs {
		dispatched[i] = e.id
		for _, w := range hooks {
			if !w.Accepts(e.typ) {
				continue
			}
			wid, _ := parseID(w.ID)
			ids = append(ids, s.db.newID(now))
			webhookIDs = append(webhookIDs, wid)
			eventIDs = append(eventIDs, e.id)
			userIDs = append(userIDs, e.userID)
			types = append(types, e.typ)
		}
	}
	b = &pgx.Batch{}
	b.Queue(`INSERT INTO deliveries (id, webhook_id, event_id, event_type, user_id, status, next_attempt_at, created_at)
SELECT d.id, d.webhook_id, d.event_id, d.event_type, d.user_id, 'pending', $6, $6
FROM unnest($1::uuid[], $2::uuid[], $3::uuid[], $4::text[], $5::uuid[]) AS d (id, webhook_id, event_id, event_type, user_id)`,
		ids, webhookIDs, eventIDs, types, userIDs, now)
	b.Queue(`UPDATE events SET dispatched = true WHERE id = ANY ($1)`, dispatched)
	if _, err := execBatch(ctx, tx, "dispatch events", b); err != nil {
		return 0, err
	}
	if err := tx.Commit(ctx); err != nil {
		return 0, translate("dispatch events", err)
	}
	return len(evs), nil
}

// ClaimDeliveries returns up to limit pending deliveries due at now,
// oldest due first, with their events and endpoints, after moving their
// NextAttemptAt to now+lease and counting the attempt, in one statement.
// The rows are taken FOR UPDATE SKIP LOCKED, and a row another claimer
// updated meanwhile is re-checked against "due at now", so concurrent
// claimers never get the same delivery. Endpoints are returned as they
// are, disabled ones too: the dispatcher records those deliveries as
// failed.
func (s *DeliveryService) ClaimDeliveries(ctx context.Context, now time.Time, lease time.Duration, limit int) ([]*foyer.ClaimedDelivery, error) {
	claimed := []*foyer.ClaimedDelivery{}
	if limit <= 0 {
		return claimed, nil
	}
	stored := s.db.now()
	rows, err := s.db.pool.Query(ctx, `WITH due AS (
	SELECT id FROM deliveries WHERE status = 'pending' AND next_attempt_at <= $2
	ORDER BY next_attempt_at, id LIMIT $3
	FOR UPDATE SKIP LOCKED
), d AS (
	UPDATE deliveries SET attempts = attempts + 1, next_attempt_at = $1
	FROM due WHERE deliveries.id = due.id
	RETURNING deliveries.*
)
SELECT `+deliveryColumns+`, e.type, e.user_id, e.created_at, e.data, `+webhookColumns+`
FROM d JOIN events e ON e.id = d.event_id JOIN webhooks w ON w.id = d.webhook_id`,
		msTime(now.Add(lease)), msTime(now), limit)
	if err != nil {
		return nil, translate("claim deliveries", err)
	}
	defer rows.Close()
	for rows.Next() {
		var (
			dr     deliveryRow
			wr     webhookRow
			ev     foyer.Event
			userID *string
			data   []byte
		)
		dest := append(dr.dest(), &ev.Type, &userID, &ev.CreatedAt, &data)
		if err := rows.Scan(append(dest, wr.dest()...)...); err != nil {
			return nil, translate("claim deliveries", err)
		}
		d := dr.delivery()
		ev.ID = d.EventID
		if userID != nil {
			ev.UserID = *userID
		}
		ev.Data = json.RawMessage(data)
		claimed = append(claimed, &foyer.ClaimedDelivery{Delivery: d, Event: &ev, Webhook: wr.webhook(stored)})
	}
	if err := rows.Err(); err != nil {
		return nil, translate("claim deliveries", err)
	}
	slices.SortFunc(claimed, func(a, b *foyer.ClaimedDelivery) int { return cmp.Compare(a.Delivery.ID, b.Delivery.ID) })
	return claimed, nil
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
// statement it sets the endpoint's FailingSince to now on a failed attempt
// when it is unset, clears it on a success, and with a.DisableWebhook
// disables the endpoint with that reason; the endpoint's row is written
// only when one of those changes it. The response, error and reason are
// stored through foyer.CleanText. Returns ENotFound, or EInvalid for an
// unknown status.
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
	now := s.db.now()
	next := now
	if !a.NextAttemptAt.IsZero() {
		next = msTime(a.NextAttemptAt)
	}
	var (
		code    *int
		latency *int64
	)
	if a.StatusCode != 0 {
		code = &a.StatusCode
	}
	if a.StatusCode != 0 || a.Latency != 0 {
		ms := a.Latency.Milliseconds()
		latency = &ms
	}
	var n int
	err := s.db.pool.QueryRow(ctx, `WITH d AS (
	UPDATE deliveries SET status = $2,
		next_attempt_at = CASE WHEN $2 = 'pending' THEN $3 ELSE next_attempt_at END,
		last_attempt_at = $4, last_status_code = $5, last_latency_ms = $6, last_response = $7, last_error = $8
	WHERE id = $1
	RETURNING webhook_id
), w AS (
	UPDATE webhooks w SET
		failing_since = CASE WHEN $2 = 'succeeded' THEN NULL ELSE coalesce(w.failing_since, $4) END,
		enabled = CASE WHEN $9 <> '' THEN false ELSE w.enabled END,
		disabled_reason = CASE WHEN $9 <> '' THEN $9 ELSE w.disabled_reason END,
		updated_at = CASE WHEN $9 <> '' THEN $4 ELSE w.updated_at END
	FROM d WHERE w.id = d.webhook_id AND (
		$9 <> ''
		OR ($2 = 'succeeded' AND w.failing_since IS NOT NULL)
		OR ($2 <> 'succeeded' AND w.failing_since IS NULL))
)
SELECT count(*) FROM d`, did, a.Status, next, now, code, latency, nullString(a.Response), nullString(a.Error), a.DisableWebhook).Scan(&n)
	if err != nil {
		return translate("record attempt", err)
	}
	if n == 0 {
		return foyer.Errorf(foyer.ENotFound, "Delivery not found.")
	}
	return nil
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
	arg := func(v any) string {
		args = append(args, v)
		return "$" + strconv.Itoa(len(args))
	}
	for _, c := range []struct {
		col string
		v   *string
	}{{"d.webhook_id", f.WebhookID}, {"d.event_id", f.EventID}, {"d.user_id", f.UserID}} {
		if c.v == nil {
			continue
		}
		id, ok := parseID(*c.v)
		if !ok {
			return []*foyer.Delivery{}, nil
		}
		where = append(where, c.col+" = "+arg(id))
	}
	if f.Status != nil {
		where = append(where, "d.status = "+arg(*f.Status))
	}
	if f.After != "" {
		after, ok := parseID(f.After)
		if !ok {
			return nil, foyer.Errorf(foyer.EInvalid, "The cursor is not valid.")
		}
		where = append(where, "d.id < "+arg(after))
	}
	limit := f.Limit
	if limit <= 0 || limit > foyer.MaxPageSize {
		limit = foyer.MaxPageSize
	}
	q := `SELECT ` + deliveryColumns + ` FROM deliveries d`
	if len(where) > 0 {
		q += ` WHERE ` + strings.Join(where, " AND ")
	}
	q += ` ORDER BY d.id DESC LIMIT ` + arg(limit)
	rows, err := s.db.pool.Query(ctx, q, args...)
	if err != nil {
		return nil, translate("find deliveries", err)
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
	d, err := scanDelivery(s.db.pool.QueryRow(ctx, `UPDATE deliveries d SET status = 'pending', next_attempt_at = $2
WHERE d.id = $1
RETURNING `+deliveryColumns, did, s.db.now()))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, foyer.Errorf(foyer.ENotFound, "Delivery not found.")
	}
	if err != nil {
		return nil, translate("redeliver", err)
	}
	return d, nil
}
