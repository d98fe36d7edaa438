package admin

import (
	"context"
	"encoding/csv"
	"fmt"
	"io"
	"strconv"
	"time"

	foyer "github.com/foyerhq/foyer"
)

// Reports answers the console's reports from a foyer.ReportService, as
// plain structs that marshal to JSON and write themselves as CSV, so that
// the server API can serve the same reports. Days are UTC days; ranges are
// half-open, [From, To).
type Reports struct {
	store foyer.ReportService
	rule  string
	now   func() time.Time
}

// NewReports returns the reports of store. billingRule is BillingActive
// or BillingCreatedMonth (empty means BillingActive); now is the clock
// (nil means time.Now).
func NewReports(store foyer.ReportService, billingRule string, now func() time.Time) *Reports {
	if billingRule == "" {
		billingRule = BillingActive
	}
	if now == nil {
		now = time.Now
	}
	return &Reports{store: store, rule: billingRule, now: now}
}

// Report is any report: it marshals to JSON and writes itself as CSV.
type Report interface {
	WriteCSV(w io.Writer) error
}

// Report names, as in /admin/reports/{name}.csv and /v1/reports/{name}.
const (
	ReportAnonymousCreated   = "anonymous-created"
	ReportConversions        = "conversions"
	ReportCulled             = "culled"
	ReportConversionRate     = "conversion-rate"
	ReportTimeToConvert      = "time-to-convert"
	ReportActiveUsers        = "active-users"
	ReportFunnel             = "funnel"
	ReportMonthlyActiveUsers = "monthly-active-users"
)

// ReportNames lists every report name, in the dashboard's order.
var ReportNames = []string{
	ReportAnonymousCreated, ReportConversions, ReportConversionRate, ReportTimeToConvert,
	ReportCulled, ReportActiveUsers, ReportFunnel, ReportMonthlyActiveUsers,
}

// dailyMetrics maps the per-day report names to their metrics.
var dailyMetrics = map[string]string{
	ReportAnonymousCreated: foyer.MetricAnonymousCreated,
	ReportConversions:      foyer.MetricConverted,
	ReportCulled:           foyer.MetricReaped,
}

// ActiveWindow is the period of the active users report.
const ActiveWindow = 30 * 24 * time.Hour

// MonthsShown is how many months, the current one included, the monthly
// active users report covers.
const MonthsShown = 12

// Report returns the report called name for the range [from, to).
// The active users report ends at to and covers ActiveWindow; the monthly
// active users report covers the MonthsShown months up to the one of to.
// Returns ENotFound for an unknown name.
func (rp *Reports) Report(ctx context.Context, name string, from, to time.Time) (Report, error) {
	if m, ok := dailyMetrics[name]; ok {
		return rp.Daily(ctx, m, from, to)
	}
	switch name {
	case ReportConversionRate:
		return rp.ConversionRate(ctx, from, to)
	case ReportTimeToConvert:
		return rp.TimeToConvert(ctx, from, to)
	case ReportActiveUsers:
		return rp.ActiveUsers(ctx, to.Add(-ActiveWindow))
	case ReportFunnel:
		return rp.Funnel(ctx, from, to)
	case ReportMonthlyActiveUsers:
		return rp.MonthlyActiveUsers(ctx, MonthsShown, to.Add(-time.Nanosecond))
	}
	return nil, foyer.Errorf(foyer.ENotFound, "There is no report called %q.", name)
}

// LastDays returns the range of the last n UTC days, today included:
// from the start of the day n-1 days ago to the start of tomorrow.
func (rp *Reports) LastDays(n int) (from, to time.Time) {
	now := rp.now().UTC()
	to = time.Date(now.Year(), now.Month(), now.Day()+1, 0, 0, 0, 0, time.UTC)
	return to.AddDate(0, 0, -n), to
}

// DailyReport is a metric counted per UTC day.
type DailyReport struct {
	Metric string           `json:"metric"`
	From   time.Time        `json:"from"`
	To     time.Time        `json:"to"`
	Days   []foyer.DayCount `json:"days"`
	Total  int64            `json:"total"`
}

