package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// postgresDSN returns the DSN of the test PostgreSQL server, skipping the
// test when none is configured, except under CI, where that is a failure.
func postgresDSN(t *testing.T) string {
	t.Helper()
	dsn := os.Getenv("FOYER_TEST_POSTGRES")
	if dsn == "" {
		if os.Getenv("CI") != "" {
			t.Fatal("FOYER_TEST_POSTGRES must be set in CI")
		}
		t.Skip("FOYER_TEST_POSTGRES not set")
	}
	return dsn
}

// freshSchema creates a schema for one test and returns a DSN whose
// search_path is that schema; the schema is dropped when the test ends.
func freshSchema(t *testing.T, dsn string) string {
	t.Helper()
	schema := "foyer_cmd_" + randomHex(6)
	out, drop, err := createSchema(t.Context(), dsn, schema)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := drop(); err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
		}
	})
	return out
}

// binDir holds the foyer binary built once for the tests that run it; it
// is removed when the tests end.
var binDir string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "foyer-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binDir = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// buildFoyer builds the foyer binary into binDir, once.
var buildFoyer = sync.OnceValues(func() (string, error) {
	bin := filepath.Join(binDir, "foyer")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("go build: %v\n%s", err, out)
	}
	return bin, nil
})

// foyerBinary returns the path of the foyer binary, built from this
// package's source.
func foyerBinary(t *testing.T) string {
	t.Helper()
	bin, err := buildFoyer()
	if err != nil {
		t.Fatal(err)
	}
	return bin
}

// freePort returns a TCP port on 127.0.0.1 that nothing listens on now.
func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// process is a running `foyer serve`.
type process struct {
	cmd     *exec.Cmd
	url     string
	apiKey  string // the bootstrap key, if it printed one
	stderr  string // path of the file that receives its stderr
	done    chan error
	stopped bool
}

// log returns what the process wrote to stderr so far.
func (p *process) log() string {
	b, _ := os.ReadFile(p.stderr)
	return string(b)
}

var (
	listeningLine = regexp.MustCompile(`^Foyer is listening on (http://\S+) `)
	bootstrapLine = regexp.MustCompile(`Admin API key \(shown once, store it now\): (foyer_sk_\S+)`)
)

// startFoyer runs `foyer serve` with env (and no other FOYER_* variable)
// and waits until it prints its URL. Its stderr goes straight to a file,
// so everything it wrote before the URL line is there once the line is
// read.
func startFoyer(t *testing.T, bin string, env ...string) *process {
	t.Helper()
	cmd := exec.Command(bin, "serve")
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "FOYER_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, env...)
	errFile, err := os.CreateTemp(t.TempDir(), "stderr-")
	if err != nil {
		t.Fatal(err)
	}
	defer errFile.Close()
	cmd.Stderr = errFile
	pr, pw := io.Pipe()
	cmd.Stdout = pw
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &process{cmd: cmd, stderr: errFile.Name(), done: make(chan error, 1)}
	go func() {
		err := cmd.Wait()
		pw.Close()
		p.done <- err
	}()
	t.Cleanup(func() {
		if !p.stopped {
			cmd.Process.Kill()
			<-p.done
		}
	})
	urls := make(chan string, 1)
	go func() {
		defer close(urls)
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			if m := listeningLine.FindStringSubmatch(sc.Text()); m != nil && len(urls) == 0 {
				urls <- m[1]
			}
		}
	}()
	select {
	case u, ok := <-urls:
		if !ok {
			p.stopped = true
			err := <-p.done
			t.Fatalf("foyer serve exited before listening: %v\nstderr:\n%s", err, p.log())
		}
		p.url = u
	case <-t.Context().Done():
		t.Fatal("test ended before foyer serve listened")
	}
	if k := bootstrapLine.FindStringSubmatch(p.log()); k != nil {
		p.apiKey = k[1]
	}
	return p
}

