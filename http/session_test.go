package http_test

import (
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	foyer "github.com/foyerhq/foyer"
	foyerhttp "github.com/foyerhq/foyer/http"
	"github.com/foyerhq/foyer/token"
	"github.com/google/go-cmp/cmp"
)

func TestLogin(t *testing.T) {
	t.Run("OK", func(t *testing.T) {
		ts := setup(t)
		id := ts.register(t, "ann@example.org", `{"level":2}`)
		now := ts.clock.Now()
		l, w := ts.login(t, " Ann@Example.org", password, "User-Agent", "test-browser/1.0")
		if l.User.ID != id || l.User.Email != "ann@example.org" || l.MergeAvailable || string(l.User.Data) != `{"level":2}` {
			t.Fatalf("login = %s", w.Body)
		}
		if want := now.Add(foyerhttp.DefaultAccessTTL); !l.ExpiresAt.Equal(want) {
			t.Errorf("expires_at = %v, want %v", l.ExpiresAt, want)
		}
		claims, err := ts.keys.Verify(t.Context(), l.AccessToken, token.TypeAccess)
		if err != nil {
			t.Fatal(err)
		}
		u := ts.findUser(t, id)
		if claims.Subject != id || claims.SessionID == "" || claims.Epoch != u.Epoch || claims.Anonymous {
			t.Errorf("access claims %+v", claims)
		}
		sc := cookie(w, sessionCookieName)
		if sc == nil || !sc.HttpOnly || !sc.Secure || sc.MaxAge != int(foyerhttp.DefaultSessionTTL/time.Second) {
			t.Fatalf("session cookie = %+v", sc)
		}
		sessions, err := ts.sessions.FindSessions(t.Context(), id)
		if err != nil || len(sessions) != 2 { // the completion's and this one
			t.Fatalf("sessions = %v, %v", sessions, err)
		}
		if s := sessions[0]; s.ID != claims.SessionID || s.UserAgent != "test-browser/1.0" || s.IP != "192.0.2.1" {
			t.Errorf("session = %+v", s)
		}
		check(t, ts.do("GET", "/v1/events?type=user.login.success&user_id="+id, "", ts.api()...), 200, "", claims.SessionID)
	})

	t.Run("OKCrossOriginGetsNoCookie", func(t *testing.T) {
		ts := setup(t)
		ts.register(t, "ann@example.org", "")
		l, w := ts.login(t, "ann@example.org", password, crossOrigin...)
		if l.AccessToken == "" || len(w.Header().Values("Set-Cookie")) != 0 {
			t.Fatalf("cross-origin login: tokens %v, Set-Cookie %q; want tokens only", l.AccessToken != "", w.Header().Values("Set-Cookie"))
		}
	})

	ts := setup(t)
	id := ts.register(t, "ann@example.org", "")
	// A pending address is not a login identifier.
	pending := ts.signup(t)
	ts.convert(t, pending.Token, "pending@example.org")
	// An account the server API converted has no password yet.
	admin := ts.signup(t)
	check(t, ts.do("POST", "/v1/users/"+admin.User.ID+"/convert", `{"email":"admin@example.org","verified":true}`, join(jsonType, ts.api())...), 200, "")

	body := func(email, pw string) string { return `{"email":"` + email + `","password":"` + pw + `"}` }
	ts.run(t, []scenario{
		{"ErrWrongPassword", "POST", "/v1/login", jsonType, body("ann@example.org", "wrong password"), 401, "invalid_credentials", nil},
		{"ErrUnknownAddress", "POST", "/v1/login", jsonType, body("nobody@example.org", password), 401, "invalid_credentials", nil},
		{"ErrPendingAddress", "POST", "/v1/login", jsonType, body("pending@example.org", password), 401, "invalid_credentials", nil},
		{"ErrNoPassword", "POST", "/v1/login", jsonType, body("admin@example.org", password), 401, "invalid_credentials", nil},
		{"ErrShortPassword", "POST", "/v1/login", jsonType, body("ann@example.org", "x"), 401, "invalid_credentials", nil},
		{"ErrInvalidEmail", "POST", "/v1/login", jsonType, body("ann", password), 400, "invalid", nil},
		{"ErrMalformedJSON", "POST", "/v1/login", jsonType, `{"email":`, 400, "malformed_json", nil},
		{"ErrUnsupportedMediaType", "POST", "/v1/login", nil, body("ann@example.org", password), 415, "unsupported_media_type", nil},
	})

	t.Run("SameAnswerForEveryFailure", func(t *testing.T) {
		wrong := ts.do("POST", "/v1/login", body("ann@example.org", "wrong password"), jsonType...)
		for _, email := range []string{"nobody@example.org", "pending@example.org", "admin@example.org"} {
			other := ts.do("POST", "/v1/login", body(email, "wrong password"), jsonType...)
			if diff := cmp.Diff(normalize(wrong), normalize(other)); diff != "" {
				t.Errorf("%s fails differently (-registered +other):\n%s", email, diff)
			}
		}
	})

	t.Run("FailuresRecorded", func(t *testing.T) {
		check(t, ts.do("GET", "/v1/events?type=user.login.failed&user_id="+id, "", ts.api()...), 200, "", `"type":"user.login.failed"`)
	})

	t.Run("PendingAddressStaysPending", func(t *testing.T) {
		if u := ts.findUser(t, pending.User.ID); !u.Anonymous || u.Email != "" {
			t.Errorf("sign-in attempts changed the pending user: %+v", u)
		}
	})
}

