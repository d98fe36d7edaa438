package http_test

import (
	"net/http"
	"net/http/httptest"
	"runtime"
	"strconv"
	"sync/atomic"
	"testing"

	foyerhttp "github.com/foyerhq/foyer/http"
)

// The benchmarks below run the hot paths that foyer bench measures
// (sign-up, profile read, profile write) through the real handler over a
// real SQLite store, with httptest instead of a network, so that they show
// the server's own cost without the load generator's. The requests come
// from 16 goroutines, foyer bench's default concurrency, so that the
// store's single writer batches writes as it does under load.

// benchServer is a test server without the sign-up rate limit, as foyer
// bench runs it.
func benchServer(b *testing.B) *testServer {
	b.Helper()
	return setup(b, func(c *foyerhttp.Config) { c.AnonymousRateLimit = -1 })
}

// benchCookies signs up n visitors and returns their Cookie headers.
func benchCookies(b *testing.B, ts *testServer, n int) []string {
	b.Helper()
	cookies := make([]string, n)
	for i := range cookies {
		cookies[i] = cookieName + "=" + ts.signup(b).Token
	}
	return cookies
}

// runParallel serves one request per iteration from 16 goroutines and
// fails the benchmark on any status other than want.
func (ts *testServer) runParallel(b *testing.B, want int, newRequest func(i uint64) *http.Request) {
	b.Helper()
	var (
		next atomic.Uint64
		bad  atomic.Int64
	)
	b.SetParallelism(max(1, 16/runtime.GOMAXPROCS(0)))
	b.ReportAllocs()
	b.ResetTimer()
	cpu := processCPU()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			w := httptest.NewRecorder()
			ts.handler.ServeHTTP(w, newRequest(next.Add(1)))
			if w.Code != want && bad.Add(1) == 1 {
				b.Errorf("status %d, want %d: %s", w.Code, want, w.Body)
			}
		}
	})
	// ns/op is wall time, which other processes on the machine inflate;
	// the process's own CPU time per request is steadier to compare.
	if cpu >= 0 {
		b.ReportMetric(float64(processCPU()-cpu)/float64(b.N), "cpu-ns/op")
	}
}

// BenchmarkSignup is POST /v1/anonymous without a cookie: a user row, its
// event, a signed token and the cookie.
func BenchmarkSignup(b *testing.B) {
	ts := benchServer(b)
	ts.runParallel(b, http.StatusCreated, func(uint64) *http.Request {
		return httptest.NewRequest("POST", "/v1/anonymous", nil)
	})
}

// BenchmarkMe is GET /v1/me with the anonymous cookie of one of 1,000
// visitors, taken round-robin.
func BenchmarkMe(b *testing.B) {
	ts := benchServer(b)
	cookies := benchCookies(b, ts, 1000)
	ts.runParallel(b, http.StatusOK, func(i uint64) *http.Request {
		r := httptest.NewRequest("GET", "/v1/me", nil)
		r.Header.Set("Cookie", cookies[i%uint64(len(cookies))])
		return r
	})
}

// BenchmarkPatchMe is PATCH /v1/me with a small merge patch, as foyer
// bench's write scenario sends it.
func BenchmarkPatchMe(b *testing.B) {
	ts := benchServer(b)
	cookies := benchCookies(b, ts, 1000)
	ts.runParallel(b, http.StatusOK, func(i uint64) *http.Request {
		body := `{"data":{"bench":` + strconv.FormatUint(i, 10) + `}}`
		r := request("PATCH", "/v1/me", body, mergePatchType...)
		r.Header.Set("Cookie", cookies[i%uint64(len(cookies))])
		return r
	})
}
