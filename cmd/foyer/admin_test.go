package main

import (
	"bytes"
	"encoding/csv"
	"errors"
	"html"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// console is an operator's browser on the admin console: a cookie jar
// that keeps the console's cookies, and redirects followed as a browser
// follows them.
type console struct {
	t    *testing.T
	http *http.Client
	url  string
}

func newConsole(t *testing.T, base string) *console {
	return &console{t: t, http: newClient(t, base).http, url: base}
}

// get loads a page and returns its final URL path and body, failing the
// test unless the final status is want.
func (c *console) get(path string, want int) (string, string) {
	c.t.Helper()
	resp, err := c.http.Get(c.url + path)
	if err != nil {
		c.t.Fatal(err)
	}
	return c.read(resp, "GET "+path, want)
}

// post submits a form and returns the final URL path and body.
func (c *console) post(path string, form url.Values, want int) (string, string) {
	c.t.Helper()
	resp, err := c.http.PostForm(c.url+path, form)
	if err != nil {
		c.t.Fatal(err)
	}
	return c.read(resp, "POST "+path, want)
}

func (c *console) read(resp *http.Response, what string, want int) (string, string) {
	c.t.Helper()
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		c.t.Fatal(err)
	}
	if resp.StatusCode != want {
		c.t.Fatalf("%s: status %d at %s, want %d:\n%s", what, resp.StatusCode, resp.Request.URL, want, b)
	}
	return resp.Request.URL.Path, string(b)
}

// csrfField is the synchronizer token of a console form.
var csrfField = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// formToken returns the CSRF token of the first form in page.
func (c *console) formToken(page string) string {
	c.t.Helper()
	m := csrfField.FindStringSubmatch(page)
	if m == nil {
		c.t.Fatalf("no CSRF token in the page:\n%s", page)
	}
	return html.UnescapeString(m[1])
}

// signIn signs in with the form of the sign-in page and returns the
// dashboard it lands on.
func (c *console) signIn(email, password string) string {
	c.t.Helper()
	_, page := c.get("/admin/login", http.StatusOK)
	form := url.Values{"csrf": {c.formToken(page)}, "email": {email}, "password": {password}, "next": {"/admin/"}}
	path, body := c.post("/admin/login", form, http.StatusOK)
	if path != "/admin/" {
		c.t.Fatalf("signing in as %s landed on %s, want /admin/:\n%s", email, path, body)
	}
	return body
}

// figure returns the text of the dashboard figure with the element id.
func figure(t *testing.T, page, id string) string {
	t.Helper()
	m := regexp.MustCompile(`<dd id="` + id + `">([^<]*)`).FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("the dashboard has no figure %s:\n%s", id, page)
	}
	return strings.TrimSpace(html.UnescapeString(m[1]))
}

// foyerAdmin runs `foyer admin args…` with env and stdin, and returns its
// stdout, stderr and error.
func foyerAdmin(t *testing.T, bin string, env []string, stdin string, args ...string) (string, string, error) {
	t.Helper()
	cmd := exec.CommandContext(t.Context(), bin, append([]string{"admin"}, args...)...)
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "FOYER_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, env...)
	cmd.Stdin = strings.NewReader(stdin)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	return out.String(), errOut.String(), err
}