func TestLoginThrottle(t *testing.T) {
	t.Run("PerAccount", func(t *testing.T) {
		ts := setup(t)
		ts.register(t, "ann@example.org", "")
		for i := range foyerhttp.LoginFailuresPerAccount {
			// Spread over addresses: the limit is the account's.
			r := request("POST", "/v1/login", `{"email":"ann@example.org","password":"wrong password"}`, jsonType...)
			r.RemoteAddr = "192.0.2." + strconv.Itoa(i+1) + ":1"
			check(t, ts.serve(r), 401, "invalid_credentials")
		}
		// Throttled now, even with the right password, and for an unknown
		// address the same way as for a known one.
		w := ts.do("POST", "/v1/login", `{"email":"ann@example.org","password":"`+password+`"}`, jsonType...)
		check(t, w, 429, "rate_limited")
		secs, err := strconv.Atoi(w.Header().Get("Retry-After"))
		if err != nil || secs < 1 || time.Duration(secs)*time.Second > foyerhttp.LoginFailureWindow {
			t.Fatalf("Retry-After = %q", w.Header().Get("Retry-After"))
		}
		// Another account is not affected.
		check(t, ts.do("POST", "/v1/login", `{"email":"bob@example.org","password":"wrong password"}`, jsonType...), 401, "invalid_credentials")
		// No permanent lockout: the allowance comes back over the window.
		ts.clock.Advance(time.Duration(secs) * time.Second)
		ts.login(t, "ann@example.org", password)
		ts.clock.Advance(foyerhttp.LoginFailureWindow)
		for range foyerhttp.LoginFailuresPerAccount {
			check(t, ts.do("POST", "/v1/login", `{"email":"ann@example.org","password":"wrong password"}`, jsonType...), 401, "invalid_credentials")
		}
		check(t, ts.do("POST", "/v1/login", `{"email":"ann@example.org","password":"wrong password"}`, jsonType...), 429, "rate_limited")
	})

	t.Run("PerIP", func(t *testing.T) {
		ts := setup(t)
		ts.register(t, "ann@example.org", "")
		for i := range foyerhttp.LoginFailuresPerIP {
			check(t, ts.do("POST", "/v1/login", `{"email":"u`+strconv.Itoa(i)+`@example.org","password":"wrong password"}`, jsonType...), 401, "invalid_credentials")
		}
		check(t, ts.do("POST", "/v1/login", `{"email":"ann@example.org","password":"`+password+`"}`, jsonType...), 429, "rate_limited")
		r := request("POST", "/v1/login", `{"email":"ann@example.org","password":"`+password+`"}`, jsonType...)
		r.RemoteAddr = "198.51.100.1:1"
		check(t, ts.serve(r), 200, "")
		ts.clock.Advance(foyerhttp.LoginFailureWindow)
		ts.login(t, "ann@example.org", password)
	})
}

func TestRegisteredMe(t *testing.T) {
	ts := setup(t)
	id := ts.register(t, "ann@example.org", `{"a":1}`)
	l, w := ts.login(t, "ann@example.org", password)
	session := cookie(w, sessionCookieName).Value
	anon := ts.signup(t)

	ts.run(t, []scenario{
		{"OKSessionCookie", "GET", "/v1/me", withSession(session), "", 200, "", []string{id, `"anonymous":false`}},
		{"OKAccessToken", "GET", "/v1/me", bearer(l.AccessToken), "", 200, "", []string{id}},
		{"OKSessionCookieWinsOverAnonymous", "GET", "/v1/me", join(withSession(session), withCookie(anon.Token)), "", 200, "", []string{id}},
		{"OKPatchWithAccessToken", "PATCH", "/v1/me", join(mergePatchType, bearer(l.AccessToken)), `{"data":{"b":2}}`, 200, "", []string{`"b":2`}},
		{"OKPatchWithSessionCookie", "PATCH", "/v1/me", join(mergePatchType, withSession(session)), `{"data":{"c":3}}`, 200, "", []string{`"c":3`}},
		{"ErrPatchMarker", "PATCH", "/v1/me", join(mergePatchType, bearer(l.AccessToken)), `{"email":"x@example.org"}`, 403, "forbidden", nil},
		{"ErrSessionTokenAsBearer", "GET", "/v1/me", bearer(session), "", 401, "unauthorized", nil},
		{"ErrAccessTokenAsCookie", "GET", "/v1/me", withSession(l.AccessToken), "", 401, "unauthorized", nil},
		{"ErrSessionCookieCrossOrigin", "PATCH", "/v1/me", join(mergePatchType, withSession(session), crossOrigin), `{"data":{"d":4}}`, 403, "forbidden", nil},
	})

	t.Run("OKDelete", func(t *testing.T) {
		w := ts.do("DELETE", "/v1/me", "", withSession(session)...)
		check(t, w, 204, "")
		if c := cookie(w, sessionCookieName); c == nil || c.MaxAge >= 0 {
			t.Errorf("session cookie not cleared: %q", w.Header().Values("Set-Cookie"))
		}
		if c := cookie(w, cookieName); c != nil {
			t.Errorf("the anonymous cookie of another account was touched: %q", w.Header().Values("Set-Cookie"))
		}
		check(t, ts.do("GET", "/v1/me", "", bearer(l.AccessToken)...), 401, "unauthorized")
		check(t, ts.do("POST", "/v1/login", `{"email":"ann@example.org","password":"`+password+`"}`, jsonType...), 401, "invalid_credentials")
	})
}

