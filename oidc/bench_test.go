package oidc_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/foyerhq/foyer/oidc"
)

// The benchmarks below measure what an app asks of the provider most
// often: redeeming a code, refreshing a session and reading userinfo.
// They go over real HTTP on loopback (an httptest server) to the stack
// that setup wires as foyer serve does, on a real SQLite file. The client
// runs in the same process, so ns/op and allocs/op are the client's and
// the server's together.
//
// Each has a serial form (one request at a time, b.Loop) and a parallel
// form (b.RunParallel from 16 goroutines, foyer bench's default
// concurrency), which shows how far the requests overlap. Every write (a
// code redeemed, a session created or rotated) is a transaction of
// SQLite's single writer goroutine, one at a time; in the parallel forms
// it commits the writes of several requests together.
//
// Beside ns/op (wall time, which other processes on the machine
// inflate) they report cpu-ns/op, the process's CPU time per op while the
// timer runs, the steadier figure on a shared machine.
//
// Their setup runs inside the benchmark functions, so `go test` without
// -bench does none of it.

const (
	// benchPeople is the number of registered people signed in to the
	// app, each with a browser of their own; the refresh and userinfo
	// benchmarks use one session of each. Registering takes a password
	// reset, of which one client address may ask 20 an hour.
	benchPeople = 16
	// codeBatch is the number of codes the serial code exchange prepares
	// at a time, with the timer stopped.
	codeBatch = 128
)

// benchParallelism makes b.RunParallel use 16 goroutines in all.
func benchParallelism(b *testing.B) {
	b.SetParallelism(max(1, 16/runtime.GOMAXPROCS(0)))
}

// cpuMeter adds up the process's CPU time while the benchmark's timer
// runs; start and stop it where the timer starts and stops.
type cpuMeter struct {
	total, since time.Duration
	broken       bool // the CPU time could not be read
}

func (m *cpuMeter) start() { m.since = processCPU() }

func (m *cpuMeter) stop() {
	now := processCPU()
	if now < 0 || m.since < 0 {
		m.broken = true
		return
	}
	m.total += now - m.since
}

// report stops m and reports its total per op as cpu-ns/op.
func (m *cpuMeter) report(b *testing.B) {
	m.stop()
	if !m.broken && b.N > 0 {
		b.ReportMetric(float64(m.total)/float64(b.N), "cpu-ns/op")
	}
}

// bench is a stack with one app that keeps people signed in, its
// registered people and an HTTP client for the measured requests.
type bench struct {
	s      *stack
	app    *rp
	people []*browser
	client *http.Client
	// basic is the app's Authorization header (client_secret_basic).
	basic string
}

// newBench starts a stack and signs n people in, each in a browser of
// their own.
func newBench(b *testing.B, n int) *bench {
	b.Helper()
	s := setup(b)
	// http.DefaultClient keeps two idle connections per host: 16
	// goroutines would open a new one for most requests.
	tr := &http.Transport{MaxIdleConnsPerHost: 64, DisableCompression: true}
	b.Cleanup(tr.CloseIdleConnections)
	x := &bench{s: s, app: s.newApp(b, offline...), client: &http.Client{Transport: tr}}
	req, _ := http.NewRequest("POST", "/", nil)
	req.SetBasicAuth(url.QueryEscape(x.app.app.ID), url.QueryEscape(x.app.secret))
	x.basic = req.Header.Get("Authorization")
	for i := range n {
		email := fmt.Sprintf("person%d@example.com", i)
		s.register(b, email)
		br := newBrowser(b, s)
		br.signInDirectly(email)
		x.people = append(x.people, br)
	}
	return x
}

// pendingCode is an authorization code not redeemed yet.
type pendingCode struct{ code, verifier string }

// codes returns n codes for the app, from the people in turn.
func (x *bench) codes(b *testing.B, n int) []pendingCode {
	b.Helper()
	out := make([]pendingCode, n)
	for i := range out {
		out[i].code, out[i].verifier = codeFor(b, x.people[i%len(x.people)], x.app)
	}
	return out
}

