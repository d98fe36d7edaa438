package admin

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	foyer "github.com/foyerhq/foyer"
)

// A chart is drawn by the server as inline SVG: the geometry is computed
// here and the template only places it. Every chart carries a <title>, a
// <desc> and a visually hidden table of its numbers, so it reads the same
// with a screen reader.
type chart struct {
	ID     string
	Title  string
	Desc   string
	Width  float64
	Height float64
	// Plot is the plotting area, inside the axes.
	PlotX, PlotY, PlotW, PlotH float64

	Bars   []chartBar
	Line   string // polyline points of a line chart
	Dots   []chartDot
	YTicks []chartTick
	XTicks []chartTick
	// Labels are row labels of a horizontal bar chart.
	Labels []chartTick
	Legend []legendItem
	Table  chartTable
	// Empty says there is nothing to draw yet.
	Empty bool
}

// Right is the x of the plot area's right edge.
func (c chart) Right() float64 { return r1(c.PlotX + c.PlotW) }

// Bottom is the y of the plot area's bottom edge, the x axis.
func (c chart) Bottom() float64 { return r1(c.PlotY + c.PlotH) }

// chartBar is one rectangle, with the value written beside it for
// horizontal charts.
type chartBar struct {
	X, Y, W, H     float64
	Class          string
	Title          string
	Value          string
	ValueX, ValueY float64
}

// chartDot is one point of a line chart.
type chartDot struct {
	X, Y  float64
	Title string
}

// chartTick is a labelled position on an axis.
type chartTick struct {
	X, Y  float64
	Label string
}

// legendItem names a series and its style.
type legendItem struct {
	Class string
	Label string
}

// chartTable is the chart's data as a table.
type chartTable struct {
	Head []string
	Rows [][]string
}

// Chart dimensions, in SVG user units; the SVG scales to its container.
const (
	chartW       = 640.0
	chartH       = 220.0
	marginLeft   = 48.0
	marginRight  = 12.0
	marginTop    = 12.0
	marginBottom = 28.0
	rowH         = 30.0
	labelW       = 190.0
	valueW       = 70.0
)

// r1 rounds to one decimal, to keep the markup short.
func r1(f float64) float64 { return math.Round(f*10) / 10 }

// niceScale returns an axis maximum at or above max and a tick step: a
// 1, 2 or 5 times a power of ten, about four ticks.
func niceScale(max int64) (top, step int64) {
	if max <= 0 {
		return 4, 1
	}
	raw := float64(max) / 4
	mag := math.Pow(10, math.Floor(math.Log10(raw)))
	var s float64
	switch {
	case raw <= mag:
		s = mag
	case raw <= 2*mag:
		s = 2 * mag
	case raw <= 5*mag:
		s = 5 * mag
	default:
		s = 10 * mag
	}
	step = max64(1, int64(s))
	top = (max + step - 1) / step * step
	return top, step
}

func max64(a, b int64) int64 {
	if a > b {
		return a
	}
	return b
}

// newAxes returns a chart with its plot area and y ticks up to top.
func newAxes(id, title, desc string, top, step int64) chart {
	c := chart{
		ID: id, Title: title, Desc: desc, Width: chartW, Height: chartH,
		PlotX: marginLeft, PlotY: marginTop,
		PlotW: chartW - marginLeft - marginRight, PlotH: chartH - marginTop - marginBottom,
	}
	for v := int64(0); v <= top; v += step {
		y := c.PlotY + c.PlotH - float64(v)/float64(top)*c.PlotH
		c.YTicks = append(c.YTicks, chartTick{X: c.PlotX - 6, Y: r1(y), Label: fmtNumber(v)})
	}
	return c
}

// dayTicks labels some of the days along the x axis: every day for a
// week, about seven labels for longer ranges.
func dayTicks(c *chart, days []foyer.DayCount, center func(i int) float64) {
	every := max(1, (len(days)+6)/7)
	for i, d := range days {
		if i%every == 0 {
			c.XTicks = append(c.XTicks, chartTick{X: r1(center(i)), Y: chartH - 8, Label: d.Day.UTC().Format("Jan 2")})
		}
	}
}

