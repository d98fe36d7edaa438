package main

import (
	"context"
	"database/sql"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/foyerhq/foyer/admin"
)

// The admin scenarios send each query this many times at most, one at a
// time, after adminWarmup requests that are not counted; a query stops
// early once --duration has passed and it was sent adminMinRequests
// times.
const (
	adminWarmup      = 3
	adminMinRequests = 10
)

// adminQuery is one request of the admin scenarios.
type adminQuery struct {
	name string
	path string
	// console marks a page of the admin console, sent with the console's
	// session cookie; the others are server API calls with the API key.
	console bool
}

// adminQueries are the admin scenarios over a seeded history: the users
// list of the server API with each filter, every report, and the console's
// dashboard and user pages.
func adminQueries(seed seedResult, userID string) []adminQuery {
	ts := func(t time.Time) string { return url.QueryEscape(t.UTC().Format(time.RFC3339)) }
	end := seed.end
	email := "nobody@example.com"
	if len(seed.emails) > 0 {
		email = seed.emails[len(seed.emails)/2]
	}
	qs := []adminQuery{
		{name: "users", path: "/v1/users?limit=50"},
		{name: "users:anonymous", path: "/v1/users?anonymous=true&limit=50"},
		{name: "users:registered", path: "/v1/users?anonymous=false&limit=50"},
		{name: "users:inactive_since", path: "/v1/users?inactive_since=" + ts(end.Add(-90*24*time.Hour)) + "&limit=50"},
		{name: "users:anonymous+inactive", path: "/v1/users?anonymous=true&inactive_since=" + ts(end.Add(-90*24*time.Hour)) + "&limit=50"},
		{name: "users:created_range", path: "/v1/users?created_after=" + ts(end.Add(-60*24*time.Hour)) + "&created_before=" + ts(end.Add(-30*24*time.Hour)) + "&limit=50"},
		{name: "users:email", path: "/v1/users?email=" + url.QueryEscape(email)},
	}
	for _, name := range admin.ReportNames {
		qs = append(qs, adminQuery{name: "report:" + name, path: "/v1/reports/" + name})
	}
	qs = append(qs,
		adminQuery{name: "report:funnel:365d", path: "/v1/reports/funnel?days=365"},
		adminQuery{name: "report:time-to-convert:365d", path: "/v1/reports/time-to-convert?days=365"},
		adminQuery{name: "console:dashboard:30d", path: "/admin/?range=30", console: true},
		adminQuery{name: "console:dashboard:90d", path: "/admin/?range=90", console: true},
		adminQuery{name: "console:users", path: "/admin/users", console: true},
		adminQuery{name: "console:users:anonymous", path: "/admin/users?state=anonymous", console: true},
		adminQuery{name: "console:users:email", path: "/admin/users?q=" + url.QueryEscape(email), console: true},
		adminQuery{name: "console:user", path: "/admin/users/" + userID, console: true},
	)
	return qs
}

// adminRowFormat lays out the table of the admin scenarios.
const adminRowFormat = "%-28s  %8s  %9s  %9s  %9s  %6s\n"

