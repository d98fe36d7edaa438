package sqlite

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

// DeleteExpired deletes, in one transaction, up to limit sessions that
// have expired, soonest expired first, and then, up to what is left of
// limit, the authorization requests that have expired, and reports how
// many rows it deleted. Both deletions walk the index on expires_at, so a
// batch reads no more rows than it deletes.
func (s *ExpiryService) DeleteExpired(ctx context.Context, limit int) (int, error) {
	if limit <= 0 {
		return 0, nil
	}
	var total int64
	err := s.db.write(ctx, func(tx *Tx) error {
		total = 0
		res, err := tx.exec(ctx, `DELETE FROM sessions WHERE id IN (
	SELECT id FROM sessions WHERE expires_at <= ? ORDER BY expires_at LIMIT ?)`, ms(tx.now), limit)
		if err != nil {
			return translate("delete expired sessions", err)
		}
		n, err := res.RowsAffected()
		if err != nil {
			return translate("delete expired sessions", err)
		}
		total = n
		if n >= int64(limit) {
			return nil
		}
		res, err = tx.exec(ctx, `DELETE FROM auth_requests WHERE id IN (
	SELECT id FROM auth_requests WHERE expires_at <= ? ORDER BY expires_at LIMIT ?)`, ms(tx.now), int64(limit)-n)
		if err != nil {
			return translate("delete expired authorization requests", err)
		}
		if n, err = res.RowsAffected(); err != nil {
			return translate("delete expired authorization requests", err)
		}
		total += n
		return nil
	})
	if err != nil {
		return 0, err
	}
	return int(total), nil
}
