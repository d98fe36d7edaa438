package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	_ "modernc.org/sqlite" // database/sql driver "sqlite", to measure storage with dbstat

	foyerhttp "github.com/foyerhq/foyer/http"
)

const benchSynopsis = `foyer bench [flags]

Measures requests/s and latency of Foyer's main endpoints over real HTTP on
loopback, with a given number of concurrent clients:

  signup  POST /v1/anonymous without a cookie (a new anonymous user each time)
  read    GET /v1/me with the cookie of a pre-created user (round-robin)
  write   PATCH /v1/me, a small merge patch, with such a cookie
  list    GET /v1/users?anonymous=true&limit=20 with an API key (not in the default set)
  admin   the admin console's queries over a seeded history of --admin-users
          users (1,000,000 by default; not in the default set): the users
          list of the server API with each filter, every /v1/reports/*
          report, the console's dashboard and user pages, one request at a
          time, p50 and p99 per query; then EXPLAIN (SQLite: EXPLAIN QUERY
          PLAN) of each list and report statement. Needs the in-process
          server: the history is written through the store before it starts

By default it starts a server in-process on 127.0.0.1 on a fresh temporary
data directory (SQLite), or on a fresh schema of the PostgreSQL database that
--database-url names (dropped afterwards), with the sign-up rate limit off.
With --url it targets a running server instead, whose rate limit must be off
(--anonymous-rate-limit off) for the signup scenario and the user pool.

Each scenario warms up, then measures for --duration; with --runs N it
repeats and reports the median. Any non-2xx answer counts as an error and
makes the exit status non-zero.`

// benchScenarios are the scenarios in the order they run.
var benchScenarios = []string{"signup", "read", "write", "list", "admin"}

// benchOptions are the flags of foyer bench.
type benchOptions struct {
	url         string
	apiKey      string
	scenarios   string
	concurrency int
	duration    time.Duration
	warmup      time.Duration
	runs        int
	users       int
	cpuProfile  string
	// adminUsers is the size of the history the admin scenarios seed, and
	// adminRequests how many times each admin query is sent at most.
	adminUsers    int
	adminRequests int
}