// runAdmin measures each admin query and prints a row per query. It
// returns the number of failed requests and the first failures.
func (b *bench) runAdmin(ctx context.Context, w io.Writer, seed seedResult) (int64, []string, error) {
	// The console's session: sign in once, keep the cookie.
	jar, err := cookiejar.New(nil)
	if err != nil {
		return 0, nil, err
	}
	console := &http.Client{Transport: b.client.Transport, Jar: jar, Timeout: b.client.Timeout}
	if err := signInConsole(ctx, console, b.target.url, seed.adminEmail, seed.adminPassword); err != nil {
		return 0, nil, err
	}
	// Without redirects from here on: a redirect to the sign-in page is
	// a failure, not a page.
	console.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

	userID, err := b.someUser(ctx)
	if err != nil {
		return 0, nil, err
	}
	fmt.Fprintf(w, "\nadmin scenarios: %d users (%d came back after a day, %d converted), one request at a time\n\n",
		seed.users, seed.returning, seed.converted)
	fmt.Fprintf(w, adminRowFormat, "query", "requests", "p50", "p99", "max", "errors")
	var (
		failed  int64
		samples []string
	)
	for _, q := range adminQueries(seed, userID) {
		client := b.client
		if q.console {
			client = console
		}
		send := func() (time.Duration, string) {
			req, err := http.NewRequestWithContext(ctx, http.MethodGet, b.target.url+q.path, nil)
			if err != nil {
				return 0, err.Error()
			}
			if !q.console {
				req.Header.Set("Authorization", "Bearer "+b.target.apiKey)
			}
			t0 := time.Now()
			resp, err := client.Do(req)
			if err != nil {
				return 0, err.Error()
			}
			defer resp.Body.Close()
			body, err := io.ReadAll(resp.Body)
			d := time.Since(t0)
			if err != nil {
				return 0, err.Error()
			}
			if resp.StatusCode != http.StatusOK {
				return 0, fmt.Sprintf("GET %s: %d %s", q.path, resp.StatusCode, clipBody(body))
			}
			return d, ""
		}
		for range adminWarmup {
			send()
		}
		var (
			lat      []time.Duration
			failures int64
		)
		start := time.Now()
		for n := 0; n < b.opts.adminRequests && (n < adminMinRequests || time.Since(start) < b.opts.duration); n++ {
			if err := ctx.Err(); err != nil {
				return failed, samples, err
			}
			d, e := send()
			if e != "" {
				failures++
				if len(samples) < 5 {
					samples = append(samples, e)
				}
				continue
			}
			lat = append(lat, d)
		}
		slices.Sort(lat)
		maxLat := time.Duration(0)
		if len(lat) > 0 {
			maxLat = lat[len(lat)-1]
		}
		fmt.Fprintf(w, adminRowFormat, q.name, strconv.Itoa(len(lat)), fmtLatency(percentile(lat, 0.50)),
			fmtLatency(percentile(lat, 0.99)), fmtLatency(maxLat), strconv.FormatInt(failures, 10))
		failed += failures
	}
	return failed, samples, nil
}

// someUser returns the id of a user in the middle of the list, for the
// console's user page.
func (b *bench) someUser(ctx context.Context) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, b.target.url+"/v1/users?limit=1&anonymous=false", nil)
	if err != nil {
		return "", err
	}
	req.Header.Set("Authorization", "Bearer "+b.target.apiKey)
	resp, err := b.client.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	m := regexp.MustCompile(`"id":"([0-9a-f-]{36})"`).FindSubmatch(body)
	if resp.StatusCode != http.StatusOK || m == nil {
		return "", fmt.Errorf("bench: find a user: %d %s", resp.StatusCode, clipBody(body))
	}
	return string(m[1]), nil
}

