package admin

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	foyer "github.com/foyerhq/foyer"
)

// Ranges are the dashboard's range choices, in days; DefaultRange is
// shown when none is chosen.
var Ranges = []int{7, 30, 90}

// DefaultRange is the dashboard's range when none is chosen, in days.
const DefaultRange = 30

// parseRange reads the range parameter: one of Ranges, or DefaultRange.
func parseRange(s string) int {
	n, err := strconv.Atoi(s)
	if err != nil {
		return DefaultRange
	}
	for _, r := range Ranges {
		if r == n {
			return n
		}
	}
	return DefaultRange
}

// Overview is every report of the dashboard for one range, gathered with
// as few queries as the reports allow.
type Overview struct {
	From          time.Time
	To            time.Time
	Created       *DailyReport
	Conversions   *DailyReport
	Culled        *DailyReport
	Rate          *ConversionRate
	TimeToConvert *TimeToConvertReport
	Active        *ActiveUsersReport
	Funnel        *Funnel
	Monthly       *MonthlyActiveUsers
}

// Overview gathers the dashboard's reports for [from, to).
func (rp *Reports) Overview(ctx context.Context, from, to time.Time) (*Overview, error) {
	o := &Overview{From: from, To: to}
	var err error
	if o.Created, err = rp.Daily(ctx, foyer.MetricAnonymousCreated, from, to); err != nil {
		return nil, err
	}
	if o.Conversions, err = rp.Daily(ctx, foyer.MetricConverted, from, to); err != nil {
		return nil, err
	}
	if o.Culled, err = rp.Daily(ctx, foyer.MetricReaped, from, to); err != nil {
		return nil, err
	}
	requested, err := rp.total(ctx, foyer.MetricConversionRequested, from, to)
	if err != nil {
		return nil, err
	}
	returned, err := rp.store.ReturnedAfterADay(ctx, from, to)
	if err != nil {
		return nil, fmt.Errorf("returned after a day: %w", err)
	}
	o.Rate = &ConversionRate{From: from, To: to, AnonymousCreated: o.Created.Total, Converted: o.Conversions.Total, Rate: ratio(o.Conversions.Total, o.Created.Total)}
	o.Funnel = &Funnel{
		From: from, To: to,
		Created:             o.Created.Total,
		ReturnedAfterADay:   returned,
		ConversionRequested: requested,
		Converted:           o.Conversions.Total,
		Culled:              o.Culled.Total,
	}
	if o.TimeToConvert, err = rp.TimeToConvert(ctx, from, to); err != nil {
		return nil, err
	}
	if o.Active, err = rp.ActiveUsers(ctx, to.Add(-ActiveWindow)); err != nil {
		return nil, err
	}
	if o.Monthly, err = rp.MonthlyActiveUsers(ctx, MonthsShown, to.Add(-time.Nanosecond)); err != nil {
		return nil, err
	}
	return o, nil
}

// rangeLink is one choice of the range selector.
type rangeLink struct {
	Days    int
	Href    string
	Current bool
}

// dashboardPage is the data of the dashboard.
type dashboardPage struct {
	layout
	Days   int
	Ranges []rangeLink
	Period string
	// Totals are set when the store can count users.
	HasTotals             bool
	Anonymous, Registered int64
	Reports               *Overview
	Charts                []chart
	CSV                   []csvLink
}

// csvLink is a download link of one report.
type csvLink struct {
	Href  string
	Label string
}

// reportLabels names the reports in download links.
var reportLabels = map[string]string{
	ReportAnonymousCreated:   "Anonymous accounts created per day",
	ReportConversions:        "Conversions per day",
	ReportConversionRate:     "Conversion rate",
	ReportTimeToConvert:      "Time to convert",
	ReportCulled:             "Culled per day",
	ReportActiveUsers:        "Active users, last 30 days",
	ReportFunnel:             "Funnel",
	ReportMonthlyActiveUsers: "Monthly active users",
}

