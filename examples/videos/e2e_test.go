package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
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
	"github.com/foyerhq/foyer/client"
	"github.com/foyerhq/foyer/internal/browsertest"
)

// TestEndToEnd runs the real `foyer serve` and the demo side by side, on
// two sites (127.0.0.1 and localhost), and walks the whole lifecycle in
// headless Chromium: a visitor watches, saves the progress, sets a
// password from the mailed link, signs in through OpenID Connect and finds
// the same account with the data kept, and signs out; then, on a new
// device, watches as a guest, signs in and merges; and forms that a third
// site posts are refused.
//
// When a step fails, a screenshot of the browser is saved under
// $FOYER_TEST_ARTIFACTS, or testdata/artifacts beside this file, and the
// failure names its path.
func TestEndToEnd(t *testing.T) {
	browsertest.Path(t) // skips, or fails in CI, before anything starts
	ln, demoURL := listenDemo(t)
	// Foyer as the README starts it next to the demo. Its sign-in and
	// sign-out forms end at the demo: the redirects after those posts must
	// pass the pages' Content-Security-Policy form-action, which names the
	// registered apps' origins.
	foyerd := startFoyer(t)
	api := client.New(foyerd.url, foyerd.apiKey)
	d := startDemo(t, ln, demoURL, foyerd)
	evilURL := startEvil(t, demoURL, foyerd.url)

	const email, password = "viewer@example.com", "correct horse battery staple"
	var userID string

	t.Run("Lifecycle", func(t *testing.T) {
		b := newBrowser(t, "laptop")

		b.Open("visit the demo", demoURL, "home", "visitor")
		b.expectText("read the count", "#count", "You have watched 0 videos.")
		if n := countUsers(t, api); n != 0 {
			b.Fail("visit the demo", fmt.Errorf("%d accounts exist after a page view, want none", n))
		}

		b.Submit("watch Big Buck Bunny", `button[value="big-buck-bunny"]`, "home", "anonymous")
		b.expectText("read the count", "#count", "You have watched 1 video.")
		b.Submit("watch Sintel", `button[value="sintel"]`, "home", "anonymous")
		b.expectText("read the count", "#count", "You have watched 2 videos.")
		userID = b.Text("read the account id", "#user-id")
		u := getUser(t, api, userID)
		if !u.Anonymous || string(u.Data) != `{"videos_watched":{"big-buck-bunny":1,"sintel":1}}` {
			b.Fail("read the account", fmt.Errorf("Foyer has %+v, want an anonymous account with two videos watched", u))
		}
		if n := countUsers(t, api); n != 1 {
			b.Fail("read the account", fmt.Errorf("%d accounts exist, want 1", n))
		}

		b.fill("type the address", "#email", email)
		b.Submit("save the progress", `form[action="/save"] button[type="submit"]`, "check-email", "")
		b.click("open the mailbox", `a[href^="/mailbox"]`, "mailbox", "")
		link := b.attr("read the mailed link", `a.mail-link[href*="/convert/complete?token="]`, "href")
		if !strings.HasPrefix(link, foyerd.url+"/convert/complete?token=") {
			b.Fail("read the mailed link", fmt.Errorf("the link is %q, want one to Foyer's /convert/complete", link))
		}
		b.click("follow the link", `a.mail-link[href*="/convert/complete?token="]`, "convert", "form")
		b.fill("type a password", "#password", password)
		// The link is opened on Foyer's site, where this browser holds no
		// anonymous credential (the demo keeps it): the account is saved
		// and the person signs in.
		b.Submit("set the password", `form[action="/convert/complete"] button[type="submit"]`, "convert", "saved")
		if u := getUser(t, api, userID); u.Anonymous || u.Email != email {
			b.Fail("set the password", fmt.Errorf("Foyer has %+v, want %s registered as %s", u, userID, email))
		}

		b.Open("come back to the demo", demoURL, "home", "visitor")
		b.expectText("read the notice", "#saved-notice", email)
		b.Submit("sign in", `form[action="/signin"] button[type="submit"]`, "login", "form")
		b.fill("type the address", "#email", email)
		b.fill("type the password", "#password", password)
		b.Submit("sign in at Foyer", `form[action="/login"] button[type="submit"]`, "home", "signed-in")
		b.expectText("read the count", "#count", "You have watched 2 videos.")
		b.expectText("read who is signed in", "#who", email)
		if got := b.Text("read the account id", "#user-id"); got != userID {
			b.Fail("read the account id", fmt.Errorf("signed in to %s, want the account %s made on the first watch", got, userID))
		}
		if u := getUser(t, api, userID); u.Anonymous || u.Email != email || string(u.Data) != `{"videos_watched":{"big-buck-bunny":1,"sintel":1}}` {
			b.Fail("read the account", fmt.Errorf("Foyer has %+v, want %s registered with the data kept", u, userID))
		}

		b.Submit("sign out", `form[action="/signout"] button[type="submit"]`, "logout", "confirm")
		b.Submit("confirm at Foyer", `button[type="submit"]`, "signed-out", "signed-out")
		b.expectText("read the page", "main", "Foyer ended the videos' sign-in too")
		b.Open("come back to the demo", demoURL, "home", "visitor")
		b.Open("open Foyer's sign-in page", foyerd.url+"/login", "login", "form")
	})

	t.Run("MergeOnNewDevice", func(t *testing.T) {
		if userID == "" {
			t.Skip("the lifecycle did not complete")
		}
		b := newBrowser(t, "phone")
		b.Open("visit the demo", demoURL, "home", "visitor")
		b.Submit("watch Tears of Steel", `button[value="tears-of-steel"]`, "home", "anonymous")
		b.Submit("watch Sintel", `button[value="sintel"]`, "home", "anonymous")
		b.Submit("watch Sintel again", `button[value="sintel"]`, "home", "anonymous")
		b.expectText("read the count", "#count", "You have watched 3 videos.")
		guestID := b.Text("read the guest id", "#user-id")
		if guestID == userID {
			b.Fail("read the guest id", errors.New("the new device has the laptop's account"))
		}

		b.Submit("sign in", `form[action="/signin"] button[type="submit"]`, "login", "form")
		b.fill("type the address", "#email", email)
		b.fill("type the password", "#password", password)
		b.Submit("sign in at Foyer", `form[action="/login"] button[type="submit"]`, "merge", "confirm")
		b.expectText("read the offer", "main", "this browser watched 3 videos as a guest")

		b.Submit("bring the progress in", `form[action="/merge"] button[type="submit"]`, "merge", "merged")
		// Foyer's default policy, registered_wins: Tears of Steel is new
		// and comes in; Sintel was watched on both, and the account's
		// count stays. 1 + 1 + 1.
		b.expectText("read the count", "#count", "You have watched 3 videos.")
		b.expectText("read the outcome", "#outcome", "Tears of Steel: added, watched once.")
		b.expectText("read the outcome", "#outcome", "Sintel: watched on both; your account's count (once) was kept, this browser's (twice) was not.")
		u := getUser(t, api, userID)
		if u.Anonymous || string(u.Data) != `{"videos_watched":{"big-buck-bunny":1,"sintel":1,"tears-of-steel":1}}` {
			b.Fail("read the account", fmt.Errorf("Foyer has %+v after the merge", u))
		}
		if _, err := api.GetUser(t.Context(), guestID); foyer.ErrorCode(err) != foyer.ENotFound {
			b.Fail("read the guest", fmt.Errorf("the merged guest account: %v, want not_found", err))
		}
		if a, err := api.FindAlias(t.Context(), guestID); err != nil || a.Into != userID {
			b.Fail("read the alias", fmt.Errorf("alias of the guest %+v, %v; want one into %s", a, err, userID))
		}
		// A quarter of an hour later the access token has expired: the
		// demo gets a new one with the refresh token, which rotates.
		old := expireAccessTokens(d)
		if len(old) != 1 || old[0] == "" {
			b.Fail("expire the access token", fmt.Errorf("refresh tokens of the signed-in sessions: %q, want one", old))
		}
		b.Open("see the videos", demoURL, "home", "signed-in")
		b.expectText("read the count", "#count", "You have watched 3 videos.")
		if now := expireAccessTokens(d); len(now) != 1 || now[0] == old[0] {
			b.Fail("see the videos", fmt.Errorf("refresh token %q after a refresh, was %q", now, old))
		}
		b.Open("see the videos", demoURL, "home", "signed-in")
	})

	t.Run("CrossSiteForms", func(t *testing.T) {
		if userID == "" {
			t.Skip("the lifecycle did not complete")
		}
		// Someone else's account, whose credentials the other site posts
		// to sign the victim's browser in to it.
		const otherEmail, otherPassword = "mallory@example.com", "another long passphrase"
		registerDirectly(t, api, foyerd.url, otherEmail, otherPassword)

		b := newBrowser(t, "victim")
		b.Open("visit the demo", demoURL, "home", "visitor")
		b.Submit("sign in", `form[action="/signin"] button[type="submit"]`, "login", "form")
		b.fill("type the address", "#email", email)
		b.fill("type the password", "#password", password)
		b.Submit("sign in at Foyer", `form[action="/login"] button[type="submit"]`, "home", "signed-in")
		before := getUser(t, api, userID)

		b.Open("visit a site that posts to the demo's watch", evilURL+"/watch", "error", foyer.EForbidden)
		b.Open("visit a site that posts to Foyer's sign-in", evilURL+"/login", "error", foyer.EForbidden)
		b.Open("visit a site that posts to Foyer's merge", evilURL+"/merge", "error", foyer.EForbidden)

		if after := getUser(t, api, userID); string(after.Data) != string(before.Data) || after.Version != before.Version {
			b.Fail("check the account", fmt.Errorf("the cross-site posts changed the account: %s (version %d), was %s (version %d)", after.Data, after.Version, before.Data, before.Version))
		}
		b.Open("see the videos", demoURL, "home", "signed-in")
		b.expectText("read the count", "#count", "You have watched 3 videos.")
		b.Open("open Foyer's sign-in page", foyerd.url+"/login", "login", "signed-in")
		if s := b.Text("read who is signed in at Foyer", "main"); !strings.Contains(s, email) || strings.Contains(s, otherEmail) {
			b.Fail("read who is signed in at Foyer", fmt.Errorf("Foyer's page says %q, want %s signed in", s, email))
		}
	})
}

