package admin_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	foyer "github.com/foyerhq/foyer"
	"github.com/foyerhq/foyer/internal/browsertest"
)

// browser is a headless Chromium driving the console for one test.
type browser struct {
	t   *testing.T
	ctx context.Context
	c   *console
}

// newBrowser starts a headless Chromium with a fresh profile in
// t.TempDir(). Without Chromium the test is skipped, except in CI, where
// it fails. When the test fails, a screenshot of the page is saved under
// $FOYER_TEST_ARTIFACTS (default: a temporary directory), named after the
// test.
func newBrowser(t *testing.T, c *console) *browser {
	t.Helper()
	ctx := browsertest.New(t,
		chromedp.Headless,   // also --hide-scrollbars --mute-audio
		chromedp.DisableGPU, // also --enable-unsafe-swiftshader
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.WindowSize(1280, 1000),
	)
	// A safety net against a hung browser, not an assertion on time.
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	t.Cleanup(cancel)
	b := &browser{t: t, ctx: ctx, c: c}
	// Cleanups run last-in first-out: the screenshot is taken before the
	// browser is stopped.
	t.Cleanup(func() {
		if t.Failed() {
			b.screenshot()
		}
	})
	return b
}

// screenshot saves the whole page as a PNG artifact.
func (b *browser) screenshot() {
	path, err := browsertest.Screenshot(b.ctx, b.t.TempDir(), b.t.Name())
	if err != nil {
		b.t.Logf("screenshot: %v", err)
		return
	}
	b.t.Logf("screenshot saved to %s", path)
}

// open loads path of the console and checks the status.
func (b *browser) open(path string, want int) {
	b.t.Helper()
	resp, err := chromedp.Run(b.ctx, chromedp.NavigateResponse(b.c.URL+path))
	if err != nil {
		b.t.Fatalf("open %s: %v", path, err)
	}
	if int(resp.Status) != want {
		b.t.Fatalf("open %s: status %d, want %d", path, resp.Status, want)
	}
}

// fill types value into the field with the CSS selector sel, replacing
// what it held.
func (b *browser) fill(sel, value string) {
	b.t.Helper()
	if err := chromedp.Do(b.ctx, chromedp.Clear(chromedp.CSS(sel)), chromedp.SendKeys(chromedp.CSS(sel), value)); err != nil {
		b.t.Fatalf("fill %s: %v", sel, err)
	}
}

// setValue sets a field's value at once (for dates and long text).
func (b *browser) setValue(sel, value string) {
	b.t.Helper()
	if err := chromedp.Do(b.ctx, chromedp.SetValue(chromedp.CSS(sel), value)); err != nil {
		b.t.Fatalf("set %s: %v", sel, err)
	}
}

// click clicks the element sel, which loads a page, and checks the
// status of the page it lands on.
func (b *browser) click(sel string, want int) {
	b.t.Helper()
	resp, err := chromedp.RunResponse(b.ctx, chromedp.Click(chromedp.CSS(sel)))
	if err != nil {
		b.t.Fatalf("click %s: %v", sel, err)
	}
	if int(resp.Status) != want {
		b.t.Fatalf("click %s: landed with status %d, want %d", sel, resp.Status, want)
	}
}

// text returns the visible text of the element sel.
func (b *browser) text(sel string) string {
	b.t.Helper()
	s, err := chromedp.Run(b.ctx, chromedp.TextContent(chromedp.CSS(sel)))
	if err != nil {
		b.t.Fatalf("text of %s: %v", sel, err)
	}
	return strings.Join(strings.Fields(s), " ")
}

// eval evaluates a JavaScript expression in the page.
func eval[T any](b *browser, expr string) T {
	b.t.Helper()
	v, err := chromedp.Run(b.ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		b.t.Fatalf("evaluate %s: %v", expr, err)
	}
	return v
}

