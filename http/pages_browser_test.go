package http_test

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
	foyer "github.com/foyerhq/foyer"
	foyerhttp "github.com/foyerhq/foyer/http"
	"github.com/foyerhq/foyer/internal/browsertest"
	"github.com/foyerhq/foyer/mail"
)

// chrome is one headless Chromium with a fresh profile of its own: one
// person's browser.
type chrome struct {
	*browsertest.Browser
	t *testing.T
}

// newChrome starts a browser named name for the person it stands for.
// Screenshots of failed steps go to $FOYER_TEST_ARTIFACTS, or to a
// temporary directory when that is unset.
func newChrome(t *testing.T, name string) *chrome {
	t.Helper()
	return &chrome{Browser: browsertest.NewBrowser(t, name, t.TempDir()), t: t}
}

// fill types value into the field sel.
func (c *chrome) fill(step, sel, value string) {
	c.t.Helper()
	c.Do(step, chromedp.SendKeys(chromedp.CSS(sel), value, chromedp.NodeVisible))
}

// me opens the test app's page, which reads GET /v1/me with the browser's
// cookies, and returns the user it shows.
func (c *chrome) me(step, app string) userDoc {
	c.t.Helper()
	c.Do(step, chromedp.Navigate(app+"/app"), chromedp.WaitReady(chromedp.CSS(`#out[data-done]`)))
	out := c.Text(step, "#out")
	var u userDoc
	if err := json.Unmarshal([]byte(out), &u); err != nil {
		c.Fail(step, fmt.Errorf("the app shows %q: %v", out, err))
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

// TestPagesBrowser walks the hosted pages in headless Chromium: a visitor
// saves data, registers, follows the mailed link and sets a password, and
// is signed in to the same account with the data kept; the same person on
// a new device, with progress of its own, signs in and merges it; and
// forms posted by another site are refused.
func TestPagesBrowser(t *testing.T) {
	browsertest.Path(t) // skips, or fails in CI, before anything starts

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
			w.Write([]byte(browsertest.AttackPage(public+"/password/forgot", "email", "viewer@example.com", "csrf", "guess")))
		case "/merge":
			w.Write([]byte(browsertest.AttackPage(public+"/merge", "csrf", "guess")))
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
			c.Fail("read the mailbox", fmt.Errorf("no %s mail to %s", kind, to))
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
		c := newChrome(t, "laptop")
		c.Do("sign up in the app", chromedp.Navigate(public+"/app?data="+url.QueryEscape(`{"data":{"videos_watched":3}}`)),
			chromedp.WaitReady(chromedp.CSS(`#out[data-done]`)))
		visitor := c.me("read the visitor", public)
		if !visitor.Anonymous || visitor.ID == "" || string(visitor.Data) != `{"videos_watched":3}` {
			c.Fail("read the visitor", fmt.Errorf("visitor %+v", visitor))
		}

		c.Open("open the registration page", public+"/register", "register", "form")
		c.fill("type the address", "#email", email)
		c.Submit("register", `form[action="/register"] button[type="submit"]`, "register", "sent")

		link := mailedLink(c, email, foyer.MailConversion)
		if !strings.HasPrefix(link, public+"/convert/complete?token=") {
			t.Fatalf("the mailed link is %q", link)
		}
		c.Open("open the mailed link", link, "convert", "form")
		if u := ts.findUser(t, visitor.ID); !u.Anonymous {
			c.Fail("open the mailed link", fmt.Errorf("opening the link changed the account: %+v", u))
		}
		c.fill("type a password", "#password", pw)
		c.Submit("set the password", `form[action="/convert/complete"] button[type="submit"]`, "convert", "signed-in")
		if h := c.Text("read the heading", "h1"); h != "Your progress is saved" {
			c.Fail("read the heading", fmt.Errorf("heading %q", h))
		}

		registered = c.me("read the account", public)
		if registered.ID != visitor.ID || registered.Anonymous || registered.Email != email || string(registered.Data) != `{"videos_watched":3}` {
			c.Fail("read the account", fmt.Errorf("after registering the browser shows %+v, want %s registered with the data kept", registered, visitor.ID))
		}

		// Another site's page posts the reset form on load: refused.
		c.Open("visit another site", evilURL+"/forgot", "error", foyer.EForbidden)
		if ts.newestMail(t, email, foyer.MailPasswordReset) != nil {
			c.Fail("visit another site", fmt.Errorf("a cross-site form post queued a reset mail"))
		}
	})

	t.Run("MergeOnNewDevice", func(t *testing.T) {
		if registered.ID == "" {
			t.Skip("the registration did not complete")
		}
		c := newChrome(t, "phone")
		c.Do("sign up in the app", chromedp.Navigate(public+"/app?data="+url.QueryEscape(`{"data":{"videos_watched":5,"device":"phone"}}`)),
			chromedp.WaitReady(chromedp.CSS(`#out[data-done]`)))
		visitor := c.me("read the visitor", public)
		if !visitor.Anonymous || visitor.ID == registered.ID {
			c.Fail("read the visitor", fmt.Errorf("visitor %+v", visitor))
		}

		c.Open("open the sign-in page", public+"/login", "login", "form")
		c.fill("type the address", "#email", email)
		c.fill("type the password", "#password", pw)
		c.Submit("sign in", `form[action="/login"] button[type="submit"]`, "merge", "confirm")
		if s := c.Text("read the offer", "main"); !strings.Contains(s, "2 saved items") || !strings.Contains(s, email) {
			c.Fail("read the offer", fmt.Errorf("the merge page says %q", s))
		}

		// Another site's page posts the merge form on load: refused, and
		// both accounts stay as they are.
		c.Open("visit another site", evilURL+"/merge", "error", foyer.EForbidden)
		if u := ts.findUser(t, visitor.ID); !u.Anonymous {
			c.Fail("visit another site", fmt.Errorf("the cross-site post changed the anonymous account: %+v", u))
		}

		c.Open("come back to the merge page", public+"/merge", "merge", "confirm")
		c.Submit("confirm the merge", `form[action="/merge"] button[type="submit"]`, "merge", "merged")

		u := c.me("read the account", public)
		var data map[string]any
		if err := json.Unmarshal(u.Data, &data); err != nil {
			t.Fatal(err)
		}
		if u.ID != registered.ID || u.Anonymous || data["videos_watched"] != float64(3) || data["device"] != "phone" {
			c.Fail("read the account", fmt.Errorf("after the merge the browser shows %+v", u))
		}
		check(t, ts.do("GET", "/v1/aliases/"+visitor.ID, "", ts.api()...), 200, "", registered.ID)
	})
}