func TestRefresh(t *testing.T) {
	t.Run("OK", func(t *testing.T) {
		ts := setup(t)
		id := ts.register(t, "ann@example.org", "")
		l, _ := ts.login(t, "ann@example.org", password)
		ts.clock.Advance(foyerhttp.DefaultAccessTTL)
		check(t, ts.do("GET", "/v1/me", "", bearer(l.AccessToken)...), 401, "unauthorized")
		w := ts.do("POST", "/v1/token/refresh", `{"refresh_token":"`+l.RefreshToken+`"}`, jsonType...)
		check(t, w, 200, "", id)
		var r loginResult
		decode(t, w, &r)
		if r.RefreshToken == l.RefreshToken || r.AccessToken == "" || !r.ExpiresAt.Equal(ts.clock.Now().Add(foyerhttp.DefaultAccessTTL)) {
			t.Fatalf("refresh = %s", w.Body)
		}
		check(t, ts.do("GET", "/v1/me", "", bearer(r.AccessToken)...), 200, "", id)
	})

	t.Run("ErrReuseEndsSession", func(t *testing.T) {
		ts := setup(t)
		ts.register(t, "ann@example.org", "")
		l, w := ts.login(t, "ann@example.org", password)
		session := cookie(w, sessionCookieName).Value
		first := ts.do("POST", "/v1/token/refresh", `{"refresh_token":"`+l.RefreshToken+`"}`, jsonType...)
		check(t, first, 200, "")
		var r loginResult
		decode(t, first, &r)

		check(t, ts.do("POST", "/v1/token/refresh", `{"refresh_token":"`+l.RefreshToken+`"}`, jsonType...), 401, "unauthorized")
		// The whole session ended: the rotated refresh token, its access
		// tokens and the browser's cookie.
		check(t, ts.do("POST", "/v1/token/refresh", `{"refresh_token":"`+r.RefreshToken+`"}`, jsonType...), 401, "unauthorized")
		check(t, ts.do("GET", "/v1/me", "", bearer(r.AccessToken)...), 401, "unauthorized")
		check(t, ts.do("GET", "/v1/me", "", bearer(l.AccessToken)...), 401, "unauthorized")
		w = ts.do("GET", "/v1/me", "", withSession(session)...)
		check(t, w, 401, "unauthorized")
		if c := cookie(w, sessionCookieName); c == nil || c.MaxAge >= 0 {
			t.Errorf("dead session cookie not cleared: %q", w.Header().Values("Set-Cookie"))
		}
	})

	ts := setup(t)
	ts.run(t, []scenario{
		{"ErrUnknown", "POST", "/v1/token/refresh", jsonType, `{"refresh_token":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}`, 401, "unauthorized", nil},
		{"ErrEmpty", "POST", "/v1/token/refresh", jsonType, `{"refresh_token":""}`, 401, "unauthorized", nil},
		{"ErrMissing", "POST", "/v1/token/refresh", jsonType, `{}`, 401, "unauthorized", nil},
		{"ErrMalformedJSON", "POST", "/v1/token/refresh", jsonType, `[]`, 400, "malformed_json", nil},
	})
}

func TestLogout(t *testing.T) {
	t.Run("OKCookie", func(t *testing.T) {
		ts := setup(t)
		ts.register(t, "ann@example.org", "")
		anon := ts.signup(t)
		l, w := ts.login(t, "ann@example.org", password)
		session := cookie(w, sessionCookieName).Value
		other, _ := ts.login(t, "ann@example.org", password)

		w = ts.do("POST", "/v1/logout", "", join(withSession(session), withCookie(anon.Token))...)
		check(t, w, 204, "")
		for _, name := range []string{sessionCookieName, cookieName} {
			if c := cookie(w, name); c == nil || c.MaxAge >= 0 || c.Value != "" {
				t.Errorf("cookie %s not cleared: %q", name, w.Header().Values("Set-Cookie"))
			}
		}
		check(t, ts.do("GET", "/v1/me", "", withSession(session)...), 401, "unauthorized")
		check(t, ts.do("GET", "/v1/me", "", bearer(l.AccessToken)...), 401, "unauthorized")
		check(t, ts.do("POST", "/v1/token/refresh", `{"refresh_token":"`+l.RefreshToken+`"}`, jsonType...), 401, "unauthorized")
		// Other sessions of the account go on.
		check(t, ts.do("GET", "/v1/me", "", bearer(other.AccessToken)...), 200, "")
	})

	t.Run("OKAccessToken", func(t *testing.T) {
		ts := setup(t)
		ts.register(t, "ann@example.org", "")
		l, _ := ts.login(t, "ann@example.org", password)
		check(t, ts.do("POST", "/v1/logout", "", bearer(l.AccessToken)...), 204, "")
		check(t, ts.do("POST", "/v1/token/refresh", `{"refresh_token":"`+l.RefreshToken+`"}`, jsonType...), 401, "unauthorized")
		check(t, ts.do("POST", "/v1/logout", "", bearer(l.AccessToken)...), 401, "unauthorized")
	})

	ts := setup(t)
	anon := ts.signup(t)
	ts.register(t, "ann@example.org", "")
	_, w := ts.login(t, "ann@example.org", password)
	session := cookie(w, sessionCookieName).Value
	ts.run(t, []scenario{
		{"ErrNoCredential", "POST", "/v1/logout", nil, "", 401, "unauthorized", nil},
		{"ErrAnonymousCookie", "POST", "/v1/logout", withCookie(anon.Token), "", 401, "unauthorized", nil},
		{"ErrAnonymousBearer", "POST", "/v1/logout", bearer(anon.Token), "", 401, "unauthorized", nil},
		{"ErrCrossOrigin", "POST", "/v1/logout", join(withSession(session), crossOrigin), "", 403, "forbidden", nil},
	})
	t.Run("SessionStillLive", func(t *testing.T) {
		check(t, ts.do("GET", "/v1/me", "", withSession(session)...), 200, "")
	})
}