// path returns the path and query of the page shown.
func (b *browser) path() string {
	b.t.Helper()
	loc, err := chromedp.Run(b.ctx, chromedp.Location())
	if err != nil {
		b.t.Fatal(err)
	}
	return strings.TrimPrefix(loc, b.c.URL)
}

// signIn signs in through the form.
func (b *browser) signIn(email, password, code string, want int) {
	b.t.Helper()
	b.open("/admin/login", http.StatusOK)
	b.fill("#email", email)
	b.fill("#password", password)
	if code != "" {
		b.fill("#code", code)
	}
	b.click(`form[action="/admin/login"] button[type=submit]`, want)
}

func TestBrowserSignIn(t *testing.T) {
	c := setup(t)
	b := newBrowser(t, c)

	// First run: the setup page creates the first admin.
	b.open("/admin/login", http.StatusOK)
	b.click(`a[href="/admin/setup"]`, http.StatusOK)
	b.fill("#bootstrap_key", bootstrapKey)
	b.fill("#email", adminEmail)
	b.fill("#password", adminPassword)
	b.fill("#password_confirm", adminPassword)
	b.click(`form[action="/admin/setup"] button`, http.StatusOK)
	if got := b.path(); got != "/admin/?notice=welcome" {
		t.Fatalf("after setup at %q", got)
	}
	if got := b.text(".notice"); got != "Foyer is set up and you are signed in." {
		t.Fatalf("notice %q", got)
	}
	// The session cookie is not readable by scripts.
	if got := eval[string](b, "document.cookie"); got != "" {
		t.Fatalf("document.cookie = %q", got)
	}

	// Sign out and in again with the password alone.
	b.click(`form[action="/admin/logout"] button`, http.StatusOK)
	if got := b.text(".notice"); got != "You are signed out." {
		t.Fatalf("notice %q", got)
	}
	b.signIn(adminEmail, "wrong password", "", http.StatusUnauthorized)
	if got := b.text("#signin-error"); !strings.Contains(got, "is not right") {
		t.Fatalf("error %q", got)
	}
	b.signIn(adminEmail, adminPassword, "", http.StatusOK)
	if got := b.path(); got != "/admin/" {
		t.Fatalf("signed in at %q", got)
	}

	// Turn on two-step verification from the settings page.
	b.click(`nav a[href="/admin/settings"]`, http.StatusOK)
	b.click(`a[href="/admin/settings/totp"]`, http.StatusOK)
	secret := b.text("#totp-secret")
	if uri := b.text("#totp-uri"); !strings.HasPrefix(uri, "otpauth://totp/Foyer:ops@example.com?") || !strings.Contains(uri, "secret="+secret) {
		t.Fatalf("uri %q for secret %q", uri, secret)
	}
	b.fill("#code", "000000")
	b.click(`form[action="/admin/settings/totp"] button`, http.StatusUnprocessableEntity)
	if got := b.text("#code-error"); !strings.Contains(got, "not right") {
		t.Fatalf("error %q", got)
	}
	b.fill("#code", c.totpCode(t, secret))
	b.click(`form[action="/admin/settings/totp"] button`, http.StatusOK)
	if got := b.text("#totp-status"); !strings.HasPrefix(got, "On:") {
		t.Fatalf("status %q", got)
	}

	// Signing in now needs the code.
	b.click(`form[action="/admin/logout"] button`, http.StatusOK)
	c.clock.Advance(30 * time.Second)
	b.signIn(adminEmail, adminPassword, "", http.StatusUnauthorized)
	b.signIn(adminEmail, adminPassword, c.totpCode(t, secret), http.StatusOK)
	if got := b.path(); got != "/admin/" {
		t.Fatalf("signed in at %q", got)
	}
	if got := b.text(".signout .who"); got != adminEmail {
		t.Fatalf("signed in as %q", got)
	}
}