// stop sends SIGTERM and checks that the process exits cleanly.
func (p *process) stop(t *testing.T) {
	t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	p.stopped = true
	if err := <-p.done; err != nil {
		t.Fatalf("foyer serve after SIGTERM: %v\nstderr:\n%s", err, p.log())
	}
	if !strings.Contains(p.log(), `"msg":"foyer stopped"`) {
		t.Fatalf("foyer serve did not log a clean stop:\n%s", p.log())
	}
}

// client is a visitor's browser: a cookie jar and the server's URL.
type client struct {
	t    *testing.T
	http *http.Client
	url  string
}

func newClient(t *testing.T, url string) *client {
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &client{t: t, http: &http.Client{Jar: jar}, url: url}
}

// do sends a request and decodes a JSON answer into out, failing the
// test unless the status is want.
func (c *client) do(method, path, contentType, body, bearer string, want int, out any) {
	c.t.Helper()
	req, err := http.NewRequestWithContext(c.t.Context(), method, c.url+path, strings.NewReader(body))
	if err != nil {
		c.t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		c.t.Fatal(err)
	}
	if resp.StatusCode != want {
		c.t.Fatalf("%s %s: status %d, want %d: %s", method, path, resp.StatusCode, want, b)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			c.t.Fatalf("%s %s: %v: %s", method, path, err, b)
		}
	}
}

type userDoc struct {
	ID        string         `json:"id"`
	Anonymous bool           `json:"anonymous"`
	Data      map[string]any `json:"data"`
}

// walkthrough runs the README's walkthrough: create an anonymous user,
// patch its data, read it back, find it in the list of anonymous users.
// It returns the visitor's client and the user id.
func walkthrough(t *testing.T, url, apiKey string) (*client, string) {
	t.Helper()
	c := newClient(t, url)
	var created struct {
		User      userDoc   `json:"user"`
		Token     string    `json:"token"`
		ExpiresAt time.Time `json:"expires_at"`
	}
	c.do("POST", "/v1/anonymous", "", "", "", http.StatusCreated, &created)
	if !created.User.Anonymous || created.User.ID == "" || created.Token == "" {
		t.Fatalf("POST /v1/anonymous = %+v, want an anonymous user with a token", created)
	}

	var patched userDoc
	c.do("PATCH", "/v1/me", "application/merge-patch+json", `{"data":{"theme":"dark","cart":["sku-1"]}}`, "", http.StatusOK, &patched)
	if patched.Data["theme"] != "dark" {
		t.Fatalf("PATCH /v1/me data = %v, want theme dark", patched.Data)
	}

	var me userDoc
	c.do("GET", "/v1/me", "", "", "", http.StatusOK, &me)
	if me.ID != created.User.ID || me.Data["theme"] != "dark" || !me.Anonymous {
		t.Fatalf("GET /v1/me = %+v, want user %s, anonymous, with theme dark", me, created.User.ID)
	}

	var list struct {
		Users []userDoc `json:"users"`
	}
	admin := newClient(t, url)
	admin.do("GET", "/v1/users?anonymous=true", "", "", apiKey, http.StatusOK, &list)
	found := false
	for _, u := range list.Users {
		found = found || u.ID == created.User.ID
	}
	if !found {
		t.Fatalf("GET /v1/users?anonymous=true = %+v, want it to list %s", list.Users, created.User.ID)
	}
	admin.do("GET", "/v1/users?anonymous=true", "", "", "foyer_sk_wrong", http.StatusUnauthorized, nil)
	return c, created.User.ID
}

