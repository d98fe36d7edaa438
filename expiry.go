package foyer

import "context"

// ExpiryService deletes the rows whose lifetime has ended: sessions and
// OpenID Connect authorization requests past their ExpiresAt. Every read
// already treats them as absent; deleting them keeps the tables, and the
// indexes that every sign-in and refresh probes, from growing with each
// sign-in that was never refreshed or completed.
type ExpiryService interface {
	// DeleteExpired deletes up to limit rows, in all, of expired sessions
	// and expired authorization requests, as of the store's clock, soonest
	// expired first, and reports how many it deleted. A caller drains them
	// by calling again until a call deletes fewer than limit. A limit of
	// zero or less deletes nothing.
	DeleteExpired(ctx context.Context, limit int) (int, error)
}
