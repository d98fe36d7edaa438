// Package reaper deletes stale anonymous users in bounded batches
// (DESIGN §2.8–2.9). The staleness rule itself lives in the store's
// deleting statement, so a user touched or converted while a run is under
// way is never deleted; this package only decides the cut-off, drains in
// batches and runs on a schedule.
//
// It depends only on the foyer service interfaces.
package reaper

import (
	"cmp"
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/foyerhq/foyer"
)

// store is the one method of foyer.ReapService the reaper needs.
type store interface {
	DeleteExpiredAnonymousUsers(ctx context.Context, cutoff time.Time, limit int, dryRun bool) ([]string, error)
}

// Reaper deletes anonymous users inactive for longer than Retention.
type Reaper struct {
	// Retention is how long an anonymous user may stay inactive. The
	// configuration refuses a Retention shorter than the anonymous token
	// lifetime, so no account whose token could still verify is deleted.
	Retention time.Duration
	// BatchSize bounds each deleting transaction; default 1000.
	BatchSize int
	// Interval is the time between periodic runs; default 1 hour.
	Interval time.Duration
	// Now is the clock; default time.Now.
	Now func() time.Time
	// OnRun, when set, is called after each run with what it did, for
	// metrics.
	OnRun func(r Result)

	store  store
	logger *slog.Logger
}

// New returns a Reaper for store. Retention must be set before running.
func New(store foyer.ReapService, logger *slog.Logger) *Reaper {
	return &Reaper{store: store, logger: logger}
}

// Result is what one run did or, for a dry run, would do.
type Result struct {
	DryRun   bool          `json:"dry_run"`
	Cutoff   time.Time     `json:"cutoff"`
	Deleted  int           `json:"deleted"`
	Batches  int           `json:"batches"`
	Duration time.Duration `json:"-"`
}

// RunOnce deletes stale anonymous users in batches until a batch comes
// back short and reports how many it deleted. With dryRun it deletes
// nothing and reports how many users are stale now, counting at most
// MaxDryRun of them.
func (r *Reaper) RunOnce(ctx context.Context, dryRun bool) (Result, error) {
	if r.Retention <= 0 {
		return Result{}, foyer.Errorf(foyer.EInvalid, "The reaper retention must be positive.")
	}
	now := r.Now
	if now == nil {
		now = time.Now
	}
	start := now()
	batch := cmp.Or(r.BatchSize, 1000)
	res := Result{DryRun: dryRun, Cutoff: start.Add(-r.Retention).UTC()}
	if dryRun {
		// A dry run cannot page by deleting, so it asks for every stale
		// id at once, up to MaxDryRun.
		ids, err := r.store.DeleteExpiredAnonymousUsers(ctx, res.Cutoff, MaxDryRun, true)
		res.Deleted, res.Batches = len(ids), 1
		res.Duration = now().Sub(start)
		return res, err
	}
	for {
		ids, err := r.store.DeleteExpiredAnonymousUsers(ctx, res.Cutoff, batch, false)
		res.Deleted += len(ids)
		res.Batches++
		if err != nil || len(ids) < batch {
			res.Duration = now().Sub(start)
			if r.OnRun != nil && err == nil {
				r.OnRun(res)
			}
			return res, err
		}
		if err := ctx.Err(); err != nil {
			res.Duration = now().Sub(start)
			return res, err
		}
	}
}

// MaxDryRun caps how many stale users a dry run counts, so that it reads a
// bounded number of ids into memory.
const MaxDryRun = 1_000_000

// Run reaps every Interval until ctx is done. Errors are logged and the
// loop goes on; cancellation is not an error.
func (r *Reaper) Run(ctx context.Context) error {
	t := time.NewTicker(cmp.Or(r.Interval, time.Hour))
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		res, err := r.RunOnce(ctx, false)
		if err != nil && !errors.Is(err, context.Canceled) {
			r.logger.ErrorContext(ctx, "reap anonymous users", slog.Any("err", err))
			continue
		}
		if res.Deleted > 0 {
			r.logger.InfoContext(ctx, "reaped anonymous users",
				slog.Int("deleted", res.Deleted), slog.Int("batches", res.Batches),
				slog.Duration("duration", res.Duration), slog.Time("cutoff", res.Cutoff))
		}
	}
}