// testAdminConsole runs `foyer serve` with the console mounted at
// /admin/: the first admin is set up in the browser with the bootstrap
// key, more with `foyer admin create`; an admin signs in over HTTP, reads
// the dashboard and a user page; the reports are read on the server API
// as JSON and CSV. dsn is a PostgreSQL URL, or "" for SQLite.
func testAdminConsole(t *testing.T, dsn string) {
	bin := foyerBinary(t)
	env := []string{"FOYER_DATA_DIR=" + filepath.Join(t.TempDir(), "data"), "FOYER_LOG_LEVEL=info", "FOYER_LISTEN=" + freePort(t)}
	if dsn != "" {
		env = append(env, "FOYER_DATABASE_URL="+dsn)
	}
	p := startFoyer(t, bin, env...)
	if p.apiKey == "" {
		t.Fatalf("first start printed no bootstrap API key:\n%s", p.log())
	}

	// Users to look at: two anonymous, one converted by the server API.
	_, visitor := walkthrough(t, p.url, p.apiKey)
	anonymousUser(t, newClient(t, p.url), p.apiKey)
	convertByAPI(t, p.url, p.apiKey)

	// First run: the setup page takes the bootstrap key, and only it.
	const setupPassword = "the first admin's passphrase"
	first := newConsole(t, p.url)
	if path, _ := first.get("/admin/", http.StatusOK); path != "/admin/login" {
		t.Fatalf("the dashboard without a session led to %s, want /admin/login", path)
	}
	_, page := first.get("/admin/setup", http.StatusOK)
	form := url.Values{"csrf": {first.formToken(page)}, "email": {"setup@example.com"}, "password": {setupPassword}, "password_confirm": {setupPassword}}
	form.Set("bootstrap_key", "foyer_sk_"+strings.Repeat("x", 43))
	_, page = first.post("/admin/setup", form, http.StatusUnauthorized)
	form.Set("csrf", first.formToken(page))
	form.Set("bootstrap_key", p.apiKey)
	if path, body := first.post("/admin/setup", form, http.StatusOK); path != "/admin/" {
		t.Fatalf("setup landed on %s, want the dashboard:\n%s", path, body)
	}
	if path, _ := first.get("/admin/setup", http.StatusOK); path != "/admin/login" && path != "/admin/" {
		t.Fatalf("the setup page after setup led to %s, want it closed", path)
	}

	// More admins from the command line: the password from the
	// environment, or from standard input.
	const password = "correct horse battery staple"
	out, errOut, err := foyerAdmin(t, bin, append(env, "FOYER_ADMIN_PASSWORD="+password), "", "create", "--email", "Ops@Example.com")
	if err != nil || !strings.Contains(out, "Admin ops@example.com created") {
		t.Fatalf("foyer admin create = %v\nstdout:\n%s\nstderr:\n%s", err, out, errOut)
	}
	out, errOut, err = foyerAdmin(t, bin, append(env, "FOYER_ADMIN_EMAIL=night@example.com"), "a night-shift passphrase\n", "create")
	if err != nil || !strings.Contains(out, "Admin night@example.com created") {
		t.Fatalf("foyer admin create with the password on stdin = %v\nstdout:\n%s\nstderr:\n%s", err, out, errOut)
	}
	_, errOut, err = foyerAdmin(t, bin, append(env, "FOYER_ADMIN_PASSWORD="+password), "", "create", "--email", "ops@example.com")
	if err == nil || !strings.Contains(errOut, "already") {
		t.Fatalf("a second admin with the same email = %v, want a refusal\nstderr:\n%s", err, errOut)
	}
	_, errOut, err = foyerAdmin(t, bin, env, "short\n", "create", "--email", "weak@example.com")
	if err == nil || !strings.Contains(errOut, "8 to 256 characters") {
		t.Fatalf("an admin with a short password = %v, want a refusal\nstderr:\n%s", err, errOut)
	}
	out, errOut, err = foyerAdmin(t, bin, env, "", "list")
	if err != nil {
		t.Fatalf("foyer admin list = %v\n%s", err, errOut)
	}
	var listed []string
	for _, line := range strings.Split(strings.TrimSpace(out), "\n")[1:] {
		listed = append(listed, strings.Fields(line)[1])
	}
	if diff := cmp.Diff([]string{"setup@example.com", "ops@example.com", "night@example.com"}, listed); diff != "" {
		t.Fatalf("foyer admin list (-want +got):\n%s\n%s", diff, out)
	}

	// An admin signs in and reads the dashboard and a user page.
	ops := newConsole(t, p.url)
	dash := ops.signIn("ops@example.com", password)
	for id, want := range map[string]string{"fig-anonymous": "2", "fig-registered": "1", "fig-created": "3", "fig-converted": "1", "fig-rate": "33.3 %"} {
		if got := figure(t, dash, id); got != want {
			t.Errorf("dashboard figure %s = %q, want %q", id, got, want)
		}
	}
	_, page = ops.get("/admin/users/"+visitor, http.StatusOK)
	for _, want := range []string{visitor, `id="user-state">anonymous<`, "theme"} {
		if !strings.Contains(page, want) {
			t.Errorf("the user page lacks %q", want)
		}
	}
	_, page = ops.get("/admin/users?state=registered", http.StatusOK)
	if !strings.Contains(page, "player-") {
		t.Errorf("the list of registered users lacks the converted user:\n%s", page)
	}
	ops.get("/admin/users/"+visitor+"x", http.StatusNotFound)

	// The reports on the server API, with the API key.
	api := newClient(t, p.url)
	var funnel struct {
		Created   int64 `json:"created"`
		Converted int64 `json:"converted"`
	}
	api.do("GET", "/v1/reports/funnel", "", "", p.apiKey, http.StatusOK, &funnel)
	if funnel.Created != 3 || funnel.Converted != 1 {
		t.Fatalf("funnel = %+v, want 3 created and 1 converted", funnel)
	}
	req, err := http.NewRequestWithContext(t.Context(), "GET", p.url+"/v1/reports/funnel?format=csv&days=7", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+p.apiKey)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	rows, err := csv.NewReader(resp.Body).ReadAll()
	if err != nil || resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "text/csv; charset=utf-8" {
		t.Fatalf("funnel CSV: %d %s, %v", resp.StatusCode, resp.Header.Get("Content-Type"), err)
	}
	want := [][]string{{"step", "count"}, {"Created", "3"}, {"Returned after a day", "0"}, {"Conversion requested", "0"}, {"Converted", "1"}, {"Culled", "0"}}
	if diff := cmp.Diff(want, rows); diff != "" {
		t.Fatalf("funnel CSV (-want +got):\n%s", diff)
	}
	api.do("GET", "/v1/reports/funnel", "", "", "", http.StatusUnauthorized, nil)
	api.do("GET", "/v1/reports/signups", "", "", p.apiKey, http.StatusNotFound, nil)
	var audit struct {
		Entries []struct {
			Action string `json:"action"`
			Status int    `json:"status"`
		} `json:"entries"`
	}
	// Newest first: the unknown report, the CSV, the JSON. The call
	// without a key is not an API key's call.
	api.do("GET", "/v1/audit?limit=3", "", "", p.apiKey, http.StatusOK, &audit)
	var calls []string
	for _, e := range audit.Entries {
		calls = append(calls, e.Action+" "+http.StatusText(e.Status))
	}
	wantCalls := []string{"GET /v1/reports/{name} Not Found", "GET /v1/reports/{name} OK", "GET /v1/reports/{name} OK"}
	if diff := cmp.Diff(wantCalls, calls); diff != "" {
		t.Fatalf("the audit log of the report calls (-want +got):\n%s", diff)
	}
	p.stop(t)
}