func TestBrowserUserSearch(t *testing.T) {
	c := setup(t)
	c.createAdmin(t, adminEmail)
	a1 := c.anonymous(t, `{}`)
	a2 := c.anonymous(t, `{}`)
	c.requestConversion(t, a2, "pending@example.com")
	r1 := c.registered(t, "ann@example.com")
	c.clock.Advance(72 * time.Hour)
	a3 := c.anonymous(t, `{}`)

	b := newBrowser(t, c)
	b.signIn(adminEmail, adminPassword, "", http.StatusOK)
	b.click(`nav a[href="/admin/users"]`, http.StatusOK)
	rows := func() []string {
		t.Helper()
		return eval[[]string](b, `Array.from(document.querySelectorAll("#users tbody th a")).map(a => a.textContent)`)
	}
	if got := rows(); len(got) != 4 {
		t.Fatalf("%d users listed, want 4: %v", len(got), got)
	}

	// Search by email, as typed.
	b.fill("#q", "ANN@example.com")
	b.click(`form[role=search] button[type=submit]`, http.StatusOK)
	if got := rows(); len(got) != 1 || got[0] != r1.ID {
		t.Fatalf("search by email: %v", got)
	}

	// Filter by state.
	b.fill("#q", "")
	if err := chromedp.Do(b.ctx, chromedp.SetValue(chromedp.CSS("#state"), "pending")); err != nil {
		t.Fatal(err)
	}
	b.click(`form[role=search] button[type=submit]`, http.StatusOK)
	if got := rows(); len(got) != 1 || got[0] != a2.ID {
		t.Fatalf("pending: %v", got)
	}
	if got := b.path(); got != "/admin/users?q=&state=pending&created_from=&created_to=&active_from=&active_to=" {
		t.Fatalf("at %q", got)
	}

	// Anonymous users created from the fourth day on.
	if err := chromedp.Do(b.ctx, chromedp.SetValue(chromedp.CSS("#state"), "anonymous")); err != nil {
		t.Fatal(err)
	}
	b.setValue("#created_from", start.AddDate(0, 0, 2).Format("2006-01-02"))
	b.click(`form[role=search] button[type=submit]`, http.StatusOK)
	if got := rows(); len(got) != 1 || got[0] != a3.ID {
		t.Fatalf("anonymous created later: %v", got)
	}

	// A search that matches nothing says so; a bad one shows why.
	b.open("/admin/users?q="+a1.ID+"&state=registered", http.StatusOK)
	if got := b.text("#no-users"); got != "No users match." {
		t.Fatalf("empty result %q", got)
	}
	b.open("/admin/users?q=nobody", http.StatusBadRequest)
	if got := b.text("#q-error"); got != "Enter a whole email address or a user id." {
		t.Fatalf("error %q", got)
	}
	if got := eval[string](b, `document.querySelector("#q").getAttribute("aria-describedby")`); got != "q-error" {
		t.Fatalf("aria-describedby %q", got)
	}

	// From the list to the user's page.
	b.open("/admin/users", http.StatusOK)
	b.click(`a[href="/admin/users/`+a1.ID+`"]`, http.StatusOK)
	if got := b.text("#user-state"); got != "anonymous" {
		t.Fatalf("state %q", got)
	}
}

