package main

import (
	"context"

	"github.com/foyerhq/foyer"
)

// expiryBatch is how many expired sessions and authorization requests
// one deleting transaction removes.
const expiryBatch = 1000

// deleteExpired deletes the expired sessions and authorization requests,
// batch rows at a time until a batch comes back short, and reports how
// many it deleted. Each sign-in through an app that is never refreshed
// leaves a session, and each abandoned sign-in a request, so this runs
// with the event-log retention (see prune).
func deleteExpired(ctx context.Context, store foyer.ExpiryService, batch int) (int, error) {
	total := 0
	for {
		n, err := store.DeleteExpired(ctx, batch)
		total += n
		if err != nil || n < batch {
			return total, err
		}
	}
}
