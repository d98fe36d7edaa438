package http

import (
	"net/http"
	"slices"

	foyer "github.com/foyerhq/foyer"
)

// eventsPage is the body of GET /v1/events.
type eventsPage struct {
	Events     []*foyer.Event `json:"events"`
	NextCursor string         `json:"next_cursor,omitempty"`
}

// listEvents handles GET /v1/events with the filters type, user_id, since,
// until, limit and cursor.
func (s *Server) listEvents(w http.ResponseWriter, r *http.Request) error {
	q := parseQuery(r.URL.Query(), "type", "user_id", "since", "until", "limit", "cursor")
	f := foyer.EventFilter{
		Type:   q.string("type"),
		UserID: q.string("user_id"),
		Since:  q.time("since"),
		Until:  q.time("until"),
		After:  q.cursor(),
	}
	limit := q.limit()
	if f.Type != nil && !slices.Contains(foyer.EventTypes, *f.Type) {
		q.fail("type must be one of the event types, such as %s.", foyer.EventUserCreated)
	}
	if q.err != nil {
		return q.err
	}
	f.Limit = fetchSize(limit)
	events, err := s.deps.Events.FindEvents(r.Context(), f)
	if err != nil {
		return err
	}
	events, next := page(events, limit, func(e *foyer.Event) string { return e.ID })
	if events == nil {
		events = []*foyer.Event{}
	}
	return writeJSON(w, http.StatusOK, eventsPage{Events: events, NextCursor: next})
}