// foyerProcess is a running `foyer serve`.
type foyerProcess struct {
	url, apiKey string
}

var (
	listeningLine = regexp.MustCompile(`^Foyer is listening on (http://\S+) `)
	bootstrapLine = regexp.MustCompile(`Admin API key \(shown once, store it now\): (foyer_sk_\S+)`)
)

// startFoyer builds the foyer binary and runs `foyer serve` with args on a
// free loopback port with a new data directory, in development mode (plain
// http on this machine, no SMTP server), with no FOYER_* variable of the
// environment. It returns once Foyer listens, with the admin API key it
// printed on stderr.
func startFoyer(t *testing.T, args ...string) *foyerProcess {
	t.Helper()
	dir := t.TempDir()
	bin := filepath.Join(dir, "foyer")
	if out, err := exec.Command(goTool(), "build", "-o", bin, "github.com/foyerhq/foyer/cmd/foyer").CombinedOutput(); err != nil {
		t.Fatalf("go build foyer: %v\n%s", err, out)
	}
	cmd := exec.Command(bin, append([]string{"serve", "--listen", freeAddr(t, "127.0.0.1"), "--data-dir", filepath.Join(dir, "data")}, args...)...)
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "FOYER_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	logPath := filepath.Join(dir, "foyer.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	defer logFile.Close()
	cmd.Stderr = logFile
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		cmd.Wait()
		close(done)
	}()
	t.Cleanup(func() {
		cmd.Process.Signal(os.Interrupt)
		<-done
		if t.Failed() {
			log, _ := os.ReadFile(logPath)
			t.Logf("foyer serve wrote:\n%s", log)
		}
	})

	// stdout says where Foyer listens once it does; by then the key is
	// in the log file.
	urls := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if m := listeningLine.FindStringSubmatch(sc.Text()); m != nil && len(urls) == 0 {
				urls <- m[1]
			}
		}
		close(urls)
	}()
	p := &foyerProcess{}
	select {
	case u, ok := <-urls:
		if !ok {
			log, _ := os.ReadFile(logPath)
			t.Fatalf("foyer serve stopped before listening:\n%s", log)
		}
		p.url = u
	case <-t.Context().Done():
		t.Fatal("the test ended before foyer serve listened")
	}
	log, _ := os.ReadFile(logPath)
	m := bootstrapLine.FindSubmatch(log)
	if m == nil {
		t.Fatalf("foyer serve printed no admin API key:\n%s", log)
	}
	p.apiKey = string(m[1])
	return p
}

