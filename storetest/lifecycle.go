package storetest

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/foyerhq/foyer"
)

// testLifecycle walks one visitor through DESIGN §1: anonymous with data,
// a mistaken conversion request, the right one, redemption, sign-in,
// activity, and a second browser's anonymous account merged in.
func testLifecycle(t *testing.T, open Opener) {
	s, c := setup(t, open)
	ctx := t.Context()

	u := createAnonymous(t, s, "")
	_, err := s.Users.UpdateUser(ctx, u.ID, foyer.UserUpdate{DataPatch: json.RawMessage(`{"favourites":["a"]}`)})
	ok(t, err)
	c.Advance(time.Hour)
	_, err = s.Users.TouchUser(ctx, u.ID, c.Now(), time.Minute)
	ok(t, err)

	_, typo := requestConversion(t, s, c, u.ID, "ann@exmaple.com", time.Hour)
	c.Advance(time.Minute)
	_, right := requestConversion(t, s, c, u.ID, "ann@example.com", time.Hour)
	_, err = s.Conversions.CompleteConversion(ctx, typo, "pw", nil)
	wantCode(t, err, foyer.ETokenInvalid)

	c.Advance(10 * time.Minute)
	reg, err := s.Conversions.CompleteConversion(ctx, right, "pw", nil)
	ok(t, err)
	if reg.ID != u.ID || reg.Anonymous || reg.Email != "ann@example.com" || reg.Epoch != 1 {
		t.Fatalf("registered = %+v", reg)
	}
	jsonEqual(t, "data after conversion", reg.Data, `{"favourites":["a"]}`)

	// A registered user is never reaped, however long inactive.
	c.Advance(365 * 24 * time.Hour)
	reaped, err := s.Reaps.DeleteExpiredAnonymousUsers(ctx, c.Now(), 100, false)
	ok(t, err)
	if len(reaped) != 0 {
		t.Fatalf("reaped %v", reaped)
	}

	// A second browser's anonymous account is merged in on sign-in.
	other := createAnonymous(t, s, `{"favourites":["b"],"theme":"dark"}`)
	user, pw, err := s.Credentials.FindCredential(ctx, "ann@example.com")
	ok(t, err)
	if pw != "pw" {
		t.Fatalf("password hash = %q", pw)
	}
	sess := createSession(t, s, c, user.ID, 24*time.Hour)
	merged, err := s.Merges.MergeUsers(ctx, other.ID, user.ID, foyer.MergeRegisteredWins)
	ok(t, err)
	jsonEqual(t, "merged data", merged.Data, `{"favourites":["a"],"theme":"dark"}`)
	if got, err := s.Sessions.FindSessionUser(ctx, user.ID, sess.ID); err != nil || got.ID != u.ID {
		t.Fatalf("FindSessionUser = %v, %v", got, err)
	}

	types := eventTypes(userEvents(t, s, u.ID))
	want := []string{
		foyer.EventUserAnonymousCreated, foyer.EventUserUpdated,
		foyer.EventUserConversionRequested, foyer.EventUserConversionRequested,
		foyer.EventUserConverted, foyer.EventUserEmailVerified,
		foyer.EventUserLoginSuccess, foyer.EventUserMerged,
	}
	if diff := cmp.Diff(want, types); diff != "" {
		t.Fatalf("events (-want +got):\n%s", diff)
	}
}
