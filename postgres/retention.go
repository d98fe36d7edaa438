package postgres

import (
	"context"
	"time"

	"github.com/foyerhq/foyer"
)

var _ foyer.EventRetentionService = (*EventRetentionService)(nil)

// EventRetentionService implements foyer.EventRetentionService.
type EventRetentionService struct {
	db *DB
}

// NewEventRetentionService returns an EventRetentionService on db.
func NewEventRetentionService(db *DB) *EventRetentionService {
	return &EventRetentionService{db: db}
}

// DeleteEventsBefore deletes up to limit events created before t, oldest
// first, that are dispatched and have no pending delivery, and with them,
// through the foreign key, their deliveries, which are all finished, in
// one statement. An event still waiting for the dispatcher or for a retry
// is kept, since a delivery carries its event. The events are taken FOR
// UPDATE SKIP LOCKED, so concurrent runs delete disjoint events. It
// reports how many events it deleted.
func (s *EventRetentionService) DeleteEventsBefore(ctx context.Context, t time.Time, limit int) (int, error) {
	if limit <= 0 {
		return 0, nil
	}
	tag, err := s.db.pool.Exec(ctx, `DELETE FROM events WHERE id IN (
	SELECT e.id FROM events e
	WHERE e.id < $1 AND e.dispatched
		AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.event_id = e.id AND d.status = 'pending')
	ORDER BY e.id LIMIT $2
	FOR UPDATE SKIP LOCKED)`, idFloor(ceilMs(t).UnixMilli()), limit)
	if err != nil {
		return 0, translate("delete old events", err)
	}
	return int(tag.RowsAffected()), nil
}