// listenDemo opens the demo's listener on a free port and returns it with
// the demo's URL, at "localhost": another site than Foyer's 127.0.0.1.
func listenDemo(t *testing.T) (net.Listener, string) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	return ln, "http://localhost:" + port
}

// startDemo runs the demo in this process on ln, at demoURL, in front of
// the Foyer f.
func startDemo(t *testing.T, ln net.Listener, demoURL string, f *foyerProcess) *demo {
	t.Helper()
	d, err := newDemo(t.Context(), config{FoyerURL: f.url, APIKey: f.apiKey, URL: demoURL}, slog.New(slog.NewTextHandler(t.Output(), nil)))
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: d.Handler()}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return d
}

// expireAccessTokens makes the access tokens of the signed-in sessions of
// d expired, as they are after a quarter of an hour, and returns their
// refresh tokens.
func expireAccessTokens(d *demo) []string {
	d.sessions.mu.Lock()
	defer d.sessions.mu.Unlock()
	var refresh []string
	for id, s := range d.sessions.m {
		if s.Token != nil {
			tok := *s.Token
			tok.Expiry = time.Now().Add(-time.Minute)
			s.Token = &tok
			d.sessions.m[id] = s
			refresh = append(refresh, tok.RefreshToken)
		}
	}
	return refresh
}