func TestPasswordReset(t *testing.T) {
	t.Run("OK", func(t *testing.T) {
		ts := setup(t)
		id := ts.register(t, "ann@example.org", `{"mine":true}`)
		l, w := ts.login(t, "ann@example.org", password)
		session := cookie(w, sessionCookieName).Value
		anon := ts.signup(t)
		check(t, ts.do("PATCH", "/v1/me", `{"data":{"theirs":true}}`, join(mergePatchType, withCookie(anon.Token))...), 200, "")
		before := ts.findUser(t, id)

		check(t, ts.do("POST", "/v1/password/forgot", `{"email":"ANN@example.org"}`, jsonType...), 202, "", `"status":"accepted"`)
		link := ts.mailToken(t, "ann@example.org", foyer.MailPasswordReset)
		// The reset is done in a browser holding an anonymous cookie: it
		// carries nothing along and signs nobody in.
		w = ts.do("POST", "/v1/password/reset", `{"token":"`+link+`","password":"a brand new password"}`, join(jsonType, withCookie(anon.Token), withSession(session))...)
		check(t, w, 200, "", `"signed_in":false`)
		if c := cookie(w, sessionCookieName); c == nil || c.MaxAge >= 0 || c.Value != "" {
			t.Errorf("Set-Cookie = %q, want the session cookie cleared only", w.Header().Values("Set-Cookie"))
		}
		if c := cookie(w, cookieName); c != nil {
			t.Errorf("the reset touched the anonymous cookie: %q", w.Header().Values("Set-Cookie"))
		}
		after := ts.findUser(t, id)
		if after.Epoch <= before.Epoch || string(after.Data) != `{"mine":true}` {
			t.Errorf("user after reset = %+v", after)
		}
		check(t, ts.do("GET", "/v1/me", "", withCookie(anon.Token)...), 200, "", `"theirs":true`, `"anonymous":true`)

		// Every session and token issued before is gone.
		check(t, ts.do("GET", "/v1/me", "", withSession(session)...), 401, "unauthorized")
		check(t, ts.do("GET", "/v1/me", "", bearer(l.AccessToken)...), 401, "unauthorized")
		check(t, ts.do("POST", "/v1/token/refresh", `{"refresh_token":"`+l.RefreshToken+`"}`, jsonType...), 401, "unauthorized")
		if s, err := ts.sessions.FindSessions(t.Context(), id); err != nil || len(s) != 0 {
			t.Errorf("sessions after reset = %v, %v", s, err)
		}
		check(t, ts.do("POST", "/v1/login", `{"email":"ann@example.org","password":"`+password+`"}`, jsonType...), 401, "invalid_credentials")
		ts.login(t, "ann@example.org", "a brand new password")
		// Single use.
		check(t, ts.do("POST", "/v1/password/reset", `{"token":"`+link+`","password":"another new password"}`, jsonType...), 400, "token_invalid")
		check(t, ts.do("GET", "/v1/events?type=user.password.reset&user_id="+id, "", ts.api()...), 200, "", `"type":"user.password.reset"`)
	})

	t.Run("ErrTokenInvalid", func(t *testing.T) {
		ts := setup(t)
		id := ts.register(t, "ann@example.org", "")
		reset := func(link string) {
			t.Helper()
			check(t, ts.do("POST", "/v1/password/reset", `{"token":"`+link+`","password":"a brand new password"}`, jsonType...), 400, "token_invalid")
		}
		check(t, ts.do("POST", "/v1/password/forgot", `{"email":"ann@example.org"}`, jsonType...), 202, "")
		superseded := ts.mailToken(t, "ann@example.org", foyer.MailPasswordReset)
		check(t, ts.do("POST", "/v1/password/forgot", `{"email":"ann@example.org"}`, jsonType...), 202, "")
		expired := ts.mailToken(t, "ann@example.org", foyer.MailPasswordReset)
		before := ts.findUser(t, id)
		reset(superseded)
		ts.clock.Advance(foyerhttp.DefaultResetTTL)
		reset(expired)
		reset("")
		if after := ts.findUser(t, id); after.Version != before.Version || after.Epoch != before.Epoch {
			t.Fatalf("refused resets changed the user: %+v → %+v", before, after)
		}
		ts.login(t, "ann@example.org", password)
	})

	t.Run("OKOtherAccountStaysSignedIn", func(t *testing.T) {
		ts := setup(t)
		ts.register(t, "ann@example.org", "")
		ts.register(t, "bob@example.org", "")
		_, w := ts.login(t, "bob@example.org", password)
		bob := cookie(w, sessionCookieName).Value
		check(t, ts.do("POST", "/v1/password/forgot", `{"email":"ann@example.org"}`, jsonType...), 202, "")
		link := ts.mailToken(t, "ann@example.org", foyer.MailPasswordReset)
		w = ts.do("POST", "/v1/password/reset", `{"token":"`+link+`","password":"a brand new password"}`, join(jsonType, withSession(bob))...)
		check(t, w, 200, "")
		if c := w.Header().Values("Set-Cookie"); len(c) != 0 {
			t.Errorf("Set-Cookie = %q, want none for another account's session", c)
		}
		check(t, ts.do("GET", "/v1/me", "", withSession(bob)...), 200, "", "bob@example.org")
	})

	t.Run("ErrPendingAddress", func(t *testing.T) {
		ts := setup(t)
		s := ts.signup(t)
		ts.convert(t, s.Token, "pending@example.org")
		check(t, ts.do("POST", "/v1/password/forgot", `{"email":"pending@example.org"}`, jsonType...), 202, "")
		if m := ts.newestMail(t, "pending@example.org", foyer.MailPasswordReset); m != nil {
			t.Fatalf("a pending address got a reset link: %+v", m)
		}
		if u := ts.findUser(t, s.User.ID); !u.Anonymous || u.HasPassword {
			t.Fatalf("user = %+v", u)
		}
	})

	t.Run("ErrRateLimited", func(t *testing.T) {
		ts := setup(t)
		for range foyerhttp.ResetsPerAddress {
			check(t, ts.do("POST", "/v1/password/forgot", `{"email":"ann@example.org"}`, jsonType...), 202, "")
		}
		w := ts.do("POST", "/v1/password/forgot", `{"email":"ann@example.org"}`, jsonType...)
		check(t, w, 429, "rate_limited")
		if w.Header().Get("Retry-After") == "" {
			t.Error("no Retry-After")
		}
		for i := foyerhttp.ResetsPerAddress + 1; i < foyerhttp.ResetsPerIP; i++ {
			check(t, ts.do("POST", "/v1/password/forgot", `{"email":"u`+strconv.Itoa(i)+`@example.org"}`, jsonType...), 202, "")
		}
		check(t, ts.do("POST", "/v1/password/forgot", `{"email":"last@example.org"}`, jsonType...), 429, "rate_limited")
	})

	ts := setup(t)
	ts.run(t, []scenario{
		{"ErrInvalidEmail", "POST", "/v1/password/forgot", jsonType, `{"email":"ann"}`, 400, "invalid", nil},
		{"ErrInvalidPassword", "POST", "/v1/password/reset", jsonType, `{"token":"x","password":"short"}`, 400, "invalid_password", nil},
		{"ErrMalformedJSON", "POST", "/v1/password/reset", jsonType, `{"token":1}`, 400, "invalid", nil},
	})
}