func (m *Main) runBench(ctx context.Context, args []string) error {
	o := benchOptions{scenarios: "signup,read,write", concurrency: 16, duration: 10 * time.Second, warmup: 2 * time.Second, runs: 1, users: 1000,
		adminUsers: 1_000_000, adminRequests: 200}
	fs := newFlagSet("bench", benchSynopsis)
	fs.StringVar(&o.url, "url", o.url, "base URL of a running server to measure; empty starts one in-process")
	fs.StringVar(&o.apiKey, "api-key", o.apiKey, "server API key, needed with --url for the list scenario")
	fs.StringVar(&o.scenarios, "scenarios", o.scenarios, "comma-separated scenarios: signup, read, write, list")
	fs.IntVar(&o.concurrency, "concurrency", o.concurrency, "concurrent clients, each with its own keep-alive connection")
	fs.DurationVar(&o.duration, "duration", o.duration, "how long each scenario is measured")
	fs.DurationVar(&o.warmup, "warmup", o.warmup, "how long each scenario runs before it is measured")
	fs.IntVar(&o.runs, "runs", o.runs, "how many times to run each scenario; the median is reported")
	fs.IntVar(&o.users, "users", o.users, "pre-created users the read and write scenarios cycle through")
	fs.StringVar(&o.cpuProfile, "cpuprofile", o.cpuProfile, "write a CPU profile of the whole process (the in-process server included) to this file, for go tool pprof")
	fs.IntVar(&o.adminUsers, "admin-users", o.adminUsers, "users seeded for the admin scenarios")
	fs.IntVar(&o.adminRequests, "admin-requests", o.adminRequests, "how many times each admin query is sent at most, one at a time (it stops earlier after --duration)")
	fs.ownFlags("bench", "url", "api-key", "scenarios", "concurrency", "duration", "warmup", "runs", "users", "cpuprofile", "admin-users", "admin-requests")
	// Of the server's settings only the store matters: the in-process
	// server otherwise runs with the defaults.
	var databaseURL string
	fs.StringVar(&databaseURL, "database-url", "", "postgres:// URL: run the in-process server on a fresh schema of this database (dropped afterwards); empty means SQLite in a temporary directory")
	if _, err := m.parseFlags(fs, args); err != nil {
		return err
	}
	if _, err := storeKind(databaseURL); err != nil {
		return usageError{err}
	}
	scenarios, err := o.validate()
	if err != nil {
		return usageError{err}
	}

	target := &benchTarget{url: strings.TrimRight(o.url, "/"), apiKey: o.apiKey}
	adminGroup := slices.Contains(scenarios, "admin")
	if adminGroup && target.url != "" {
		return usageError{errors.New("bench: the admin scenarios seed the store of the in-process server; they cannot be used with --url")}
	}
	if target.url == "" {
		seed := 0
		if adminGroup {
			seed = o.adminUsers
		}
		done, err := m.startBenchServer(ctx, databaseURL, target, seed)
		if err != nil {
			return err
		}
		defer func() {
			if err := done(); err != nil {
				fmt.Fprintln(m.Stderr, "foyer bench: cleanup:", err)
			}
		}()
	} else {
		if databaseURL != "" {
			return usageError{errors.New("bench: --database-url chooses the store of the in-process server; it cannot be used with --url")}
		}
		if u, err := url.Parse(target.url); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return usageError{fmt.Errorf("bench: --url %q is not an absolute http(s) URL", o.url)}
		}
		target.description = "server at " + target.url
	}
	if slices.Contains(scenarios, "list") && target.apiKey == "" {
		return usageError{errors.New("bench: the list scenario needs --api-key with --url")}
	}

	if o.cpuProfile != "" {
		f, err := os.Create(o.cpuProfile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	b := newBench(target, o)
	defer b.client.CloseIdleConnections()
	if slices.Contains(scenarios, "read") || slices.Contains(scenarios, "write") {
		if err := b.createPool(ctx, o.users); err != nil {
			return err
		}
	}

	fmt.Fprintf(m.Stdout, "foyer bench: %s; concurrency %d, warmup %s, duration %s, runs %d\n\n",
		target.description, o.concurrency, o.warmup, o.duration, o.runs)
	loads := slices.DeleteFunc(slices.Clone(scenarios), func(s string) bool { return s == "admin" })
	if len(loads) > 0 {
		fmt.Fprintf(m.Stdout, benchRowFormat, "scenario", "run", "requests/s", "p50", "p90", "p99", "errors")
	}
	var failed int64
	var firstErrors []string
	for _, name := range loads {
		var results []benchResult
		for run := 1; run <= o.runs; run++ {
			r, err := b.run(ctx, name)
			if err != nil {
				return err
			}
			results = append(results, r)
			failed += r.errors
			if len(firstErrors) < 5 {
				firstErrors = append(firstErrors, r.samples...)
			}
			label := strconv.Itoa(run)
			if o.runs == 1 {
				label = "-"
			}
			r.print(m.Stdout, name, label)
		}
		if o.runs > 1 {
			medianResult(results).print(m.Stdout, name, "median")
		}
	}
	if adminGroup {
		n, samples, err := b.runAdmin(ctx, m.Stdout, target.seed)
		if err != nil {
			return err
		}
		failed += n
		firstErrors = append(firstErrors, samples...)
		fmt.Fprintf(m.Stdout, "\nquery plans (%s):\n", target.kind)
		plans, err := target.explain(ctx, m.Stdout)
		if err != nil {
			return fmt.Errorf("bench: explain: %w", err)
		}
		list := func(names []string) string {
			if len(names) == 0 {
				return "none"
			}
			return strings.Join(names, ", ")
		}
		fmt.Fprintf(m.Stdout, "\nfull scans: %s\nsorts of every match before the LIMIT: %s\n", list(plans.full), list(plans.sorted))
	}
	if target.storage != nil {
		if line, err := target.storage(ctx); err != nil {
			fmt.Fprintf(m.Stderr, "foyer bench: measure storage: %v\n", err)
		} else {
			fmt.Fprintf(m.Stdout, "\n%s\n", line)
		}
	}
	if failed > 0 {
		for _, e := range firstErrors[:min(len(firstErrors), 5)] {
			fmt.Fprintln(m.Stderr, "foyer bench: error:", e)
		}
		return fmt.Errorf("bench: %d requests failed", failed)
	}
	return nil
}

// validate checks the options and returns the scenarios to run, in order.
func (o benchOptions) validate() ([]string, error) {
	var out []string
	for _, s := range strings.Split(o.scenarios, ",") {
		s = strings.TrimSpace(s)
		if s == "" {
			continue
		}
		if !slices.Contains(benchScenarios, s) {
			return nil, fmt.Errorf("bench: unknown scenario %q (want %s)", s, strings.Join(benchScenarios, ", "))
		}
		if !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	slices.SortStableFunc(out, func(a, b string) int {
		return slices.Index(benchScenarios, a) - slices.Index(benchScenarios, b)
	})
	switch {
	case len(out) == 0:
		return nil, errors.New("bench: --scenarios names no scenario")
	case o.concurrency < 1:
		return nil, errors.New("bench: --concurrency must be at least 1")
	case o.duration <= 0:
		return nil, errors.New("bench: --duration must be positive")
	case o.warmup < 0:
		return nil, errors.New("bench: --warmup must not be negative")
	case o.runs < 1:
		return nil, errors.New("bench: --runs must be at least 1")
	case o.users < 1:
		return nil, errors.New("bench: --users must be at least 1")
	case o.adminUsers < 1:
		return nil, errors.New("bench: --admin-users must be at least 1")
	case o.adminRequests < 1:
		return nil, errors.New("bench: --admin-requests must be at least 1")
	}
	return out, nil
}

// benchTarget is the server being measured.
type benchTarget struct {
	url         string
	apiKey      string
	description string
	// storage, when set, reports the bytes the users table takes per user.
	storage func(ctx context.Context) (string, error)

	// kind is the store of the in-process server, "sqlite" or "postgres".
	kind string
	// seed is the history seeded for the admin scenarios, with the
	// console account they sign in with.
	seed seedResult
	// explain prints the plans of the admin scenarios' statements and
	// what each reads.
	explain func(ctx context.Context, w io.Writer) (planReport, error)
}

// startBenchServer starts an in-process server on a fresh temporary data
// directory, or a fresh PostgreSQL schema, and fills target. With seed > 0
// it first writes a history of that many users through the store, and
// gives the server an admin console account. The returned function stops
// the server and removes what it created.
func (m *Main) startBenchServer(ctx context.Context, databaseURL string, target *benchTarget, seed int) (done func() error, err error) {
	dir, err := os.MkdirTemp("", "foyer-bench-")
	if err != nil {
		return nil, err
	}
	var cleanups []func() error
	cleanups = append(cleanups, func() error { return os.RemoveAll(dir) })
	cleanup := func() error {
		var errs []error
		for _, f := range slices.Backward(cleanups) {
			errs = append(errs, f())
		}
		return errors.Join(errs...)
	}
	defer func() {
		if err != nil {
			cleanup()
		}
	}()

	c := DefaultConfig()
	c.DataDir = dir
	c.Listen = "127.0.0.1:0"
	c.AnonymousRateLimit = 0
	c.LogLevel = "error"
	c.resolve(false)
	if databaseURL != "" {
		schema := "foyer_bench_" + randomHex(6)
		dsn, drop, err := createSchema(ctx, databaseURL, schema)
		if err != nil {
			return nil, err
		}
		cleanups = append(cleanups, drop)
		c.DatabaseURL = dsn
	}
	if err := c.Validate(); err != nil {
		return nil, err
	}
	if seed > 0 {
		if target.seed, err = seedUsers(ctx, c, seed, m.Stderr); err != nil {
			return nil, fmt.Errorf("bench: seed users: %w", err)
		}
	}

	// Only errors: the server's notices would interleave with the report.
	logger := slog.New(slog.NewJSONHandler(m.Stderr, &slog.HandlerOptions{Level: slog.LevelError}))
	a, err := m.openApp(ctx, c, logger)
	if err != nil {
		return nil, err
	}
	secret, k := foyerhttp.NewAPIKey()
	k.Name = "bench"
	if err := a.store.APIKeys.CreateAPIKey(ctx, k); err != nil {
		a.abort()
		return nil, fmt.Errorf("create bench API key: %w", err)
	}
	a.start()
	cleanups = append(cleanups, func() error { return a.shutdown(context.WithoutCancel(ctx)) })

	target.url = a.url
	target.apiKey = secret
	target.kind = a.store.kind
	switch a.store.kind {
	case "sqlite":
		target.explain = func(ctx context.Context, w io.Writer) (planReport, error) {
			return explainSQLite(ctx, w, c.databasePath(), sqlitePlanQueries(target.seed))
		}
		target.description = "in-process server on SQLite (" + c.databasePath() + ")"
		path := c.databasePath()
		target.storage = func(ctx context.Context) (string, error) {
			return storageReport(ctx, a.store, func(ctx context.Context) (int64, error) { return sqliteUsersBytes(ctx, path) })
		}
	case "postgres":
		target.description = "in-process server on PostgreSQL (" + redactURL(c.DatabaseURL) + ")"
		dsn := c.DatabaseURL
		target.explain = func(ctx context.Context, w io.Writer) (planReport, error) {
			return explainPostgres(ctx, w, dsn, postgresPlanQueries(target.seed))
		}
		target.storage = func(ctx context.Context) (string, error) {
			return storageReport(ctx, a.store, func(ctx context.Context) (int64, error) { return postgresUsersBytes(ctx, dsn) })
		}
	}
	return cleanup, nil
}

// storageReport formats the bytes per user of the users table and its
// indexes.
func storageReport(ctx context.Context, s *store, size func(context.Context) (int64, error)) (string, error) {
	anon, reg, err := s.db.UserCounts(ctx)
	if err != nil {
		return "", err
	}
	if anon+reg == 0 {
		return "", errors.New("no users")
	}
	bytes, err := size(ctx)
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("storage: %d bytes per user (users table and its indexes: %d bytes for %d users, %d anonymous; the pool users carry a few bytes of data)",
		bytes/(anon+reg), bytes, anon+reg, anon), nil
}

// sqliteUsersBytes sums the pages of the users table and its indexes, as
// SQLite's dbstat table reports them, through a read-only connection.
func sqliteUsersBytes(ctx context.Context, path string) (int64, error) {
	db, err := sql.Open("sqlite", "file:"+path+"?mode=ro")
	if err != nil {
		return 0, err
	}
	defer db.Close()
	var n sql.NullInt64
	err = db.QueryRowContext(ctx, `SELECT SUM(pgsize) FROM dbstat WHERE name IN (SELECT name FROM sqlite_schema WHERE tbl_name = 'users')`).Scan(&n)
	if err != nil {
		return 0, err
	}
	return n.Int64, nil
}

// postgresUsersBytes is pg_total_relation_size of the users table: heap,
// TOAST and indexes.
func postgresUsersBytes(ctx context.Context, dsn string) (int64, error) {
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return 0, err
	}
	defer conn.Close(ctx)
	var n int64
	err = conn.QueryRow(ctx, `SELECT pg_total_relation_size('users')`).Scan(&n)
	return n, err
}

// createSchema creates schema in the database of dsn and returns a DSN
// whose search_path is that schema, and a function that drops it.
func createSchema(ctx context.Context, dsn, schema string) (string, func() error, error) {
	u, err := url.Parse(dsn)
	if err != nil {
		return "", nil, fmt.Errorf("--database-url: %w", err)
	}
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return "", nil, fmt.Errorf("connect to PostgreSQL: %w", err)
	}
	defer conn.Close(ctx)
	ident := pgx.Identifier{schema}.Sanitize()
	if _, err := conn.Exec(ctx, "CREATE SCHEMA "+ident); err != nil {
		return "", nil, fmt.Errorf("create schema %s: %w", schema, err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	drop := func() error {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
		defer cancel()
		conn, err := pgx.Connect(ctx, dsn)
		if err != nil {
			return err
		}
		defer conn.Close(ctx)
		_, err = conn.Exec(ctx, "DROP SCHEMA "+ident+" CASCADE")
		return err
	}
	return u.String(), drop, nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// bench drives one target.
type bench struct {
	target *benchTarget
	opts   benchOptions
	client *http.Client
	// pool holds the Cookie headers of pre-created users.
	pool []string
	next atomic.Uint64
	seq  atomic.Uint64
}

func newBench(t *benchTarget, o benchOptions) *bench {
	tr := &http.Transport{
		Proxy:               nil,
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:        2 * o.concurrency,
		MaxIdleConnsPerHost: 2 * o.concurrency,
		IdleConnTimeout:     time.Minute,
		DisableCompression:  true,
		ForceAttemptHTTP2:   false,
	}
	return &bench{
		target: t,
		opts:   o,
		client: &http.Client{
			Transport: tr,
			Timeout:   30 * time.Second,
			CheckRedirect: func(*http.Request, []*http.Request) error {
				return http.ErrUseLastResponse
			},
		},
	}
}

// createPool creates n anonymous users and keeps their cookies.
func (b *bench) createPool(ctx context.Context, n int) error {
	b.pool = make([]string, n)
	var (
		wg    sync.WaitGroup
		idx   atomic.Int64
		first error
		once  sync.Once
	)
	for range min(b.opts.concurrency, n) {
		wg.Go(func() {
			for {
				i := int(idx.Add(1)) - 1
				if i >= n || ctx.Err() != nil {
					return
				}
				cookie, err := b.signup(ctx)
				if err != nil {
					once.Do(func() { first = err })
					return
				}
				b.pool[i] = cookie
			}
		})
	}
	wg.Wait()
	if first != nil {
		return fmt.Errorf("bench: create users: %w", first)
	}
	return ctx.Err()
}

// signup creates an anonymous user and returns its Cookie header.
func (b *bench) signup(ctx context.Context) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, b.target.url+"/v1/anonymous", nil)
	if err != nil {
		return "", err
	}
	resp, err := b.client.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode == http.StatusTooManyRequests {
		return "", errors.New("POST /v1/anonymous: 429: the server rate-limits sign-ups; start it with --anonymous-rate-limit off")
	}
	if resp.StatusCode/100 != 2 {
		return "", fmt.Errorf("POST /v1/anonymous: %d: %s", resp.StatusCode, bytes.TrimSpace(body))
	}
	var out struct {
		Token string `json:"token"`
	}
	if err := json.Unmarshal(body, &out); err != nil {
		return "", fmt.Errorf("POST /v1/anonymous: %w", err)
	}
	for _, ck := range resp.Cookies() {
		if ck.Value == out.Token {
			return ck.Name + "=" + ck.Value, nil
		}
	}
	return "", errors.New("POST /v1/anonymous set no cookie holding the token")
}

// request builds one request of the scenario.
func (b *bench) request(ctx context.Context, scenario string) (*http.Request, error) {
	var (
		req *http.Request
		err error
	)
	switch scenario {
	case "signup":
		req, err = http.NewRequestWithContext(ctx, http.MethodPost, b.target.url+"/v1/anonymous", nil)
	case "read":
		req, err = http.NewRequestWithContext(ctx, http.MethodGet, b.target.url+"/v1/me", nil)
		if err == nil {
			req.Header.Set("Cookie", b.pool[b.next.Add(1)%uint64(len(b.pool))])
		}
	case "write":
		body := `{"data":{"bench":` + strconv.FormatUint(b.seq.Add(1), 10) + `}}`
		req, err = http.NewRequestWithContext(ctx, http.MethodPatch, b.target.url+"/v1/me", strings.NewReader(body))
		if err == nil {
			req.Header.Set("Content-Type", "application/merge-patch+json")
			req.Header.Set("Cookie", b.pool[b.next.Add(1)%uint64(len(b.pool))])
		}
	case "list":
		req, err = http.NewRequestWithContext(ctx, http.MethodGet, b.target.url+"/v1/users?anonymous=true&limit=20", nil)
		if err == nil {
			req.Header.Set("Authorization", "Bearer "+b.target.apiKey)
		}
	default:
		err = fmt.Errorf("unknown scenario %q", scenario)
	}
	return req, err
}

// do sends one request and reads the whole answer, so the connection is
// reused. It returns a description of the failure, or "" for a 2xx.
func (b *bench) do(ctx context.Context, scenario string) string {
	req, err := b.request(ctx, scenario)
	if err != nil {
		return err.Error()
	}
	resp, err := b.client.Do(req)
	if err != nil {
		return err.Error()
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return fmt.Sprintf("%s %s: %d %s", req.Method, req.URL.Path, resp.StatusCode, bytes.TrimSpace(body))
	}
	if _, err := io.Copy(io.Discard, resp.Body); err != nil {
		return err.Error()
	}
	return ""
}

// benchResult is one measured run of a scenario.
type benchResult struct {
	requests      int64
	errors        int64
	perSecond     float64
	p50, p90, p99 time.Duration
	// samples are the first few failures, for the report.
	samples []string
}

// benchRowFormat lays out the result table; each row is printed as soon
// as its run ends.
const benchRowFormat = "%-8s  %6s  %10s  %9s  %9s  %9s  %6s\n"

func (r benchResult) print(w io.Writer, scenario, run string) {
	fmt.Fprintf(w, benchRowFormat, scenario, run, strconv.FormatFloat(r.perSecond, 'f', 0, 64),
		fmtLatency(r.p50), fmtLatency(r.p90), fmtLatency(r.p99), strconv.FormatInt(r.errors, 10))
}

func fmtLatency(d time.Duration) string {
	return strconv.FormatFloat(float64(d)/float64(time.Millisecond), 'f', 2, 64) + "ms"
}

// run warms up, then measures one run of the scenario with the
// configured number of concurrent clients.
func (b *bench) run(ctx context.Context, scenario string) (benchResult, error) {
	var res benchResult
	var mu sync.Mutex
	record := func(e string) {
		mu.Lock()
		defer mu.Unlock()
		res.errors++
		if len(res.samples) < 5 {
			res.samples = append(res.samples, e)
		}
	}
	if b.opts.warmup > 0 {
		b.phase(ctx, scenario, b.opts.warmup, record)
	}
	start := time.Now()
	lat := b.phase(ctx, scenario, b.opts.duration, record)
	elapsed := time.Since(start)
	if err := ctx.Err(); err != nil {
		return res, err
	}
	all := slices.Concat(lat...)
	slices.Sort(all)
	res.requests = int64(len(all))
	res.perSecond = float64(len(all)) / elapsed.Seconds()
	res.p50, res.p90, res.p99 = percentile(all, 0.50), percentile(all, 0.90), percentile(all, 0.99)
	return res, nil
}

// phase runs the scenario for d and returns each client's latencies of
// successful requests.
func (b *bench) phase(ctx context.Context, scenario string, d time.Duration, fail func(string)) [][]time.Duration {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	deadline := time.Now().Add(d)
	lat := make([][]time.Duration, b.opts.concurrency)
	var wg sync.WaitGroup
	for i := range lat {
		wg.Go(func() {
			own := make([]time.Duration, 0, 4096)
			for ctx.Err() == nil {
				t0 := time.Now()
				if !t0.Before(deadline) {
					break
				}
				if e := b.do(ctx, scenario); e != "" {
					if ctx.Err() == nil {
						fail(e)
					}
					continue
				}
				own = append(own, time.Since(t0))
			}
			lat[i] = own
		})
	}
	wg.Wait()
	return lat
}

// percentile returns the p-quantile of sorted latencies (nearest rank).
func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(p*float64(len(sorted))+0.5) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}

// medianResult is the median of each figure over runs, and the sum of
// their errors.
func medianResult(rs []benchResult) benchResult {
	med := func(f func(benchResult) float64) float64 {
		v := make([]float64, len(rs))
		for i, r := range rs {
			v[i] = f(r)
		}
		slices.Sort(v)
		if len(v)%2 == 1 {
			return v[len(v)/2]
		}
		return (v[len(v)/2-1] + v[len(v)/2]) / 2
	}
	out := benchResult{
		perSecond: med(func(r benchResult) float64 { return r.perSecond }),
		p50:       time.Duration(med(func(r benchResult) float64 { return float64(r.p50) })),
		p90:       time.Duration(med(func(r benchResult) float64 { return float64(r.p90) })),
		p99:       time.Duration(med(func(r benchResult) float64 { return float64(r.p99) })),
	}
	for _, r := range rs {
		out.errors += r.errors
		out.requests += r.requests
	}
	return out
}