func TestAdminConsole(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	t.Run("SQLite", func(t *testing.T) {
		t.Parallel()
		testAdminConsole(t, "")
	})
	t.Run("PostgreSQL", func(t *testing.T) {
		t.Parallel()
		testAdminConsole(t, freshSchema(t, postgresDSN(t)))
	})
	t.Run("ErrNoPassword", func(t *testing.T) {
		var out, errOut bytes.Buffer
		m := &Main{Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errOut, Getenv: func(k string) (string, bool) {
			if k == "FOYER_DATA_DIR" {
				return t.TempDir(), true
			}
			return "", false
		}}
		err := m.Run(t.Context(), []string{"admin", "create", "--email", "ops@example.com"})
		if err == nil || !strings.Contains(err.Error(), "no password") {
			t.Fatalf("admin create without a password = %v", err)
		}
	})
	t.Run("ErrNoEmail", func(t *testing.T) {
		var out bytes.Buffer
		m := &Main{Stdin: strings.NewReader("a long enough password\n"), Stdout: &out, Stderr: &out, Getenv: func(string) (string, bool) { return "", false }}
		err := m.Run(t.Context(), []string{"admin", "create"})
		if err == nil || exitCode(err) != 2 || !errors.As(err, new(usageError)) || !strings.Contains(err.Error(), "--email is required") {
			t.Fatalf("admin create without --email = %v", err)
		}
	})
}
