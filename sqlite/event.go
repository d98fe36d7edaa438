package sqlite

import (
	"context"
	"encoding/json"
	"strings"

	"github.com/foyerhq/foyer"
)

var _ foyer.EventService = (*EventService)(nil)

// EventService implements foyer.EventService.
type EventService struct {
	db *DB
}

// NewEventService returns an EventService on db.
func NewEventService(db *DB) *EventService { return &EventService{db: db} }

// insertEvent records one event in tx. userID may be nil.
func insertEvent(ctx context.Context, tx *Tx, typ string, userID []byte, data json.RawMessage) error {
	id := tx.db.newID(tx.now)
	if _, err := tx.exec(ctx, `INSERT INTO events (id, type, user_id, created_at, data) VALUES (?, ?, ?, ?, ?)`,
		id[:], typ, userID, ms(tx.now), string(data)); err != nil {
		return translate("insert event", err)
	}
	return nil
}

// insertUserEvent records an event about u, with u as it is after the
// change and the extra members beside it (see foyer.EventPayload).
func insertUserEvent(ctx context.Context, tx *Tx, typ string, u *foyer.User, extra map[string]any) error {
	data, err := foyer.EventPayload(u, extra)
	if err != nil {
		return err
	}
	id, ok := parseID(u.ID)
	if !ok {
		return foyer.Errorf(foyer.EInternal, "An event names a user with an invalid id.")
	}
	return insertEvent(ctx, tx, typ, id[:], data)
}

// FindEvents returns up to filter.Limit events matching filter, ordered by
// id. A Limit of zero or less, or above foyer.MaxPageSize, means
// foyer.MaxPageSize. Since is inclusive and Until exclusive; both are id
// ranges, as an event's UUIDv7 starts with its creation millisecond.
// Returns EInvalid if After is not an event id. An invalid UserID matches
// nothing.
func (s *EventService) FindEvents(ctx context.Context, f foyer.EventFilter) ([]*foyer.Event, error) {
	var (
		where []string
		args  []any
	)
	if f.Type != nil {
		if err := checkText(*f.Type); err != nil {
			return nil, err
		}
		where, args = append(where, "type = ?"), append(args, *f.Type)
	}
	if f.UserID != nil {
		uid, ok := parseID(*f.UserID)
		if !ok {
			return []*foyer.Event{}, nil
		}
		where, args = append(where, "user_id = ?"), append(args, uid[:])
	}
	if f.Since != nil {
		where, args = append(where, "id >= ?"), append(args, idFloor(ceilMs(*f.Since)))
	}
	if f.Until != nil {
		where, args = append(where, "id < ?"), append(args, idFloor(ceilMs(*f.Until)))
	}
	if f.After != "" {
		after, ok := parseID(f.After)
		if !ok {
			return nil, foyer.Errorf(foyer.EInvalid, "The cursor is not valid.")
		}
		where, args = append(where, "id > ?"), append(args, after[:])
	}
	limit := f.Limit
	if limit <= 0 || limit > foyer.MaxPageSize {
		limit = foyer.MaxPageSize
	}
	q := `SELECT id, type, user_id, created_at, data FROM events`
	if len(where) > 0 {
		q += ` WHERE ` + strings.Join(where, " AND ")
	}
	q += ` ORDER BY id LIMIT ?`
	args = append(args, limit)

	rows, err := s.db.query(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	events := []*foyer.Event{}
	for rows.Next() {
		var (
			e          foyer.Event
			id, userID []byte
			created    int64
			data       string
		)
		if err := rows.Scan(&id, &e.Type, &userID, &created, &data); err != nil {
			return nil, translate("find events", err)
		}
		e.ID = idString(id)
		if userID != nil {
			e.UserID = idString(userID)
		}
		e.CreatedAt = msTime(created)
		e.Data = json.RawMessage(data)
		events = append(events, &e)
	}
	if err := rows.Err(); err != nil {
		return nil, translate("find events", err)
	}
	return events, nil
}
