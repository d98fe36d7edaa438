package admin

import (
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	foyer "github.com/foyerhq/foyer"
)

// TestRenderPages renders every page with typical data, so that a
// template error shows up here rather than as a 500 in the console.
func TestRenderPages(t *testing.T) {
	h := &Handler{pages: parsePages(), logger: slog.New(slog.DiscardHandler), cfg: Config{}.withDefaults()}
	now := time.Date(2026, 3, 4, 10, 0, 0, 0, time.UTC)
	a := &foyer.Admin{ID: "0195a3b4-0000-7000-8000-000000000001", Email: "ops@example.com", CreatedAt: now, TOTPSecret: "JBSWY3DPEHPK3PXP"}
	u := &foyer.User{ID: "0195a3b4-0000-7000-8000-000000000002", Anonymous: true, PendingEmail: "p@example.com", Data: json.RawMessage(`{"a":[1,2],"b":"<x>"}`), CreatedAt: now, LastSeenAt: now}
	day := func(i int) time.Time { return now.AddDate(0, 0, i).Truncate(24 * time.Hour) }
	days := []foyer.DayCount{{Day: day(-2), Count: 3}, {Day: day(-1), Count: 0}, {Day: day(0), Count: 5}}
	o := &Overview{
		From: day(-2), To: day(1),
		Created:       &DailyReport{Days: days, Total: 8},
		Conversions:   &DailyReport{Days: days, Total: 8},
		Culled:        &DailyReport{Days: days, Total: 8},
		Rate:          &ConversionRate{Rate: 0.25},
		TimeToConvert: &TimeToConvertReport{Count: 2, Median: 90 * time.Minute, P90: 50 * time.Hour, Buckets: []DurationBucket{{Label: "up to 1 h", Count: 1}, {Label: "over 1 h", Count: 1}}},
		Active:        &ActiveUsersReport{Anonymous: 4, Registered: 2},
		Funnel:        &Funnel{Created: 8, ReturnedAfterADay: 3, ConversionRequested: 2, Converted: 1, Culled: 1},
		Monthly:       &MonthlyActiveUsers{Rule: BillingActive, Months: []MonthCount{{Month: day(-30), Anonymous: 2, Registered: 1, Total: 3}}},
	}
	tests := []struct {
		name string
		data func(l layout) any
		want []string
	}{
		{"login", func(l layout) any { return &signInPage{layout: l, Token: "tok", Error: "nope", CanSetUp: true} }, []string{`value="tok"`, "nope", `href="/admin/setup"`}},
		{"setup", func(l layout) any {
			return &setupPage{layout: l, Token: "tok", Errors: map[string]string{"password": "too short"}}
		}, []string{`id="password-error"`, `aria-describedby="password-hint password-error"`}},
		{"error", func(l layout) any { return &errorPage{layout: l, Status: 404, Message: "gone"} }, []string{"gone"}},
		{"dashboard", func(l layout) any {
			return &dashboardPage{layout: l, Days: 30, HasTotals: true, Anonymous: 1234, Registered: 5, Reports: o, Charts: overviewCharts(o),
				CSV: []csvLink{{Href: "/admin/reports/funnel.csv?range=30", Label: "Funnel"}}}
		}, []string{`<svg class="chart-svg"`, "<title id=\"chart-created-title\">", "1\u202f234", "25.0 %", "1 h 30 min <span class=\"muted\">p90 2 d 2 h</span>", `class="visually-hidden"`, "Returned after a day"}},
		{"users", func(l layout) any {
			return &usersPage{layout: l, Users: []*foyer.User{u}, Next: "/admin/users?after=x", Errors: map[string]string{}, MaxScan: maxScan}
		}, []string{u.ID, "pending conversion", `rel="next"`}},
		{"user", func(l layout) any {
			return &userPage{layout: l, User: u, Data: prettyJSON(u.Data), CanConvert: true, CanSessions: true, CanEvents: true,
				Sessions: []*foyer.Session{{ID: "s1", UserID: u.ID, CreatedAt: now}},
				Events:   []timelineEvent{{Type: "user.updated", CreatedAt: now, Details: `{"reason":"x"}`}}, DataError: "Line 1"}
		}, []string{"&#34;b&#34;: &#34;&lt;x&gt;&#34;", "Line 1", "user.updated", "/sessions/s1/revoke", `value="csrf-token"`}},
		{"delete", func(l layout) any { return &deletePage{layout: l, User: u} }, []string{"Delete this user"}},
		{"webhooks", func(l layout) any {
			return &webhooksPage{layout: l, Webhooks: []*foyer.Webhook{{ID: "w1", URL: "https://h.example", EventTypes: []string{"a", "b"}}}}
		}, []string{"a, b", "disabled"}},
		{"webhook", func(l layout) any {
			return &webhookPage{layout: l, Webhook: &foyer.Webhook{ID: "w1", URL: "https://h.example", Enabled: true}, CanDeliveries: true, States: deliveryStates,
				Deliveries: []*foyer.Delivery{{ID: "d1", Status: "failed", LastStatusCode: 502, LastError: "boom"}}}
		}, []string{"HTTP 502", "boom", "/admin/deliveries/d1/redeliver"}},
		{"keys", func(l layout) any {
			return &keysPage{layout: l, Keys: []KeyInfo{{ID: "k1", Algorithm: "ES256", CreatedAt: now}}, CanRotate: true}
		}, []string{"k1", "Rotate"}},
		{"apikeys", func(l layout) any {
			return &apiKeysPage{layout: l, Keys: []*foyer.APIKey{{ID: "k1", Name: "App", Prefix: "foyer_sk_abc"}}, CanCreate: true, Created: &foyer.APIKey{Name: "App"}, Secret: "foyer_sk_secret"}
		}, []string{"foyer_sk_secret", "foyer_sk_abc…"}},
		{"reaper", func(l layout) any { return &reaperPage{layout: l, Ran: true, DryRun: true, Deleted: 3, Cutoff: now} }, []string{"would delete 3"}},
		{"audit", func(l layout) any {
			return &auditPage{layout: l, Entries: []*foyer.AuditEntry{{Actor: "admin:x", Action: "user.delete", Target: "t", Status: 303, CreatedAt: now}}}
		}, []string{"user.delete", "admin:x"}},
		{"mail", func(l layout) any {
			return &mailboxPage{layout: l, Messages: []mailMessage{{Mail: &foyer.Mail{Kind: "conversion", To: "p@example.com"}, Subject: "Hi", Text: "Go https://x.example/a", Links: []string{"https://x.example/a"}}}}
		}, []string{`href="https://x.example/a"`, "Hi"}},
		{"settings", func(l layout) any { return &settingsPage{layout: l, TOTPEnabled: true, Admins: []*foyer.Admin{a}} }, []string{"On:", "ops@example.com"}},
		{"totp", func(l layout) any { return &totpPage{layout: l, Secret: "JBSWY3DPEHPK3PXP", URI: "otpauth://totp/x"} }, []string{"JBSWY3DPEHPK3PXP", "otpauth://totp/x"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := layout{Title: tt.name, Admin: a, CSRF: "csrf-token", Nav: []navItem{{Href: "/admin/", Label: "Dashboard", Current: true}}}
			rec := httptest.NewRecorder()
			h.render(rec, httptest.NewRequest("GET", "/admin/", nil), http.StatusOK, tt.name, tt.data(l))
			if rec.Code != http.StatusOK {
				t.Fatalf("status %d: %s", rec.Code, rec.Body)
			}
			body := rec.Body.String()
			for _, w := range append(tt.want, `href="#main"`, `aria-current="page"`, "Sign out") {
				if !strings.Contains(body, w) {
					t.Errorf("page lacks %q", w)
				}
			}
			if t.Failed() {
				t.Log(body)
			}
		})
	}
}