func TestBrowserUserPage(t *testing.T) {
	c := setup(t)
	c.createAdmin(t, adminEmail)
	ctx := t.Context()
	u := c.registered(t, "bob@example.com")
	if _, err := c.users.UpdateUser(ctx, u.ID, foyer.UserUpdate{DataPatch: []byte(`{"theme":"dark","cart":[1,2]}`)}); err != nil {
		t.Fatal(err)
	}
	s1 := c.session(t, u, "Firefox on Linux")
	s2 := c.session(t, u, "Safari on iPhone")

	b := newBrowser(t, c)
	b.signIn(adminEmail, adminPassword, "", http.StatusOK)
	page := "/admin/users/" + u.ID
	b.open(page, http.StatusOK)

	// The editor shows the data pretty-printed.
	if got := eval[string](b, `document.querySelector("#data").value`); got != "{\n  \"cart\": [\n    1,\n    2\n  ],\n  \"theme\": \"dark\"\n}" {
		t.Fatalf("editor holds %q", got)
	}

	// Invalid JSON is shown inline, with the text kept.
	b.setValue("#data", "{\"theme\": \"light\",}")
	b.click(`form[action$="/data"] button`, http.StatusUnprocessableEntity)
	if got := b.text("#data-error"); !strings.HasPrefix(got, "Line 1, column 19:") {
		t.Fatalf("error %q", got)
	}
	if got := eval[string](b, `document.querySelector("#data").value`); got != "{\"theme\": \"light\",}" {
		t.Fatalf("editor holds %q", got)
	}

	// Valid data replaces the document.
	b.setValue("#data", `{"theme": "light", "level": 7}`)
	b.click(`form[action$="/data"] button`, http.StatusOK)
	if got := b.text(".notice"); got != "The profile data was saved." {
		t.Fatalf("notice %q", got)
	}
	got, _ := c.users.FindUserByID(ctx, u.ID)
	if string(got.Data) != `{"level":7,"theme":"light"}` && string(got.Data) != `{"theme":"light","level":7}` {
		t.Fatalf("data %s", got.Data)
	}

	// Revoke one session.
	rows := eval[int](b, `document.querySelectorAll("#session-list tbody tr").length`)
	if rows != 2 {
		t.Fatalf("%d sessions listed", rows)
	}
	b.click(`form[action="/admin/users/`+u.ID+`/sessions/`+s1.ID+`/revoke"] button`, http.StatusOK)
	if got := b.text(".notice"); got != "The session was revoked." {
		t.Fatalf("notice %q", got)
	}
	left, _ := c.sessions.FindSessions(ctx, u.ID)
	if len(left) != 1 || left[0].ID != s2.ID {
		t.Fatalf("sessions left %v", left)
	}

	// Delete: a confirmation page, then the post.
	b.click(`a[href="`+page+`/delete"]`, http.StatusOK)
	if _, err := c.users.FindUserByID(ctx, u.ID); err != nil {
		t.Fatal("the confirmation page deleted the user")
	}
	b.click(`form[action="`+page+`/delete"] button`, http.StatusOK)
	if got := b.path(); got != "/admin/users?notice=user-deleted" {
		t.Fatalf("after delete at %q", got)
	}
	if _, err := c.users.FindUserByID(ctx, u.ID); foyer.ErrorCode(err) != foyer.ENotFound {
		t.Fatalf("user: %v", err)
	}
}

// TestBrowserCrossSiteForm serves a page on another origin that submits
// a form to the console as soon as it loads, in the browser of a signed-in
// admin, and checks that nothing changed.
func TestBrowserCrossSiteForm(t *testing.T) {
	c := setup(t)
	c.createAdmin(t, adminEmail)
	u := c.anonymous(t, `{"cart":[1]}`)
	evil := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(w, `<!doctype html><title>Win a prize</title>
<form id="f" method="post" action="%s/admin/users/%s/delete"><input name="csrf" value="guess"></form>
<script>document.getElementById("f").submit()</script>`, c.URL, u.ID)
	}))
	t.Cleanup(evil.Close)

	b := newBrowser(t, c)
	b.signIn(adminEmail, adminPassword, "", http.StatusOK)
	resp, err := chromedp.RunResponse(b.ctx, chromedp.Navigate(evil.URL))
	if err != nil {
		t.Fatal(err)
	}
	// The navigation's first page is the other site's; wait for the
	// console's answer to the form it posted.
	if err := chromedp.Do(b.ctx, chromedp.WaitVisible(chromedp.CSS(".error"))); err != nil {
		t.Fatalf("after the cross-site post (first response %d): %v", resp.Status, err)
	}
	if got := b.text(".error"); !strings.Contains(got, "sent from another site") {
		t.Fatalf("error %q", got)
	}
	if _, err := c.users.FindUserByID(t.Context(), u.ID); err != nil {
		t.Fatalf("the cross-site form deleted the user: %v", err)
	}
	if got := c.auditActions(t, u.ID); len(got) != 0 {
		t.Fatalf("audit %v", got)
	}
}

