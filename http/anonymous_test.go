package http_test

import (
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	foyerhttp "github.com/foyerhq/foyer/http"
	"github.com/foyerhq/foyer/token"
	"github.com/google/go-cmp/cmp"
)

func TestCreateAnonymous(t *testing.T) {
	t.Run("OK", func(t *testing.T) {
		ts := setup(t)
		now := ts.clock.Now()
		w := ts.do("POST", "/v1/anonymous", "")
		check(t, w, http.StatusCreated, "")
		var s signup
		decode(t, w, &s)
		if !s.User.Anonymous || s.User.ID == "" || string(s.User.Data) != "{}" {
			t.Fatalf("user = %+v, want a new anonymous user with {} data", s.User)
		}
		if want := now.Add(foyerhttp.DefaultAnonymousTTL); !s.ExpiresAt.Equal(want) {
			t.Errorf("expires_at = %v, want %v", s.ExpiresAt, want)
		}
		c := cookie(w, cookieName)
		if c == nil {
			t.Fatalf("no %s cookie in %v", cookieName, w.Header()["Set-Cookie"])
		}
		want := struct {
			Value    string
			Path     string
			MaxAge   int
			HTTPOnly bool
			Secure   bool
			SameSite http.SameSite
		}{s.Token, "/", int(foyerhttp.DefaultAnonymousTTL / time.Second), true, true, http.SameSiteLaxMode}
		got := want
		got.Value, got.Path, got.MaxAge, got.HTTPOnly, got.Secure, got.SameSite = c.Value, c.Path, c.MaxAge, c.HttpOnly, c.Secure, c.SameSite
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("cookie (-want +got):\n%s", diff)
		}
		claims, err := ts.keys.Verify(t.Context(), s.Token, token.TypeAnonymous)
		if err != nil {
			t.Fatal(err)
		}
		u := ts.findUser(t, s.User.ID)
		if claims.Subject != u.ID || !claims.Anonymous || claims.Epoch != u.Epoch || !u.Anonymous {
			t.Errorf("claims %+v do not describe stored user %+v", claims, u)
		}
		if got := w.Header().Get("X-Request-Id"); got == "" {
			t.Error("no X-Request-Id")
		}
	})

	t.Run("OKWithData", func(t *testing.T) {
		ts := setup(t)
		w := ts.do("POST", "/v1/anonymous", `{"data":{"theme":"dark","cart":[1,2],"gone":null}}`, jsonType...)
		check(t, w, http.StatusCreated, "")
		var s signup
		decode(t, w, &s)
		if got, want := string(ts.findUser(t, s.User.ID).Data), `{"cart":[1,2],"theme":"dark"}`; got != want {
			t.Errorf("stored data = %s, want %s", got, want)
		}
	})

	t.Run("OKInsecureLocalhostCookie", func(t *testing.T) {
		ts := setup(t, func(c *foyerhttp.Config) { c.PublicURL.Scheme, c.PublicURL.Host = "http", "localhost:8080" })
		w := ts.do("POST", "/v1/anonymous", "")
		check(t, w, http.StatusCreated, "")
		c := cookie(w, "foyer_anon")
		if c == nil || c.Secure || !c.HttpOnly {
			t.Fatalf("cookie = %+v, want a non-Secure HttpOnly foyer_anon", c)
		}
	})

	t.Run("OKExistingCredential", func(t *testing.T) {
		ts := setup(t)
		first := ts.signup(t)
		ts.clock.Advance(time.Minute)
		for name, h := range map[string][]string{"Cookie": withCookie(first.Token), "Bearer": bearer(first.Token)} {
			t.Run(name, func(t *testing.T) {
				w := ts.do("POST", "/v1/anonymous", `{"data":{"ignored":true}}`, join(jsonType, h)...)
				check(t, w, http.StatusOK, "")
				var s signup
				decode(t, w, &s)
				if s.User.ID != first.User.ID || s.Token == first.Token || cookie(w, cookieName) == nil {
					t.Fatalf("got user %s token renewed=%v cookie=%v; want the same user, a fresh token and cookie",
						s.User.ID, s.Token != first.Token, cookie(w, cookieName) != nil)
				}
				if string(s.User.Data) != "{}" {
					t.Errorf("data = %s, want the existing {}", s.User.Data)
				}
			})
		}
		if n := countUsers(t, ts); n != 1 {
			t.Errorf("%d users, want 1", n)
		}
	})

	t.Run("OKStaleCredentialStartsAfresh", func(t *testing.T) {
		ts := setup(t)
		old := ts.signup(t)
		w := ts.do("POST", "/v1/users/"+old.User.ID+"/revoke", "", ts.api()...)
		check(t, w, http.StatusOK, "")
		w = ts.do("POST", "/v1/anonymous", "", withCookie(old.Token)...)
		check(t, w, http.StatusCreated, "")
		var s signup
		decode(t, w, &s)
		if s.User.ID == old.User.ID {
			t.Fatal("a revoked credential was accepted")
		}
	})

	t.Run("OKCrossOriginNeitherReadsNorSetsTheCookie", func(t *testing.T) {
		ts := setup(t)
		first := ts.signup(t)
		w := ts.do("POST", "/v1/anonymous", "", join(crossOrigin, withCookie(first.Token))...)
		check(t, w, http.StatusCreated, "")
		var s signup
		decode(t, w, &s)
		if s.User.ID == first.User.ID || s.Token == "" {
			t.Fatalf("cross-origin request got user %s, want a new user", s.User.ID)
		}
		if c := w.Header().Get("Set-Cookie"); c != "" {
			t.Fatalf("cross-origin response sets a cookie: %s", c)
		}
	})

	ts := setup(t)
	big := `{"data":{"x":"` + strings.Repeat("a", foyerhttp.DefaultMaxBodyBytes) + `"}}`
	ts.run(t, []scenario{
		{"ErrUnsupportedMediaType", "POST", "/v1/anonymous", []string{"Content-Type", "text/plain"}, `{"data":{}}`, 415, "unsupported_media_type", nil},
		{"ErrMalformedJSON", "POST", "/v1/anonymous", jsonType, `{"data":`, 400, "malformed_json", nil},
		{"ErrUnknownField", "POST", "/v1/anonymous", jsonType, `{"data":{},"anonymous":false}`, 400, "malformed_json", []string{"anonymous"}},
		{"ErrTrailingData", "POST", "/v1/anonymous", jsonType, `{"data":{}} {}`, 400, "malformed_json", nil},
		{"ErrDataNotObject", "POST", "/v1/anonymous", jsonType, `{"data":[1]}`, 400, "invalid", nil},
		{"ErrDataString", "POST", "/v1/anonymous", jsonType, `{"data":"x"}`, 400, "invalid", nil},
		{"ErrBodyNotObject", "POST", "/v1/anonymous", jsonType, `["data"]`, 400, "malformed_json", nil},
		{"ErrTooLarge", "POST", "/v1/anonymous", jsonType, big, 413, "payload_too_large", nil},
		{"ErrMethodNotAllowed", "GET", "/v1/anonymous", nil, "", 405, "method_not_allowed", nil},
	})
	if n := countUsers(t, ts); n != 0 {
		t.Errorf("refused requests created %d users", n)
	}
}

