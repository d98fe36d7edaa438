package http_test

import (
	"encoding/csv"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/foyerhq/foyer/admin"
	"github.com/google/go-cmp/cmp"
)

// walkReports walks GET /v1/reports/{name}: every report as JSON and as
// CSV, the ways to give a range, and the errors.
func walkReports(t *testing.T, a *apiChecker, ts *testServer) {
	api := ts.api()
	for _, name := range admin.ReportNames {
		a.do(t, ts, call{name: "Report " + name, method: "GET", path: "/v1/reports/" + name, header: api, wantStatus: 200})
		a.do(t, ts, call{name: "Report " + name + " CSV", method: "GET", path: "/v1/reports/" + name + "?format=csv&days=7", header: api, wantStatus: 200})
	}
	a.do(t, ts, call{name: "ReportDays", method: "GET", path: "/v1/reports/funnel?days=90&format=json", header: api, wantStatus: 200})
	a.do(t, ts, call{name: "ReportDates", method: "GET", path: "/v1/reports/anonymous-created?from=2026-03-01&to=2026-03-08", header: api, wantStatus: 200})
	a.do(t, ts, call{name: "ReportTimes", method: "GET", path: "/v1/reports/time-to-convert?from=2026-03-01T12:00:00Z", header: api, wantStatus: 200})
	a.do(t, ts, call{name: "ReportDaysZero", method: "GET", path: "/v1/reports/funnel?days=0", header: api,
		req: reqInvalid, wantStatus: 400, wantCode: "invalid"})
	a.do(t, ts, call{name: "ReportBadFormat", method: "GET", path: "/v1/reports/funnel?format=xml", header: api,
		req: reqInvalid, wantStatus: 400, wantCode: "invalid"})
	a.do(t, ts, call{name: "ReportBadFrom", method: "GET", path: "/v1/reports/funnel?from=yesterday", header: api,
		wantStatus: 400, wantCode: "invalid"})
	a.do(t, ts, call{name: "ReportDaysAndFrom", method: "GET", path: "/v1/reports/funnel?days=7&from=2026-03-01", header: api,
		wantStatus: 400, wantCode: "invalid"})
	a.do(t, ts, call{name: "ReportUnknown", method: "GET", path: "/v1/reports/signups", header: api,
		req: reqInvalid, wantStatus: 404, wantCode: "not_found"})
}

