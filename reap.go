package foyer

import (
	"context"
	"time"
)

// ReapService deletes stale anonymous users (DESIGN §2.8).
type ReapService interface {
	// DeleteExpiredAnonymousUsers deletes up to limit users that are
	// anonymous, last seen (or created) before cutoff, have no email, no
	// password and no conversion link still valid, re-checking all of that
	// in the deleting statement, and records user.deleted {reason:
	// "reaped"} for each in the same transaction. It returns the ids it
	// deleted. With dryRun it deletes nothing and returns the ids it would.
	DeleteExpiredAnonymousUsers(ctx context.Context, cutoff time.Time, limit int, dryRun bool) ([]string, error)
}