func TestMerge(t *testing.T) {
	// world is a registered user signed in as a browser and an app, and
	// an anonymous visitor with data.
	type world struct {
		ts       *testServer
		owner    string
		session  string
		access   string
		anon     signup
		ownerV   int64
		anonV    int64
		otherApp string // access token of another registered user
	}
	newWorld := func(t *testing.T) *world {
		t.Helper()
		ts := setup(t)
		wd := &world{ts: ts}
		wd.owner = ts.register(t, "owner@example.org", `{"plan":"gold","prefs":{"theme":"light"}}`)
		wd.anon = ts.signup(t)
		check(t, ts.do("PATCH", "/v1/me", `{"data":{"cart":[1,2],"prefs":{"theme":"dark","lang":"fr"}}}`, join(mergePatchType, withCookie(wd.anon.Token))...), 200, "")
		l, w := ts.login(t, "owner@example.org", password, withCookie(wd.anon.Token)...)
		if !l.MergeAvailable {
			t.Fatalf("merge_available = false for a browser holding an anonymous account")
		}
		wd.session, wd.access = cookie(w, sessionCookieName).Value, l.AccessToken
		ts.register(t, "other@example.org", "")
		o, _ := ts.login(t, "other@example.org", password)
		wd.otherApp = o.AccessToken
		wd.ownerV, wd.anonV = ts.findUser(t, wd.owner).Version, ts.findUser(t, wd.anon.User.ID).Version
		return wd
	}
	unchanged := func(t *testing.T, wd *world) {
		t.Helper()
		if u := wd.ts.findUser(t, wd.owner); u.Version != wd.ownerV {
			t.Errorf("owner changed: version %d → %d", wd.ownerV, u.Version)
		}
		if u := wd.ts.findUser(t, wd.anon.User.ID); u.Version != wd.anonV || !u.Anonymous {
			t.Errorf("anonymous user changed: %+v", u)
		}
		check(t, wd.ts.do("GET", "/v1/aliases/"+wd.anon.User.ID, "", wd.ts.api()...), 404, "not_found")
	}

	t.Run("OKBrowser", func(t *testing.T) {
		wd := newWorld(t)
		ts := wd.ts
		w := ts.do("POST", "/v1/me/merge", "", join(withSession(wd.session), withCookie(wd.anon.Token))...)
		check(t, w, 200, "", `"merged_from":"`+wd.anon.User.ID+`"`)
		if c := cookie(w, cookieName); c == nil || c.MaxAge >= 0 {
			t.Errorf("anonymous cookie not cleared: %q", w.Header().Values("Set-Cookie"))
		}
		// The default policy: deep merge, the registered account's values win.
		if got, want := string(ts.findUser(t, wd.owner).Data), `{"cart":[1,2],"plan":"gold","prefs":{"lang":"fr","theme":"light"}}`; got != want {
			t.Errorf("data = %s, want %s", got, want)
		}
		if _, err := ts.users.FindUserByID(t.Context(), wd.anon.User.ID); foyer.ErrorCode(err) != foyer.ENotFound {
			t.Errorf("anonymous user still there: %v", err)
		}
		check(t, ts.do("GET", "/v1/aliases/"+wd.anon.User.ID, "", ts.api()...), 200, "", `"into":"`+wd.owner+`"`)
		check(t, ts.do("GET", "/v1/events?type=user.merged&user_id="+wd.owner, "", ts.api()...), 200, "", `"from":"`+wd.anon.User.ID+`"`)
		check(t, ts.do("GET", "/v1/me", "", withCookie(wd.anon.Token)...), 401, "unauthorized")
		check(t, ts.do("POST", "/v1/me/merge", "", join(withSession(wd.session), withCookie(wd.anon.Token))...), 401, "unauthorized")
	})

	t.Run("OKAppWithPolicy", func(t *testing.T) {
		wd := newWorld(t)
		w := wd.ts.do("POST", "/v1/me/merge", `{"policy":"anonymous_wins"}`, join(jsonType, bearer(wd.access), anonymousHeader(wd.anon.Token))...)
		check(t, w, 200, "")
		if got, want := string(wd.ts.findUser(t, wd.owner).Data), `{"cart":[1,2],"plan":"gold","prefs":{"lang":"fr","theme":"dark"}}`; got != want {
			t.Errorf("data = %s, want %s", got, want)
		}
		if len(w.Header().Values("Set-Cookie")) != 0 {
			t.Errorf("an app got cookies: %q", w.Header().Values("Set-Cookie"))
		}
	})

	t.Run("OKConfiguredPolicy", func(t *testing.T) {
		ts := setup(t, func(c *foyerhttp.Config) { c.MergePolicy = foyer.MergeKeepRegistered })
		owner := ts.register(t, "owner@example.org", `{"plan":"gold"}`)
		anon := ts.signup(t)
		check(t, ts.do("PATCH", "/v1/me", `{"data":{"cart":[1]}}`, join(mergePatchType, withCookie(anon.Token))...), 200, "")
		l, _ := ts.login(t, "owner@example.org", password)
		check(t, ts.do("POST", "/v1/me/merge", "", join(bearer(l.AccessToken), anonymousHeader(anon.Token))...), 200, "")
		if got := string(ts.findUser(t, owner).Data); got != `{"plan":"gold"}` {
			t.Errorf("data = %s, want the registered data only", got)
		}
	})

	wd := newWorld(t)
	ts := wd.ts
	ts.run(t, []scenario{
		{"ErrNoCredentials", "POST", "/v1/me/merge", nil, "", 401, "unauthorized", nil},
		{"ErrOnlyRegisteredCookie", "POST", "/v1/me/merge", withSession(wd.session), "", 401, "unauthorized", nil},
		{"ErrOnlyRegisteredBearer", "POST", "/v1/me/merge", bearer(wd.access), "", 401, "unauthorized", nil},
		{"ErrOnlyAnonymousCookie", "POST", "/v1/me/merge", withCookie(wd.anon.Token), "", 401, "unauthorized", nil},
		{"ErrOnlyAnonymousBearer", "POST", "/v1/me/merge", bearer(wd.anon.Token), "", 401, "unauthorized", nil},
		{"ErrOnlyAnonymousHeader", "POST", "/v1/me/merge", anonymousHeader(wd.anon.Token), "", 401, "unauthorized", nil},
		{"ErrTwoAnonymous", "POST", "/v1/me/merge", join(bearer(wd.anon.Token), anonymousHeader(ts.signup(t).Token)), "", 401, "unauthorized", nil},
		{"ErrBadAnonymousToken", "POST", "/v1/me/merge", join(bearer(wd.access), anonymousHeader("a.b.c")), "", 401, "unauthorized", nil},
		{"ErrCrossOriginAnonymousCookie", "POST", "/v1/me/merge", join(bearer(wd.access), withCookie(wd.anon.Token), crossOrigin), "", 401, "unauthorized", nil},
		{"ErrCrossOriginSessionCookie", "POST", "/v1/me/merge", join(withSession(wd.session), anonymousHeader(wd.anon.Token), crossOrigin), "", 403, "forbidden", nil},
		{"ErrSourceNotAnonymous", "POST", "/v1/me/merge", join(bearer(wd.access), anonymousHeader(wd.otherApp)), "", 409, "conflict", nil},
		{"ErrSourceIsSelf", "POST", "/v1/me/merge", join(bearer(wd.access), anonymousHeader(wd.access)), "", 409, "conflict", nil},
		{"ErrUnknownPolicy", "POST", "/v1/me/merge", join(jsonType, bearer(wd.access), anonymousHeader(wd.anon.Token)), `{"policy":"everything"}`, 400, "invalid", nil},
		{"ErrUnknownField", "POST", "/v1/me/merge", join(jsonType, bearer(wd.access), anonymousHeader(wd.anon.Token)), `{"from":"x"}`, 400, "malformed_json", nil},
	})
	t.Run("NothingChanged", func(t *testing.T) { unchanged(t, wd) })
}

