package main

import (
	"context"
	"database/sql"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// runFoyer runs the foyer binary with args and env (and no other FOYER_*
// variable), fails the test unless it succeeds, and returns its stdout.
func runFoyer(t *testing.T, bin string, env []string, args ...string) string {
	t.Helper()
	cmd := exec.CommandContext(t.Context(), bin, args...)
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "FOYER_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, env...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("foyer %s: %v\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), err, out, stderr.String())
	}
	return string(out)
}

// backdate moves the creation and last activity of the users ids back by
// age, straight in the database, as if they had been idle that long.
// dsn is a PostgreSQL URL, or "" for the SQLite database in dataDir.
func backdate(t *testing.T, dsn, dataDir string, age time.Duration, ids ...string) {
	t.Helper()
	ctx := t.Context()
	if dsn != "" {
		conn, err := pgx.Connect(ctx, dsn)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close(context.WithoutCancel(ctx))
		tag, err := conn.Exec(ctx, `UPDATE users SET created_at = created_at - make_interval(secs => $1), last_seen_at = last_seen_at - make_interval(secs => $1) WHERE id::text = ANY($2)`, age.Seconds(), ids)
		if err != nil {
			t.Fatal(err)
		}
		if int(tag.RowsAffected()) != len(ids) {
			t.Fatalf("backdated %d users, want %d", tag.RowsAffected(), len(ids))
		}
		return
	}
	// The server may be running: wait for its writer rather than fail.
	db, err := sql.Open("sqlite", "file:"+filepath.Join(dataDir, "foyer.db")+"?_pragma=busy_timeout(10000)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, id := range ids {
		// SQLite keeps ids as 16 bytes and times as unix milliseconds.
		uid := uuid.MustParse(id)
		res, err := db.ExecContext(ctx, `UPDATE users SET created_at = created_at - ?, last_seen_at = last_seen_at - ? WHERE id = ?`,
			age.Milliseconds(), age.Milliseconds(), uid[:])
		if err != nil {
			t.Fatal(err)
		}
		if n, _ := res.RowsAffected(); n != 1 {
			t.Fatalf("backdated %d rows for user %s, want 1", n, id)
		}
	}
}

var reapLine = regexp.MustCompile(`^(Would delete|Deleted) (\d+) anonymous users inactive since before (\S+) \(retention (\S+)\)`)

// reapOutput parses what `foyer reap` printed: how many users, and the
// cut-off.
func reapOutput(t *testing.T, out string) (verb string, n int, cutoff time.Time) {
	t.Helper()
	m := reapLine.FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("foyer reap printed %q, want how many users and the cut-off", out)
	}
	n, _ = strconv.Atoi(m[2])
	cutoff, err := time.Parse(time.RFC3339, m[3])
	if err != nil {
		t.Fatal(err)
	}
	return m[1], n, cutoff
}

// anonymousUser creates an anonymous user on the server API.
func anonymousUser(t *testing.T, admin *client, apiKey string) string {
	t.Helper()
	var u userDoc
	admin.do("POST", "/v1/users", "application/json", `{"anonymous":true,"data":{"cart":["sku-1"]}}`, apiKey, http.StatusCreated, &u)
	return u.ID
}

