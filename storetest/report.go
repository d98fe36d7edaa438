package storetest

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/foyerhq/foyer"
)

// metrics lists every report metric.
var metrics = []string{
	foyer.MetricAnonymousCreated, foyer.MetricRegisteredCreated, foyer.MetricConversionRequested,
	foyer.MetricConverted, foyer.MetricReaped, foyer.MetricMerged, foyer.MetricDeleted,
	foyer.MetricActiveAnonymous, foyer.MetricActiveRegistered,
}

// day returns the start of a UTC day of 2030.
func day(m time.Month, d int) time.Time {
	return time.Date(2030, m, d, 0, 0, 0, 0, time.UTC)
}

// reportUsers are the users of reportFixture that remain.
type reportUsers struct {
	// a converted by link after 30 minutes, b by an admin after a day, d
	// by an admin after 8 days, j by link after 32 days.
	a, b, d, j *foyer.User
	// c stays anonymous and comes back; i is created in February; r was
	// created registered.
	c, i, r *foyer.User
}

// reportFixture lives through January and the start of February 2030
// with known answers, which testReports checks. Starting at t0 (2 January
// 03:04:05.006):
//
//	t0          A, B, C, J created anonymous, R registered; J asks to convert (link valid 60 days)
//	t0+30m      A converts by link (took 30 minutes)
//	t0+1d       D, E created; an admin converts B (took exactly a day); B seen
//	t0+1d+1h    D asks to convert (link valid 30 days)
//	t0+2d-1ms   D seen, a millisecond short of a day after its creation
//	t0+2d       F, G, H created; F deleted; E merged into R
//	t0+3d       C seen
//	t0+3d+1h    the reaper (cutoff 5 January) takes G and H
//	t0+9d       an admin converts D (took 8 days)
//	31 Jan 23:59:59.999  R seen, in January still
//	1 Feb 00:00 R seen: active in February
//	1 Feb 12:00 A and C seen: active in February; I created
//	2 Feb 12:00 A and C seen again, which counts nothing new
//	t0+32d      J converts by link (took 32 days)
//
// It leaves the clock at t0+32d.
func reportFixture(t *testing.T, s Services, c *clock) reportUsers {
	t.Helper()
	ctx := t.Context()
	var u reportUsers
	touch := func(user *foyer.User) {
		t.Helper()
		wrote, err := s.Users.TouchUser(ctx, user.ID, c.Now(), 0)
		ok(t, err)
		if !wrote {
			t.Fatalf("touching %s at %v wrote nothing", user.ID, c.Now())
		}
	}

	u.a = createAnonymous(t, s, "")
	u.b = createAnonymous(t, s, "")
	u.c = createAnonymous(t, s, "")
	u.j = createAnonymous(t, s, "")
	u.r = createRegistered(t, s, "r@example.com")
	_, jLink := requestConversion(t, s, c, u.j.ID, "j@example.com", 60*24*time.Hour)

	c.Set(t0.Add(30 * time.Minute))
	convert(t, s, c, u.a.ID, "a@example.com")

	c.Set(t0.Add(24 * time.Hour))
	u.d = createAnonymous(t, s, "")
	e := createAnonymous(t, s, `{"cart":[1]}`)
	_, err := s.Conversions.ConvertUser(ctx, u.b.ID, "b@example.com", "api_key:test")
	ok(t, err)
	touch(u.b)

	c.Set(t0.Add(25 * time.Hour))
	requestConversion(t, s, c, u.d.ID, "d@example.com", 30*24*time.Hour)

	c.Set(t0.Add(48*time.Hour - time.Millisecond))
	touch(u.d)

	c.Set(t0.Add(48 * time.Hour))
	f := createAnonymous(t, s, "")
	g := createAnonymous(t, s, "")
	h := createAnonymous(t, s, "")
	ok(t, s.Users.DeleteUser(ctx, f.ID, foyer.DeleteReasonSelf))
	_, err = s.Merges.MergeUsers(ctx, e.ID, u.r.ID, foyer.MergeRegisteredWins)
	ok(t, err)

	c.Set(t0.Add(72 * time.Hour))
	touch(u.c)

	c.Set(t0.Add(73 * time.Hour))
	reaped, err := s.Reaps.DeleteExpiredAnonymousUsers(ctx, day(time.January, 5), 100, false)
	ok(t, err)
	if diff := cmp.Diff([]string{g.ID, h.ID}, sortedIDs(reaped)); diff != "" {
		t.Fatalf("reaped (-want +got):\n%s", diff)
	}

	c.Set(t0.Add(9 * 24 * time.Hour))
	_, err = s.Conversions.ConvertUser(ctx, u.d.ID, "d@example.com", "api_key:test")
	ok(t, err)

	c.Set(day(time.February, 1).Add(-time.Millisecond))
	touch(u.r)
	c.Set(day(time.February, 1))
	touch(u.r)
	c.Set(day(time.February, 1).Add(12 * time.Hour))
	touch(u.a)
	touch(u.c)
	u.i = createAnonymous(t, s, "")
	c.Set(day(time.February, 2).Add(12 * time.Hour))
	touch(u.a)
	touch(u.c)

	c.Set(t0.Add(32 * 24 * time.Hour))
	_, err = s.Conversions.CompleteConversion(ctx, jLink, "hash:j", nil)
	ok(t, err)
	return u
}