// Daily returns metric per day in [from, to).
func (rp *Reports) Daily(ctx context.Context, metric string, from, to time.Time) (*DailyReport, error) {
	days, err := rp.store.CountPerDay(ctx, metric, from, to)
	if err != nil {
		return nil, fmt.Errorf("count %s per day: %w", metric, err)
	}
	r := &DailyReport{Metric: metric, From: from, To: to, Days: days}
	if r.Days == nil {
		r.Days = []foyer.DayCount{}
	}
	for _, d := range days {
		r.Total += d.Count
	}
	return r, nil
}

// WriteCSV writes day,count rows.
func (r *DailyReport) WriteCSV(w io.Writer) error {
	rows := [][]string{{"day", r.Metric}}
	for _, d := range r.Days {
		rows = append(rows, []string{d.Day.UTC().Format("2006-01-02"), strconv.FormatInt(d.Count, 10)})
	}
	return writeCSV(w, rows)
}

// ConversionRate relates the conversions in a range to the anonymous
// accounts created in it. Conversions of accounts created earlier count
// too, so a short range can exceed 100 %.
type ConversionRate struct {
	From             time.Time `json:"from"`
	To               time.Time `json:"to"`
	AnonymousCreated int64     `json:"anonymous_created"`
	Converted        int64     `json:"converted"`
	// Rate is Converted / AnonymousCreated, 0 when none were created.
	Rate float64 `json:"rate"`
}

// ConversionRate returns the conversion rate of [from, to).
func (rp *Reports) ConversionRate(ctx context.Context, from, to time.Time) (*ConversionRate, error) {
	created, err := rp.total(ctx, foyer.MetricAnonymousCreated, from, to)
	if err != nil {
		return nil, err
	}
	converted, err := rp.total(ctx, foyer.MetricConverted, from, to)
	if err != nil {
		return nil, err
	}
	return &ConversionRate{From: from, To: to, AnonymousCreated: created, Converted: converted, Rate: ratio(converted, created)}, nil
}

// WriteCSV writes one row.
func (r *ConversionRate) WriteCSV(w io.Writer) error {
	return writeCSV(w, [][]string{
		{"from", "to", "anonymous_created", "converted", "rate"},
		{day(r.From), day(r.To), itoa(r.AnonymousCreated), itoa(r.Converted), strconv.FormatFloat(r.Rate, 'f', 4, 64)},
	})
}

// TimeToConvertReport describes how long the conversions of a range took,
// from account creation to conversion.
type TimeToConvertReport struct {
	From          time.Time `json:"from"`
	To            time.Time `json:"to"`
	Count         int64     `json:"count"`
	MedianSeconds float64   `json:"median_seconds"`
	P90Seconds    float64   `json:"p90_seconds"`
	// Buckets count conversions by time taken.
	Buckets []DurationBucket `json:"buckets"`

	Median time.Duration `json:"-"`
	P90    time.Duration `json:"-"`
}

// DurationBucket counts the conversions that took longer than the
// previous bucket's bound and at most UpToSeconds (0 for the last bucket,
// which has no bound).
type DurationBucket struct {
	Label       string  `json:"label"`
	UpToSeconds float64 `json:"up_to_seconds,omitempty"`
	Count       int64   `json:"count"`
}

// TimeToConvert returns the time to convert of the conversions in
// [from, to).
func (rp *Reports) TimeToConvert(ctx context.Context, from, to time.Time) (*TimeToConvertReport, error) {
	t, err := rp.store.TimeToConvert(ctx, from, to)
	if err != nil {
		return nil, fmt.Errorf("time to convert: %w", err)
	}
	r := &TimeToConvertReport{
		From: from, To: to, Count: t.Count,
		Median: t.Median, P90: t.P90,
		MedianSeconds: t.Median.Seconds(), P90Seconds: t.P90.Seconds(),
	}
	for i, label := range bucketLabels() {
		b := DurationBucket{Label: label}
		if i < len(foyer.TimeToConvertBuckets) {
			b.UpToSeconds = foyer.TimeToConvertBuckets[i].Seconds()
		}
		if i < len(t.Buckets) {
			b.Count = t.Buckets[i]
		}
		r.Buckets = append(r.Buckets, b)
	}
	return r, nil
}

