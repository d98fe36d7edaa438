package http_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/foyerhq/foyer"
	foyerhttp "github.com/foyerhq/foyer/http"
)

// TestReaperWaitsForTheToken proves DESIGN §2.9 end to end: a visitor
// whose token slid forward on their last visit is not reaped while that
// token is still valid, and is reaped once it has been unusable for the
// grace period.
func TestReaperWaitsForTheToken(t *testing.T) {
	ts := setup(t)
	// The shortest retention the configuration accepts: the token
	// lifetime plus the activity granularity. No grace hides a mistake.
	ts.reaper.Retention = foyerhttp.DefaultAnonymousTTL + foyerhttp.DefaultActivityGranularity
	s := ts.signup(t)

	// A visit after RenewAfter slides the token and records activity.
	ts.clock.Advance(foyerhttp.DefaultRenewAfter + time.Minute)
	w := ts.do("GET", "/v1/me", "", bearer(s.Token)...)
	check(t, w, http.StatusOK, "")
	renewed := w.Header().Get("Foyer-Token")
	if renewed == "" {
		t.Fatal("no renewed token after RenewAfter")
	}

	// One minute before the renewed token expires, a reaper run keeps
	// the account, and the token still works.
	ts.clock.Advance(foyerhttp.DefaultAnonymousTTL - 2*time.Minute)
	res, err := ts.reaper.RunOnce(t.Context(), false)
	if err != nil || res.Deleted != 0 {
		t.Fatalf("reaper deleted %d (err %v) while the token was valid", res.Deleted, err)
	}
	check(t, ts.do("GET", "/v1/me", "", bearer(renewed)...), http.StatusOK, "")

	// That visit slid the token again; now nobody comes back. Past the
	// token's lifetime plus the grace period, the account goes.
	ts.clock.Advance(ts.reaper.Retention + time.Hour)
	res, err = ts.reaper.RunOnce(t.Context(), false)
	if err != nil || res.Deleted != 1 {
		t.Fatalf("reaper deleted %d (err %v), want 1", res.Deleted, err)
	}
	if _, err := ts.users.FindUserByID(t.Context(), s.User.ID); foyer.ErrorCode(err) != foyer.ENotFound {
		t.Fatalf("user still there: %v", err)
	}
}
