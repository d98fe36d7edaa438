package postgres

import (
	"context"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/foyerhq/foyer"
)

var _ foyer.ReportService = (*ReportService)(nil)

// ReportService implements foyer.ReportService.
type ReportService struct {
	db *DB
}

// NewReportService returns a ReportService on db.
func NewReportService(db *DB) *ReportService { return &ReportService{db: db} }

// reportMetrics are the metrics that CountPerDay knows.
var reportMetrics = map[string]bool{
	foyer.MetricAnonymousCreated:    true,
	foyer.MetricRegisteredCreated:   true,
	foyer.MetricConversionRequested: true,
	foyer.MetricConverted:           true,
	foyer.MetricReaped:              true,
	foyer.MetricMerged:              true,
	foyer.MetricDeleted:             true,
	foyer.MetricActiveAnonymous:     true,
	foyer.MetricActiveRegistered:    true,
}

// maxReportDays is the longest range CountPerDay answers, about ten
// years, so that a mistaken range cannot make it build millions of days.
const maxReportDays = 3700

// sqlShard is the SQL expression of the shard a statement adds to. Each
// report counter is spread over 32 rows, its shards, because concurrent
// sign-ups add to the same counters: on one row each would wait for the
// row lock of the one before until it commits, so they would commit one
// at a time (with 16 clients signing up, pgbench, PostgreSQL 15, 2 cores,
// at a quarter of the throughput without counters). The shard is the
// server process id of the statement's connection modulo 32: a
// connection runs one transaction at a time and process ids are
// distinct, so the sign-ups in flight at once take different shards
// unless two ids are equal modulo 32, which the ids of one pool's
// connections, forked one after another, seldom are. Chosen at random or
// by the low bits of the user's id (which start at random in each
// millisecond), the shards of 16 concurrent sign-ups collided often
// enough that the backends spent a quarter of their time waiting for a
// counter's row lock; by process id, no measurable time. A report reads
// at most 32 rows per counter and day.
const sqlShard = `(pg_backend_pid() % 32)::smallint`

// addCounts returns a data-modifying CTE, called name, that adds to the
// report counters the rows of query, each (day, metric, shard, n). Every
// statement that counts a change takes its rows from the CTE that makes
// the change, so the count commits with the change and only if it
// applied. A statement takes the locks of the rows it changes before
// those of the counters, and the counters of one statement in the same
// order as every other statement, so that two statements never wait for
// each other's counters.
func addCounts(name, query string) string {
	return name + ` AS (
	INSERT INTO report_counts (day, metric, shard, n) ` + query + `
	ON CONFLICT (day, metric, shard) DO UPDATE SET n = report_counts.n + excluded.n
)`
}

// sqlDay is the SQL expression of the UTC day of the timestamptz
// expression t.
func sqlDay(t string) string { return `(` + t + `::timestamptz AT TIME ZONE 'UTC')::date` }

// sqlMonth is the SQL expression of the first UTC day of the month of the
// timestamptz expression t.
func sqlMonth(t string) string {
	return `date_trunc('month', ` + t + `::timestamptz AT TIME ZONE 'UTC')::date`
}

// countOne returns a CTE, called name, that adds one to metric on the UTC
// day of the timestamptz parameter now for each row (at most one) of the
// CTE src.
func countOne(name, src, metric, now string) string {
	return addCounts(name, `SELECT `+sqlDay(now)+`, '`+metric+`', `+sqlShard+`, 1 FROM `+src)
}

// countCreated returns a CTE, called rc, that counts the user created by
// the CTE u at the timestamptz parameter now as created that day and
// active that month.
func countCreated(anonymous bool, now string) string {
	created, active := foyer.MetricRegisteredCreated, foyer.MetricActiveRegistered
	if anonymous {
		created, active = foyer.MetricAnonymousCreated, foyer.MetricActiveAnonymous
	}
	return addCounts("rc", `SELECT c.day, c.metric, `+sqlShard+`, 1
	FROM u, (VALUES (`+sqlDay(now)+`, '`+created+`'), (`+sqlMonth(now)+`, '`+active+`')) AS c (day, metric)`)
}

// CountPerDay returns metric's count for each UTC day in [from, to), the
// day of from included, with zero days, oldest first: the sum of the
// counter's shards, one range of the primary key. Returns EInvalid for an
// unknown metric or a range of more than about ten years.
func (s *ReportService) CountPerDay(ctx context.Context, metric string, from, to time.Time) ([]foyer.DayCount, error) {
	days, err := reportDays(metric, from, to)
	if err != nil || len(days) == 0 {
		return days, err
	}
	last := days[len(days)-1].Day
	rows, err := s.db.pool.Query(ctx, `SELECT day, sum(n)::bigint FROM report_counts
WHERE day >= $1 AND day <= $2 AND metric = $3 GROUP BY day`, days[0].Day, last, metric)
	if err != nil {
		return nil, translate("count per day", err)
	}
	counts := map[int64]int64{}
	var (
		day time.Time
		n   int64
	)
	_, err = pgx.ForEachRow(rows, []any{&day, &n}, func() error {
		counts[day.Unix()] = n
		return nil
	})
	if err != nil {
		return nil, translate("count per day", err)
	}
	for i := range days {
		days[i].Count = counts[days[i].Day.Unix()]
	}
	return days, nil
}

// utcDay returns the start of t's UTC day.
func utcDay(t time.Time) time.Time {
	t = t.UTC()
	return time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC)
}

