package client

import (
	"context"
	"iter"
	"net/http"
	"net/url"
	"time"

	foyer "github.com/foyerhq/foyer"
)

// EventFilter selects events for ListEvents. Nil fields do not filter.
type EventFilter struct {
	// Type is one of foyer.EventTypes.
	Type   *string
	UserID *string
	Since  *time.Time
	Until  *time.Time
	// Limit is the page size, 1 to foyer.MaxPageSize; 0 means the
	// server's default.
	Limit int
	// Cursor is the NextCursor of the previous page; "" starts at the
	// beginning.
	Cursor string
}

// EventPage is one page of the event log, oldest first.
type EventPage struct {
	Events []*foyer.Event `json:"events"`
	// NextCursor continues the list; "" on the last page.
	NextCursor string `json:"next_cursor"`
}

// ListEvents returns one page of the event log (GET /v1/events). Returns
// EInvalid for a bad filter or cursor.
func (c *Client) ListEvents(ctx context.Context, f EventFilter) (*EventPage, error) {
	q := url.Values{}
	if f.Type != nil {
		q.Set("type", *f.Type)
	}
	if f.UserID != nil {
		q.Set("user_id", *f.UserID)
	}
	setTime(q, "since", f.Since)
	setTime(q, "until", f.Until)
	setPage(q, f.Limit, f.Cursor)
	page := new(EventPage)
	req := c.server(http.MethodGet, "/v1/events")
	req.query, req.out = q, page
	if _, err := c.do(ctx, req); err != nil {
		return nil, err
	}
	return page, nil
}

// AllEvents iterates over every event matching f, from f.Cursor on,
// fetching pages of f.Limit as it goes. Iteration stops at the first
// error, which it yields.
func (c *Client) AllEvents(ctx context.Context, f EventFilter) iter.Seq2[*foyer.Event, error] {
	return func(yield func(*foyer.Event, error) bool) {
		for {
			page, err := c.ListEvents(ctx, f)
			if err != nil {
				yield(nil, err)
				return
			}
			for _, e := range page.Events {
				if !yield(e, nil) {
					return
				}
			}
			if page.NextCursor == "" {
				return
			}
			f.Cursor = page.NextCursor
		}
	}
}
