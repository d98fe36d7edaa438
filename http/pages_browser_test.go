package http_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	foyer "github.com/foyerhq/foyer"
	foyerhttp "github.com/foyerhq/foyer/http"
	"github.com/foyerhq/foyer/mail"
)

// chromiumPath returns the Chromium the browser tests drive. Without one
// they skip, except in CI, where they fail.
func chromiumPath(t *testing.T) string {
	t.Helper()
	if _, err := os.Stat("/usr/bin/chromium"); err == nil {
		return "/usr/bin/chromium"
	}
	if p, err := exec.LookPath("chromium"); err == nil {
		return p
	}
	if os.Getenv("CI") != "" {
		t.Fatal("chromium must be installed in CI")
	}
	t.Skip("chromium is not installed")
	return ""
}

// stepTimeout bounds one browser step, so that a page that never shows
// what a step waits for fails with a screenshot instead of hanging the
// test run. It is a guard, not an assertion about speed.
const stepTimeout = 30 * time.Second

// chrome is one headless Chromium with a fresh profile of its own: one
// person's browser.
type chrome struct {
	t    *testing.T
	name string
	ctx  context.Context
}

// newChrome starts a browser named name for the person it stands for.
func newChrome(t *testing.T, execPath, name string) *chrome {
	t.Helper()
	actx, cancelAlloc := chromedp.NewExecAllocator(t.Context(),
		chromedp.ExecPath(execPath),
		chromedp.Flag("headless", true),
		chromedp.Flag("no-sandbox", true),
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("no-first-run", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1024, 900),
	)
	ctx, cancel := chromedp.NewContext(actx, chromedp.WithErrorf(func(string, ...any) {}))
	t.Cleanup(func() {
		cancel()
		cancelAlloc()
	})
	// The first run starts the browser; it must not have a timeout.
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	return &chrome{t: t, name: name, ctx: ctx}
}

// do runs the actions of one step; on failure it saves a screenshot and
// fails the test.
func (c *chrome) do(step string, actions ...chromedp.Action[chromedp.Void]) {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(c.ctx, stepTimeout)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		c.fail(step, err)
	}
}

// text returns the visible text of the first element matching sel.
func (c *chrome) text(step, sel string) string {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(c.ctx, stepTimeout)
	defer cancel()
	s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel), chromedp.NodeVisible))
	if err != nil {
		c.fail(step, err)
	}
	return s
}

// fail saves a screenshot of the page and fails the test.
func (c *chrome) fail(step string, err error) {
	c.t.Helper()
	c.t.Fatalf("%s: %s: %v (screenshot: %s)", c.name, step, err, c.screenshot(step))
}

// screenshot saves the page as a PNG under $FOYER_TEST_ARTIFACTS (a
// temporary directory when unset) and returns its path.
func (c *chrome) screenshot(step string) string {
	dir := os.Getenv("FOYER_TEST_ARTIFACTS")
	if dir == "" {
		dir = c.t.TempDir()
	} else if err := os.MkdirAll(dir, 0o755); err != nil {
		return "none: " + err.Error()
	}
	ctx, cancel := context.WithTimeout(c.ctx, stepTimeout)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		return "none: " + err.Error()
	}
	name := regexp.MustCompile(`[^A-Za-z0-9_.-]+`).ReplaceAllString(c.t.Name()+"-"+c.name+"-"+step, "_") + ".png"
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, png, 0o644); err != nil {
		return "none: " + err.Error()
	}
	return path
}

// open navigates to target and checks that it shows page in state.
func (c *chrome) open(step, target, page, state string) {
	c.t.Helper()
	c.do(step, chromedp.Navigate(target))
	c.expect(step, page, state)
}

// submit clicks the button sel of a form and checks that the page it
// leads to is page in state. The old document is marked first, so the
// check waits for the new one.
func (c *chrome) submit(step, sel, page, state string) {
	c.t.Helper()
	c.do(step,
		chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
			_, err := chromedp.Evaluate[string](`document.body.dataset.submitted = "yes"`)(ctx, t)
			return err
		}),
		chromedp.Click(chromedp.CSS(sel), chromedp.NodeVisible),
		chromedp.WaitReady(chromedp.CSS(`body:not([data-submitted])`)),
	)
	c.expect(step, page, state)
}

// expect checks that the browser shows page in state.
func (c *chrome) expect(step, page, state string) {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(c.ctx, stepTimeout)
	defer cancel()
	got, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`[document.body.dataset.page || "", document.body.dataset.state || "", location.pathname]`))
	if err != nil {
		c.fail(step, err)
	}
	if got[0] != page || got[1] != state {
		c.fail(step, fmt.Errorf("the browser shows %s (page %q, state %q), want page %q in state %q", got[2], got[0], got[1], page, state))
	}
}