// sortedIDs returns the ids in the order the store created them, which
// is their sort order.
func sortedIDs(ids []string) []string {
	out := append([]string{}, ids...)
	for i := 1; i < len(out); i++ {
		for j := i; j > 0 && out[j] < out[j-1]; j-- {
			out[j], out[j-1] = out[j-1], out[j]
		}
	}
	return out
}

// wantCounts fails the test unless CountPerDay of metric over [from, to)
// is every day of the range, oldest first, with the counts of want and
// zero on the other days.
func wantCounts(t *testing.T, s Services, metric string, from, to time.Time, want map[time.Time]int64) {
	t.Helper()
	got, err := s.Reports.CountPerDay(t.Context(), metric, from, to)
	ok(t, err)
	exp := []foyer.DayCount{}
	for d := time.Date(from.Year(), from.Month(), from.Day(), 0, 0, 0, 0, time.UTC); d.Before(to); d = d.AddDate(0, 0, 1) {
		exp = append(exp, foyer.DayCount{Day: d, Count: want[d]})
	}
	for d := range want {
		if d.Before(exp[0].Day) || !d.Before(to) {
			t.Fatalf("bad expectation: %v is outside [%v, %v)", d, from, to)
		}
	}
	if diff := cmp.Diff(exp, got); diff != "" {
		t.Fatalf("CountPerDay(%s, %v, %v) (-want +got):\n%s", metric, from, to, diff)
	}
}