// grant is the token endpoint's answer.
type grant struct {
	Access  string `json:"access_token"`
	Refresh string `json:"refresh_token"`
	ID      string `json:"id_token"`
	Error   string `json:"error"`
}

// token posts a form body to the token endpoint as the app and returns
// the answer, which must carry an access, a refresh and an ID token. It
// returns errors rather than failing b, for the goroutines of
// b.RunParallel.
func (x *bench) token(ctx context.Context, body string) (grant, error) {
	req, err := http.NewRequestWithContext(ctx, "POST", x.s.url+oidc.PathToken, strings.NewReader(body))
	if err != nil {
		return grant{}, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Authorization", x.basic)
	resp, err := x.client.Do(req)
	if err != nil {
		return grant{}, err
	}
	defer resp.Body.Close()
	// Read to the end, so that the connection is kept for the next one.
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return grant{}, err
	}
	var g grant
	if err := json.Unmarshal(raw, &g); err != nil {
		return g, fmt.Errorf("token endpoint: status %d: %s: %w", resp.StatusCode, raw, err)
	}
	if resp.StatusCode != http.StatusOK || g.Access == "" || g.Refresh == "" || g.ID == "" {
		return g, fmt.Errorf("token endpoint: status %d, error %q; want 200 with an access, a refresh and an ID token", resp.StatusCode, g.Error)
	}
	return g, nil
}

// exchangeBody is the form of the authorization_code grant for c.
func exchangeBody(c pendingCode) string {
	return url.Values{"grant_type": {"authorization_code"}, "code": {c.code}, "redirect_uri": {rpURL}, "code_verifier": {c.verifier}}.Encode()
}

// refreshBody is the form of the refresh_token grant for tok.
func refreshBody(tok string) string {
	return "grant_type=refresh_token&refresh_token=" + url.QueryEscape(tok)
}

// sessions signs each person in to the app once and returns the
// sessions' tokens.
func (x *bench) sessions(b *testing.B) []grant {
	b.Helper()
	out := make([]grant, len(x.people))
	for i, c := range x.codes(b, len(x.people)) {
		g, err := x.token(b.Context(), exchangeBody(c))
		if err != nil {
			b.Fatal(err)
		}
		out[i] = g
	}
	return out
}

// userinfo asks the userinfo endpoint with access, which must answer 200.
func (x *bench) userinfo(ctx context.Context, access string) error {
	req, err := http.NewRequestWithContext(ctx, "GET", x.s.url+oidc.PathUserinfo, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+access)
	resp, err := x.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK || !json.Valid(body) {
		return fmt.Errorf("userinfo: status %d: %s; want 200 and the claims", resp.StatusCode, body)
	}
	return nil
}

// BenchmarkRefresh is the refresh_token grant: one op rotates the refresh
// token of a session and answers a new access and ID token (two
// signatures). Each of 16 sessions, of 16 people, is refreshed in turn
// with the token the previous refresh of it returned.
func BenchmarkRefresh(b *testing.B) {
	b.Run("serial", func(b *testing.B) {
		x := newBench(b, benchPeople)
		pool := make([]string, 0, benchPeople)
		for _, g := range x.sessions(b) {
			pool = append(pool, g.Refresh)
		}
		ctx := b.Context()
		b.ReportAllocs()
		var cpu cpuMeter
		cpu.start()
		i := 0
		for b.Loop() {
			g, err := x.token(ctx, refreshBody(pool[i]))
			if err != nil {
				b.Fatal(err)
			}
			pool[i] = g.Refresh
			i = (i + 1) % len(pool)
		}
		cpu.report(b)
	})

	// Every goroutine takes a session's current token from the pool and
	// puts the one it gets back, so that no token is presented twice.
	b.Run("parallel", func(b *testing.B) {
		x := newBench(b, benchPeople)
		pool := make(chan string, benchPeople)
		for _, g := range x.sessions(b) {
			pool <- g.Refresh
		}
		ctx := b.Context()
		benchParallelism(b)
		b.ReportAllocs()
		b.ResetTimer()
		var cpu cpuMeter
		cpu.start()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				g, err := x.token(ctx, refreshBody(<-pool))
				if err != nil {
					b.Error(err)
					return
				}
				pool <- g.Refresh
			}
		})
		cpu.report(b)
	})
}