// testServe runs the walkthrough on a fresh `foyer serve`, stops it with
// SIGTERM, starts it again on the same data and finds the user again.
func testServe(t *testing.T, env ...string) {
	bin := foyerBinary(t)
	dataDir := filepath.Join(t.TempDir(), "data")
	env = append(env, "FOYER_DATA_DIR="+dataDir, "FOYER_LOG_LEVEL=info")

	// The same address both times: the default public URL, the tokens'
	// issuer, is derived from it.
	env = append(env, "FOYER_LISTEN="+freePort(t))
	p := startFoyer(t, bin, env...)
	if p.apiKey == "" {
		t.Fatalf("first start printed no bootstrap API key:\n%s", p.log())
	}
	visitor, id := walkthrough(t, p.url, p.apiKey)
	p.stop(t)

	fi, err := os.Stat(dataDir)
	if err != nil {
		t.Fatal(err)
	}
	if got := fi.Mode().Perm(); got != 0o700 {
		t.Fatalf("data directory mode %o, want 700", got)
	}
	if fi, err := os.Stat(filepath.Join(dataDir, masterKeyFile)); err != nil || fi.Mode().Perm() != 0o600 || fi.Size() != 32 {
		t.Fatalf("master.key = %v, %v; want 32 bytes, mode 600", fi, err)
	}

	// Restart on the same data: the same user, its data and its cookie
	// survive, and no second bootstrap key is printed.
	p2 := startFoyer(t, bin, env...)
	if p2.apiKey != "" {
		t.Fatalf("second start printed another bootstrap key")
	}
	visitor.url = p2.url
	var me userDoc
	visitor.do("GET", "/v1/me", "", "", "", http.StatusOK, &me)
	if me.ID != id || me.Data["theme"] != "dark" {
		t.Fatalf("after restart GET /v1/me = %+v, want user %s with theme dark", me, id)
	}
	var got userDoc
	newClient(t, p2.url).do("GET", "/v1/users/"+id, "", "", p.apiKey, http.StatusOK, &got)
	if got.ID != id {
		t.Fatalf("after restart GET /v1/users/%s = %+v", id, got)
	}
	p2.stop(t)
}

func TestServe(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	t.Run("SQLite", func(t *testing.T) {
		t.Parallel()
		testServe(t)
	})
	t.Run("PostgreSQL", func(t *testing.T) {
		t.Parallel()
		dsn := freshSchema(t, postgresDSN(t))
		testServe(t, "FOYER_DATABASE_URL="+dsn)
	})
	t.Run("AdminAPIKeyFromEnv", func(t *testing.T) {
		t.Parallel()
		bin := foyerBinary(t)
		key := "foyer_sk_" + randomHex(24)
		p := startFoyer(t, bin, "FOYER_DATA_DIR="+t.TempDir(), "FOYER_LOG_LEVEL=info", "FOYER_LISTEN="+freePort(t), "FOYER_ADMIN_API_KEY="+key)
		if p.apiKey != "" {
			t.Fatal("a bootstrap key was printed although FOYER_ADMIN_API_KEY is set")
		}
		visitor, _ := walkthrough(t, p.url, key)
		devMailbox(t, p.url, key, visitor)
		p.stop(t)
	})
}