// TestReports checks the reports API against known answers: three
// visitors signed up, one asked to convert, another was converted two
// hours later.
func TestReports(t *testing.T) {
	ts := setup(t)
	api := ts.api()
	a, b, _ := ts.signup(t), ts.signup(t), ts.signup(t)
	check(t, ts.do("POST", "/v1/me/convert", `{"email":"ann@example.com"}`, join(withCookie(a.Token), jsonType)...), http.StatusAccepted, "")
	ts.clock.Advance(2 * time.Hour)
	check(t, ts.do("POST", "/v1/users/"+b.User.ID+"/convert", `{"email":"bo@example.com","verified":true}`, join(api, jsonType)...), http.StatusOK, "")

	get := func(t *testing.T, path string, v any) *httptest.ResponseRecorder {
		t.Helper()
		w := ts.do("GET", path, "", api...)
		check(t, w, http.StatusOK, "")
		if v != nil {
			if ct := w.Header().Get("Content-Type"); ct != "application/json" {
				t.Fatalf("Content-Type = %q, want application/json", ct)
			}
			decode(t, w, v)
		}
		return w
	}
	day := func(s string) time.Time {
		d, err := time.Parse(time.DateOnly, s)
		if err != nil {
			t.Fatal(err)
		}
		return d
	}

	t.Run("OK/Funnel", func(t *testing.T) {
		var got admin.Funnel
		get(t, "/v1/reports/funnel?days=1", &got)
		want := admin.Funnel{From: day("2026-03-04"), To: day("2026-03-05"), Created: 3, ConversionRequested: 1, Converted: 1}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Fatalf("funnel (-want +got):\n%s", diff)
		}
	})
	t.Run("OK/FunnelCSV", func(t *testing.T) {
		w := get(t, "/v1/reports/funnel?days=1&format=csv", nil)
		if ct := w.Header().Get("Content-Type"); ct != "text/csv; charset=utf-8" {
			t.Fatalf("Content-Type = %q", ct)
		}
		if got, want := w.Header().Get("Content-Disposition"), `attachment; filename="foyer-funnel-2026-03-04-2026-03-04.csv"`; got != want {
			t.Fatalf("Content-Disposition = %q, want %q", got, want)
		}
		rows, err := csv.NewReader(w.Body).ReadAll()
		if err != nil {
			t.Fatal(err)
		}
		want := [][]string{{"step", "count"}, {"Created", "3"}, {"Returned after a day", "0"}, {"Conversion requested", "1"}, {"Converted", "1"}, {"Culled", "0"}}
		if diff := cmp.Diff(want, rows); diff != "" {
			t.Fatalf("funnel CSV (-want +got):\n%s", diff)
		}
	})
	t.Run("OK/AnonymousCreated", func(t *testing.T) {
		var got struct {
			Metric string `json:"metric"`
			Days   []struct {
				Day   time.Time `json:"day"`
				Count int64     `json:"count"`
			} `json:"days"`
			Total int64 `json:"total"`
		}
		get(t, "/v1/reports/anonymous-created?from=2026-03-03&to=2026-03-05", &got)
		if got.Metric != "anonymous_created" || got.Total != 3 || len(got.Days) != 2 ||
			!got.Days[0].Day.Equal(day("2026-03-03")) || got.Days[0].Count != 0 || got.Days[1].Count != 3 {
			t.Fatalf("anonymous-created = %+v, want 0 on 2026-03-03 and 3 on 2026-03-04", got)
		}
	})
	t.Run("OK/ConversionRate", func(t *testing.T) {
		var got admin.ConversionRate
		get(t, "/v1/reports/conversion-rate?days=1", &got)
		if got.AnonymousCreated != 3 || got.Converted != 1 || got.Rate != 1.0/3 {
			t.Fatalf("conversion-rate = %+v, want 1 of 3", got)
		}
	})
	t.Run("OK/TimeToConvert", func(t *testing.T) {
		var got admin.TimeToConvertReport
		get(t, "/v1/reports/time-to-convert?days=1", &got)
		if got.Count != 1 || got.MedianSeconds != 7200 || got.P90Seconds != 7200 || len(got.Buckets) != 6 || got.Buckets[1].Count != 1 {
			t.Fatalf("time-to-convert = %+v, want one conversion of 2 h, in the bucket 1 h to 1 d", got)
		}
	})
	t.Run("OK/ActiveUsers", func(t *testing.T) {
		var got admin.ActiveUsersReport
		get(t, "/v1/reports/active-users", &got)
		if got.Anonymous != 2 || got.Registered != 1 {
			t.Fatalf("active-users = %+v, want 2 anonymous and 1 registered", got)
		}
	})
	t.Run("OK/MonthlyActiveUsers", func(t *testing.T) {
		var got admin.MonthlyActiveUsers
		get(t, "/v1/reports/monthly-active-users", &got)
		if got.Rule != admin.BillingActive || len(got.Months) != admin.MonthsShown {
			t.Fatalf("monthly-active-users = %+v, want %d months under the active rule", got, admin.MonthsShown)
		}
		if last := got.Current(); !last.Month.Equal(day("2026-03-01")) || last.Anonymous != 3 {
			t.Fatalf("monthly-active-users for March 2026 = %+v, want 3 anonymous", last)
		}
	})
	t.Run("OK/Audited", func(t *testing.T) {
		check(t, ts.do("GET", "/v1/reports/nothing", "", api...), http.StatusNotFound, "not_found")
		var page struct {
			Entries []struct {
				Action string `json:"action"`
				Status int    `json:"status"`
			} `json:"entries"`
		}
		get(t, "/v1/audit?actor=api_key:"+ts.apiKeyID+"&limit=2", &page)
		want := []string{"GET /v1/reports/{name} 404", "GET /v1/reports/{name} 200"}
		var got []string
		for _, e := range page.Entries {
			got = append(got, e.Action+" "+strconv.Itoa(e.Status))
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Fatalf("audit entries (-want +got):\n%s", diff)
		}
	})

	ts.run(t, []scenario{
		{name: "ErrUnauthorized", method: "GET", path: "/v1/reports/funnel", wantStatus: 401, wantCode: "unauthorized"},
		{name: "ErrNotFound", method: "GET", path: "/v1/reports/signups", header: api, wantStatus: 404, wantCode: "not_found"},
		{name: "ErrNotFoundCSV", method: "GET", path: "/v1/reports/Funnel?format=csv", header: api, wantStatus: 404, wantCode: "not_found"},
		{name: "ErrDaysZero", method: "GET", path: "/v1/reports/funnel?days=0", header: api, wantStatus: 400, wantCode: "invalid"},
		{name: "ErrDaysTooMany", method: "GET", path: "/v1/reports/funnel?days=3661", header: api, wantStatus: 400, wantCode: "invalid"},
		{name: "ErrDaysNotNumber", method: "GET", path: "/v1/reports/funnel?days=week", header: api, wantStatus: 400, wantCode: "invalid"},
		{name: "ErrFormat", method: "GET", path: "/v1/reports/funnel?format=xml", header: api, wantStatus: 400, wantCode: "invalid"},
		{name: "ErrFrom", method: "GET", path: "/v1/reports/funnel?from=yesterday", header: api, wantStatus: 400, wantCode: "invalid"},
		{name: "ErrTo", method: "GET", path: "/v1/reports/funnel?to=2026-13-01", header: api, wantStatus: 400, wantCode: "invalid"},
		{name: "ErrFromAfterTo", method: "GET", path: "/v1/reports/funnel?from=2026-03-05&to=2026-03-04", header: api, wantStatus: 400, wantCode: "invalid"},
		{name: "ErrEmptyRange", method: "GET", path: "/v1/reports/funnel?from=2026-03-04&to=2026-03-04", header: api, wantStatus: 400, wantCode: "invalid"},
		{name: "ErrRangeTooLong", method: "GET", path: "/v1/reports/anonymous-created?from=2000-01-01&to=2026-01-01", header: api, wantStatus: 400, wantCode: "invalid"},
		{name: "ErrDaysAndTo", method: "GET", path: "/v1/reports/funnel?days=7&to=2026-03-04", header: api, wantStatus: 400, wantCode: "invalid"},
		{name: "ErrUnknownParameter", method: "GET", path: "/v1/reports/funnel?range=7", header: api, wantStatus: 400, wantCode: "invalid"},
		{name: "ErrRepeatedParameter", method: "GET", path: "/v1/reports/funnel?days=1&days=2", header: api, wantStatus: 400, wantCode: "invalid"},
		{name: "ErrCSVErrorIsJSON", method: "GET", path: "/v1/reports/funnel?format=csv&days=0", header: api, wantStatus: 400, wantCode: "invalid"},
	})
}

