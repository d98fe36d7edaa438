package admin_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	foyer "github.com/foyerhq/foyer"
	"github.com/foyerhq/foyer/admin"
	"github.com/foyerhq/foyer/sqlite"
	"github.com/google/go-cmp/cmp"
)

// Times of the report fixture, in February and March 2026; the console's
// "today" is start, 4 March.
var (
	t1 = time.Date(2026, 2, 10, 9, 0, 0, 0, time.UTC)
	t2 = time.Date(2026, 2, 20, 12, 0, 0, 0, time.UTC)
	t3 = time.Date(2026, 2, 25, 9, 0, 0, 0, time.UTC)
	t4 = time.Date(2026, 3, 2, 8, 0, 0, 0, time.UTC)
)

// reportFixture writes a history with known answers through the real
// services, then sets the clock back to start:
//
//	10 Feb  A1 A2 A3 A4 created anonymous
//	20 Feb  B1 B2 created anonymous; A1 comes back
//	25 Feb  B1 requests conversion; A2 (after 15 d) and B1 (after 4 d 21 h) converted
//	 2 Mar  C1 created anonymous, R1 registered; B2 comes back;
//	        the reaper culls A3 and A4 (not seen since 10 Feb)
func reportFixture(t *testing.T, c *console) {
	t.Helper()
	ctx := t.Context()
	touch := func(u *foyer.User) {
		t.Helper()
		if _, err := c.users.TouchUser(ctx, u.ID, c.clock.Now(), time.Hour); err != nil {
			t.Fatal(err)
		}
	}
	convert := func(u *foyer.User, email string) {
		t.Helper()
		if _, err := c.conversions.ConvertUser(ctx, u.ID, email, "admin:fixture"); err != nil {
			t.Fatal(err)
		}
	}
	c.clock.Set(t1)
	a1, a2 := c.anonymous(t, `{}`), c.anonymous(t, `{}`)
	c.anonymous(t, `{}`)
	c.anonymous(t, `{}`)
	c.clock.Set(t2)
	b1, b2 := c.anonymous(t, `{}`), c.anonymous(t, `{}`)
	touch(a1)
	c.clock.Set(t3)
	c.requestConversion(t, b1, "b1@example.com")
	convert(a2, "a2@example.com")
	convert(b1, "b1@example.com")
	c.clock.Set(t4)
	c.anonymous(t, `{}`)
	c.registered(t, "r1@example.com")
	touch(b2)
	ids, err := c.reaps.DeleteExpiredAnonymousUsers(ctx, t4.Add(-10*24*time.Hour), 100, false)
	if err != nil || len(ids) != 2 {
		t.Fatalf("reaped %v, %v; want 2 users", ids, err)
	}
	c.clock.Set(start)
}

