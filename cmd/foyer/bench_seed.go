package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net/url"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/foyerhq/foyer"
	"github.com/foyerhq/foyer/admin"
	"github.com/foyerhq/foyer/argon2"
)

// The history that foyer bench seeds for the admin scenarios: users
// created evenly over seedSpan up to an hour ago; seedReturning of every
// hundred seen again at least a day after they were created, within
// seedReturnWithin; one in seedConvertEvery converted by the admin
// conversion, a log-uniform time from seedConvertMin to seedConvertMax
// after they were created (unless that is still to come).
const (
	seedSpan         = 365 * 24 * time.Hour
	seedReturning    = 40
	seedReturnWithin = 180 * 24 * time.Hour
	seedConvertEvery = 20
	seedConvertMin   = 5 * time.Minute
	seedConvertMax   = 60 * 24 * time.Hour
	// seedWorkers is how many operations the seeding keeps in flight: on
	// SQLite they fill the single writer's group commits, on PostgreSQL
	// the connection pool.
	seedWorkers = 32
	// seedDispatchBatch is how many events one FanOutEvents call marks
	// dispatched.
	seedDispatchBatch = 5000
)

// seedClock is the store's clock while seeding. Each read hands out the
// next creation time, seedSpan/n after the previous one, so that n
// CreateUser calls (one read each) spread the users evenly over the span
// in the order they are created, as their UUIDv7 ids are. Once set, a
// fixed time is handed out instead, to date one conversion.
type seedClock struct {
	start time.Time
	step  time.Duration
	end   time.Time
	reads atomic.Int64
	fixed atomic.Pointer[time.Time]
}

func (c *seedClock) Now() time.Time {
	if t := c.fixed.Load(); t != nil {
		return *t
	}
	t := c.start.Add(time.Duration(c.reads.Add(1)-1) * c.step)
	if t.After(c.end) {
		return c.end
	}
	return t
}

// seedResult describes a seeded history.
type seedResult struct {
	users, returning, converted int
	// emails are addresses of converted users, for the email filter.
	emails []string
	// end is the time of the last creation: the seeded history's now.
	end     time.Time
	elapsed time.Duration
	// adminEmail and adminPassword are the console account that made
	// the conversions.
	adminEmail, adminPassword string
}

