package sqlite

import (
	"context"
	"time"

	"github.com/google/uuid"

	"github.com/foyerhq/foyer"
)

var _ foyer.ReapService = (*ReapService)(nil)

// ReapService implements foyer.ReapService.
type ReapService struct {
	db *DB
}

// NewReapService returns a ReapService on db.
func NewReapService(db *DB) *ReapService { return &ReapService{db: db} }

// staleUsers selects, oldest activity first, up to a limit of users that
// may be reaped: anonymous, last seen before the cutoff, with no email, no
// password and no conversion link that is still valid. Its parameters are
// the cutoff, now and the limit. It walks users_anonymous_last_seen.
const staleUsers = `SELECT id FROM users
WHERE anonymous = 1 AND last_seen_at < ? AND email IS NULL AND password_hash IS NULL
	AND NOT EXISTS (SELECT 1 FROM conversions c WHERE c.user_id = users.id AND c.expires_at > ?)
ORDER BY anonymous, last_seen_at LIMIT ?`

// DeleteExpiredAnonymousUsers deletes up to limit stale users (see
// foyer.ReapService) and returns their ids. The staleness condition is part
// of the deleting statement itself, so a user touched or converted since
// it was last looked at is never deleted. Each deleted user's events are
// replaced by one user.deleted {reason: "reaped"} event, and its
// conversion request and mail go with it through the foreign keys; the
// batch adds to the day's count of reaped users once. All of it is one
// transaction. With dryRun it deletes nothing and returns the ids it
// would delete.
func (s *ReapService) DeleteExpiredAnonymousUsers(ctx context.Context, cutoff time.Time, limit int, dryRun bool) ([]string, error) {
	ids := []string{}
	if limit <= 0 {
		return ids, nil
	}
	if dryRun {
		rows, err := s.db.query(ctx, staleUsers, ceilMs(cutoff), ms(s.db.now()), limit)
		if err != nil {
			return nil, err
		}
		defer rows.Close()
		for rows.Next() {
			var id []byte
			if err := rows.Scan(&id); err != nil {
				return nil, translate("find stale users", err)
			}
			ids = append(ids, idString(id))
		}
		if err := rows.Err(); err != nil {
			return nil, translate("find stale users", err)
		}
		return ids, nil
	}

	err := s.db.write(ctx, func(tx *Tx) error {
		rows, err := tx.query(ctx, `DELETE FROM users WHERE id IN (`+staleUsers+`) RETURNING id`, ceilMs(cutoff), ms(tx.now), limit)
		if err != nil {
			return translate("reap users", err)
		}
		var deleted []uuid.UUID
		for rows.Next() {
			var id []byte
			if err := rows.Scan(&id); err != nil {
				rows.Close()
				return translate("reap users", err)
			}
			uid, err := uuid.FromBytes(id)
			if err != nil {
				rows.Close()
				return translate("reap users", err)
			}
			deleted = append(deleted, uid)
		}
		if err := rows.Close(); err != nil {
			return translate("reap users", err)
		}
		if err := rows.Err(); err != nil {
			return translate("reap users", err)
		}
		for _, id := range deleted {
			if err := recordDeleted(ctx, tx, id, foyer.DeleteReasonReaped); err != nil {
				return err
			}
		}
		if err := addCounts(ctx, tx, int64(len(deleted)), counter{utcDay(tx.now), foyer.MetricReaped}); err != nil {
			return err
		}
		ids = ids[:0]
		for _, id := range deleted {
			ids = append(ids, id.String())
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return ids, nil
}