// consoleCSRF finds the synchronizer token of a console form.
var consoleCSRF = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// signInConsole signs in to the admin console at base with client, whose
// cookie jar keeps the session.
func signInConsole(ctx context.Context, client *http.Client, base, email, password string) error {
	get, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/admin/login", nil)
	if err != nil {
		return err
	}
	resp, err := client.Do(get)
	if err != nil {
		return err
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	m := consoleCSRF.FindSubmatch(page)
	if resp.StatusCode != http.StatusOK || m == nil {
		return fmt.Errorf("bench: admin sign-in page: %d %s", resp.StatusCode, clipBody(page))
	}
	form := url.Values{"csrf": {html.UnescapeString(string(m[1]))}, "email": {email}, "password": {password}, "next": {"/admin/"}}
	post, err := http.NewRequestWithContext(ctx, http.MethodPost, base+"/admin/login", strings.NewReader(form.Encode()))
	if err != nil {
		return err
	}
	post.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err = client.Do(post)
	if err != nil {
		return err
	}
	page, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Request.URL.Path != "/admin/" {
		return fmt.Errorf("bench: admin sign-in: %d at %s: %s", resp.StatusCode, resp.Request.URL.Path, clipBody(page))
	}
	return nil
}

// clipBody shortens a response body for an error message.
func clipBody(b []byte) string {
	s := strings.TrimSpace(string(b))
	if len(s) > 300 {
		return s[:300] + "…"
	}
	return s
}

// planQuery is one statement of the admin scenarios as the store sends
// it, for EXPLAIN.
type planQuery struct {
	name string
	sql  string
	args []any
}

// The statements below are those of the stores' findUsers, UserCounts and
// ReportService methods (sqlite/user.go, sqlite/report.go, sqlite/db.go
// and their postgres twins), with the values the admin scenarios use. Of
// the time-to-convert statement, whose window functions and sums work on
// the rows it reads, only the part that reads the table is shown.

const (
	sqliteUserColumns = `u.id, u.anonymous, u.email, u.email_verified, u.password_hash IS NOT NULL, u.data,
	u.created_at, u.updated_at, u.last_seen_at, u.converted_at, u.version, u.epoch, c.email`
	sqliteUserFrom = `users u LEFT JOIN conversions c ON c.user_id = u.id`
	pgUserColumns  = sqliteUserColumns
	pgUserFrom     = sqliteUserFrom
	dayMillis      = 24 * 60 * 60 * 1000
)

// idFloor is the smallest UUIDv7 of the millisecond ms, as the stores
// turn a creation time into a range of the primary key.
func idFloor(t time.Time) uuid.UUID {
	var id uuid.UUID
	ms := t.UnixMilli()
	for i := range 6 {
		id[i] = byte(ms >> (40 - 8*i))
	}
	return id
}

// sqlitePlanQueries are the admin scenarios' statements on SQLite.
func sqlitePlanQueries(seed seedResult) []planQuery {
	end := seed.end
	inactive := end.Add(-90 * 24 * time.Hour).UnixMilli()
	after, before := idFloor(end.Add(-60*24*time.Hour)), idFloor(end.Add(-30*24*time.Hour))
	from, to := end.Add(-30*24*time.Hour).Truncate(24*time.Hour).UnixMilli(), end.Add(24*time.Hour).Truncate(24*time.Hour).UnixMilli()
	// SQLite keeps ids as 16-byte blobs.
	first, last := idFloor(time.UnixMilli(from)), idFloor(time.UnixMilli(to))
	sel := `SELECT ` + sqliteUserColumns + ` FROM ` + sqliteUserFrom
	email := "nobody@example.com"
	if len(seed.emails) > 0 {
		email = seed.emails[0]
	}
	return []planQuery{
		{"users", sel + ` ORDER BY u.id LIMIT ?`, []any{51}},
		{"users:anonymous", sel + ` WHERE u.anonymous = ? ORDER BY u.id LIMIT ?`, []any{true, 51}},
		{"users:registered", sel + ` WHERE u.anonymous = ? ORDER BY u.id LIMIT ?`, []any{false, 51}},
		{"users:inactive_since", sel + ` WHERE u.anonymous IN (0, 1) AND u.last_seen_at < ? ORDER BY u.id LIMIT ?`, []any{inactive, 51}},
		{"users:anonymous+inactive", sel + ` WHERE u.anonymous = ? AND u.last_seen_at < ? ORDER BY u.id LIMIT ?`, []any{true, inactive, 51}},
		{"users:created_range", sel + ` WHERE u.id >= ? AND u.id < ? ORDER BY u.id LIMIT ?`, []any{after[:], before[:], 51}},
		{"users:email", sel + ` WHERE u.email = ? ORDER BY u.id LIMIT ?`, []any{email, 51}},
		{"user_counts", `SELECT (SELECT count(*) FROM users WHERE anonymous = 1), (SELECT count(*) FROM users WHERE anonymous = 0)`, nil},
		{"report:count_per_day", `SELECT day, sum(n) FROM report_counts WHERE day >= ? AND day < ? AND metric = ? GROUP BY day`, []any{from, to, "anonymous_created"}},
		{"report:time_to_convert", `SELECT converted_at - created_at AS d FROM users WHERE converted_at >= ? AND converted_at < ?`, []any{from, to}},
		{"report:active_users", `SELECT (SELECT count(*) FROM users WHERE anonymous = 1 AND last_seen_at >= ?), (SELECT count(*) FROM users WHERE anonymous = 0 AND last_seen_at >= ?)`, []any{from, from}},
		{"report:returned_after_a_day", `SELECT count(*) FROM users WHERE id >= ? AND id < ? AND (anonymous = 1 OR converted_at IS NOT NULL) AND last_seen_at >= created_at + ` + strconv.Itoa(dayMillis), []any{first[:], last[:]}},
	}
}

// postgresPlanQueries are the admin scenarios' statements on PostgreSQL.
func postgresPlanQueries(seed seedResult) []planQuery {
	end := seed.end
	inactive := end.Add(-90 * 24 * time.Hour)
	after, before := idFloor(end.Add(-60*24*time.Hour)), idFloor(end.Add(-30*24*time.Hour))
	from, to := end.Add(-30*24*time.Hour).Truncate(24*time.Hour), end.Add(24*time.Hour).Truncate(24*time.Hour)
	sel := `SELECT ` + pgUserColumns + ` FROM ` + pgUserFrom
	email := "nobody@example.com"
	if len(seed.emails) > 0 {
		email = seed.emails[0]
	}
	return []planQuery{
		{"users", sel + ` ORDER BY u.id LIMIT $1`, []any{51}},
		{"users:anonymous", sel + ` WHERE u.anonymous ORDER BY u.id LIMIT $1`, []any{51}},
		{"users:registered", sel + ` WHERE NOT u.anonymous ORDER BY u.id LIMIT $1`, []any{51}},
		{"users:inactive_since", sel + ` WHERE u.last_seen_at < $1 ORDER BY u.id LIMIT $2`, []any{inactive, 51}},
		{"users:anonymous+inactive", sel + ` WHERE u.anonymous AND u.last_seen_at < $1 ORDER BY u.id LIMIT $2`, []any{inactive, 51}},
		{"users:created_range", sel + ` WHERE u.id >= $1 AND u.id < $2 ORDER BY u.id LIMIT $3`, []any{after, before, 51}},
		{"users:email", sel + ` WHERE u.email = $1 ORDER BY u.id LIMIT $2`, []any{email, 51}},
		{"user_counts", `SELECT (SELECT count(*) FROM users WHERE anonymous), (SELECT count(*) FROM users WHERE email IS NOT NULL)`, nil},
		{"report:count_per_day", `SELECT day, sum(n)::bigint FROM report_counts WHERE day >= $1 AND day <= $2 AND metric = $3 GROUP BY day`, []any{from, to, "anonymous_created"}},
		{"report:time_to_convert", `SELECT ((extract(epoch FROM converted_at) - extract(epoch FROM created_at)) * 1000)::bigint AS d FROM users WHERE converted_at >= $1 AND converted_at < $2`, []any{from, to}},
		{"report:active_users", `SELECT (SELECT count(*) FROM users WHERE anonymous AND last_seen_at >= $1), (SELECT count(*) FROM users WHERE NOT anonymous AND last_seen_at >= $1)`, []any{from}},
		{"report:returned_after_a_day", `SELECT count(*) FROM users WHERE id >= $1 AND id < $2 AND (anonymous OR converted_at IS NOT NULL) AND last_seen_at >= created_at + interval '24 hours'`, []any{idFloor(from), idFloor(to)}},
	}
}

// explainSQLite prints EXPLAIN QUERY PLAN of each statement, read from
// the database file at path, and what each plan reads.
func explainSQLite(ctx context.Context, w io.Writer, path string, qs []planQuery) (planReport, error) {
	db, err := sql.Open("sqlite", "file:"+path+"?mode=ro&_pragma=busy_timeout(10000)")
	if err != nil {
		return planReport{}, err
	}
	defer db.Close()
	var report planReport
	for _, q := range qs {
		rows, err := db.QueryContext(ctx, "EXPLAIN QUERY PLAN "+q.sql, q.args...)
		if err != nil {
			return report, fmt.Errorf("explain %s: %w", q.name, err)
		}
		var lines []string
		for rows.Next() {
			var id, parent, unused int
			var detail string
			if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
				rows.Close()
				return report, err
			}
			lines = append(lines, detail)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return report, err
		}
		verdict := sqlitePlanVerdict(q.sql, lines)
		report.add(q.name, verdict)
		fmt.Fprintf(w, "%s: %s\n", q.name, verdict)
		for _, l := range lines {
			fmt.Fprintf(w, "    %s\n", l)
		}
	}
	return report, nil
}