// dashboard handles GET /admin/ with range=7|30|90 (days).
func (h *Handler) dashboard(w http.ResponseWriter, r *http.Request) error {
	days := parseRange(r.URL.Query().Get("range"))
	p := &dashboardPage{layout: h.layout(r, "Dashboard"), Days: days}
	for _, n := range Ranges {
		p.Ranges = append(p.Ranges, rangeLink{Days: n, Href: fmt.Sprintf("/admin/?range=%d", n), Current: n == days})
	}
	if h.deps.UserCounts != nil {
		a, reg, err := h.deps.UserCounts(r.Context())
		if err != nil {
			return err
		}
		p.HasTotals, p.Anonymous, p.Registered = true, a, reg
	}
	if h.reports != nil {
		from, to := h.reports.LastDays(days)
		p.Period = dayRange(from, to)
		o, err := h.reports.Overview(r.Context(), from, to)
		if err != nil {
			return err
		}
		p.Reports = o
		p.Charts = overviewCharts(o)
		for _, name := range ReportNames {
			p.CSV = append(p.CSV, csvLink{Href: fmt.Sprintf("/admin/reports/%s.csv?range=%d", name, days), Label: reportLabels[name]})
		}
	}
	h.render(w, r, http.StatusOK, "dashboard", p)
	return nil
}

// overviewCharts draws the dashboard's charts.
func overviewCharts(o *Overview) []chart {
	period := dayRange(o.From, o.To)
	return []chart{
		dailyBarChart("chart-created", "Anonymous accounts created per day", "anonymous accounts", o.Created.Days),
		dailyLineChart("chart-conversions", "Conversions per day", "conversions", o.Conversions.Days),
		horizontalChart("chart-time-to-convert", "Time to convert",
			fmt.Sprintf("How long the %s conversions from %s took after the account was created.", fmtNumber(o.TimeToConvert.Count), period),
			"Conversions", durationRows(o.TimeToConvert.Buckets)),
		dailyBarChart("chart-culled", "Culled per day", "accounts culled", o.Culled.Days),
		horizontalChart("chart-active", "Active users, last 30 days",
			"Existing users seen in the last 30 days, anonymous and registered.",
			"Users", []hbar{{"Anonymous", o.Active.Anonymous}, {"Registered", o.Active.Registered}}),
		horizontalChart("chart-funnel", "Funnel",
			fmt.Sprintf("From %s: anonymous accounts created, those that came back a day later, conversion requests, conversions and accounts culled.", period),
			"Count", funnelRows(o.Funnel)),
		monthlyChart("chart-mau", o.Monthly),
	}
}

// funnelRows turns the funnel into chart rows.
func funnelRows(f *Funnel) []hbar {
	steps := f.Steps()
	rows := make([]hbar, len(steps))
	for i, s := range steps {
		rows[i] = hbar{Label: s.Label, Count: s.Count}
	}
	return rows
}

// reportCSV handles GET /admin/reports/{name}.csv?range=7|30|90.
func (h *Handler) reportCSV(w http.ResponseWriter, r *http.Request) error {
	if h.reports == nil {
		return foyer.Errorf(foyer.ENotFound, "Reports are not available here.")
	}
	name, ok := strings.CutSuffix(r.PathValue("file"), ".csv")
	if !ok {
		return foyer.Errorf(foyer.ENotFound, "Reports download as .csv files.")
	}
	days := parseRange(r.URL.Query().Get("range"))
	from, to := h.reports.LastDays(days)
	rep, err := h.reports.Report(r.Context(), name, from, to)
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	if err := rep.WriteCSV(&buf); err != nil {
		return err
	}
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", fmt.Sprintf(`attachment; filename="foyer-%s-%s-%s.csv"`, name, day(from), day(to.Add(-time.Nanosecond))))
	w.Write(buf.Bytes())
	return nil
}