// devMailbox asks to save the visitor's progress and checks that the mail
// worker, in development mode, renders the conversion mail with a link on
// the public URL into the development mailbox.
func devMailbox(t *testing.T, url, apiKey string, visitor *client) {
	t.Helper()
	email := "ann-" + randomHex(4) + "@example.com"
	visitor.do("POST", "/v1/me/convert", "application/json", `{"email":"`+email+`"}`, "", http.StatusAccepted, nil)
	admin := newClient(t, url)
	for {
		var box struct {
			Messages []struct {
				Kind   string     `json:"kind"`
				SentAt *time.Time `json:"sent_at"`
				Links  []string   `json:"links"`
			} `json:"messages"`
		}
		admin.do("GET", "/v1/dev/mail?to="+email, "", "", apiKey, http.StatusOK, &box)
		if len(box.Messages) == 1 && box.Messages[0].SentAt != nil {
			m := box.Messages[0]
			if m.Kind != "conversion" || len(m.Links) == 0 || !strings.HasPrefix(m.Links[0], url+"/convert/complete?token=") {
				t.Fatalf("development mailbox holds %+v, want a conversion mail linking to %s/convert/complete", m, url)
			}
			return
		}
		// The worker is woken by the request; wait for its round.
		select {
		case <-t.Context().Done():
			t.Fatalf("the conversion mail never reached the development mailbox: %+v", box)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func TestServeRefusesBadConfig(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	bin := foyerBinary(t)
	tests := []struct {
		name    string
		args    []string
		env     []string
		setup   func(dataDir string)
		wantErr string
	}{
		{"ErrReaperRetention", []string{"--reaper-retention", "720h"}, nil, nil, "the reaper would delete accounts whose tokens are still valid"},
		{"ErrDatabaseURL", nil, []string{"FOYER_DATABASE_URL=mysql://db"}, nil, "must be empty (SQLite in the data directory) or a postgres://"},
		{"ErrMasterKeyLength", nil, nil, func(dir string) {
			os.MkdirAll(dir, 0o700)
			os.WriteFile(filepath.Join(dir, masterKeyFile), make([]byte, 16), 0o600)
		}, "holds 16 bytes, want 32"},
		{"ErrKeyEncryptionKey", nil, []string{"FOYER_KEY_ENCRYPTION_KEY=c2hvcnQ="}, nil, "must be the base64 of 32 bytes, got 5 bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "data")
			if tt.setup != nil {
				tt.setup(dir)
			}
			cmd := exec.CommandContext(t.Context(), bin, append([]string{"serve", "--listen", freePort(t), "--data-dir", dir}, tt.args...)...)
			cmd.Env = append(os.Environ(), tt.env...)
			out, err := cmd.CombinedOutput()
			var exit *exec.ExitError
			if !errors.As(err, &exit) || exit.ExitCode() == 0 {
				t.Fatalf("foyer serve = %v, want a non-zero exit\n%s", err, out)
			}
			if !strings.Contains(string(out), tt.wantErr) {
				t.Fatalf("output lacks %q:\n%s", tt.wantErr, out)
			}
		})
	}
}

// runBench runs `foyer bench` in-process and checks it reports every
// scenario with zero errors.
func runBench(t *testing.T, extra ...string) {
	t.Helper()
	var out, errOut bytes.Buffer
	m := &Main{Stdout: &out, Stderr: &errOut, Getenv: func(string) (string, bool) { return "", false }}
	args := append([]string{"bench", "--duration", "1s", "--warmup", "100ms", "--concurrency", "2", "--users", "20", "--scenarios", "signup,read,write,list"}, extra...)
	if err := m.Run(t.Context(), args); err != nil {
		t.Fatalf("bench: %v\nstdout:\n%s\nstderr:\n%s", err, out.String(), errOut.String())
	}
	rows := 0
	for _, line := range strings.Split(out.String(), "\n") {
		f := strings.Fields(line)
		if len(f) != 7 || !strings.HasSuffix(f[3], "ms") {
			continue
		}
		rows++
		if f[6] != "0" {
			t.Errorf("scenario %s reported %s errors", f[0], f[6])
		}
		if f[2] == "0" {
			t.Errorf("scenario %s made no request", f[0])
		}
	}
	if rows != 4 {
		t.Fatalf("bench printed %d result rows, want 4:\n%s", rows, out.String())
	}
	if !strings.Contains(out.String(), "bytes per user") {
		t.Errorf("bench did not report storage per user:\n%s", out.String())
	}
}

// runAdminBench runs the admin scenarios of `foyer bench` in-process on
// a small seeded history and checks that every query was answered, and
// that the plans of the list and report statements were printed.
func runAdminBench(t *testing.T, extra ...string) {
	t.Helper()
	var out, errOut bytes.Buffer
	m := &Main{Stdout: &out, Stderr: &errOut, Getenv: func(string) (string, bool) { return "", false }}
	args := append([]string{"bench", "--scenarios", "admin", "--admin-users", "2000", "--admin-requests", "12", "--duration", "1h"}, extra...)
	if err := m.Run(t.Context(), args); err != nil {
		t.Fatalf("bench: %v\nstdout:\n%s\nstderr:\n%s", err, out.String(), errOut.String())
	}
	if !strings.Contains(errOut.String(), "seeding: 2000 users") {
		t.Errorf("bench did not report the seeding:\n%s", errOut.String())
	}
	queries := map[string]bool{}
	for _, line := range strings.Split(out.String(), "\n") {
		f := strings.Fields(line)
		if len(f) != 6 || !strings.HasSuffix(f[2], "ms") {
			continue
		}
		queries[f[0]] = true
		if f[1] != "12" || f[5] != "0" {
			t.Errorf("query %s: %s requests, %s errors; want 12 and 0", f[0], f[1], f[5])
		}
	}
	for _, q := range []string{"users", "users:anonymous", "users:inactive_since", "users:created_range", "users:email", "report:funnel", "report:monthly-active-users", "console:dashboard:30d", "console:user"} {
		if !queries[q] {
			t.Errorf("bench did not measure %s:\n%s", q, out.String())
		}
	}
	for _, want := range []string{"query plans", "report:time_to_convert: ", "users:email: ", "\nfull scans: "} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("bench output lacks %q:\n%s", want, out.String())
		}
	}
}