func testReports(t *testing.T, open Opener) {
	t.Run("OK", func(t *testing.T) {
		s, c := setup(t, open)
		reportFixture(t, s, c)
		jan, feb, mar := day(time.January, 1), day(time.February, 1), day(time.March, 1)

		// Every counter, over January and February.
		wantCounts(t, s, foyer.MetricAnonymousCreated, jan, mar, map[time.Time]int64{
			day(time.January, 2): 4, // A, B, C, J
			day(time.January, 3): 2, // D, E, merged since
			day(time.January, 4): 3, // F, deleted since, and G and H, reaped since
			feb:                  1, // I
		})
		wantCounts(t, s, foyer.MetricRegisteredCreated, jan, mar, map[time.Time]int64{day(time.January, 2): 1})
		wantCounts(t, s, foyer.MetricConversionRequested, jan, mar, map[time.Time]int64{
			day(time.January, 2): 2, // J, A
			day(time.January, 3): 1, // D
		})
		wantCounts(t, s, foyer.MetricConverted, jan, mar, map[time.Time]int64{
			day(time.January, 2):  1, // A
			day(time.January, 3):  1, // B
			day(time.January, 11): 1, // D
			day(time.February, 3): 1, // J
		})
		wantCounts(t, s, foyer.MetricReaped, jan, mar, map[time.Time]int64{day(time.January, 5): 2})
		wantCounts(t, s, foyer.MetricMerged, jan, mar, map[time.Time]int64{day(time.January, 4): 1})
		wantCounts(t, s, foyer.MetricDeleted, jan, mar, map[time.Time]int64{day(time.January, 4): 1})
		// Monthly, on the first of the month: everyone created in
		// January; in February I, created, and C, back.
		wantCounts(t, s, foyer.MetricActiveAnonymous, jan, mar, map[time.Time]int64{jan: 9, feb: 2})
		// R, created in January; in February R, seen at midnight, and A.
		wantCounts(t, s, foyer.MetricActiveRegistered, jan, mar, map[time.Time]int64{jan: 1, feb: 2})

		// A range that starts in the middle of a day includes that day.
		wantCounts(t, s, foyer.MetricAnonymousCreated, t0, t0.Add(24*time.Hour), map[time.Time]int64{
			day(time.January, 2): 4, day(time.January, 3): 2,
		})
		wantCounts(t, s, foyer.MetricConverted, day(time.January, 3), day(time.January, 4), map[time.Time]int64{day(time.January, 3): 1})

		// Time to convert: A 30 minutes, B a day, D 8 days, J 32 days.
		for _, tt := range []struct {
			name     string
			from, to time.Time
			want     foyer.TimeToConvert
		}{
			{"All", jan, mar, foyer.TimeToConvert{
				Count: 4, Median: 24 * time.Hour, P90: 32 * 24 * time.Hour, Buckets: []int64{1, 1, 0, 1, 1, 0},
			}},
			// B converted at t0+1d exactly, which the range excludes.
			{"FirstDay", day(time.January, 2), t0.Add(24 * time.Hour), foyer.TimeToConvert{
				Count: 1, Median: 30 * time.Minute, P90: 30 * time.Minute, Buckets: []int64{1, 0, 0, 0, 0, 0},
			}},
			{"FromB", t0.Add(24 * time.Hour), feb, foyer.TimeToConvert{
				Count: 2, Median: 24 * time.Hour, P90: 8 * 24 * time.Hour, Buckets: []int64{0, 1, 0, 1, 0, 0},
			}},
			{"February", feb, mar, foyer.TimeToConvert{
				Count: 1, Median: 32 * 24 * time.Hour, P90: 32 * 24 * time.Hour, Buckets: []int64{0, 0, 0, 0, 1, 0},
			}},
			{"None", day(time.January, 12), feb, foyer.TimeToConvert{Buckets: []int64{0, 0, 0, 0, 0, 0}}},
		} {
			got, err := s.Reports.TimeToConvert(t.Context(), tt.from, tt.to)
			ok(t, err)
			if diff := cmp.Diff(&tt.want, got); diff != "" {
				t.Fatalf("TimeToConvert %s (-want +got):\n%s", tt.name, diff)
			}
		}

		// Active users: C and I anonymous; A, B, D, J and R registered.
		for _, tt := range []struct {
			name      string
			since     time.Time
			anon, reg int64
		}{
			{"January", jan, 2, 5},
			{"February", feb, 2, 2},                            // R was seen at midnight exactly
			{"AfterMidnight", feb.Add(time.Millisecond), 2, 1}, // A only
			{"LastSeen", day(time.February, 2).Add(12 * time.Hour), 1, 1},
			{"Later", mar, 0, 0},
		} {
			anon, reg, err := s.Reports.ActiveUsers(t.Context(), tt.since)
			ok(t, err)
			if anon != tt.anon || reg != tt.reg {
				t.Fatalf("ActiveUsers %s = %d, %d; want %d, %d", tt.name, anon, reg, tt.anon, tt.reg)
			}
		}

		// Returned after a day, among the accounts created anonymous: A
		// (back in February), B (seen a day after, exactly) and C (back
		// after three days), not D (seen a millisecond short of a day
		// later) nor J (never seen again); R was created registered, and
		// E, F, G and H are gone.
		for _, tt := range []struct {
			name     string
			from, to time.Time
			want     int64
		}{
			{"January", jan, feb, 3},
			{"FirstMillisecond", t0, t0.Add(time.Millisecond), 3},
			{"BeforeT0", jan, t0, 0},
			{"AfterFirstMillisecond", t0.Add(time.Millisecond), feb, 0},
			{"February", feb, mar, 0},
		} {
			got, err := s.Reports.ReturnedAfterADay(t.Context(), tt.from, tt.to)
			ok(t, err)
			if got != tt.want {
				t.Fatalf("ReturnedAfterADay %s = %d, want %d", tt.name, got, tt.want)
			}
		}
	})

	// A change that fails counts nothing: the counters are written in
	// its transaction.
	t.Run("OK/FailuresCountNothing", func(t *testing.T) {
		s, c := setup(t, open)
		ctx := t.Context()
		owner := createRegistered(t, s, "ann@example.com")
		wantCode(t, s.Users.CreateUser(ctx, &foyer.User{Email: "ann@example.com", EmailVerified: true}), foyer.EConflict)
		anon := createAnonymous(t, s, "")
		_, err := s.Conversions.ConvertUser(ctx, anon.ID, "ann@example.com", "api_key:test")
		wantCode(t, err, foyer.EIdentifierTaken)
		_, link := requestConversion(t, s, c, anon.ID, "new@example.com", time.Hour)
		c.Advance(2 * time.Hour)
		_, err = s.Conversions.CompleteConversion(ctx, link, "hash", nil)
		wantCode(t, err, foyer.ETokenInvalid)
		_, err = s.Merges.MergeUsers(ctx, owner.ID, anon.ID, foyer.MergeRegisteredWins)
		wantCode(t, err, foyer.EConflict)
		wantCode(t, s.Users.DeleteUser(ctx, "01890a5d-ac96-774b-bcce-b302099a8057", foyer.DeleteReasonAdmin), foyer.ENotFound)
		err = s.Conversions.RequestConversion(ctx, foyer.ConversionRequest{UserID: owner.ID, Email: "x@example.com", TokenHash: []byte{1}, Token: "x", ExpiresAt: c.Now().Add(time.Hour)})
		wantCode(t, err, foyer.EConflict)
		reaped, err := s.Reaps.DeleteExpiredAnonymousUsers(ctx, t0.Add(time.Hour), 100, true)
		ok(t, err)
		if len(reaped) != 1 {
			t.Fatalf("dry run found %d users, want 1", len(reaped))
		}
		// Touching within the granularity writes nothing.
		c.Set(day(time.February, 1))
		_, err = s.Users.TouchUser(ctx, anon.ID, c.Now(), 60*24*time.Hour)
		ok(t, err)

		jan, mar := day(time.January, 1), day(time.March, 1)
		one := map[time.Time]int64{day(time.January, 2): 1}
		wantCounts(t, s, foyer.MetricRegisteredCreated, jan, mar, one)
		wantCounts(t, s, foyer.MetricAnonymousCreated, jan, mar, one)
		wantCounts(t, s, foyer.MetricConversionRequested, jan, mar, one)
		wantCounts(t, s, foyer.MetricActiveAnonymous, jan, mar, map[time.Time]int64{jan: 1})
		wantCounts(t, s, foyer.MetricActiveRegistered, jan, mar, map[time.Time]int64{jan: 1})
		for _, m := range []string{foyer.MetricConverted, foyer.MetricReaped, foyer.MetricMerged, foyer.MetricDeleted} {
			wantCounts(t, s, m, jan, mar, nil)
		}
	})

	// The reaper adds each batch to the day's count, and a user touched
	// for the first time in a month counts once in it however often it
	// comes back.
	t.Run("OK/Batches", func(t *testing.T) {
		s, c := setup(t, open)
		for range 5 {
			createAnonymous(t, s, "")
		}
		u := createAnonymous(t, s, "")
		c.Set(day(time.January, 3))
		for _, limit := range []int{2, 2, 2} {
			_, err := s.Reaps.DeleteExpiredAnonymousUsers(t.Context(), day(time.January, 3), limit, false)
			ok(t, err)
		}
		wantCounts(t, s, foyer.MetricReaped, day(time.January, 3), day(time.January, 4), map[time.Time]int64{day(time.January, 3): 6})
		_, err := s.Users.FindUserByID(t.Context(), u.ID)
		wantCode(t, err, foyer.ENotFound)

		r := createRegistered(t, s, "ann@example.com")
		for _, at := range []time.Time{day(time.March, 1), day(time.March, 2), day(time.March, 31), day(time.April, 1)} {
			c.Set(at)
			_, err := s.Users.TouchUser(t.Context(), r.ID, at, 0)
			ok(t, err)
		}
		wantCounts(t, s, foyer.MetricActiveRegistered, day(time.January, 1), day(time.May, 1), map[time.Time]int64{
			day(time.January, 1): 1, day(time.March, 1): 1, day(time.April, 1): 1,
		})
	})

	t.Run("OK/Empty", func(t *testing.T) {
		s, _ := setup(t, open)
		for _, m := range metrics {
			wantCounts(t, s, m, day(time.January, 1), day(time.January, 8), nil)
		}
		got, err := s.Reports.TimeToConvert(t.Context(), day(time.January, 1), day(time.February, 1))
		ok(t, err)
		if diff := cmp.Diff(&foyer.TimeToConvert{Buckets: make([]int64, len(foyer.TimeToConvertBuckets)+1)}, got); diff != "" {
			t.Fatalf("TimeToConvert (-want +got):\n%s", diff)
		}
		anon, reg, err := s.Reports.ActiveUsers(t.Context(), day(time.January, 1))
		ok(t, err)
		if anon != 0 || reg != 0 {
			t.Fatalf("ActiveUsers = %d, %d", anon, reg)
		}
		n, err := s.Reports.ReturnedAfterADay(t.Context(), day(time.January, 1), day(time.February, 1))
		ok(t, err)
		if n != 0 {
			t.Fatalf("ReturnedAfterADay = %d", n)
		}
	})

	// An empty or reversed range has no days.
	t.Run("CountPerDay/OK/NoDays", func(t *testing.T) {
		s, _ := setup(t, open)
		createAnonymous(t, s, "")
		for _, r := range [][2]time.Time{
			{day(time.January, 2), day(time.January, 2)},
			{day(time.January, 3), day(time.January, 2)},
		} {
			got, err := s.Reports.CountPerDay(t.Context(), foyer.MetricAnonymousCreated, r[0], r[1])
			ok(t, err)
			if got == nil || len(got) != 0 {
				t.Fatalf("CountPerDay(%v, %v) = %#v, want no days", r[0], r[1], got)
			}
		}
	})
	t.Run("CountPerDay/ErrInvalid", func(t *testing.T) {
		s, _ := setup(t, open)
		for _, m := range []string{"", "anonymous", "Anonymous_Created", "user.created"} {
			_, err := s.Reports.CountPerDay(t.Context(), m, day(time.January, 1), day(time.February, 1))
			wantCode(t, err, foyer.EInvalid)
		}
		_, err := s.Reports.CountPerDay(t.Context(), foyer.MetricAnonymousCreated, time.Time{}, day(time.February, 1))
		wantCode(t, err, foyer.EInvalid)
	})
}