// dailyBarChart draws one bar per day.
func dailyBarChart(id, title, unit string, days []foyer.DayCount) chart {
	var max int64
	var total int64
	for _, d := range days {
		max = max64(max, d.Count)
		total += d.Count
	}
	top, step := niceScale(max)
	c := newAxes(id, title, fmt.Sprintf("%s per day from %s to %s; %s in all.", capitalize(unit), firstDay(days), lastDay(days), fmtNumber(total)), top, step)
	c.Table.Head = []string{"Day", capitalize(unit)}
	c.Empty = len(days) == 0
	if len(days) == 0 {
		return c
	}
	slot := c.PlotW / float64(len(days))
	gap := math.Min(slot*0.2, 4)
	for i, d := range days {
		h := float64(d.Count) / float64(top) * c.PlotH
		c.Bars = append(c.Bars, chartBar{
			X: r1(c.PlotX + float64(i)*slot + gap/2), Y: r1(c.PlotY + c.PlotH - h),
			W: r1(slot - gap), H: r1(h), Class: "bar",
			Title: fmt.Sprintf("%s: %s %s", d.Day.UTC().Format("2006-01-02"), fmtNumber(d.Count), unit),
		})
		c.Table.Rows = append(c.Table.Rows, []string{d.Day.UTC().Format("2006-01-02"), fmtNumber(d.Count)})
	}
	dayTicks(&c, days, func(i int) float64 { return c.PlotX + (float64(i)+0.5)*slot })
	return c
}

// dailyLineChart draws the days as a line with a dot per day.
func dailyLineChart(id, title, unit string, days []foyer.DayCount) chart {
	var max, total int64
	for _, d := range days {
		max = max64(max, d.Count)
		total += d.Count
	}
	top, step := niceScale(max)
	c := newAxes(id, title, fmt.Sprintf("%s per day from %s to %s; %s in all.", capitalize(unit), firstDay(days), lastDay(days), fmtNumber(total)), top, step)
	c.Table.Head = []string{"Day", capitalize(unit)}
	c.Empty = len(days) == 0
	if len(days) == 0 {
		return c
	}
	slot := c.PlotW / float64(len(days))
	pts := make([]string, 0, len(days))
	for i, d := range days {
		x := r1(c.PlotX + (float64(i)+0.5)*slot)
		y := r1(c.PlotY + c.PlotH - float64(d.Count)/float64(top)*c.PlotH)
		pts = append(pts, strconv.FormatFloat(x, 'f', -1, 64)+","+strconv.FormatFloat(y, 'f', -1, 64))
		c.Dots = append(c.Dots, chartDot{X: x, Y: y, Title: fmt.Sprintf("%s: %s %s", d.Day.UTC().Format("2006-01-02"), fmtNumber(d.Count), unit)})
		c.Table.Rows = append(c.Table.Rows, []string{d.Day.UTC().Format("2006-01-02"), fmtNumber(d.Count)})
	}
	c.Line = strings.Join(pts, " ")
	dayTicks(&c, days, func(i int) float64 { return c.PlotX + (float64(i)+0.5)*slot })
	return c
}

// hbar is one row of a horizontal bar chart.
type hbar struct {
	Label string
	Count int64
}