// FuzzReportsQuery checks that any query string of a report is either
// answered (JSON, or CSV when asked for) or refused as 400 invalid in the
// JSON error shape, never anything else.
func FuzzReportsQuery(f *testing.F) {
	for _, s := range []string{
		"", "days=7", "days=3660", "days=0", "days=-1", "days=1e3", "format=csv", "format=json&days=1",
		"from=2026-03-01&to=2026-03-08", "from=2026-03-01T12:00:00Z", "to=0001-01-01", "from=9999-12-31&to=9999-12-31T23:59:59Z",
		"from=2026-02-30", "days=7&from=2026-03-01", "days=1&days=2", "x=1", "format=", "%zz", "from=+2026-03-01",
	} {
		f.Add(s)
	}
	ts := setup(f)
	f.Fuzz(func(t *testing.T, query string) {
		r := httptest.NewRequest("GET", "/v1/reports/funnel", nil)
		r.URL.RawQuery = query
		r.Header.Set("Authorization", "Bearer "+ts.apiKey)
		w := ts.serve(r)
		switch w.Code {
		case http.StatusOK:
			switch ct := w.Header().Get("Content-Type"); ct {
			case "application/json":
				var fn admin.Funnel
				if err := json.Unmarshal(w.Body.Bytes(), &fn); err != nil || !fn.From.Before(fn.To) {
					t.Fatalf("query %q: funnel %s (%v), want a range that starts before it ends", query, w.Body, err)
				}
			case "text/csv; charset=utf-8":
				rows, err := csv.NewReader(strings.NewReader(w.Body.String())).ReadAll()
				if err != nil || len(rows) != 6 {
					t.Fatalf("query %q: CSV %q (%v), want a header and five steps", query, w.Body, err)
				}
			default:
				t.Fatalf("query %q: Content-Type %q", query, ct)
			}
		case http.StatusBadRequest:
			if code := errorCode(t, w); code != "invalid" {
				t.Fatalf("query %q: code %q, want invalid", query, code)
			}
		default:
			t.Fatalf("query %q: status %d: %s", query, w.Code, w.Body)
		}
	})
}