// TestWalkthrough follows the README: create an anonymous visitor, add
// data, request conversion, read the link from the development mailbox,
// complete, sign in with email and password: the same user id, the data
// kept.
func TestWalkthrough(t *testing.T) {
	ts := setup(t)
	s := ts.signup(t)
	check(t, ts.do("PATCH", "/v1/me", `{"data":{"favourites":["a","b"]}}`, join(mergePatchType, withCookie(s.Token))...), 200, "")
	ts.convert(t, s.Token, "ann@example.org")

	link := devMailLink(t, ts, "ann@example.org", "/convert/complete")
	res, w := ts.complete(t, link, password, withCookie(s.Token)...)
	if !res.SignedIn || cookie(w, sessionCookieName) == nil {
		t.Fatalf("completion = %s", w.Body)
	}
	l, _ := ts.login(t, "ann@example.org", password)
	if l.User.ID != s.User.ID || string(l.User.Data) != `{"favourites":["a","b"]}` || l.User.Anonymous {
		t.Fatalf("signed in as %+v, want %s with its data", l.User, s.User.ID)
	}
	check(t, ts.do("GET", "/v1/me", "", bearer(l.AccessToken)...), 200, "", s.User.ID, `"favourites":["a","b"]`)
}

// TestWalkthroughExistingAddress follows the README's second path: a
// visitor with data asks to save progress with the address of an existing
// account. The owner is told, nothing moves; the owner signs in in the
// visitor's browser, is offered the merge, confirms, and the data moves.
func TestWalkthroughExistingAddress(t *testing.T) {
	ts := setup(t)
	owner := ts.register(t, "owner@example.org", `{"plan":"gold"}`)
	ownerBefore := ts.findUser(t, owner)
	visitor := ts.signup(t)
	check(t, ts.do("PATCH", "/v1/me", `{"data":{"cart":[7]}}`, join(mergePatchType, withCookie(visitor.Token))...), 200, "")
	ts.convert(t, visitor.Token, "owner@example.org")

	msgs := devMailbox(t, ts, "owner@example.org")
	if len(msgs) == 0 || msgs[0].Kind != foyer.MailConversionExisting || !strings.Contains(msgs[0].Text, testIssuer+"/login") {
		t.Fatalf("newest mail to the owner = %+v, want the someone-tried notice with the sign-in link", msgs)
	}
	for _, l := range msgs[0].Links {
		if strings.Contains(l, "token=") {
			t.Errorf("the notice carries a link that changes something: %s", l)
		}
	}
	if u := ts.findUser(t, owner); u.Version != ownerBefore.Version || string(u.Data) != `{"plan":"gold"}` {
		t.Fatalf("owner changed before signing in: %+v", u)
	}
	if u := ts.findUser(t, visitor.User.ID); !u.Anonymous || string(u.Data) != `{"cart":[7]}` {
		t.Fatalf("visitor changed: %+v", u)
	}

	// The owner signs in in the visitor's browser.
	l, w := ts.login(t, "owner@example.org", password, withCookie(visitor.Token)...)
	if !l.MergeAvailable || l.User.ID != owner {
		t.Fatalf("login = %s, want merge_available", w.Body)
	}
	if u := ts.findUser(t, owner); string(u.Data) != `{"plan":"gold"}` {
		t.Fatalf("signing in merged by itself: %s", u.Data)
	}
	session := cookie(w, sessionCookieName).Value
	w = ts.do("POST", "/v1/me/merge", "", join(withSession(session), withCookie(visitor.Token))...)
	check(t, w, 200, "", owner)
	if got := string(ts.findUser(t, owner).Data); got != `{"cart":[7],"plan":"gold"}` {
		t.Errorf("data = %s, want both", got)
	}
	if _, err := ts.users.FindUserByID(t.Context(), visitor.User.ID); foyer.ErrorCode(err) != foyer.ENotFound {
		t.Errorf("the anonymous account is still there: %v", err)
	}
	check(t, ts.do("GET", "/v1/aliases/"+visitor.User.ID, "", ts.api()...), 200, "", `"from":"`+visitor.User.ID+`"`, `"into":"`+owner+`"`)
	check(t, ts.do("GET", "/v1/me", "", withSession(session)...), 200, "", `"cart":[7]`)
	// A later sign-in in a clean browser offers nothing.
	if l, _ := ts.login(t, "owner@example.org", password); l.MergeAvailable {
		t.Error("merge_available without an anonymous credential")
	}
}