// horizontalChart draws one labelled bar per row, longest for the
// largest count, with the count written at its end.
func horizontalChart(id, title, desc, head string, rows []hbar) chart {
	c := chart{ID: id, Title: title, Desc: desc, Width: chartW, Height: r1(float64(len(rows))*rowH + 8)}
	c.PlotX, c.PlotY = labelW, 4
	c.PlotW, c.PlotH = chartW-labelW-valueW, c.Height-8
	c.Table.Head = []string{"", head}
	var max int64
	for _, r := range rows {
		max = max64(max, r.Count)
	}
	for i, r := range rows {
		y := c.PlotY + float64(i)*rowH
		w := 0.0
		if max > 0 {
			w = float64(r.Count) / float64(max) * c.PlotW
		}
		c.Labels = append(c.Labels, chartTick{X: labelW - 8, Y: r1(y + rowH/2 + 4), Label: r.Label})
		c.Bars = append(c.Bars, chartBar{
			X: c.PlotX, Y: r1(y + 5), W: r1(w), H: rowH - 10, Class: "bar",
			Title: r.Label + ": " + fmtNumber(r.Count),
			Value: fmtNumber(r.Count), ValueX: r1(c.PlotX + w + 6), ValueY: r1(y + rowH/2 + 4),
		})
		c.Table.Rows = append(c.Table.Rows, []string{r.Label, fmtNumber(r.Count)})
	}
	return c
}

// monthlyChart draws the monthly active users as stacked bars: anonymous
// below, registered above.
func monthlyChart(id string, m *MonthlyActiveUsers) chart {
	var max int64
	for _, mc := range m.Months {
		max = max64(max, mc.Total)
	}
	top, step := niceScale(max)
	rule := "anonymous users count in every month they were active"
	if m.Rule == BillingCreatedMonth {
		rule = "anonymous users count once, in the month they were created"
	}
	c := newAxes(id, "Monthly active users", fmt.Sprintf("Anonymous and registered users per month for %d months; %s.", len(m.Months), rule), top, step)
	c.Table.Head = []string{"Month", "Anonymous", "Registered", "Total"}
	c.Legend = []legendItem{{"bar", "Anonymous"}, {"bar-alt", "Registered"}}
	if len(m.Months) == 0 {
		c.Empty = true
		return c
	}
	slot := c.PlotW / float64(len(m.Months))
	gap := math.Min(slot*0.25, 10)
	for i, mc := range m.Months {
		x := r1(c.PlotX + float64(i)*slot + gap/2)
		ha := float64(mc.Anonymous) / float64(top) * c.PlotH
		hr := float64(mc.Registered) / float64(top) * c.PlotH
		month := mc.Month.Format("January 2006")
		c.Bars = append(c.Bars,
			chartBar{X: x, Y: r1(c.PlotY + c.PlotH - ha), W: r1(slot - gap), H: r1(ha), Class: "bar", Title: fmt.Sprintf("%s: %s anonymous", month, fmtNumber(mc.Anonymous))},
			chartBar{X: x, Y: r1(c.PlotY + c.PlotH - ha - hr), W: r1(slot - gap), H: r1(hr), Class: "bar-alt", Title: fmt.Sprintf("%s: %s registered", month, fmtNumber(mc.Registered))},
		)
		c.XTicks = append(c.XTicks, chartTick{X: r1(c.PlotX + (float64(i)+0.5)*slot), Y: chartH - 8, Label: mc.Month.Format("Jan")})
		c.Table.Rows = append(c.Table.Rows, []string{mc.Month.Format("2006-01"), fmtNumber(mc.Anonymous), fmtNumber(mc.Registered), fmtNumber(mc.Total)})
	}
	return c
}

func firstDay(days []foyer.DayCount) string {
	if len(days) == 0 {
		return "—"
	}
	return days[0].Day.UTC().Format("2006-01-02")
}

func lastDay(days []foyer.DayCount) string {
	if len(days) == 0 {
		return "—"
	}
	return days[len(days)-1].Day.UTC().Format("2006-01-02")
}

func capitalize(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// durationRows turns time-to-convert buckets into chart rows.
func durationRows(bs []DurationBucket) []hbar {
	rows := make([]hbar, len(bs))
	for i, b := range bs {
		rows[i] = hbar{Label: b.Label, Count: b.Count}
	}
	return rows
}

// dayRange describes [from, to) as days for people: to is exclusive.
func dayRange(from, to time.Time) string {
	return from.UTC().Format("2006-01-02") + " to " + to.UTC().Add(-time.Nanosecond).Format("2006-01-02")
}
