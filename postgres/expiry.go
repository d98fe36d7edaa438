package postgres

import (
	"context"

	"github.com/foyerhq/foyer"
)

var _ foyer.ExpiryService = (*ExpiryService)(nil)

// ExpiryService implements foyer.ExpiryService.
type ExpiryService struct {
	db *DB
}

// NewExpiryService returns an ExpiryService on db.
func NewExpiryService(db *DB) *ExpiryService { return &ExpiryService{db: db} }

// DeleteExpired deletes, in one statement, up to limit sessions that have
// expired, soonest expired first, and, up to what is left of limit, the
// authorization requests that have expired, and reports how many rows it
// deleted. Each walks the index on expires_at and then deletes by primary
// key (the array keeps the planner from scanning the whole table to join
// the batch), and takes its rows FOR UPDATE SKIP LOCKED, so concurrent
// runs on several instances delete disjoint rows and never wait for a
// session being refreshed.
func (s *ExpiryService) DeleteExpired(ctx context.Context, limit int) (int, error) {
	if limit <= 0 {
		return 0, nil
	}
	var n int64
	err := s.db.pool.QueryRow(ctx, `WITH s AS (
	DELETE FROM sessions WHERE id = ANY (ARRAY(
		SELECT id FROM sessions WHERE expires_at <= $1 ORDER BY expires_at LIMIT $2::bigint
		FOR UPDATE SKIP LOCKED))
	RETURNING 1
), a AS (
	DELETE FROM auth_requests WHERE id = ANY (ARRAY(
		SELECT id FROM auth_requests WHERE expires_at <= $1 ORDER BY expires_at LIMIT $2::bigint - (SELECT count(*) FROM s)
		FOR UPDATE SKIP LOCKED))
	RETURNING 1
)
SELECT (SELECT count(*) FROM s) + (SELECT count(*) FROM a)`, s.db.now(), limit).Scan(&n)
	if err != nil {
		return 0, translate("delete expired sessions and authorization requests", err)
	}
	return int(n), nil
}