// Plan verdicts. A full scan reads a whole table; a sort before the
// LIMIT reads and sorts every row that matches, however many there are,
// to return the first page.
const (
	verdictIndex   = "index ranges only"
	verdictOrdered = "walks the primary key in order, stops at the LIMIT"
	verdictFull    = "FULL SCAN"
	verdictSorted  = "SORTS EVERY MATCH before the LIMIT"
)

// sqlitePlanVerdict says what a plan reads. SEARCH reads a range of an
// index; SCAN reads a whole table or index, unless it walks the primary
// key in the ORDER BY's order under a LIMIT, which stops after LIMIT
// matching rows; a TEMP B-TREE FOR ORDER BY sorts every match.
func sqlitePlanVerdict(stmt string, lines []string) string {
	limited := strings.Contains(stmt, "ORDER BY u.id LIMIT")
	if limited && slices.ContainsFunc(lines, func(l string) bool { return strings.Contains(l, "TEMP B-TREE FOR ORDER BY") }) {
		return verdictSorted
	}
	for _, l := range lines {
		if !strings.HasPrefix(l, "SCAN ") || l == "SCAN CONSTANT ROW" {
			continue
		}
		if limited && (l == "SCAN u" || strings.HasPrefix(l, "SCAN u USING")) {
			return verdictOrdered
		}
		return verdictFull + " (" + l + ")"
	}
	return verdictIndex
}