func TestBench(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a load test")
	}
	t.Run("SQLite", func(t *testing.T) {
		runBench(t)
	})
	t.Run("PostgreSQL", func(t *testing.T) {
		dsn := postgresDSN(t)
		conn, err := pgx.Connect(t.Context(), dsn)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close(context.WithoutCancel(t.Context()))
		benchSchemas := func() map[string]bool {
			rows, err := conn.Query(t.Context(), `SELECT schema_name FROM information_schema.schemata WHERE schema_name LIKE 'foyer\_bench\_%'`)
			if err != nil {
				t.Fatal(err)
			}
			names, err := pgx.CollectRows(rows, pgx.RowTo[string])
			if err != nil {
				t.Fatal(err)
			}
			set := map[string]bool{}
			for _, n := range names {
				set[n] = true
			}
			return set
		}
		// Other runs on the same server may hold bench schemas of their
		// own: only the one this run creates must be gone afterwards.
		before := benchSchemas()
		runBench(t, "--database-url", dsn)
		for name := range benchSchemas() {
			if !before[name] {
				t.Fatalf("bench schema %s left behind", name)
			}
		}
	})
	t.Run("AdminSQLite", func(t *testing.T) {
		runAdminBench(t)
	})
	t.Run("AdminPostgreSQL", func(t *testing.T) {
		runAdminBench(t, "--database-url", postgresDSN(t))
	})
	t.Run("ErrAdminWithURL", func(t *testing.T) {
		var out bytes.Buffer
		m := &Main{Stdout: &out, Stderr: &out, Getenv: func(string) (string, bool) { return "", false }}
		err := m.Run(t.Context(), []string{"bench", "--scenarios", "admin", "--url", "http://127.0.0.1:9011"})
		if err == nil || exitCode(err) != 2 || !strings.Contains(err.Error(), "cannot be used with --url") {
			t.Fatalf("bench = %v, want a usage error", err)
		}
	})
	t.Run("ErrUnknownScenario", func(t *testing.T) {
		var out bytes.Buffer
		m := &Main{Stdout: &out, Stderr: &out, Getenv: func(string) (string, bool) { return "", false }}
		err := m.Run(t.Context(), []string{"bench", "--scenarios", "signup,login"})
		if err == nil || exitCode(err) != 2 || !strings.Contains(err.Error(), `unknown scenario "login"`) {
			t.Fatalf("bench = %v, want an unknown scenario usage error", err)
		}
	})
}