// bucketLabels names the buckets of foyer.TimeToConvertBuckets, plus the
// last one for everything longer: "up to 1 h", "1 h to 1 d", … "over 90 d".
func bucketLabels() []string {
	bs := foyer.TimeToConvertBuckets
	labels := make([]string, 0, len(bs)+1)
	for i, b := range bs {
		if i == 0 {
			labels = append(labels, "up to "+fmtDuration(b))
			continue
		}
		labels = append(labels, fmtDuration(bs[i-1])+" to "+fmtDuration(b))
	}
	if len(bs) > 0 {
		labels = append(labels, "over "+fmtDuration(bs[len(bs)-1]))
	}
	return labels
}

// WriteCSV writes the summary as bucket rows, with the count, median and
// p90 in a first row.
func (r *TimeToConvertReport) WriteCSV(w io.Writer) error {
	rows := [][]string{
		{"bucket", "up_to_seconds", "count"},
		{"all", "", itoa(r.Count)},
		{"median_seconds", "", strconv.FormatFloat(r.MedianSeconds, 'f', 0, 64)},
		{"p90_seconds", "", strconv.FormatFloat(r.P90Seconds, 'f', 0, 64)},
	}
	for _, b := range r.Buckets {
		up := ""
		if b.UpToSeconds > 0 {
			up = strconv.FormatFloat(b.UpToSeconds, 'f', 0, 64)
		}
		rows = append(rows, []string{b.Label, up, itoa(b.Count)})
	}
	return writeCSV(w, rows)
}

// ActiveUsersReport counts the existing users seen at or after Since.
type ActiveUsersReport struct {
	Since      time.Time `json:"since"`
	Anonymous  int64     `json:"anonymous"`
	Registered int64     `json:"registered"`
}

// ActiveUsers returns the users seen at or after since.
func (rp *Reports) ActiveUsers(ctx context.Context, since time.Time) (*ActiveUsersReport, error) {
	a, reg, err := rp.store.ActiveUsers(ctx, since)
	if err != nil {
		return nil, fmt.Errorf("active users: %w", err)
	}
	return &ActiveUsersReport{Since: since, Anonymous: a, Registered: reg}, nil
}

// WriteCSV writes one row.
func (r *ActiveUsersReport) WriteCSV(w io.Writer) error {
	return writeCSV(w, [][]string{
		{"since", "anonymous", "registered"},
		{r.Since.UTC().Format(time.RFC3339), itoa(r.Anonymous), itoa(r.Registered)},
	})
}

// Funnel follows anonymous visitors through the lifecycle in a range:
// accounts created, those of them that came back a day or more later,
// conversion requests, conversions and accounts culled by the reaper.
// The steps after ReturnedAfterADay count what happened in the range,
// whenever the accounts were created.
type Funnel struct {
	From                time.Time `json:"from"`
	To                  time.Time `json:"to"`
	Created             int64     `json:"created"`
	ReturnedAfterADay   int64     `json:"returned_after_a_day"`
	ConversionRequested int64     `json:"conversion_requested"`
	Converted           int64     `json:"converted"`
	Culled              int64     `json:"culled"`
}

// Funnel returns the funnel of [from, to).
func (rp *Reports) Funnel(ctx context.Context, from, to time.Time) (*Funnel, error) {
	f := &Funnel{From: from, To: to}
	var err error
	for _, s := range []struct {
		metric string
		n      *int64
	}{
		{foyer.MetricAnonymousCreated, &f.Created},
		{foyer.MetricConversionRequested, &f.ConversionRequested},
		{foyer.MetricConverted, &f.Converted},
		{foyer.MetricReaped, &f.Culled},
	} {
		if *s.n, err = rp.total(ctx, s.metric, from, to); err != nil {
			return nil, err
		}
	}
	if f.ReturnedAfterADay, err = rp.store.ReturnedAfterADay(ctx, from, to); err != nil {
		return nil, fmt.Errorf("returned after a day: %w", err)
	}
	return f, nil
}

// Steps returns the funnel's steps in order, with their labels.
func (f *Funnel) Steps() []FunnelStep {
	return []FunnelStep{
		{"Created", f.Created},
		{"Returned after a day", f.ReturnedAfterADay},
		{"Conversion requested", f.ConversionRequested},
		{"Converted", f.Converted},
		{"Culled", f.Culled},
	}
}

// FunnelStep is one step of a Funnel.
type FunnelStep struct {
	Label string
	Count int64
}