// seedUsers writes a history of n users into the database c selects,
// through the store's own services, each operation with its events and
// report counters as the server would write them: CreateUser for every user,
// TouchUser for those who came back, ConvertUser (the admin conversion,
// by an admin it creates) for those who converted. Then it marks every event dispatched, as the
// webhook dispatcher would with no endpoint, so that the server measured
// afterwards has no backlog to work through. progress receives a line
// per step.
func seedUsers(ctx context.Context, c Config, n int, progress io.Writer) (seedResult, error) {
	started := time.Now()
	end := started.Add(-time.Hour).Truncate(time.Millisecond)
	clock := &seedClock{start: end.Add(-seedSpan), step: seedSpan / time.Duration(max(n, 1)), end: end}
	// Until the users are created, the clock stands still, so that the
	// migrations do not use up creation times.
	clock.fixed.Store(&end)
	dsn := c.DatabaseURL
	if dsn != "" {
		// A bulk load: more connections, and commits that do not wait
		// for the WAL to reach the disk, as this history is thrown away
		// with its schema if the machine crashes.
		u, err := url.Parse(c.DatabaseURL)
		if err != nil {
			return seedResult{}, err
		}
		q := u.Query()
		q.Set("pool_max_conns", strconv.Itoa(seedWorkers))
		q.Set("synchronous_commit", "off")
		u.RawQuery = q.Encode()
		c.DatabaseURL = u.String()
	}
	s, err := openStoreWithClock(ctx, c, clock.Now)
	if err != nil {
		return seedResult{}, err
	}
	defer s.Close()
	if err := s.db.Migrate(ctx); err != nil {
		return seedResult{}, fmt.Errorf("migrate %s: %w", s.location, err)
	}
	res := seedResult{end: end}
	// fraction returns a number in [0, 1) that depends only on i and salt
	// (splitmix64), so that a seed is the same from run to run.
	fraction := func(i int64, salt uint64) float64 {
		x := uint64(i)*0x9e3779b97f4a7c15 + salt*0xbf58476d1ce4e5b9
		x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
		x = (x ^ (x >> 27)) * 0x94d049bb133111eb
		x ^= x >> 31
		return float64(x>>11) / (1 << 53)
	}

	// Creation first, alone: every read of the clock is a creation.
	clock.fixed.Store(nil)
	type later struct {
		id    string
		at    time.Time
		email string
	}
	var (
		mu          sync.Mutex
		returns     []later
		conversions []later
		next, done  atomic.Int64
	)
	err = runWorkers(ctx, seedWorkers, func(ctx context.Context) error {
		for {
			i := next.Add(1) - 1
			if i >= int64(n) {
				return nil
			}
			u := &foyer.User{Anonymous: true}
			if err := s.Users.CreateUser(ctx, u); err != nil {
				return fmt.Errorf("create user: %w", err)
			}
			var ret, conv *later
			if i%100 < seedReturning {
				if room := end.Sub(u.CreatedAt) - 24*time.Hour; room > time.Hour {
					seen := u.CreatedAt.Add(24*time.Hour + time.Duration(fraction(i, 1)*float64(min(room, seedReturnWithin))))
					ret = &later{id: u.ID, at: seen}
				}
			}
			if i%seedConvertEvery == seedConvertEvery/2 {
				d := float64(seedConvertMin) * math.Pow(float64(seedConvertMax)/float64(seedConvertMin), fraction(i, 2))
				if at := u.CreatedAt.Add(time.Duration(d)); at.Before(end) {
					conv = &later{id: u.ID, at: at, email: fmt.Sprintf("seed-%07d@example.com", i)}
				}
			}
			if ret != nil || conv != nil {
				mu.Lock()
				if ret != nil {
					returns = append(returns, *ret)
				}
				if conv != nil {
					conversions = append(conversions, *conv)
				}
				mu.Unlock()
			}
			if k := done.Add(1); k%100_000 == 0 {
				fmt.Fprintf(progress, "seeding: %d of %d users created (%s)\n", k, n, time.Since(started).Round(time.Second))
			}
		}
	})
	if err != nil {
		return res, err
	}
	res.users = n
	if reads := clock.reads.Load(); reads != int64(n) {
		fmt.Fprintf(progress, "seeding: the store read the clock %d times for %d users, so creation times are not evenly spread\n", reads, n)
	}
	clock.fixed.Store(&end)

	// Returns, at the times given to TouchUser.
	next.Store(0)
	err = runWorkers(ctx, seedWorkers, func(ctx context.Context) error {
		for {
			k := next.Add(1) - 1
			if k >= int64(len(returns)) {
				return nil
			}
			r := returns[k]
			if _, err := s.Users.TouchUser(ctx, r.id, r.at, time.Hour); err != nil {
				return fmt.Errorf("touch user: %w", err)
			}
		}
	})
	if err != nil {
		return res, err
	}
	res.returning = len(returns)
	fmt.Fprintf(progress, "seeding: %d returns recorded (%s)\n", len(returns), time.Since(started).Round(time.Second))

	// Conversions, by an admin, each at its own time: the clock is fixed
	// for each call, so they run one at a time. The admin is also the
	// account the console scenarios sign in with.
	res.adminEmail, res.adminPassword = "bench@example.com", randomHex(16)
	a, err := admin.CreateAdmin(ctx, s.Admins, res.adminEmail, res.adminPassword, argon2.Hash)
	if err != nil {
		return res, fmt.Errorf("create bench admin: %w", err)
	}
	for k, cv := range conversions {
		at := cv.at
		clock.fixed.Store(&at)
		if _, err := s.Conversions.ConvertUser(ctx, cv.id, cv.email, "admin:"+a.ID); err != nil {
			return res, fmt.Errorf("convert user: %w", err)
		}
		if len(res.emails) < 100 {
			res.emails = append(res.emails, cv.email)
		}
		if (k+1)%10_000 == 0 {
			fmt.Fprintf(progress, "seeding: %d of %d conversions (%s)\n", k+1, len(conversions), time.Since(started).Round(time.Second))
		}
	}
	res.converted = len(conversions)
	clock.fixed.Store(&end)

	// No endpoint exists, so dispatching only marks the events.
	for {
		k, err := s.Deliveries.FanOutEvents(ctx, seedDispatchBatch)
		if err != nil {
			return res, fmt.Errorf("dispatch events: %w", err)
		}
		if k < seedDispatchBatch {
			break
		}
	}
	if dsn != "" {
		// What autovacuum does a minute after a bulk load, done now so
		// that the plans measured are those of a settled database.
		if err := analyzePostgres(ctx, dsn); err != nil {
			return res, err
		}
	}
	res.elapsed = time.Since(started)
	fmt.Fprintf(progress, "seeding: %d users (%d came back, %d converted) in %s, %.0f users/s\n",
		res.users, res.returning, res.converted, res.elapsed.Round(time.Second), float64(n)/res.elapsed.Seconds())
	return res, nil
}

// runWorkers runs fn in n goroutines and returns the first error; the
// others' context is cancelled once one fails.
func runWorkers(ctx context.Context, n int, fn func(ctx context.Context) error) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			if err := fn(ctx); err != nil {
				cancel(err)
			}
		})
	}
	wg.Wait()
	if err := context.Cause(ctx); err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	return ctx.Err()
}

// analyzePostgres refreshes the planner statistics of the database of dsn
// (its search_path schema).
func analyzePostgres(ctx context.Context, dsn string) error {
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	if _, err := conn.Exec(ctx, "ANALYZE"); err != nil {
		return fmt.Errorf("analyze: %w", err)
	}
	return nil
}
