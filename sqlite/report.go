package sqlite

import (
	"context"
	"strconv"
	"strings"
	"time"

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

// counter names one report counter: metric on the UTC day that starts at
// day.
type counter struct {
	day    time.Time
	metric string
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

// createdCounters are the counters that creating a user at now adds to:
// created on the day, and active in the month.
func createdCounters(now time.Time, anonymous bool) []counter {
	if anonymous {
		return []counter{{utcDay(now), foyer.MetricAnonymousCreated}, {utcMonth(now), foyer.MetricActiveAnonymous}}
	}
	return []counter{{utcDay(now), foyer.MetricRegisteredCreated}, {utcMonth(now), foyer.MetricActiveRegistered}}
}

// activeMetric is the monthly active-user metric of a user.
func activeMetric(anonymous bool) string {
	if anonymous {
		return foyer.MetricActiveAnonymous
	}
	return foyer.MetricActiveRegistered
}

// addCountsSQL are the statements of addCounts, by number of counters.
var addCountsSQL = [...]string{1: addCountsStatement(1), 2: addCountsStatement(2)}

func addCountsStatement(n int) string {
	return `INSERT INTO report_counts (day, metric, shard, n) VALUES ` +
		strings.TrimSuffix(strings.Repeat(`(?, ?, 0, ?), `, n), ", ") +
		` ON CONFLICT (day, metric, shard) DO UPDATE SET n = n + excluded.n`
}

// addCounts adds n to each of counters (at most two) in the operation's
// transaction, so that a count commits with the change it counts. There
// is one writer, so there is no hot row to spread: every count goes to
// shard 0.
func addCounts(ctx context.Context, tx *Tx, n int64, counters ...counter) error {
	if n == 0 || len(counters) == 0 {
		return nil
	}
	args := make([]any, 0, 3*len(counters))
	for _, c := range counters {
		args = append(args, ms(c.day), c.metric, n)
	}
	if _, err := tx.exec(ctx, addCountsSQL[len(counters)], args...); err != nil {
		return translate("count "+counters[0].metric, err)
	}
	return nil
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
	rows, err := s.db.query(ctx, `SELECT day, sum(n) FROM report_counts WHERE day >= ? AND day < ? AND metric = ? GROUP BY day`,
		ms(days[0].Day), ms(to), metric)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	counts := map[int64]int64{}
	for rows.Next() {
		var day, n int64
		if err := rows.Scan(&day, &n); err != nil {
			return nil, translate("count per day", err)
		}
		counts[day] = n
	}
	if err := rows.Err(); err != nil {
		return nil, translate("count per day", err)
	}
	for i := range days {
		days[i].Count = counts[ms(days[i].Day)]
	}
	return days, nil
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

// timeToConvertSQL ranks the users converted in [?, ?), read from
// users_converted, by time taken in milliseconds, and returns their
// count, the nearest-rank median and 90th percentile, and one count per
// bucket of foyer.TimeToConvertBuckets (whose bounds are its remaining
// parameters, each twice but the first).
func timeToConvertSQL(buckets int) string {
	var b strings.Builder
	b.WriteString(`WITH t AS (
	SELECT converted_at - created_at AS d FROM users WHERE converted_at >= ? AND converted_at < ?
), r AS (
	SELECT d, row_number() OVER (ORDER BY d) AS rn, count(*) OVER () AS n FROM t
)
SELECT count(*), coalesce(max(CASE WHEN rn = (n + 1) / 2 THEN d END), 0),
	coalesce(max(CASE WHEN rn = (9 * n + 9) / 10 THEN d END), 0)`)
	for i := range buckets + 1 {
		switch {
		case buckets == 0:
			b.WriteString(`, count(*)`)
		case i == 0:
			b.WriteString(`, coalesce(sum(d <= ?), 0)`)
		case i == buckets:
			b.WriteString(`, coalesce(sum(d > ?), 0)`)
		default:
			b.WriteString(`, coalesce(sum(d > ? AND d <= ?), 0)`)
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
	bounds := foyer.TimeToConvertBuckets
	args := []any{ceilMs(from), ceilMs(to)}
	for i, b := range bounds {
		if i > 0 {
			args = append(args, bounds[i-1].Milliseconds())
		}
		args = append(args, b.Milliseconds())
	}
	if len(bounds) > 0 {
		args = append(args, bounds[len(bounds)-1].Milliseconds())
	}
	out := &foyer.TimeToConvert{Buckets: make([]int64, len(bounds)+1)}
	var median, p90 int64
	dest := []any{&out.Count, &median, &p90}
	for i := range out.Buckets {
		dest = append(dest, &out.Buckets[i])
	}
	if err := s.db.queryRow(ctx, timeToConvertSQL(len(bounds)), args...).Scan(dest...); err != nil {
		return nil, translate("time to convert", err)
	}
	out.Median = time.Duration(median) * time.Millisecond
	out.P90 = time.Duration(p90) * time.Millisecond
	return out, nil
}

// ActiveUsers counts the existing anonymous and registered users last
// seen at or after since: two ranges of users_anonymous_last_seen.
func (s *ReportService) ActiveUsers(ctx context.Context, since time.Time) (anonymous, registered int64, err error) {
	t := ceilMs(since)
	err = s.db.queryRow(ctx, `SELECT
	(SELECT count(*) FROM users WHERE anonymous = 1 AND last_seen_at >= ?),
	(SELECT count(*) FROM users WHERE anonymous = 0 AND last_seen_at >= ?)`, t, t).Scan(&anonymous, &registered)
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
	err := s.db.queryRow(ctx, `SELECT count(*) FROM users
WHERE id >= ? AND id < ? AND (anonymous = 1 OR converted_at IS NOT NULL) AND last_seen_at >= created_at + `+
		strconv.FormatInt((24*time.Hour).Milliseconds(), 10),
		idFloor(ceilMs(from)), idFloor(ceilMs(to))).Scan(&n)
	if err != nil {
		return 0, translate("count returning users", err)
	}
	return n, nil
}
