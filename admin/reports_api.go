package admin

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"time"

	foyer "github.com/foyerhq/foyer"
)

// MaxReportDays is the longest range, in days, that the reports API
// answers: about ten years.
const MaxReportDays = 3660

// ReportsAPIHandler serves the reports on the server API, as
// GET /v1/reports/{name}: the handler reads the report name from
// r.PathValue("name") (one of ReportNames) and answers it as JSON, or as
// CSV with ?format=csv. The range is given by days=N (the last N UTC days,
// today included), or by from and to (a date such as 2026-03-01, meaning
// the start of that UTC day, or an RFC 3339 time; from is included, to is
// not; to defaults to the start of tomorrow and from to DefaultRange days
// before to). Without either, the range is the last DefaultRange days. The
// active users report covers the ActiveWindow before to, and the monthly
// active users report the MonthsShown months up to the one of to.
//
// An unknown name is 404 not_found; an unknown or repeated parameter or a
// bad value is 400 invalid. Errors use Foyer's JSON error shape,
// {"error":{"code","message"}}. The handler does no authentication: mount
// it behind the server API's API-key check and audit log.
func ReportsAPIHandler(reports *Reports) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := serveReport(w, r, reports); err != nil {
			writeAPIError(w, err)
		}
	})
}

// reportQuery is the parsed query of a reports API request.
type reportQuery struct {
	csv      bool
	from, to time.Time
}

// serveReport answers one reports API request.
func serveReport(w http.ResponseWriter, r *http.Request, reports *Reports) error {
	name := r.PathValue("name")
	if !slices.Contains(ReportNames, name) {
		return foyer.Errorf(foyer.ENotFound, "There is no report called %q; the reports are %s.", name, reportList())
	}
	q, err := parseReportQuery(r.URL.Query(), reports)
	if err != nil {
		return err
	}
	rep, err := reports.Report(r.Context(), name, q.from, q.to)
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	h := w.Header()
	if q.csv {
		if err := rep.WriteCSV(&buf); err != nil {
			return err
		}
		h.Set("Content-Type", "text/csv; charset=utf-8")
		h.Set("Content-Disposition", fmt.Sprintf(`attachment; filename="foyer-%s-%s-%s.csv"`, name, day(q.from), day(q.to.Add(-time.Nanosecond))))
	} else {
		b, err := json.Marshal(rep)
		if err != nil {
			return fmt.Errorf("encode report %s: %w", name, err)
		}
		buf.Write(b)
		buf.WriteByte('\n')
		h.Set("Content-Type", "application/json")
	}
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(http.StatusOK)
	w.Write(buf.Bytes())
	return nil
}

// reportParams are the query parameters of the reports API.
var reportParams = []string{"format", "days", "from", "to"}

// parseReportQuery reads format, days, from and to. Every parameter may
// appear once; unknown parameters and bad values are EInvalid.
func parseReportQuery(v url.Values, reports *Reports) (reportQuery, error) {
	var q reportQuery
	for k, vs := range v {
		if !slices.Contains(reportParams, k) {
			return q, foyer.Errorf(foyer.EInvalid, "Unknown query parameter %q; the reports take %s.", k, "format, days, from and to")
		}
		if len(vs) != 1 {
			return q, foyer.Errorf(foyer.EInvalid, "The query parameter %q may be given once.", k)
		}
	}
	switch f := v.Get("format"); {
	case !v.Has("format"), f == "json":
	case f == "csv":
		q.csv = true
	default:
		return q, foyer.Errorf(foyer.EInvalid, "format must be json or csv.")
	}
	if v.Has("days") {
		if v.Has("from") || v.Has("to") {
			return q, foyer.Errorf(foyer.EInvalid, "Give either days or from and to, not both.")
		}
		n, err := strconv.Atoi(v.Get("days"))
		if err != nil || n < 1 || n > MaxReportDays {
			return q, foyer.Errorf(foyer.EInvalid, "days must be an integer from 1 to %d.", MaxReportDays)
		}
		q.from, q.to = reports.LastDays(n)
		return q, nil
	}
	_, q.to = reports.LastDays(DefaultRange)
	if v.Has("to") {
		t, ok := parseReportTime(v.Get("to"))
		if !ok {
			return q, foyer.Errorf(foyer.EInvalid, "to %s.", reportTimeError)
		}
		q.to = t
	}
	q.from = q.to.AddDate(0, 0, -DefaultRange)
	if v.Has("from") {
		t, ok := parseReportTime(v.Get("from"))
		if !ok {
			return q, foyer.Errorf(foyer.EInvalid, "from %s.", reportTimeError)
		}
		q.from = t
	}
	if !q.from.Before(q.to) {
		return q, foyer.Errorf(foyer.EInvalid, "from must be before to.")
	}
	if q.to.Sub(q.from) > MaxReportDays*24*time.Hour {
		return q, foyer.Errorf(foyer.EInvalid, "A report covers at most %d days.", MaxReportDays)
	}
	return q, nil
}

// reportTimeError says what from and to must be, after the parameter's
// name.
const reportTimeError = "must be a date such as 2026-03-01 or an RFC 3339 time such as 2026-03-01T12:00:00Z"

// parseReportTime reads a date (the start of that UTC day) or an RFC 3339
// time, in UTC. Years outside 1 to 9999 are refused.
func parseReportTime(s string) (time.Time, bool) {
	layout := time.RFC3339Nano
	if len(s) == len(time.DateOnly) {
		layout = time.DateOnly
	}
	t, err := time.Parse(layout, s)
	if err != nil {
		return time.Time{}, false
	}
	t = t.UTC()
	if t.Year() < 1 || t.Year() > 9999 {
		return time.Time{}, false
	}
	return t, true
}

// reportList names the reports for an error message.
func reportList() string {
	var b bytes.Buffer
	for i, n := range ReportNames {
		switch {
		case i == len(ReportNames)-1:
			b.WriteString(" and ")
		case i > 0:
			b.WriteString(", ")
		}
		b.WriteString(n)
	}
	return b.String()
}

// writeAPIError writes err as {"error":{"code","message"}} with the
// status of its code. Server-side failures keep a generic message.
func writeAPIError(w http.ResponseWriter, err error) {
	status := errorStatus(err)
	code, msg := foyer.ErrorCode(err), foyer.ErrorMessage(err)
	if status >= 500 && code != foyer.EUnavailable {
		code, msg = foyer.EInternal, "An internal error occurred."
	}
	var body struct {
		Error struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
	body.Error.Code, body.Error.Message = code, msg
	b, _ := json.Marshal(body)
	h := w.Header()
	h.Del("Content-Disposition")
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	w.Write(append(b, '\n'))
}
