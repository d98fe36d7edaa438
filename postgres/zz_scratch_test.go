package postgres_test

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/google/uuid"
)

func TestScratchReapPlan(t *testing.T) {
	c := newClock()
	dsn := newSchema(t)
	db := openDSN(t, dsn)
	db.Now = c.Now
	s := services(db)
	createUsers(t, s.Users, 30000)
	c.Advance(2 * time.Hour)
	ctx := context.Background()
	conn, _ := pgx.Connect(ctx, dsn)
	defer conn.Close(ctx)
	conn.Exec(ctx, "VACUUM ANALYZE")
	tx, _ := conn.Begin(ctx)
	now := c.Now()
	cutoff := now.Add(-time.Hour)
	start := time.Now()
	rows, _ := tx.Query(ctx, `EXPLAIN (ANALYZE, BUFFERS) SELECT u.id FROM users u WHERE u.anonymous AND u.last_seen_at < $2 AND u.email IS NULL AND u.password_hash IS NULL
	AND NOT EXISTS (SELECT 1 FROM conversions c WHERE c.user_id = u.id AND c.expires_at > $3) ORDER BY u.last_seen_at LIMIT $1 FOR UPDATE OF u SKIP LOCKED`, 1000, cutoff, now)
	lines, _ := pgx.CollectRows(rows, pgx.RowTo[string])
	for _, l := range lines { t.Log(l) }
	t.Log("lock", time.Since(start))
	rows, _ = tx.Query(ctx, `SELECT u.id FROM users u WHERE u.anonymous AND u.last_seen_at < $2 ORDER BY u.last_seen_at LIMIT $1`, 1000, cutoff)
	ids, _ := pgx.CollectRows(rows, pgx.RowTo[uuid.UUID])
	evids := make([]uuid.UUID, len(ids))
	data := make([][]byte, len(ids))
	for i := range ids { evids[i] = uuid.Must(uuid.NewV7()); data[i] = []byte(`{"reason":"reaped"}`) }
	start = time.Now()
	rows, err := tx.Query(ctx, `EXPLAIN (ANALYZE, BUFFERS) WITH d AS (
	DELETE FROM users u WHERE u.id = ANY($1) AND u.anonymous AND u.last_seen_at < $2 AND u.email IS NULL AND u.password_hash IS NULL
	AND NOT EXISTS (SELECT 1 FROM conversions c WHERE c.user_id = u.id AND c.expires_at > $3)
	RETURNING u.id
), d_sessions AS (
	DELETE FROM sessions WHERE user_id = ANY (ARRAY(SELECT id FROM d))
), d_conversions AS (
	DELETE FROM conversions WHERE user_id = ANY (ARRAY(SELECT id FROM d))
), d_password_resets AS (
	DELETE FROM password_resets WHERE user_id = ANY (ARRAY(SELECT id FROM d))
), d_aliases AS (
	DELETE FROM aliases WHERE into_id = ANY (ARRAY(SELECT id FROM d))
), d_mail AS (
	DELETE FROM mail WHERE user_id = ANY (ARRAY(SELECT id FROM d))
), old AS (
	DELETE FROM events WHERE user_id = ANY (ARRAY(SELECT id FROM d))
		OR user_id = ANY (ARRAY(SELECT a.from_id FROM aliases a WHERE a.into_id = ANY (ARRAY(SELECT id FROM d))))
)
INSERT INTO events (id, type, user_id, created_at, data)
SELECT e.id, 'user.deleted', e.user_id, $3, e.data
FROM unnest($1::uuid[], $4::uuid[], $5::bytea[]) AS e (user_id, id, data)
JOIN d ON d.id = e.user_id
RETURNING user_id`, ids, cutoff, now, evids, data)
	if err != nil { t.Fatal(err) }
	lines, err = pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil { t.Fatal(err) }
	for _, l := range lines { t.Log(l) }
	t.Log("delete", time.Since(start))
	start = time.Now()
	tx.Commit(ctx)
	t.Log("commit", time.Since(start))
}