// testReap makes users stale and reaps them with `foyer reap`, then with
// POST /v1/reaper/runs on a running server. Accounts with an email, or
// with a conversion link still valid, and fresh ones are never reaped.
func testReap(t *testing.T, dsn string) {
	bin := foyerBinary(t)
	key := "foyer_sk_" + randomHex(24)
	dataDir := filepath.Join(t.TempDir(), "data")
	env := []string{"FOYER_DATA_DIR=" + dataDir, "FOYER_LOG_LEVEL=info", "FOYER_LISTEN=" + freePort(t), "FOYER_ADMIN_API_KEY=" + key}
	if dsn != "" {
		env = append(env, "FOYER_DATABASE_URL="+dsn)
	}
	// The default retention: a year of token lifetime plus 30 days.
	const retention = (365 + 30) * 24 * time.Hour
	const idle = 400 * 24 * time.Hour

	p := startFoyer(t, bin, env...)
	admin := newClient(t, p.url)
	var stale []string
	for range 3 {
		stale = append(stale, anonymousUser(t, admin, key))
	}
	fresh := anonymousUser(t, admin, key)
	var registered userDoc
	admin.do("POST", "/v1/users", "application/json", `{"email":"reg-`+randomHex(4)+`@example.com","email_verified":true}`, key, http.StatusCreated, &registered)
	pending := anonymousUser(t, admin, key)
	admin.do("POST", "/v1/users/"+pending+"/convert", "application/json", `{"email":"pending-`+randomHex(4)+`@example.com"}`, key, http.StatusAccepted, nil)
	p.stop(t)

	backdate(t, dsn, dataDir, idle, append([]string{registered.ID, pending}, stale...)...)

	before := time.Now()
	verb, n, cutoff := reapOutput(t, runFoyer(t, bin, env, "reap", "--dry-run"))
	after := time.Now()
	if verb != "Would delete" || n != len(stale) {
		t.Fatalf("foyer reap --dry-run: %s %d, want Would delete %d", verb, n, len(stale))
	}
	if cutoff.Before(before.Add(-retention).Truncate(time.Second)) || cutoff.After(after.Add(-retention)) {
		t.Fatalf("foyer reap --dry-run cut-off %s, want the run's time minus %s", cutoff, retention)
	}
	if verb, n, _ := reapOutput(t, runFoyer(t, bin, env, "reap")); verb != "Deleted" || n != len(stale) {
		t.Fatalf("foyer reap: %s %d, want Deleted %d", verb, n, len(stale))
	}
	if verb, n, _ := reapOutput(t, runFoyer(t, bin, env, "reap")); verb != "Deleted" || n != 0 {
		t.Fatalf("foyer reap again: %s %d, want Deleted 0", verb, n)
	}

	p2 := startFoyer(t, bin, env...)
	admin = newClient(t, p2.url)
	for _, id := range stale {
		admin.do("GET", "/v1/users/"+id, "", "", key, http.StatusNotFound, nil)
		var events struct {
			Events []struct {
				Data struct {
					Reason string `json:"reason"`
				} `json:"data"`
			} `json:"events"`
		}
		admin.do("GET", "/v1/events?type=user.deleted&user_id="+id, "", "", key, http.StatusOK, &events)
		if len(events.Events) != 1 || events.Events[0].Data.Reason != "reaped" {
			t.Fatalf("user.deleted events of %s = %+v, want one with reason reaped", id, events.Events)
		}
	}
	for _, id := range []string{fresh, registered.ID, pending} {
		admin.do("GET", "/v1/users/"+id, "", "", key, http.StatusOK, nil)
	}

	// On demand, on the running server.
	idler := anonymousUser(t, admin, key)
	backdate(t, dsn, dataDir, idle, idler)
	var run struct {
		DryRun  bool      `json:"dry_run"`
		Deleted int       `json:"deleted"`
		Cutoff  time.Time `json:"cutoff"`
	}
	admin.do("POST", "/v1/reaper/runs", "application/json", `{"dry_run":true}`, key, http.StatusOK, &run)
	if !run.DryRun || run.Deleted != 1 || run.Cutoff.IsZero() {
		t.Fatalf("POST /v1/reaper/runs dry run = %+v, want 1 user counted", run)
	}
	admin.do("GET", "/v1/users/"+idler, "", "", key, http.StatusOK, nil)
	admin.do("POST", "/v1/reaper/runs", "application/json", `{"dry_run":false}`, key, http.StatusOK, &run)
	if run.DryRun || run.Deleted != 1 {
		t.Fatalf("POST /v1/reaper/runs = %+v, want 1 user deleted", run)
	}
	admin.do("GET", "/v1/users/"+idler, "", "", key, http.StatusNotFound, nil)
	resp, err := http.Get(p2.url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	metrics, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(metrics), "\nfoyer_reaper_deleted_total 1\n") {
		t.Fatalf("/metrics lacks foyer_reaper_deleted_total 1:\n%s", metrics)
	}
	p2.stop(t)
}

func TestReap(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	t.Run("SQLite", func(t *testing.T) {
		t.Parallel()
		testReap(t, "")
	})
	t.Run("PostgreSQL", func(t *testing.T) {
		t.Parallel()
		testReap(t, freshSchema(t, postgresDSN(t)))
	})
}
