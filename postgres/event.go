package postgres

import (
	"context"
	"encoding/json"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/foyerhq/foyer"
)

var _ foyer.EventService = (*EventService)(nil)

// EventService implements foyer.EventService.
type EventService struct {
	db *DB
}

// NewEventService returns an EventService on db.
func NewEventService(db *DB) *EventService { return &EventService{db: db} }

// event is an events row, built in Go and written by the statement that
// makes the change it describes (a data-modifying CTE inserts it), so the
// change and its event commit together.
type event struct {
	id   uuid.UUID
	typ  string
	data []byte
}

// userEvent builds an event about u, with u as it is after the change and
// the extra members beside it (see foyer.EventPayload).
func (db *DB) userEvent(now time.Time, typ string, u *foyer.User, extra map[string]any) (event, error) {
	data, err := foyer.EventPayload(u, extra)
	if err != nil {
		return event{}, err
	}
	return event{id: db.newID(now), typ: typ, data: data}, nil
}

// deletedEvent builds the minimal user.deleted event that replaces the
// events of a deleted user: its id and the reason, nothing personal.
func (db *DB) deletedEvent(now time.Time, id uuid.UUID, reason string) (event, error) {
	data, err := deletedPayload(id, reason)
	if err != nil {
		return event{}, err
	}
	return event{id: db.newID(now), typ: foyer.EventUserDeleted, data: data}, nil
}

// deletedPayload is the Data of a user.deleted event.
func deletedPayload(id uuid.UUID, reason string) (json.RawMessage, error) {
	return foyer.EventPayload(nil, map[string]any{
		"user":   map[string]string{"id": id.String()},
		"reason": reason,
	})
}

// events is several events written by one statement, as the arrays that
// unnest($ids::uuid[], $types::text[], $data::bytea[]) turns back into rows.
type events []event

func (es events) ids() []uuid.UUID {
	out := make([]uuid.UUID, len(es))
	for i, e := range es {
		out[i] = e.id
	}
	return out
}

func (es events) types() []string {
	out := make([]string, len(es))
	for i, e := range es {
		out[i] = e.typ
	}
	return out
}

func (es events) data() [][]byte {
	out := make([][]byte, len(es))
	for i, e := range es {
		out[i] = e.data
	}
	return out
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
	arg := func(v any) string {
		args = append(args, v)
		return "$" + strconv.Itoa(len(args))
	}
	if f.Type != nil {
		where = append(where, "type = "+arg(*f.Type))
	}
	if f.UserID != nil {
		uid, ok := parseID(*f.UserID)
		if !ok {
			return []*foyer.Event{}, nil
		}
		where = append(where, "user_id = "+arg(uid))
	}
	if f.Since != nil {
		where = append(where, "id >= "+arg(idFloor(ceilMs(*f.Since).UnixMilli())))
	}
	if f.Until != nil {
		where = append(where, "id < "+arg(idFloor(ceilMs(*f.Until).UnixMilli())))
	}
	if f.After != "" {
		after, ok := parseID(f.After)
		if !ok {
			return nil, foyer.Errorf(foyer.EInvalid, "The cursor is not valid.")
		}
		where = append(where, "id > "+arg(after))
	}
	limit := f.Limit
	if limit <= 0 || limit > foyer.MaxPageSize {
		limit = foyer.MaxPageSize
	}
	q := `SELECT id, type, user_id, created_at, data FROM events`
	if len(where) > 0 {
		q += ` WHERE ` + strings.Join(where, " AND ")
	}
	q += ` ORDER BY id LIMIT ` + arg(limit)

	rows, err := s.db.pool.Query(ctx, q, args...)
	if err != nil {
		return nil, translate("find events", err)
	}
	defer rows.Close()
	out := []*foyer.Event{}
	for rows.Next() {
		var (
			e      foyer.Event
			userID *string
			data   []byte
		)
		if err := rows.Scan(&e.ID, &e.Type, &userID, &e.CreatedAt, &data); err != nil {
			return nil, translate("find events", err)
		}
		if userID != nil {
			e.UserID = *userID
		}
		e.Data = json.RawMessage(data)
		out = append(out, &e)
	}
	if err := rows.Err(); err != nil {
		return nil, translate("find events", err)
	}
	return out, nil
}