// startEvil serves the pages of a third site, each of which posts a form
// to the demo or to Foyer as soon as it loads: the demo's watch (with a
// made-up CSRF token), Foyer's sign-in (with another person's
// credentials, to sign the visitor in to their account) and Foyer's
// merge. It listens on 127.0.0.2, a site of its own; where that address
// is not usable, on [::1].
func startEvil(t *testing.T, demoURL, foyerURL string) string {
	t.Helper()
	pages := map[string]string{
		"/watch": browsertest.AttackPage(demoURL+"/watch", "video", "sintel", "csrf", "guess"),
		"/login": browsertest.AttackPage(foyerURL+"/login", "email", "mallory@example.com", "password", "another long passphrase", "csrf", "guess"),
		"/merge": browsertest.AttackPage(foyerURL+"/merge", "csrf", "guess"),
	}
	ln, err := net.Listen("tcp", "127.0.0.2:0")
	if err != nil {
		if ln, err = net.Listen("tcp", "[::1]:0"); err != nil {
			t.Fatal(err)
		}
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		page, ok := pages[r.URL.Path]
		if !ok {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		io.WriteString(w, page)
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return "http://" + ln.Addr().String()
}

// registerDirectly makes a registered account with a password through
// the visitor API, as an app's server could, following the mailed link
// from the development mailbox.
func registerDirectly(t *testing.T, api *client.Client, foyerURL, email, password string) {
	t.Helper()
	ctx := t.Context()
	visitorAPI := client.New(foyerURL, "")
	a, err := visitorAPI.CreateAnonymousUser(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := visitorAPI.ConvertMe(ctx, a.Token, email); err != nil {
		t.Fatal(err)
	}
	msgs, err := api.DevMail(ctx, email, 1)
	if err != nil || len(msgs) == 0 || len(msgs[0].Links) == 0 {
		t.Fatalf("no link mailed to %s: %v", email, err)
	}
	link, err := url.Parse(msgs[0].Links[0])
	if err != nil {
		t.Fatal(err)
	}
	if _, err := visitorAPI.CompleteConversion(ctx, link.Query().Get("token"), password, ""); err != nil {
		t.Fatal(err)
	}
}

// getUser reads a user through the server API.
func getUser(t *testing.T, api *client.Client, id string) *foyer.User {
	t.Helper()
	u, err := api.GetUser(t.Context(), id)
	if err != nil {
		t.Fatalf("GetUser(%s): %v", id, err)
	}
	return u
}

// countUsers counts every account through the server API.
func countUsers(t *testing.T, api *client.Client) int {
	t.Helper()
	n := 0
	for _, err := range api.AllUsers(t.Context(), client.UserFilter{}) {
		if err != nil {
			t.Fatal(err)
		}
		n++
	}
	return n
}

// freeAddr returns host:port with a port of host that nothing listens on
// now.
func freeAddr(t *testing.T, host string) string {
	t.Helper()
	ln, err := net.Listen("tcp", host+":0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// goTool returns the go command that runs this test.
func goTool() string {
	if p, err := exec.LookPath("go"); err == nil {
		return p
	}
	return filepath.Join(os.Getenv("GOROOT"), "bin", "go")
}

// browser is one headless Chromium with a profile of its own: one
// person's device. Every step goes through it, and a step that fails saves
// a screenshot in the artifact directory: $FOYER_TEST_ARTIFACTS, or
// testdata/artifacts, which git ignores.
type browser struct {
	*browsertest.Browser
	t *testing.T
}

// newBrowser starts the browser of the person name stands for, with the
// flags of every browser test and --disable-dev-shm-usage.
func newBrowser(t *testing.T, name string) *browser {
	t.Helper()
	bt := browsertest.NewBrowser(t, name, filepath.Join("testdata", "artifacts"), chromedp.Flag("disable-dev-shm-usage", true))
	return &browser{Browser: bt, t: t}
}

// click follows the link sel, like submit.
func (b *browser) click(step, sel, page, state string) {
	b.t.Helper()
	b.Submit(step, sel, page, state)
}

// fill types value into the field sel, instead of what it holds.
func (b *browser) fill(step, sel, value string) {
	b.t.Helper()
	b.Do(step, chromedp.Clear(chromedp.CSS(sel), chromedp.NodeVisible), chromedp.SendKeys(chromedp.CSS(sel), value, chromedp.NodeVisible))
}

// expectText checks that the element sel shows want.
func (b *browser) expectText(step, sel, want string) {
	b.t.Helper()
	if got := b.Text(step, sel); !strings.Contains(strings.Join(strings.Fields(got), " "), want) {
		b.Fail(step, fmt.Errorf("%s says %q, want %q in it", sel, got, want))
	}
}

// attr returns the attribute name of the element sel.
func (b *browser) attr(step, sel, name string) string {
	b.t.Helper()
	return browsertest.Run(b.Browser, step, chromedp.Evaluate[string](fmt.Sprintf(`document.querySelector(%q)?.getAttribute(%q) ?? ""`, sel, name)))
}
