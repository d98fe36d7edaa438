package main

import (
	"context"
	"fmt"
	"time"

	"github.com/foyerhq/foyer/reaper"
)

const reapSynopsis = `foyer reap [--dry-run] [flags]

Runs the reaper once, now: deletes the anonymous users inactive for longer
than the retention (--reaper-retention, by default --anonymous-ttl plus
--reaper-grace), each with its user.deleted event (reason "reaped"), and
prints how many it deleted and the cut-off. Accounts with an email, a
password or a conversion link still valid are never deleted. With
--dry-run it deletes nothing and prints how many it would delete.
foyer serve also runs the reaper every --reaper-interval.`

func (m *Main) runReap(ctx context.Context, args []string) error {
	fs := newFlagSet("reap", reapSynopsis)
	var dryRun bool
	fs.BoolVar(&dryRun, "dry-run", false, "count the users a run would delete, and delete nothing")
	fs.ownFlags("reap", "dry-run")
	c, err := m.loadConfig(fs, groupStore|groupAnonymousTTL|groupReaper, args)
	if err != nil {
		return err
	}
	s, err := openMigratedStore(ctx, c)
	if err != nil {
		return err
	}
	defer s.Close()

	r := reaper.New(s.Reaps, m.newLogger(c.LogLevel))
	r.Retention = c.ReaperRetention
	res, err := r.RunOnce(ctx, dryRun)
	if err != nil {
		if res.Deleted > 0 {
			fmt.Fprintf(m.Stdout, "Deleted %d anonymous users before stopping.\n", res.Deleted)
		}
		return fmt.Errorf("reap: %w", err)
	}
	cutoff := res.Cutoff.UTC().Format(time.RFC3339)
	if dryRun {
		fmt.Fprintf(m.Stdout, "Would delete %d anonymous users inactive since before %s (retention %s). Nothing was deleted.\n", res.Deleted, cutoff, c.ReaperRetention)
		return nil
	}
	fmt.Fprintf(m.Stdout, "Deleted %d anonymous users inactive since before %s (retention %s).\n", res.Deleted, cutoff, c.ReaperRetention)
	return nil
}
