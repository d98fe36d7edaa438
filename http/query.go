package http

import (
	"encoding/base64"
	"net/url"
	"strconv"
	"time"

	foyer "github.com/foyerhq/foyer"
)

// DefaultPageSize is the page size of lists when limit is not given.
const DefaultPageSize = 50

// query reads the filters of a list request. Every parameter may appear
// once; unknown parameters and bad values are EInvalid, so that a typo
// never silently widens a filter. The first error wins.
type query struct {
	v   url.Values
	err error
}

// parseQuery checks that q holds only the allowed parameters, each once.
func parseQuery(q url.Values, allowed ...string) *query {
	p := &query{v: q}
	for k, vs := range q {
		known := false
		for _, a := range allowed {
			known = known || a == k
		}
		switch {
		case !known:
			p.fail("Unknown query parameter %q.", k)
		case len(vs) != 1:
			p.fail("The query parameter %q may be given once.", k)
		}
	}
	return p
}

func (p *query) fail(format string, args ...any) {
	if p.err == nil {
		p.err = foyer.Errorf(foyer.EInvalid, format, args...)
	}
}

// string returns the parameter, or nil if absent.
func (p *query) string(name string) *string {
	if !p.v.Has(name) {
		return nil
	}
	s := p.v.Get(name)
	return &s
}

// bool returns the parameter as "true" or "false", or nil if absent.
func (p *query) bool(name string) *bool {
	s := p.string(name)
	if s == nil {
		return nil
	}
	b, err := strconv.ParseBool(*s)
	if err != nil || (*s != "true" && *s != "false") {
		p.fail("%s must be true or false.", name)
		return nil
	}
	return &b
}

// time returns the parameter as an RFC 3339 time, or nil if absent.
func (p *query) time(name string) *time.Time {
	s := p.string(name)
	if s == nil {
		return nil
	}
	t, err := time.Parse(time.RFC3339Nano, *s)
	if err != nil {
		p.fail("%s must be an RFC 3339 time such as 2024-01-02T15:04:05Z.", name)
		return nil
	}
	t = t.UTC()
	return &t
}

// email returns the parameter as a normalised email address, or nil.
func (p *query) email(name string) *string {
	s := p.string(name)
	if s == nil {
		return nil
	}
	e, err := foyer.NormalizeEmail(*s)
	if err != nil {
		p.fail("%s is not a valid email address.", name)
		return nil
	}
	return &e
}

// limit returns the page size: 1 to MaxPageSize, DefaultPageSize if absent.
func (p *query) limit() int {
	s := p.string("limit")
	if s == nil {
		return DefaultPageSize
	}
	n, err := strconv.Atoi(*s)
	if err != nil || n < 1 || n > foyer.MaxPageSize {
		p.fail("limit must be an integer from 1 to %d.", foyer.MaxPageSize)
		return DefaultPageSize
	}
	return n
}

// cursor returns the id after which the page starts, or "".
func (p *query) cursor() string {
	s := p.string("cursor")
	if s == nil {
		return ""
	}
	id, ok := decodeCursor(*s)
	if !ok {
		p.fail("cursor is not valid; pass the next_cursor of the previous page.")
	}
	return id
}

// encodeCursor makes the opaque cursor that follows the item with id.
func encodeCursor(id string) string { return base64.RawURLEncoding.EncodeToString([]byte(id)) }

// decodeCursor reads a cursor made by encodeCursor: the id it holds must
// look like a UUID.
func decodeCursor(c string) (string, bool) {
	b, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil || !isUUID(string(b)) {
		return "", false
	}
	return string(b), true
}

// isUUID reports whether s is a UUID in canonical lowercase text form.
func isUUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
				return false
			}
		}
	}
	return true
}

// fetchSize is how many items to ask the store for so that one more than
// a page tells whether another page follows. The store caps at
// MaxPageSize, so a full page of that size is taken to have a successor.
func fetchSize(limit int) int { return min(limit+1, foyer.MaxPageSize) }

// page trims items fetched with fetchSize(limit) to limit and returns the
// cursor of the next page, or "" on the last page.
func page[T any](items []T, limit int, id func(T) string) ([]T, string) {
	more := len(items) > limit || (limit == foyer.MaxPageSize && len(items) == limit)
	if len(items) > limit {
		items = items[:limit]
	}
	if !more || len(items) == 0 {
		return items, ""
	}
	return items, encodeCursor(id(items[len(items)-1]))
}