// BenchmarkCodeExchange is the authorization_code grant: one op redeems a
// code (PKCE S256), creates the session and answers an access, a refresh
// and an ID token (two signatures). The codes come from 16 people
// already signed in, each through a real authorization request in the
// person's browser (authorize, then continue), which is not timed.
func BenchmarkCodeExchange(b *testing.B) {
	// b.Loop, with the timer stopped while each batch of 128 codes is
	// prepared: every timed iteration is one redemption of a fresh code,
	// and the memory statistics that stopping and starting the timer read
	// cost once per batch, not once per op. b.Loop scales the number of
	// iterations on the timed duration only. Letting the store settle
	// after each batch (a garbage collection, a pause for the WAL
	// checkpointer) changed neither ns/op nor cpu-ns/op measurably, so
	// the preparation does not leak into the timed section.
	b.Run("serial", func(b *testing.B) {
		x := newBench(b, benchPeople)
		ctx := b.Context()
		var batch []pendingCode
		b.ReportAllocs()
		var cpu cpuMeter
		cpu.start()
		for b.Loop() {
			if len(batch) == 0 {
				cpu.stop()
				b.StopTimer()
				batch = x.codes(b, codeBatch)
				b.StartTimer()
				cpu.start()
			}
			if _, err := x.token(ctx, exchangeBody(batch[0])); err != nil {
				b.Fatal(err)
			}
			batch = batch[1:]
		}
		cpu.report(b)
	})

	// b.RunParallel cannot stop the timer, so all b.N codes are prepared
	// before it starts: the benchmark function runs once per b.N that the
	// framework tries, and prepares that many codes each time.
	b.Run("parallel", func(b *testing.B) {
		x := newBench(b, benchPeople)
		codes := x.codes(b, b.N)
		var next atomic.Int64
		ctx := b.Context()
		benchParallelism(b)
		b.ReportAllocs()
		b.ResetTimer()
		var cpu cpuMeter
		cpu.start()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				i := next.Add(1) - 1
				if _, err := x.token(ctx, exchangeBody(codes[i])); err != nil {
					b.Error(err)
					return
				}
			}
		})
		cpu.report(b)
	})
}

// BenchmarkUserinfo is GET /oauth2/userinfo with a valid access token:
// the token's signature is verified, and the session and its person are
// read. The access tokens of 16 sessions, of 16 people, are taken in
// turn. Each person has that one session: userinfo reads all of the
// person's live sessions, so it costs more for someone with many.
func BenchmarkUserinfo(b *testing.B) {
	tokens := func(b *testing.B, x *bench) []string {
		var out []string
		for _, g := range x.sessions(b) {
			out = append(out, g.Access)
		}
		return out
	}
	b.Run("serial", func(b *testing.B) {
		x := newBench(b, benchPeople)
		access := tokens(b, x)
		ctx := b.Context()
		b.ReportAllocs()
		var cpu cpuMeter
		cpu.start()
		i := 0
		for b.Loop() {
			if err := x.userinfo(ctx, access[i]); err != nil {
				b.Fatal(err)
			}
			i = (i + 1) % len(access)
		}
		cpu.report(b)
	})

	b.Run("parallel", func(b *testing.B) {
		x := newBench(b, benchPeople)
		access := tokens(b, x)
		var next atomic.Uint64
		ctx := b.Context()
		benchParallelism(b)
		b.ReportAllocs()
		b.ResetTimer()
		var cpu cpuMeter
		cpu.start()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if err := x.userinfo(ctx, access[next.Add(1)%uint64(len(access))]); err != nil {
					b.Error(err)
					return
				}
			}
		})
		cpu.report(b)
	})
}
