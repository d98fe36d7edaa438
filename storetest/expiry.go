package storetest

import (
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/foyerhq/foyer"
)

func testExpiry(t *testing.T, open Opener) {
	t.Run("DeleteExpired", func(t *testing.T) { testDeleteExpired(t, open) })
}

// storedIDs returns those of ids that some row of table still holds.
func storedIDs(t *testing.T, s Services, table string, ids ...string) []string {
	t.Helper()
	out := []string{}
	for _, id := range ids {
		if s.Mentions(t, id)[table] != 0 {
			out = append(out, id)
		}
	}
	return out
}

func testDeleteExpired(t *testing.T, open Opener) {
	// Batches of two drain every expired session and request, sessions
	// first, and keep the live ones and those expiring a millisecond
	// later.
	t.Run("OK", func(t *testing.T) {
		s, c := setup(t, open)
		ctx := t.Context()
		app := createApp(t, s, "Notes", foyer.AppPublic)
		ann := createRegistered(t, s, "ann@example.com")
		bob := createRegistered(t, s, "bob@example.com")
		var sessions, requests []string
		for _, u := range []*foyer.User{ann, bob, ann} {
			sessions = append(sessions, createSession(t, s, c, u.ID, time.Minute).ID)
		}
		for range 2 {
			requests = append(requests, createAuthRequest(t, s, c, app, time.Minute).ID)
		}
		coded := createAuthRequest(t, s, c, app, time.Minute)
		code := completeWithCode(t, s, c, coded, ann.ID)
		requests = append(requests, coded.ID)
		liveSession := createSession(t, s, c, ann.ID, time.Minute+time.Millisecond)
		liveRequest := createAuthRequest(t, s, c, app, time.Minute+time.Millisecond)
		c.Advance(time.Minute)

		var got []int
		for {
			n, err := s.Expiry.DeleteExpired(ctx, 2)
			ok(t, err)
			got = append(got, n)
			if n < 2 {
				break
			}
		}
		if want := []int{2, 2, 2, 0}; !slices.Equal(got, want) {
			t.Fatalf("DeleteExpired deleted %v, want %v", got, want)
		}
		if left := storedIDs(t, s, "sessions", sessions...); len(left) != 0 {
			t.Fatalf("expired sessions remain: %v", left)
		}
		if left := storedIDs(t, s, "auth_requests", requests...); len(left) != 0 {
			t.Fatalf("expired requests remain: %v", left)
		}
		_, err := s.AuthRequests.RedeemAuthCode(ctx, code)
		wantCode(t, err, foyer.ENotFound)
		found, err := s.Sessions.FindSessions(ctx, ann.ID)
		ok(t, err)
		if len(found) != 1 || found[0].ID != liveSession.ID {
			t.Fatalf("sessions of %s = %+v, want only %s", ann.ID, found, liveSession.ID)
		}
		if diff := cmp.Diff(liveRequest, findAuthRequest(t, s, liveRequest.ID)); diff != "" {
			t.Fatalf("live request (-want +got):\n%s", diff)
		}
	})
	// A call deletes at most limit rows, whatever mix of sessions and
	// requests has expired, and nothing with a limit of zero or less.
	t.Run("OK/Limit", func(t *testing.T) {
		s, c := setup(t, open)
		ctx := t.Context()
		app := createApp(t, s, "Notes", foyer.AppPublic)
		u := createRegistered(t, s, "ann@example.com")
		var sessions, requests []string
		for range 3 {
			sessions = append(sessions, createSession(t, s, c, u.ID, time.Minute).ID)
			requests = append(requests, createAuthRequest(t, s, c, app, time.Minute).ID)
		}
		c.Advance(time.Hour)
		for _, limit := range []int{0, -1} {
			n, err := s.Expiry.DeleteExpired(ctx, limit)
			ok(t, err)
			if n != 0 {
				t.Fatalf("DeleteExpired(%d) = %d, want 0", limit, n)
			}
		}
		if left := len(storedIDs(t, s, "sessions", sessions...)) + len(storedIDs(t, s, "auth_requests", requests...)); left != 6 {
			t.Fatalf("%d of 6 expired rows left after a limit of zero", left)
		}
		for i, want := range []int{6, 2} {
			n, err := s.Expiry.DeleteExpired(ctx, 4)
			ok(t, err)
			if n != min(want, 4) {
				t.Fatalf("call %d deleted %d, want %d", i, n, min(want, 4))
			}
			left := len(storedIDs(t, s, "sessions", sessions...)) + len(storedIDs(t, s, "auth_requests", requests...))
			if left != want-n {
				t.Fatalf("after call %d, %d expired rows left, want %d", i, left, want-n)
			}
		}
	})
	// An export lists every stored session, expired ones too, until they
	// are deleted.
	t.Run("OK/Export", func(t *testing.T) {
		s, c := setup(t, open)
		ctx := t.Context()
		u := createRegistered(t, s, "ann@example.com")
		expired := createSession(t, s, c, u.ID, time.Minute)
		live := createSession(t, s, c, u.ID, time.Hour)
		c.Advance(time.Minute)
		sessionIDs := func() []string {
			x, err := s.Exports.ExportUser(ctx, u.ID)
			ok(t, err)
			out := []string{}
			for _, sess := range x.Sessions {
				out = append(out, sess.ID)
			}
			return sortedIDs(out)
		}
		if got, want := sessionIDs(), sortedIDs([]string{expired.ID, live.ID}); !slices.Equal(got, want) {
			t.Fatalf("exported sessions before = %v, want %v", got, want)
		}
		n, err := s.Expiry.DeleteExpired(ctx, 100)
		ok(t, err)
		if n != 1 {
			t.Fatalf("DeleteExpired = %d, want 1", n)
		}
		if got := sessionIDs(); !slices.Equal(got, []string{live.ID}) {
			t.Fatalf("exported sessions after = %v, want only %s", got, live.ID)
		}
	})
}