// devMessage is a message of the development mailbox.
type devMessage struct {
	ID      string   `json:"id"`
	Kind    string   `json:"kind"`
	To      string   `json:"to"`
	Subject string   `json:"subject"`
	Text    string   `json:"text"`
	HTML    string   `json:"html"`
	Links   []string `json:"links"`
}

// devMailbox reads the development mailbox of address.
func devMailbox(t testing.TB, ts *testServer, to string) []devMessage {
	t.Helper()
	w := ts.do("GET", "/v1/dev/mail?to="+url.QueryEscape(to), "", ts.api()...)
	check(t, w, 200, "")
	var box struct {
		Messages []devMessage `json:"messages"`
	}
	decode(t, w, &box)
	return box.Messages
}

// devMailLink returns the token of the newest link to path in mail to
// address, read from the development mailbox.
func devMailLink(t testing.TB, ts *testServer, to, path string) string {
	t.Helper()
	for _, m := range devMailbox(t, ts, to) {
		for _, l := range m.Links {
			u, err := url.Parse(l)
			if err != nil || u.Scheme+"://"+u.Host != testIssuer || u.Path != path {
				continue
			}
			if tok := u.Query().Get("token"); tok != "" {
				return tok
			}
		}
	}
	t.Fatalf("no %s link in the mail to %s", path, to)
	return ""
}