func TestReports(t *testing.T) {
	c := setup(t)
	reportFixture(t, c)
	ctx := t.Context()
	rp := admin.NewReports(sqlite.NewReportService(c.db), admin.BillingActive, c.clock.Now)
	from, to := rp.LastDays(30)
	if want := time.Date(2026, 2, 3, 0, 0, 0, 0, time.UTC); !from.Equal(want) {
		t.Fatalf("from = %v, want %v", from, want)
	}
	if want := time.Date(2026, 3, 5, 0, 0, 0, 0, time.UTC); !to.Equal(want) {
		t.Fatalf("to = %v, want %v", to, want)
	}
	// nonZero keeps the days with a count, for comparing.
	nonZero := func(days []foyer.DayCount) map[string]int64 {
		m := map[string]int64{}
		for _, d := range days {
			if d.Count != 0 {
				m[d.Day.Format("2006-01-02")] = d.Count
			}
		}
		return m
	}

	t.Run("OKDaily", func(t *testing.T) {
		for _, tt := range []struct {
			metric string
			want   map[string]int64
			total  int64
		}{
			{foyer.MetricAnonymousCreated, map[string]int64{"2026-02-10": 4, "2026-02-20": 2, "2026-03-02": 1}, 7},
			{foyer.MetricConverted, map[string]int64{"2026-02-25": 2}, 2},
			{foyer.MetricReaped, map[string]int64{"2026-03-02": 2}, 2},
		} {
			r, err := rp.Daily(ctx, tt.metric, from, to)
			if err != nil {
				t.Fatal(err)
			}
			if len(r.Days) != 30 || r.Total != tt.total {
				t.Errorf("%s: %d days, total %d; want 30 and %d", tt.metric, len(r.Days), r.Total, tt.total)
			}
			if diff := cmp.Diff(tt.want, nonZero(r.Days)); diff != "" {
				t.Errorf("%s (-want +got):\n%s", tt.metric, diff)
			}
		}
	})
	t.Run("OKConversionRate", func(t *testing.T) {
		r, err := rp.ConversionRate(ctx, from, to)
		if err != nil {
			t.Fatal(err)
		}
		want := &admin.ConversionRate{From: from, To: to, AnonymousCreated: 7, Converted: 2, Rate: 2.0 / 7}
		if diff := cmp.Diff(want, r); diff != "" {
			t.Fatalf("(-want +got):\n%s", diff)
		}
	})
	t.Run("OKTimeToConvert", func(t *testing.T) {
		r, err := rp.TimeToConvert(ctx, from, to)
		if err != nil {
			t.Fatal(err)
		}
		fast := 4*24*time.Hour + 21*time.Hour
		want := &admin.TimeToConvertReport{
			From: from, To: to, Count: 2,
			Median: fast, P90: 15 * 24 * time.Hour,
			MedianSeconds: fast.Seconds(), P90Seconds: (15 * 24 * time.Hour).Seconds(),
			Buckets: []admin.DurationBucket{
				{Label: "up to 1 h", UpToSeconds: 3600},
				{Label: "1 h to 1 d", UpToSeconds: 86400},
				{Label: "1 d to 7 d", UpToSeconds: 7 * 86400, Count: 1},
				{Label: "7 d to 30 d", UpToSeconds: 30 * 86400, Count: 1},
				{Label: "30 d to 90 d", UpToSeconds: 90 * 86400},
				{Label: "over 90 d"},
			},
		}
		if diff := cmp.Diff(want, r); diff != "" {
			t.Fatalf("(-want +got):\n%s", diff)
		}
	})
	t.Run("OKFunnel", func(t *testing.T) {
		r, err := rp.Funnel(ctx, from, to)
		if err != nil {
			t.Fatal(err)
		}
		want := &admin.Funnel{From: from, To: to, Created: 7, ReturnedAfterADay: 2, ConversionRequested: 1, Converted: 2, Culled: 2}
		if diff := cmp.Diff(want, r); diff != "" {
			t.Fatalf("(-want +got):\n%s", diff)
		}
	})
	t.Run("OKActiveUsers", func(t *testing.T) {
		r, err := rp.ActiveUsers(ctx, to.Add(-admin.ActiveWindow))
		if err != nil {
			t.Fatal(err)
		}
		if r.Anonymous != 3 || r.Registered != 3 {
			t.Fatalf("active %+v, want 3 anonymous (A1, B2, C1) and 3 registered (A2, B1, R1)", r)
		}
	})
	t.Run("OKMonthlyActiveUsers", func(t *testing.T) {
		for _, tt := range []struct {
			rule      string
			feb, marc admin.MonthCount
		}{
			// Active: everyone created or seen in the month.
			{admin.BillingActive, admin.MonthCount{Anonymous: 6, Total: 6}, admin.MonthCount{Anonymous: 2, Registered: 1, Total: 3}},
			// Created month: anonymous users once, when created.
			{admin.BillingCreatedMonth, admin.MonthCount{Anonymous: 6, Total: 6}, admin.MonthCount{Anonymous: 1, Registered: 1, Total: 2}},
		} {
			rp := admin.NewReports(sqlite.NewReportService(c.db), tt.rule, c.clock.Now)
			r, err := rp.MonthlyActiveUsers(ctx, admin.MonthsShown, start)
			if err != nil {
				t.Fatal(err)
			}
			if len(r.Months) != 12 || !r.Months[0].Month.Equal(time.Date(2025, 4, 1, 0, 0, 0, 0, time.UTC)) || r.Rule != tt.rule {
				t.Fatalf("%s: %d months from %v", tt.rule, len(r.Months), r.Months[0].Month)
			}
			tt.feb.Month, tt.marc.Month = time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC), time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
			if diff := cmp.Diff([]admin.MonthCount{tt.feb, tt.marc}, r.Months[10:]); diff != "" {
				t.Errorf("%s (-want +got):\n%s", tt.rule, diff)
			}
			for _, m := range r.Months[:10] {
				if m.Total != 0 {
					t.Errorf("%s: %v has %d", tt.rule, m.Month, m.Total)
				}
			}
		}
	})
	t.Run("ErrUnknownReport", func(t *testing.T) {
		if _, err := rp.Report(ctx, "revenue", from, to); foyer.ErrorCode(err) != foyer.ENotFound {
			t.Fatalf("err = %v, want not found", err)
		}
	})
	t.Run("OKEveryName", func(t *testing.T) {
		for _, name := range admin.ReportNames {
			r, err := rp.Report(ctx, name, from, to)
			if err != nil || r == nil {
				t.Fatalf("%s: %v", name, err)
			}
		}
	})
}

