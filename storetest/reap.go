package storetest

import (
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/foyerhq/foyer"
)

func testReaps(t *testing.T, open Opener) {
	// population creates one user of each kind at t0 (fresh at t0+2h)
	// and leaves the clock at t0+3h; the cutoff is t0+1h.
	type population struct {
		stale, expiredLink                              *foyer.User
		touched, converted, registered, liveLink, fresh *foyer.User
	}
	cutoff := t0.Add(time.Hour)
	populate := func(t *testing.T, s Services, c *clock) population {
		t.Helper()
		var p population
		p.stale = createAnonymous(t, s, `{"cart":[1]}`)
		p.touched = createAnonymous(t, s, "")
		p.converted = createAnonymous(t, s, "")
		p.converted = convert(t, s, c, p.converted.ID, "converted@example.com")
		p.registered = createRegistered(t, s, "registered@example.com")
		p.liveLink = createAnonymous(t, s, "")
		requestConversion(t, s, c, p.liveLink.ID, "live@example.com", 10*24*time.Hour)
		p.expiredLink = createAnonymous(t, s, "")
		requestConversion(t, s, c, p.expiredLink.ID, "expired@example.com", time.Hour)
		c.Advance(2 * time.Hour)
		_, err := s.Users.TouchUser(t.Context(), p.touched.ID, c.Now(), time.Minute)
		ok(t, err)
		p.fresh = createAnonymous(t, s, "")
		c.Advance(time.Hour)
		return p
	}
	sorted := func(ids []string) []string {
		ids = slices.Clone(ids)
		slices.Sort(ids)
		return ids
	}

	t.Run("OK", func(t *testing.T) {
		s, c := setup(t, open)
		p := populate(t, s, c)
		want := sorted([]string{p.stale.ID, p.expiredLink.ID})

		got, err := s.Reaps.DeleteExpiredAnonymousUsers(t.Context(), cutoff, 100, false)
		ok(t, err)
		if diff := cmp.Diff(want, sorted(got)); diff != "" {
			t.Fatalf("reaped (-want +got):\n%s", diff)
		}
		for _, id := range want {
			_, err := s.Users.FindUserByID(t.Context(), id)
			wantCode(t, err, foyer.ENotFound)
			evs := userEvents(t, s, id)
			if len(evs) != 1 || evs[0].Type != foyer.EventUserDeleted {
				t.Fatalf("events of %s = %v, want one user.deleted", id, eventTypes(evs))
			}
			jsonEqual(t, "user.deleted data", evs[0].Data, `{"user":{"id":"`+id+`"},"reason":"reaped"}`)
		}
		for _, u := range []*foyer.User{p.touched, p.converted, p.registered, p.liveLink, p.fresh} {
			findUser(t, s, u.ID)
		}
		if m := mailTo(t, s, "expired@example.com"); len(m) != 0 {
			t.Fatal("the mail of a reaped user remains")
		}
		wantNothingMentions(t, s, "expired@example.com")

		got, err = s.Reaps.DeleteExpiredAnonymousUsers(t.Context(), cutoff, 100, false)
		ok(t, err)
		if len(got) != 0 {
			t.Fatalf("a second pass reaped %v", got)
		}
	})

	t.Run("OK/DryRun", func(t *testing.T) {
		s, c := setup(t, open)
		p := populate(t, s, c)
		got, err := s.Reaps.DeleteExpiredAnonymousUsers(t.Context(), cutoff, 100, true)
		ok(t, err)
		if diff := cmp.Diff(sorted([]string{p.stale.ID, p.expiredLink.ID}), sorted(got)); diff != "" {
			t.Fatalf("dry run (-want +got):\n%s", diff)
		}
		findUser(t, s, p.stale.ID)
		findUser(t, s, p.expiredLink.ID)
		if n := len(userEvents(t, s, p.stale.ID)); n != 1 {
			t.Fatalf("a dry run recorded events: %d", n)
		}
	})

	t.Run("OK/Limit", func(t *testing.T) {
		s, c := setup(t, open)
		p := populate(t, s, c)
		var all []string
		for range 3 {
			got, err := s.Reaps.DeleteExpiredAnonymousUsers(t.Context(), cutoff, 1, false)
			ok(t, err)
			if len(got) > 1 {
				t.Fatalf("a batch of 1 reaped %d", len(got))
			}
			all = append(all, got...)
		}
		if diff := cmp.Diff(sorted([]string{p.stale.ID, p.expiredLink.ID}), sorted(all)); diff != "" {
			t.Fatalf("(-want +got):\n%s", diff)
		}
		got, err := s.Reaps.DeleteExpiredAnonymousUsers(t.Context(), cutoff, 0, false)
		ok(t, err)
		if len(got) != 0 {
			t.Fatalf("a limit of 0 reaped %d", len(got))
		}
	})

	// The reaper re-checks staleness when it deletes: whatever a dry run
	// (or an earlier read) saw, activity, conversion or a new link in
	// the meantime saves the user.
	changes := []struct {
		name   string
		change func(t *testing.T, s Services, c *clock, u *foyer.User)
	}{
		{"Touched", func(t *testing.T, s Services, c *clock, u *foyer.User) {
			_, err := s.Users.TouchUser(t.Context(), u.ID, c.Now(), time.Minute)
			ok(t, err)
		}},
		{"Converted", func(t *testing.T, s Services, c *clock, u *foyer.User) {
			convert(t, s, c, u.ID, "late@example.com")
		}},
		{"AdminConverted", func(t *testing.T, s Services, c *clock, u *foyer.User) {
			_, err := s.Conversions.ConvertUser(t.Context(), u.ID, "late@example.com", "admin:test")
			ok(t, err)
		}},
		{"NewLink", func(t *testing.T, s Services, c *clock, u *foyer.User) {
			requestConversion(t, s, c, u.ID, "late@example.com", time.Hour)
		}},
	}
	for _, ch := range changes {
		t.Run("OK/Recheck/"+ch.name, func(t *testing.T) {
			s, c := setup(t, open)
			p := populate(t, s, c)
			seen, err := s.Reaps.DeleteExpiredAnonymousUsers(t.Context(), cutoff, 100, true)
			ok(t, err)
			if !slices.Contains(seen, p.stale.ID) {
				t.Fatalf("dry run missed the stale user")
			}
			ch.change(t, s, c, p.stale)
			got, err := s.Reaps.DeleteExpiredAnonymousUsers(t.Context(), cutoff, 100, false)
			ok(t, err)
			if slices.Contains(got, p.stale.ID) {
				t.Fatal("the reaper deleted a user that was no longer stale")
			}
			findUser(t, s, p.stale.ID)
		})
	}
}