// WriteCSV writes one row per step.
func (f *Funnel) WriteCSV(w io.Writer) error {
	rows := [][]string{{"step", "count"}}
	for _, s := range f.Steps() {
		rows = append(rows, []string{s.Label, itoa(s.Count)})
	}
	return writeCSV(w, rows)
}

// MonthlyActiveUsers counts users per calendar month (UTC) for billing.
// Registered users count in every month they were active; anonymous users
// as Rule says.
type MonthlyActiveUsers struct {
	Rule   string       `json:"rule"`
	Months []MonthCount `json:"months"`
}

// MonthCount is one month of MonthlyActiveUsers.
type MonthCount struct {
	Month      time.Time `json:"month"`
	Anonymous  int64     `json:"anonymous"`
	Registered int64     `json:"registered"`
	Total      int64     `json:"total"`
}

// MonthlyActiveUsers returns the n months up to and including the month
// of last. Under BillingActive anonymous users count in each month they
// were active; under BillingCreatedMonth once, in the month they were
// created.
func (rp *Reports) MonthlyActiveUsers(ctx context.Context, n int, last time.Time) (*MonthlyActiveUsers, error) {
	last = last.UTC()
	end := time.Date(last.Year(), last.Month()+1, 1, 0, 0, 0, 0, time.UTC)
	start := end.AddDate(0, -n, 0)
	anonMetric := foyer.MetricActiveAnonymous
	if rp.rule == BillingCreatedMonth {
		anonMetric = foyer.MetricAnonymousCreated
	}
	anon, err := rp.store.CountPerDay(ctx, anonMetric, start, end)
	if err != nil {
		return nil, fmt.Errorf("count %s: %w", anonMetric, err)
	}
	reg, err := rp.store.CountPerDay(ctx, foyer.MetricActiveRegistered, start, end)
	if err != nil {
		return nil, fmt.Errorf("count %s: %w", foyer.MetricActiveRegistered, err)
	}
	r := &MonthlyActiveUsers{Rule: rp.rule}
	for m := start; m.Before(end); m = m.AddDate(0, 1, 0) {
		r.Months = append(r.Months, MonthCount{Month: m})
	}
	index := func(t time.Time) int {
		t = t.UTC()
		return (t.Year()-start.Year())*12 + int(t.Month()) - int(start.Month())
	}
	for _, d := range anon {
		if i := index(d.Day); i >= 0 && i < len(r.Months) {
			r.Months[i].Anonymous += d.Count
		}
	}
	for _, d := range reg {
		if i := index(d.Day); i >= 0 && i < len(r.Months) {
			r.Months[i].Registered += d.Count
		}
	}
	for i := range r.Months {
		r.Months[i].Total = r.Months[i].Anonymous + r.Months[i].Registered
	}
	return r, nil
}

// Current returns the last month of the report.
func (m *MonthlyActiveUsers) Current() MonthCount {
	if len(m.Months) == 0 {
		return MonthCount{}
	}
	return m.Months[len(m.Months)-1]
}

// WriteCSV writes one row per month.
func (m *MonthlyActiveUsers) WriteCSV(w io.Writer) error {
	rows := [][]string{{"month", "anonymous", "registered", "total", "rule"}}
	for _, c := range m.Months {
		rows = append(rows, []string{c.Month.Format("2006-01"), itoa(c.Anonymous), itoa(c.Registered), itoa(c.Total), m.Rule})
	}
	return writeCSV(w, rows)
}

// total sums metric over [from, to).
func (rp *Reports) total(ctx context.Context, metric string, from, to time.Time) (int64, error) {
	days, err := rp.store.CountPerDay(ctx, metric, from, to)
	if err != nil {
		return 0, fmt.Errorf("count %s: %w", metric, err)
	}
	var n int64
	for _, d := range days {
		n += d.Count
	}
	return n, nil
}

// ratio returns a/b, or 0 when b is 0.
func ratio(a, b int64) float64 {
	if b == 0 {
		return 0
	}
	return float64(a) / float64(b)
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

func day(t time.Time) string { return t.UTC().Format("2006-01-02") }

// writeCSV writes rows as CSV.
func writeCSV(w io.Writer, rows [][]string) error {
	cw := csv.NewWriter(w)
	if err := cw.WriteAll(rows); err != nil {
		return fmt.Errorf("write csv: %w", err)
	}
	return nil
}