// utcMonth returns the start of t's UTC month.
func utcMonth(t time.Time) time.Time {
	t = t.UTC()
	return time.Date(t.Year(), t.Month(), 1, 0, 0, 0, 0, time.UTC)
}

// reportDays checks metric and returns the days of [from, to), the day of
// from included, with zero counts.
func reportDays(metric string, from, to time.Time) ([]foyer.DayCount, error) {
	if !reportMetrics[metric] {
		return nil, foyer.Errorf(foyer.EInvalid, "Unknown metric %q.", metric)
	}
	days := []foyer.DayCount{}
	first := utcDay(from)
	if !first.Before(to) {
		return days, nil
	}
	if to.Sub(first) > maxReportDays*24*time.Hour {
		return nil, foyer.Errorf(foyer.EInvalid, "A report covers at most %d days.", maxReportDays)
	}
	for d := first; d.Before(to); d = d.AddDate(0, 0, 1) {
		days = append(days, foyer.DayCount{Day: d})
	}
	return days, nil
}

// timeToConvertSQL ranks the users converted in [$1, $2), read from
// users_converted, by time taken in milliseconds, and returns their
// count, the nearest-rank median and 90th percentile, and one count per
// bucket of foyer.TimeToConvertBuckets, whose bounds in milliseconds are
// the array $3. The ranks are computed with integers, as in the sqlite
// package, rather than by percentile_disc, whose floating-point fraction
// picks a different row for some counts.
func timeToConvertSQL(buckets int) string {
	var b strings.Builder
	b.WriteString(`WITH t AS (
	SELECT ((extract(epoch FROM converted_at) - extract(epoch FROM created_at)) * 1000)::bigint AS d
	FROM users WHERE converted_at >= $1 AND converted_at < $2
), r AS (
	SELECT d, row_number() OVER (ORDER BY d) AS rn, count(*) OVER () AS n FROM t
)
SELECT count(*), coalesce(max(d) FILTER (WHERE rn = (n + 1) / 2), 0),
	coalesce(max(d) FILTER (WHERE rn = (9 * n + 9) / 10), 0)`)
	for i := range buckets + 1 {
		lo, hi := "($3::bigint[])["+strconv.Itoa(i)+"]", "($3::bigint[])["+strconv.Itoa(i+1)+"]"
		switch {
		case buckets == 0:
			b.WriteString(`, count(*)`)
		case i == 0:
			b.WriteString(`, count(*) FILTER (WHERE d <= ` + hi + `)`)
		case i == buckets:
			b.WriteString(`, count(*) FILTER (WHERE d > ` + lo + `)`)
		default:
			b.WriteString(`, count(*) FILTER (WHERE d > ` + lo + ` AND d <= ` + hi + `)`)
		}
	}
	b.WriteString(` FROM r`)
	return b.String()
}

// TimeToConvert summarises the users converted in [from, to): how many,
// the median and 90th percentile of the time from creation to conversion
// (nearest rank: the smallest time that at least half, or 90 %, of them
// took at most), and how many took at most each bound of
// foyer.TimeToConvertBuckets but more than the one before. It reads the
// range of users_converted, which holds both times.
func (s *ReportService) TimeToConvert(ctx context.Context, from, to time.Time) (*foyer.TimeToConvert, error) {
	bounds := make([]int64, len(foyer.TimeToConvertBuckets))
	for i, b := range foyer.TimeToConvertBuckets {
		bounds[i] = b.Milliseconds()
	}
	out := &foyer.TimeToConvert{Buckets: make([]int64, len(bounds)+1)}
	var median, p90 int64
	dest := []any{&out.Count, &median, &p90}
	for i := range out.Buckets {
		dest = append(dest, &out.Buckets[i])
	}
	if err := s.db.pool.QueryRow(ctx, timeToConvertSQL(len(bounds)), ceilMs(from), ceilMs(to), bounds).Scan(dest...); err != nil {
		return nil, translate("time to convert", err)
	}
	out.Median = time.Duration(median) * time.Millisecond
	out.P90 = time.Duration(p90) * time.Millisecond
	return out, nil
}

// ActiveUsers counts the existing anonymous and registered users last
// seen at or after since: a range of users_anonymous_last_seen and one of
// users_registered_last_seen.
func (s *ReportService) ActiveUsers(ctx context.Context, since time.Time) (anonymous, registered int64, err error) {
	err = s.db.pool.QueryRow(ctx, `SELECT
	(SELECT count(*) FROM users WHERE anonymous AND last_seen_at >= $1),
	(SELECT count(*) FROM users WHERE NOT anonymous AND last_seen_at >= $1)`, ceilMs(since)).Scan(&anonymous, &registered)
	if err != nil {
		return 0, 0, translate("count active users", err)
	}
	return anonymous, registered, nil
}

// ReturnedAfterADay counts the existing users created anonymous in
// [from, to) (still anonymous, or converted since) that were last seen at
// least a day after they were created. The creation range is a range of
// the primary key, as a UUIDv7 starts with its creation millisecond.
func (s *ReportService) ReturnedAfterADay(ctx context.Context, from, to time.Time) (int64, error) {
	var n int64
	err := s.db.pool.QueryRow(ctx, `SELECT count(*) FROM users
WHERE id >= $1 AND id < $2 AND (anonymous OR converted_at IS NOT NULL) AND last_seen_at >= created_at + interval '24 hours'`,
		idFloor(ceilMs(from).UnixMilli()), idFloor(ceilMs(to).UnixMilli())).Scan(&n)
	if err != nil {
		return 0, translate("count returning users", err)
	}
	return n, nil
}