func TestCreateAnonymousRateLimit(t *testing.T) {
	from := func(addr string, header ...string) *http.Request {
		r := request("POST", "/v1/anonymous", "", header...)
		r.RemoteAddr = addr
		return r
	}

	t.Run("OK", func(t *testing.T) {
		ts := setup(t, func(c *foyerhttp.Config) { c.AnonymousRateLimit = 3 })
		var last signup
		for i := range 3 {
			w := ts.serve(from("192.0.2.1:1000"))
			check(t, w, http.StatusCreated, "")
			if i == 0 {
				decode(t, w, &last)
			}
		}
		w := ts.serve(from("192.0.2.1:1001"))
		check(t, w, http.StatusTooManyRequests, "rate_limited")
		secs, err := strconv.Atoi(w.Header().Get("Retry-After"))
		if err != nil || secs < 1 || secs > 20*60 {
			t.Fatalf("Retry-After = %q, want 1..1200 seconds", w.Header().Get("Retry-After"))
		}

		// A visitor who already has an account is not limited: only
		// creation counts.
		check(t, ts.serve(from("192.0.2.1:1002", withCookie(last.Token)...)), http.StatusOK, "")
		// Another address has its own bucket, an IPv6 client its /64.
		check(t, ts.serve(from("192.0.2.2:1000")), http.StatusCreated, "")
		for range 3 {
			check(t, ts.serve(from("[2001:db8::1]:1000")), http.StatusCreated, "")
		}
		check(t, ts.serve(from("[2001:db8::2]:1000")), http.StatusTooManyRequests, "rate_limited")
		// X-Forwarded-For is ignored unless trusted.
		check(t, ts.serve(from("192.0.2.1:1003", "X-Forwarded-For", "198.51.100.9")), http.StatusTooManyRequests, "rate_limited")

		// 3 per hour: one comes back every 20 minutes.
		ts.clock.Advance(time.Duration(secs) * time.Second)
		check(t, ts.serve(from("192.0.2.1:1004")), http.StatusCreated, "")
		check(t, ts.serve(from("192.0.2.1:1005")), http.StatusTooManyRequests, "rate_limited")
	})

	t.Run("OKTrustForwardedFor", func(t *testing.T) {
		ts := setup(t, func(c *foyerhttp.Config) { c.AnonymousRateLimit = 1; c.TrustForwardedFor = true })
		proxy := "10.0.0.1:5000"
		check(t, ts.serve(from(proxy, "X-Forwarded-For", "203.0.113.7")), http.StatusCreated, "")
		// The client chooses the left entries; only the right-most, added
		// by the proxy, counts.
		check(t, ts.serve(from(proxy, "X-Forwarded-For", "192.0.2.99, 203.0.113.7")), http.StatusTooManyRequests, "rate_limited")
		check(t, ts.serve(from(proxy, "X-Forwarded-For", "203.0.113.7", "X-Forwarded-For", "203.0.113.8")), http.StatusCreated, "")
	})

	t.Run("OKDisabled", func(t *testing.T) {
		ts := setup(t, func(c *foyerhttp.Config) { c.AnonymousRateLimit = -1 })
		for range foyerhttp.DefaultAnonymousRateLimit + 5 {
			check(t, ts.serve(from("192.0.2.1:1000")), http.StatusCreated, "")
		}
	})
}

// countUsers counts every user in the store.
func countUsers(t *testing.T, ts *testServer) int64 {
	t.Helper()
	anon, reg, err := ts.db.UserCounts(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	return anon + reg
}
