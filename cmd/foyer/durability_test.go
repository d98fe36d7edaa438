package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"

	foyer "github.com/foyerhq/foyer"
)

const (
	// killWorkers is how many visitors write at once.
	killWorkers = 8
	// killSignups is how many sign-ups each visitor makes.
	killSignups = 25
	// killPatches is how many data patches each visitor sends to each of
	// its users, with increasing counters.
	killPatches = 3
)

// ackedUser is what the server acknowledged about one user: its sign-up
// and the patches it answered with a 2xx.
type ackedUser struct {
	id string
	// patches are the counters of the acknowledged patches, in the order
	// they were sent (increasing).
	patches []int
	// version is the ETag version of the last acknowledged patch, or of
	// the sign-up when no patch was acknowledged.
	version int64
}

// answer is one HTTP response, read to the end.
type answer struct {
	status int
	etag   string
	body   []byte
}

// send makes one request and reads the whole answer. It does not fail the
// test, so that goroutines may call it.
func send(t *testing.T, c *http.Client, method, u, contentType, body, bearer string) (answer, error) {
	req, err := http.NewRequestWithContext(t.Context(), method, u, strings.NewReader(body))
	if err != nil {
		return answer{}, err
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	resp, err := c.Do(req)
	if err != nil {
		return answer{}, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return answer{}, err
	}
	return answer{status: resp.StatusCode, etag: resp.Header.Get("ETag"), body: b}, nil
}

// etagVersion returns the version of a strong ETag `"<n>"`.
func etagVersion(s string) (int64, error) {
	v, err := strconv.ParseInt(strings.Trim(s, `"`), 10, 64)
	if err != nil || len(s) < 3 || s[0] != '"' || s[len(s)-1] != '"' {
		return 0, fmt.Errorf("ETag %q is not a strong version tag", s)
	}
	return v, nil
}

// writeConcurrently signs up killWorkers×killSignups visitors from
// killWorkers goroutines, each patching its own users' data with
// increasing counters, and returns every user the server acknowledged.
// It returns as soon as the last answer has been read.
func writeConcurrently(t *testing.T, base string) []*ackedUser {
	t.Helper()
	var (
		mu    sync.Mutex
		acked []*ackedUser
		errs  []string
		wg    sync.WaitGroup
	)
	fail := func(format string, args ...any) {
		mu.Lock()
		errs = append(errs, fmt.Sprintf(format, args...))
		mu.Unlock()
	}
	for w := range killWorkers {
		wg.Go(func() {
			for i := range killSignups {
				jar, err := cookiejar.New(nil)
				if err != nil {
					fail("cookie jar: %v", err)
					return
				}
				c := &http.Client{Jar: jar}
				a, err := send(t, c, "POST", base+"/v1/anonymous", "", "", "")
				if err != nil {
					fail("worker %d sign-up %d: %v", w, i, err)
					continue
				}
				if a.status/100 != 2 {
					fail("worker %d sign-up %d: status %d: %s", w, i, a.status, a.body)
					continue
				}
				var created struct {
					User struct {
						ID string `json:"id"`
					} `json:"user"`
				}
				if err := json.Unmarshal(a.body, &created); err != nil || created.User.ID == "" {
					fail("worker %d sign-up %d: %v: %s", w, i, err, a.body)
					continue
				}
				u := &ackedUser{id: created.User.ID}
				if a.etag != "" {
					if u.version, err = etagVersion(a.etag); err != nil {
						fail("worker %d sign-up %d: %v", w, i, err)
					}
				}
				mu.Lock()
				acked = append(acked, u)
				mu.Unlock()
				for n := 1; n <= killPatches; n++ {
					body := fmt.Sprintf(`{"data":{"n":%d,"p%d":%d}}`, n, n, n)
					a, err := send(t, c, "PATCH", base+"/v1/me", "application/merge-patch+json", body, "")
					if err != nil {
						fail("worker %d user %s patch %d: %v", w, u.id, n, err)
						continue
					}
					if a.status/100 != 2 {
						fail("worker %d user %s patch %d: status %d: %s", w, u.id, n, a.status, a.body)
						continue
					}
					v, err := etagVersion(a.etag)
					if err != nil {
						fail("worker %d user %s patch %d: %v", w, u.id, n, err)
						continue
					}
					mu.Lock()
					u.patches = append(u.patches, n)
					u.version = v
					mu.Unlock()
				}
			}
		})
	}
	wg.Wait()
	for _, e := range errs {
		t.Error(e)
	}
	return acked
}

// userEvents returns every event of the user, following next_cursor.
func userEvents(t *testing.T, c *http.Client, base, apiKey, id string) []*foyer.Event {
	t.Helper()
	var all []*foyer.Event
	cursor := ""
	for {
		q := url.Values{"user_id": {id}, "limit": {strconv.Itoa(foyer.MaxPageSize)}}
		if cursor != "" {
			q.Set("cursor", cursor)
		}
		a, err := send(t, c, "GET", base+"/v1/events?"+q.Encode(), "", "", apiKey)
		if err != nil {
			t.Fatal(err)
		}
		if a.status != http.StatusOK {
			t.Fatalf("GET /v1/events?%s: status %d: %s", q.Encode(), a.status, a.body)
		}
		var page struct {
			Events     []*foyer.Event `json:"events"`
			NextCursor string         `json:"next_cursor"`
		}
		if err := json.Unmarshal(a.body, &page); err != nil {
			t.Fatalf("GET /v1/events: %v: %s", err, a.body)
		}
		all = append(all, page.Events...)
		if page.NextCursor == "" {
			return all
		}
		cursor = page.NextCursor
	}
}

// checkAcknowledged checks, on a restarted server, that every acknowledged
// user, each of its acknowledged patches, and the events of both are
// there.
func checkAcknowledged(t *testing.T, base, apiKey string, acked []*ackedUser) {
	t.Helper()
	c := &http.Client{}
	for _, u := range acked {
		a, err := send(t, c, "GET", base+"/v1/users/"+u.id, "", "", apiKey)
		if err != nil {
			t.Fatal(err)
		}
		if a.status != http.StatusOK {
			t.Errorf("user %s was acknowledged but GET /v1/users/%s after kill -9 = %d: %s", u.id, u.id, a.status, a.body)
			continue
		}
		var got struct {
			ID   string         `json:"id"`
			Data map[string]any `json:"data"`
		}
		if err := json.Unmarshal(a.body, &got); err != nil {
			t.Fatalf("GET /v1/users/%s: %v: %s", u.id, err, a.body)
		}
		v, err := etagVersion(a.etag)
		if err != nil {
			t.Fatalf("GET /v1/users/%s: %v", u.id, err)
		}
		if v < u.version {
			t.Errorf("user %s: version %d after kill -9, but version %d was acknowledged", u.id, v, u.version)
		}
		if len(u.patches) > 0 {
			last := u.patches[len(u.patches)-1]
			if n, _ := got.Data["n"].(float64); int(n) < last {
				t.Errorf("user %s: data %v after kill -9, want n ≥ %d (acknowledged)", u.id, got.Data, last)
			}
			for _, p := range u.patches {
				if got.Data[fmt.Sprintf("p%d", p)] != float64(p) {
					t.Errorf("user %s: data %v after kill -9 lacks p%d of an acknowledged patch", u.id, got.Data, p)
				}
			}
		}

		created := 0
		updated := map[int]int{} // the data counter n of each user.updated event
		for _, e := range userEvents(t, c, base, apiKey, u.id) {
			switch e.Type {
			case foyer.EventUserAnonymousCreated:
				created++
			case foyer.EventUserUpdated:
				var payload struct {
					User struct {
						Data map[string]any `json:"data"`
					} `json:"user"`
				}
				if err := json.Unmarshal(e.Data, &payload); err != nil {
					t.Fatalf("event %s: %v: %s", e.ID, err, e.Data)
				}
				n, _ := payload.User.Data["n"].(float64)
				updated[int(n)]++
			}
		}
		if created != 1 {
			t.Errorf("user %s: %d %s events after kill -9, want 1", u.id, created, foyer.EventUserAnonymousCreated)
		}
		for _, p := range u.patches {
			if updated[p] != 1 {
				t.Errorf("user %s: %d %s events for acknowledged patch n=%d after kill -9, want 1 (events by n: %v)", u.id, updated[p], foyer.EventUserUpdated, p, updated)
			}
		}
	}
}

// testKillAfterAcknowledge writes concurrently, kills the server with
// SIGKILL the moment the last answer arrives, restarts it on the same
// data and checks that everything acknowledged is there.
func testKillAfterAcknowledge(t *testing.T, env ...string) {
	bin := foyerBinary(t)
	dataDir := filepath.Join(t.TempDir(), "data")
	env = append(env, "FOYER_DATA_DIR="+dataDir, "FOYER_LOG_LEVEL=info", "FOYER_ANONYMOUS_RATE_LIMIT=off", "FOYER_LISTEN="+freePort(t))
	p := startFoyer(t, bin, env...)
	if p.apiKey == "" {
		t.Fatalf("first start printed no bootstrap API key:\n%s", p.log())
	}

	acked := writeConcurrently(t, p.url)
	// No graceful shutdown and no pause: whatever was acknowledged must
	// already be durable.
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	p.stopped = true
	<-p.done

	if len(acked) == 0 {
		t.Fatal("no sign-up was acknowledged")
	}
	patches := 0
	for _, u := range acked {
		patches += len(u.patches)
	}
	t.Logf("%d sign-ups and %d patches acknowledged before kill -9", len(acked), patches)

	p2 := startFoyer(t, bin, env...)
	checkAcknowledged(t, p2.url, p.apiKey, acked)
	p2.stop(t)
}

func TestKillAfterAcknowledge(t *testing.T) {
	if testing.Short() {
		t.Skip("builds, runs and kills the binary")
	}
	t.Run("SQLite", func(t *testing.T) {
		t.Parallel()
		testKillAfterAcknowledge(t)
	})
	t.Run("PostgreSQL", func(t *testing.T) {
		t.Parallel()
		dsn := freshSchema(t, postgresDSN(t))
		testKillAfterAcknowledge(t, "FOYER_DATABASE_URL="+dsn)
	})
}