func TestBrowserDashboard(t *testing.T) {
	c := setup(t)
	reportFixture(t, c)
	c.createAdmin(t, adminEmail)
	b := newBrowser(t, c)
	b.signIn(adminEmail, adminPassword, "", http.StatusOK)

	for sel, want := range map[string]string{
		"#fig-anonymous": "3",
		"#fig-created":   "7",
		"#fig-converted": "2",
		"#fig-rate":      "28.6 %",
		"#fig-ttc":       "4 d 21 h p90 15 d",
		"#fig-culled":    "2",
		"#fig-mau":       "3 (2 anonymous, 1 registered)",
	} {
		if got := b.text(sel); got != want {
			t.Errorf("%s = %q, want %q", sel, got, want)
		}
	}

	// One bar per day of the range, each with its count in its title, and
	// the tallest for 10 February.
	bars := eval[[]string](b, `Array.from(document.querySelectorAll("#chart-created rect")).map(r => r.querySelector("title").textContent)`)
	if len(bars) != 30 || bars[7] != "2026-02-10: 4 anonymous accounts" || bars[17] != "2026-02-20: 2 anonymous accounts" {
		t.Fatalf("%d bars: %q", len(bars), bars)
	}
	tallest := eval[string](b, `(() => {
		const rs = Array.from(document.querySelectorAll("#chart-created rect"));
		rs.sort((a, b) => b.getBBox().height - a.getBBox().height);
		return rs[0].querySelector("title").textContent;
	})()`)
	if tallest != "2026-02-10: 4 anonymous accounts" {
		t.Fatalf("tallest bar %q", tallest)
	}
	// The charts are drawn at a visible size and described for screen
	// readers; their numbers are in a table that only those read.
	if w := eval[float64](b, `document.querySelector("#chart-funnel svg").getBoundingClientRect().width`); w < 200 {
		t.Fatalf("funnel chart %v px wide", w)
	}
	if got := eval[string](b, `document.querySelector("#chart-funnel svg").getAttribute("role")`); got != "img" {
		t.Fatalf("role %q", got)
	}
	funnel := eval[[]string](b, `Array.from(document.querySelectorAll("#chart-funnel table tbody tr")).map(r => Array.from(r.cells).map(c => c.textContent).join(" "))`)
	if want := []string{"Created 7", "Returned after a day 2", "Conversion requested 1", "Converted 2", "Culled 2"}; strings.Join(funnel, "|") != strings.Join(want, "|") {
		t.Fatalf("funnel table %q", funnel)
	}
	if h := eval[float64](b, `document.querySelector("#chart-funnel .visually-hidden").getBoundingClientRect().height`); h > 1 {
		t.Fatalf("the data table is visible (%v px)", h)
	}
	mau := eval[[]string](b, `Array.from(document.querySelectorAll("#chart-mau rect title")).slice(-4).map(t => t.textContent)`)
	if want := []string{"February 2026: 6 anonymous", "February 2026: 0 registered", "March 2026: 2 anonymous", "March 2026: 1 registered"}; strings.Join(mau, "|") != strings.Join(want, "|") {
		t.Fatalf("monthly bars %q", mau)
	}

	// The range selector.
	b.click(`a[href="/admin/?range=7"]`, http.StatusOK)
	if got := b.text("#fig-created"); got != "1" {
		t.Fatalf("created in 7 days: %q", got)
	}
	if n := eval[int](b, `document.querySelectorAll("#chart-created rect").length`); n != 7 {
		t.Fatalf("%d bars for 7 days", n)
	}
	if got := eval[string](b, `document.querySelector('a[aria-current="page"][href^="/admin/?range"]').textContent`); got != "Last 7 days" {
		t.Fatalf("current range %q", got)
	}
}