// fill types value into the field sel.
func (c *chrome) fill(step, sel, value string) {
	c.t.Helper()
	c.do(step, chromedp.SendKeys(chromedp.CSS(sel), value, chromedp.NodeVisible))
}

// me opens the test app's page, which reads GET /v1/me with the browser's
// cookies, and returns the user it shows.
func (c *chrome) me(step, app string) userDoc {
	c.t.Helper()
	c.do(step, chromedp.Navigate(app+"/app"), chromedp.WaitReady(chromedp.CSS(`#out[data-done]`)))
	out := c.text(step, "#out")
	var u userDoc
	if err := json.Unmarshal([]byte(out), &u); err != nil {
		c.fail(step, fmt.Errorf("the app shows %q: %v", out, err))
	}
	return u
}

// appPage is an app of the test: it signs the visitor up (POST
// /v1/anonymous) and saves data (PATCH /v1/me) with fetch when asked to,
// then shows GET /v1/me, as an app built on Foyer would.
const appPage = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Videos</title></head>
<body><h1>Videos</h1><pre id="out"></pre>
<script>
(async () => {
  const out = document.getElementById("out");
  try {
    const q = new URLSearchParams(location.search);
    if (q.has("data")) {
      let r = await fetch("/v1/anonymous", {method: "POST"});
      if (!r.ok) throw new Error("sign-up: " + r.status);
      r = await fetch("/v1/me", {method: "PATCH", headers: {"Content-Type": "application/merge-patch+json"}, body: q.get("data")});
      if (!r.ok) throw new Error("save: " + r.status);
    }
    const me = await fetch("/v1/me");
    out.textContent = me.ok ? await me.text() : "GET /v1/me: " + me.status;
  } catch (e) {
    out.textContent = String(e);
  }
  out.dataset.done = "yes";
})();
</script></body></html>`

// attackPage is a page of another site that posts a form to target as
// soon as it loads.
func attackPage(target string, fields ...string) string {
	var b strings.Builder
	b.WriteString(`<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Win a prize</title></head><body>`)
	fmt.Fprintf(&b, `<form method="post" action="%s">`, target)
	for i := 0; i+1 < len(fields); i += 2 {
		fmt.Fprintf(&b, `<input type="hidden" name="%s" value="%s">`, fields[i], fields[i+1])
	}
	b.WriteString(`</form><script>document.forms[0].submit()</script></body></html>`)
	return b.String()
}

// TestPagesBrowser walks the hosted pages in headless Chromium: a visitor
// saves data, registers, follows the mailed link and sets a password, and
// is signed in to the same account with the data kept; the same person on
// a new device, with progress of its own, signs in and merges it; and
// forms posted by another site are refused.
func TestPagesBrowser(t *testing.T) {
	execPath := chromiumPath(t)

	// Foyer, with the test app beside it on the same origin.
	srv := httptest.NewUnstartedServer(nil)
	public := "http://" + srv.Listener.Addr().String()
	ts := setup(t, func(c *foyerhttp.Config) { c.PublicURL, _ = url.Parse(public) })
	mux := http.NewServeMux()
	mux.HandleFunc("GET /app", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Write([]byte(appPage))
	})
	mux.Handle("/", ts.handler)
	srv.Config.Handler = mux
	srv.Start()
	t.Cleanup(srv.Close)

	// Another site: another loopback address is another host, so another
	// site for the browser, not only another origin.
	evil := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		switch r.URL.Path {
		case "/forgot":
			w.Write([]byte(attackPage(public+"/password/forgot", "email", "viewer@example.com", "csrf", "guess")))
		case "/merge":
			w.Write([]byte(attackPage(public+"/merge", "csrf", "guess")))
		default:
			http.NotFound(w, r)
		}
	}))
	evilHost := "127.0.0.2"
	if l, err := net.Listen("tcp", evilHost+":0"); err == nil {
		evil.Listener.Close()
		evil.Listener = l
	} else {
		evilHost = "localhost"
	}
	evil.Start()
	t.Cleanup(evil.Close)
	_, evilPort, _ := net.SplitHostPort(evil.Listener.Addr().String())
	evilURL := "http://" + net.JoinHostPort(evilHost, evilPort)

	// The mail templates build the link the person receives.
	templates, err := mail.NewTemplates(mail.Config{PublicURL: public, From: "Foyer <foyer@example.com>", LinkTTL: foyerhttp.DefaultConversionTTL})
	if err != nil {
		t.Fatal(err)
	}
	mailedLink := func(c *chrome, to, kind string) string {
		t.Helper()
		m := ts.newestMail(t, to, kind)
		if m == nil {
			c.fail("read the mailbox", fmt.Errorf("no %s mail to %s", kind, to))
		}
		d, err := templates.Data(m)
		if err != nil {
			t.Fatal(err)
		}
		return d.Link
	}

	const email, pw = "viewer@example.com", "correct horse battery staple"
	var registered userDoc

	t.Run("Registration", func(t *testing.T) {
		c := newChrome(t, execPath, "laptop")
		c.do("sign up in the app", chromedp.Navigate(public+"/app?data="+url.QueryEscape(`{"data":{"videos_watched":3}}`)),
			chromedp.WaitReady(chromedp.CSS(`#out[data-done]`)))
		visitor := c.me("read the visitor", public)
		if !visitor.Anonymous || visitor.ID == "" || string(visitor.Data) != `{"videos_watched":3}` {
			c.fail("read the visitor", fmt.Errorf("visitor %+v", visitor))
		}

		c.open("open the registration page", public+"/register", "register", "form")
		c.fill("type the address", "#email", email)
		c.submit("register", `form[action="/register"] button[type="submit"]`, "register", "sent")

		link := mailedLink(c, email, foyer.MailConversion)
		if !strings.HasPrefix(link, public+"/convert/complete?token=") {
			t.Fatalf("the mailed link is %q", link)
		}
		c.open("open the mailed link", link, "convert", "form")
		if u := ts.findUser(t, visitor.ID); !u.Anonymous {
			c.fail("open the mailed link", fmt.Errorf("opening the link changed the account: %+v", u))
		}
		c.fill("type a password", "#password", pw)
		c.submit("set the password", `form[action="/convert/complete"] button[type="submit"]`, "convert", "signed-in")
		if h := c.text("read the heading", "h1"); h != "Your progress is saved" {
			c.fail("read the heading", fmt.Errorf("heading %q", h))
		}

		registered = c.me("read the account", public)
		if registered.ID != visitor.ID || registered.Anonymous || registered.Email != email || string(registered.Data) != `{"videos_watched":3}` {
			c.fail("read the account", fmt.Errorf("after registering the browser shows %+v, want %s registered with the data kept", registered, visitor.ID))
		}

		// Another site's page posts the reset form on load: refused.
		c.open("visit another site", evilURL+"/forgot", "error", foyer.EForbidden)
		if ts.newestMail(t, email, foyer.MailPasswordReset) != nil {
			c.fail("visit another site", fmt.Errorf("a cross-site form post queued a reset mail"))
		}
	})

	t.Run("MergeOnNewDevice", func(t *testing.T) {
		if registered.ID == "" {
			t.Skip("the registration did not complete")
		}
		c := newChrome(t, execPath, "phone")
		c.do("sign up in the app", chromedp.Navigate(public+"/app?data="+url.QueryEscape(`{"data":{"videos_watched":5,"device":"phone"}}`)),
			chromedp.WaitReady(chromedp.CSS(`#out[data-done]`)))
		visitor := c.me("read the visitor", public)
		if !visitor.Anonymous || visitor.ID == registered.ID {
			c.fail("read the visitor", fmt.Errorf("visitor %+v", visitor))
		}

		c.open("open the sign-in page", public+"/login", "login", "form")
		c.fill("type the address", "#email", email)
		c.fill("type the password", "#password", pw)
		c.submit("sign in", `form[action="/login"] button[type="submit"]`, "merge", "confirm")
		if s := c.text("read the offer", "main"); !strings.Contains(s, "2 saved items") || !strings.Contains(s, email) {
			c.fail("read the offer", fmt.Errorf("the merge page says %q", s))
		}

		// Another site's page posts the merge form on load: refused, and
		// both accounts stay as they are.
		c.open("visit another site", evilURL+"/merge", "error", foyer.EForbidden)
		if u := ts.findUser(t, visitor.ID); !u.Anonymous {
			c.fail("visit another site", fmt.Errorf("the cross-site post changed the anonymous account: %+v", u))
		}

		c.open("come back to the merge page", public+"/merge", "merge", "confirm")
		c.submit("confirm the merge", `form[action="/merge"] button[type="submit"]`, "merge", "merged")

		u := c.me("read the account", public)
		var data map[string]any
		if err := json.Unmarshal(u.Data, &data); err != nil {
			t.Fatal(err)
		}
		if u.ID != registered.ID || u.Anonymous || data["videos_watched"] != float64(3) || data["device"] != "phone" {
			c.fail("read the account", fmt.Errorf("after the merge the browser shows %+v", u))
		}
		check(t, ts.do("GET", "/v1/aliases/"+visitor.ID, "", ts.api()...), 200, "", registered.ID)
	})
}
