package postgres

import (
	"context"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/foyerhq/foyer"
)

var _ foyer.ReapService = (*ReapService)(nil)

// ReapService implements foyer.ReapService.
type ReapService struct {
	db *DB
}

// NewReapService returns a ReapService on db.
func NewReapService(db *DB) *ReapService { return &ReapService{db: db} }

// stale is the condition that makes the user u reapable: anonymous, last
// seen before the cutoff $2, with no email, no password and no conversion
// link that is still valid at now ($3).
const stale = `u.anonymous AND u.last_seen_at < $2 AND u.email IS NULL AND u.password_hash IS NULL
	AND NOT EXISTS (SELECT 1 FROM conversions c WHERE c.user_id = u.id AND c.expires_at > $3)`

// staleUsers selects, oldest activity first, up to a limit ($1) of users
// that may be reaped. It walks users_anonymous_last_seen.
const staleUsers = `SELECT u.id FROM users u WHERE ` + stale + `
ORDER BY u.last_seen_at LIMIT $1`

// DeleteExpiredAnonymousUsers deletes up to limit stale users (see
// foyer.ReapService) and returns their ids. Each deleted user's events are
// replaced by one user.deleted {reason: "reaped"} event, and its
// conversion request and mail go with it, all in one transaction of three
// round trips:
//
//  1. BEGIN and select the stale users FOR UPDATE SKIP LOCKED, so that
//     concurrent reapers take disjoint batches and no writer can change
//     the rows any more;
//  2. delete those that are still stale, re-checking the whole condition
//     in the deleting statement, which runs after the rows are locked and
//     so sees every change committed before (a conversion requested or an
//     activity recorded meanwhile keeps the user), and in the same
//     statement replace their events with one user.deleted event each
//     and add the batch to the day's count of reaped users, one upsert
//     for the whole batch;
//  3. COMMIT.
//
// With dryRun it deletes nothing and returns the ids it would delete.
func (s *ReapService) DeleteExpiredAnonymousUsers(ctx context.Context, cutoff time.Time, limit int, dryRun bool) ([]string, error) {
	ids := []string{}
	if limit <= 0 {
		return ids, nil
	}
	now := s.db.now()
	if dryRun {
		rows, err := s.db.pool.Query(ctx, staleUsers, limit, ceilMs(cutoff), now)
		if err != nil {
			return nil, translate("find stale users", err)
		}
		cand, err := pgx.CollectRows(rows, pgx.RowTo[uuid.UUID])
		if err != nil {
			return nil, translate("find stale users", err)
		}
		for _, id := range cand {
			ids = append(ids, id.String())
		}
		return ids, nil
	}

	b := &pgx.Batch{}
	b.BeginTx(pgx.TxOptions{})
	b.Queue(staleUsers+` FOR UPDATE OF u SKIP LOCKED`, limit, ceilMs(cutoff), now)
	br := s.db.pool.SendBatch(ctx, b)
	tx := br.Tx()
	defer tx.Rollback(context.WithoutCancel(ctx))
	var cand []uuid.UUID
	err := func() error {
		if _, err := br.Exec(); err != nil {
			return err
		}
		rows, err := br.Query()
		if err != nil {
			return err
		}
		cand, err = pgx.CollectRows(rows, pgx.RowTo[uuid.UUID])
		if err != nil {
			return err
		}
		return br.Close()
	}()
	if err != nil {
		br.Close()
		return nil, translate("lock stale users", err)
	}
	if len(cand) == 0 {
		return ids, translate("reap users", tx.Commit(ctx))
	}

	evs := make(events, len(cand))
	for i, id := range cand {
		ev, err := s.db.deletedEvent(now, id, foyer.DeleteReasonReaped)
		if err != nil {
			return nil, err
		}
		evs[i] = ev
	}
	rows, err := tx.Query(ctx, `WITH d AS (
	DELETE FROM users u WHERE u.id = ANY($1) AND `+stale+`
	RETURNING u.id
)`+deleteDependents("d")+`, `+addCounts("rc", `SELECT `+sqlDay("$3")+`, '`+foyer.MetricReaped+`', `+sqlShard+`, count(*)
	FROM d HAVING count(*) > 0`)+recordDeleted("$1", "$4", "$5", "$3"), cand, ceilMs(cutoff), now, evs.ids(), evs.data())
	if err != nil {
		return nil, translate("reap users", err)
	}
	got, err := pgx.CollectRows(rows, pgx.RowTo[uuid.UUID])
	if err != nil {
		return nil, translate("reap users", err)
	}
	deleted := make(map[uuid.UUID]bool, len(got))
	for _, id := range got {
		deleted[id] = true
	}
	if err := tx.Commit(ctx); err != nil {
		return nil, translate("reap users", err)
	}
	for _, id := range cand {
		if deleted[id] {
			ids = append(ids, id.String())
		}
	}
	return ids, nil
}