func TestReportCSV(t *testing.T) {
	c := setup(t)
	reportFixture(t, c)
	cl := c.signedIn(t)
	tests := []struct {
		name string
		path string
		want []string // lines the file must hold
	}{
		{"OKAnonymousCreated", "/admin/reports/anonymous-created.csv?range=30", []string{"day,anonymous_created", "2026-02-03,0", "2026-02-10,4", "2026-02-20,2", "2026-03-02,1", "2026-03-04,0"}},
		{"OKConversions", "/admin/reports/conversions.csv?range=30", []string{"day,converted", "2026-02-25,2"}},
		{"OKCulled", "/admin/reports/culled.csv?range=30", []string{"day,reaped", "2026-03-02,2"}},
		{"OKConversionRate", "/admin/reports/conversion-rate.csv?range=30", []string{"from,to,anonymous_created,converted,rate", "2026-02-03,2026-03-05,7,2,0.2857"}},
		{"OKTimeToConvert", "/admin/reports/time-to-convert.csv?range=30", []string{"all,,2", "median_seconds,,421200", "p90_seconds,,1296000", "1 d to 7 d,604800,1", "7 d to 30 d,2592000,1", "over 90 d,,0"}},
		{"OKFunnel", "/admin/reports/funnel.csv?range=30", []string{"step,count", "Created,7", "Returned after a day,2", "Conversion requested,1", "Converted,2", "Culled,2"}},
		{"OKActiveUsers", "/admin/reports/active-users.csv", []string{"since,anonymous,registered", "2026-02-03T00:00:00Z,3,3"}},
		{"OKMonthlyActiveUsers", "/admin/reports/monthly-active-users.csv", []string{"month,anonymous,registered,total,rule", "2026-02,6,0,6,active", "2026-03,2,1,3,active"}},
		{"OKLastWeek", "/admin/reports/funnel.csv?range=7", []string{"Created,1", "Converted,0", "Culled,2"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := cl.get(tt.path, http.StatusOK)
			if ct := r.Header.Get("Content-Type"); ct != "text/csv; charset=utf-8" {
				t.Fatalf("Content-Type %q", ct)
			}
			if cd := r.Header.Get("Content-Disposition"); !strings.HasPrefix(cd, `attachment; filename="foyer-`) || !strings.HasSuffix(cd, `-2026-03-04.csv"`) {
				t.Fatalf("Content-Disposition %q", cd)
			}
			lines := strings.Split(strings.TrimSpace(r.Body), "\n")
			for _, w := range tt.want {
				if !contains(lines, w) {
					t.Errorf("the file lacks the line %q:\n%s", w, r.Body)
				}
			}
		})
	}
	t.Run("ErrUnknown", func(t *testing.T) {
		cl.get("/admin/reports/revenue.csv", http.StatusNotFound)
		cl.get("/admin/reports/funnel.json", http.StatusNotFound)
	})
}

// contains reports whether lines holds line.
func contains(lines []string, line string) bool {
	for _, l := range lines {
		if l == line {
			return true
		}
	}
	return false
}

func TestDashboard(t *testing.T) {
	c := setup(t)
	reportFixture(t, c)
	cl := c.signedIn(t)
	t.Run("OK30Days", func(t *testing.T) {
		body := cl.get("/admin/", http.StatusOK).Body
		mustContain(t, body,
			`<dd id="fig-anonymous">3</dd>`, `<dd id="fig-registered">3</dd>`,
			`<dd id="fig-created">7</dd>`, `<dd id="fig-converted">2</dd>`, `<dd id="fig-rate">28.6 %</dd>`,
			`<dd id="fig-ttc">4 d 21 h <span class="muted">p90 15 d</span></dd>`, `<dd id="fig-culled">2</dd>`,
			`<dd id="fig-mau">3 <span class="muted">(2 anonymous, 1 registered)</span></dd>`,
			`<title>2026-02-10: 4 anonymous accounts</title>`,
			`<title>2026-02-25: 2 conversions</title>`,
			`<title>2026-03-02: 2 accounts culled</title>`,
			`<title>Returned after a day: 2</title>`,
			`<title>February 2026: 6 anonymous</title>`,
			`<th scope="row">2026-02-10</th><td>4</td>`,
			`href="/admin/reports/funnel.csv?range=30"`,
			`<a href="/admin/?range=30" aria-current="page">Last 30 days</a>`,
			"From 2026-02-03 to 2026-03-04",
		)
	})
	t.Run("OK7Days", func(t *testing.T) {
		body := cl.get("/admin/?range=7", http.StatusOK).Body
		mustContain(t, body, `<dd id="fig-created">1</dd>`, `<dd id="fig-converted">0</dd>`, `<dd id="fig-rate">0.0 %</dd>`, `<dd id="fig-ttc">—</dd>`, "From 2026-02-26 to 2026-03-04")
	})
	t.Run("OKUnknownRange", func(t *testing.T) {
		mustContain(t, cl.get("/admin/?range=365", http.StatusOK).Body, `<a href="/admin/?range=30" aria-current="page">`)
	})
	t.Run("OKCreatedMonthRule", func(t *testing.T) {
		c := setup(t, func(cfg *admin.Config, _ *admin.Deps) { cfg.BillingRule = admin.BillingCreatedMonth })
		reportFixture(t, c)
		body := c.signedIn(t).get("/admin/", http.StatusOK).Body
		mustContain(t, body, `<dd id="fig-mau">2 <span class="muted">(1 anonymous, 1 registered)</span></dd>`, "<strong>created_month</strong>")
	})
}