func TestDevMail(t *testing.T) {
	t.Run("OK", func(t *testing.T) {
		ts := setup(t)
		a, b := ts.signup(t), ts.signup(t)
		ts.convert(t, a.Token, "a@example.org")
		ts.convert(t, b.Token, "b@example.org")
		msgs := devMailbox(t, ts, "A@example.org")
		if len(msgs) != 1 || msgs[0].To != "a@example.org" || msgs[0].Subject != "Save your progress" || msgs[0].HTML == "" {
			t.Fatalf("mailbox = %+v", msgs)
		}
		if len(msgs[0].Links) != 1 || !strings.HasPrefix(msgs[0].Links[0], testIssuer+"/convert/complete?token=") {
			t.Errorf("links = %q", msgs[0].Links)
		}
		check(t, ts.do("GET", "/v1/dev/mail", "", ts.api()...), 200, "", "a@example.org", "b@example.org")
		check(t, ts.do("GET", "/v1/dev/mail?limit=1", "", ts.api()...), 200, "", "b@example.org")
	})

	t.Run("ErrNotDevelopment", func(t *testing.T) {
		ts := setup(t, func(c *foyerhttp.Config) { c.DevMode = false })
		check(t, ts.do("GET", "/v1/dev/mail", "", ts.api()...), 404, "not_found")
	})

	ts := setup(t)
	s := ts.signup(t)
	ts.run(t, []scenario{
		{"ErrNoAPIKey", "GET", "/v1/dev/mail", nil, "", 401, "unauthorized", nil},
		{"ErrVisitor", "GET", "/v1/dev/mail", withCookie(s.Token), "", 401, "unauthorized", nil},
		{"ErrBadAddress", "GET", "/v1/dev/mail?to=nope", ts.api(), "", 400, "invalid", nil},
		{"ErrUnknownParameter", "GET", "/v1/dev/mail?from=a@example.org", ts.api(), "", 400, "invalid", nil},
	})
}

func TestAliases(t *testing.T) {
	ts := setup(t)
	s := ts.signup(t)
	ts.run(t, []scenario{
		{"ErrNotFound", "GET", "/v1/aliases/" + s.User.ID, ts.api(), "", 404, "not_found", nil},
		{"ErrNotFoundBadID", "GET", "/v1/aliases/nope", ts.api(), "", 404, "not_found", nil},
		{"ErrNoAPIKey", "GET", "/v1/aliases/" + s.User.ID, bearer(s.Token), "", 401, "unauthorized", nil},
	})
}

// TestInsecureLocalhostSession checks the session cookie's name and
// attributes on a plain-http development URL.
func TestInsecureLocalhostSession(t *testing.T) {
	ts := setup(t, func(c *foyerhttp.Config) { c.PublicURL, _ = url.Parse("http://127.0.0.1") })
	s := ts.signup(t)
	check(t, ts.do("POST", "/v1/me/convert", `{"email":"ann@example.org"}`, join(jsonType, bearer(s.Token))...), http.StatusAccepted, "")
	res, w := ts.complete(t, ts.mailToken(t, "ann@example.org", foyer.MailConversion), password, "Cookie", "foyer_anon="+s.Token)
	c := cookie(w, "foyer_session")
	if !res.SignedIn || c == nil || c.Secure || !c.HttpOnly {
		t.Fatalf("session cookie = %+v, want a non-Secure HttpOnly foyer_session", c)
	}
	check(t, ts.do("GET", "/v1/me", "", "Cookie", "foyer_session="+c.Value), 200, "", s.User.ID)
	if w := ts.do("GET", "/v1/me", "", "Cookie", sessionCookieName+"="+c.Value); w.Code != http.StatusUnauthorized {
		t.Errorf("the __Host- name was accepted on plain http: %d", w.Code)
	}
}

// TestBrowserRegistration walks registration, sign-out and sign-in
// through a real HTTP server and a cookie jar, as a browser on a
// development machine would: the cookies alone carry the visitor.
func TestBrowserRegistration(t *testing.T) {
	ts := setup(t, func(c *foyerhttp.Config) { c.PublicURL, _ = url.Parse("http://127.0.0.1") })
	srv := httptest.NewServer(ts.handler)
	t.Cleanup(srv.Close)
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	client := srv.Client()
	client.Jar = jar
	send := func(method, path, body string, want int) string {
		t.Helper()
		req, err := http.NewRequestWithContext(t.Context(), method, srv.URL+path, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		switch {
		case method == "PATCH":
			req.Header.Set("Content-Type", "application/merge-patch+json")
		case body != "":
			req.Header.Set("Content-Type", "application/json")
		}
		res, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, err := io.ReadAll(res.Body)
		if err != nil {
			t.Fatal(err)
		}
		if res.StatusCode != want {
			t.Fatalf("%s %s = %d, want %d: %s", method, path, res.StatusCode, want, b)
		}
		return string(b)
	}

	send("POST", "/v1/anonymous", "", 201)
	send("PATCH", "/v1/me", `{"data":{"level":3}}`, 200)
	send("POST", "/v1/me/convert", `{"email":"ann@example.org"}`, 202)
	link := ts.mailToken(t, "ann@example.org", foyer.MailConversion)
	if body := send("POST", "/v1/convert/complete", `{"token":"`+link+`","password":"`+password+`"}`, 200); !strings.Contains(body, `"signed_in":true`) {
		t.Fatalf("completion = %s", body)
	}
	if body := send("GET", "/v1/me", "", 200); !strings.Contains(body, `"email":"ann@example.org"`) || !strings.Contains(body, `"level":3`) {
		t.Fatalf("GET /v1/me = %s", body)
	}
	send("POST", "/v1/logout", "", 204)
	send("GET", "/v1/me", "", 401)
	if body := send("POST", "/v1/login", `{"email":"ann@example.org","password":"`+password+`"}`, 200); !strings.Contains(body, `"merge_available":false`) {
		t.Fatalf("login = %s", body)
	}
	send("PATCH", "/v1/me", `{"data":{"level":4}}`, 200)
	send("DELETE", "/v1/me", "", 204)
	send("GET", "/v1/me", "", 401)
}