// planRows reads the planner's estimate of the rows of a plan line.
var planRows = regexp.MustCompile(`rows=(\d+)`)

// postgresPlanVerdict says what a plan reads: a Seq Scan reads a whole
// table (named, with the planner's estimate of its matching rows, since
// a scan of a table that is nearly empty, such as the pending conversions,
// costs nothing), a Sort under the Limit every match.
func postgresPlanVerdict(stmt string, lines []string) string {
	var scans []string
	for _, l := range lines {
		if i := strings.Index(l, "Seq Scan on "); i >= 0 {
			table, _, _ := strings.Cut(l[i+len("Seq Scan on "):], " ")
			if m := planRows.FindStringSubmatch(l); m != nil {
				table += ", rows=" + m[1]
			}
			scans = append(scans, "Seq Scan on "+table)
		}
	}
	if len(scans) > 0 {
		return verdictFull + " (" + strings.Join(scans, "; ") + ")"
	}
	if strings.Contains(stmt, "ORDER BY u.id LIMIT") {
		if slices.ContainsFunc(lines, func(l string) bool { return strings.Contains(l, "Sort") }) {
			return verdictSorted
		}
		if slices.ContainsFunc(lines, func(l string) bool { return strings.Contains(l, "Index Scan using users_pkey on users") }) {
			return verdictOrdered
		}
	}
	return verdictIndex
}

// planReport names the statements whose plans scan a whole table, and
// those that sort every match.
type planReport struct {
	full, sorted []string
}

func (p *planReport) add(name, verdict string) {
	switch {
	case strings.HasPrefix(verdict, verdictFull):
		p.full = append(p.full, name)
	case verdict == verdictSorted:
		p.sorted = append(p.sorted, name)
	}
}

// explainPostgres prints EXPLAIN of each statement and what each plan
// reads.
func explainPostgres(ctx context.Context, w io.Writer, dsn string, qs []planQuery) (planReport, error) {
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return planReport{}, err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	var report planReport
	for _, q := range qs {
		rows, err := conn.Query(ctx, "EXPLAIN "+q.sql, q.args...)
		if err != nil {
			return report, fmt.Errorf("explain %s: %w", q.name, err)
		}
		var lines []string
		for rows.Next() {
			var l string
			if err := rows.Scan(&l); err != nil {
				rows.Close()
				return report, err
			}
			lines = append(lines, l)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return report, err
		}
		verdict := postgresPlanVerdict(q.sql, lines)
		report.add(q.name, verdict)
		fmt.Fprintf(w, "%s: %s\n", q.name, verdict)
		for _, l := range lines {
			fmt.Fprintf(w, "    %s\n", l)
		}
	}
	return report, nil
}
