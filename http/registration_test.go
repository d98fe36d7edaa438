package http_test

import (
	"encoding/json"
	"html"
	"net/http"
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

// renderMail renders queued mail for the development mailbox as the mail
// package's templates do in substance: a subject per kind and a text and
// HTML body whose one link is built from the public URL.
func renderMail(m *foyer.Mail) (subject, text, htmlBody string, err error) {
	var d foyer.MailData
	if err := json.Unmarshal(m.Data, &d); err != nil {
		return "", "", "", err
	}
	var link string
	switch m.Kind {
	case foyer.MailConversion:
		subject, link = "Save your progress", testIssuer+"/convert/complete?token="+url.QueryEscape(d.Token)
	case foyer.MailConversionExisting:
		subject, link = "Someone tried to save progress with your address", testIssuer+"/login"
	case foyer.MailPasswordReset:
		subject, link = "Reset your password", testIssuer+"/password/reset?token="+url.QueryEscape(d.Token)
	default:
		return "", "", "", foyer.Errorf(foyer.EInvalid, "unknown kind %q", m.Kind)
	}
	text = subject + "\n\nOpen " + link + "\n"
	htmlBody = `<p><a href="` + html.EscapeString(link) + `">` + html.EscapeString(subject) + `</a></p>`
	return subject, text, htmlBody, nil
}

// Header pairs of the registration tests.
func withSession(tok string) []string     { return []string{"Cookie", sessionCookieName + "=" + tok} }
func anonymousHeader(tok string) []string { return []string{foyerhttp.AnonymousTokenHeader, tok} }

const password = "correct horse battery"

// accepted is the body of the 202 answers to conversion and reset requests.
type accepted struct {
	Status    string    `json:"status"`
	ExpiresAt time.Time `json:"expires_at"`
}

// linkResult is the body of a redeemed link.
type linkResult struct {
	User         userDoc   `json:"user"`
	SignedIn     bool      `json:"signed_in"`
	AccessToken  string    `json:"access_token"`
	RefreshToken string    `json:"refresh_token"`
	ExpiresAt    time.Time `json:"expires_at"`
}

// loginResult is the body of POST /v1/login.
type loginResult struct {
	User           userDoc   `json:"user"`
	AccessToken    string    `json:"access_token"`
	RefreshToken   string    `json:"refresh_token"`
	ExpiresAt      time.Time `json:"expires_at"`
	MergeAvailable bool      `json:"merge_available"`
}

// newestMail returns the newest message of kind to address, or nil.
func (ts *testServer) newestMail(t testing.TB, to, kind string) *foyer.Mail {
	t.Helper()
	msgs, err := ts.mail.FindMail(t.Context(), &to, 100)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range msgs {
		if m.Kind == kind {
			return m
		}
	}
	return nil
}

// mailToken returns the link token of the newest message of kind to
// address.
func (ts *testServer) mailToken(t testing.TB, to, kind string) string {
	t.Helper()
	m := ts.newestMail(t, to, kind)
	if m == nil {
		t.Fatalf("no %s mail to %s", kind, to)
	}
	var d foyer.MailData
	if err := json.Unmarshal(m.Data, &d); err != nil || d.Token == "" {
		t.Fatalf("%s mail to %s has no token: %s", kind, to, m.Data)
	}
	return d.Token
}

// countMail counts the messages of kind to address.
func (ts *testServer) countMail(t testing.TB, to, kind string) int {
	t.Helper()
	msgs, err := ts.mail.FindMail(t.Context(), &to, foyer.MaxPageSize)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, m := range msgs {
		if m.Kind == kind {
			n++
		}
	}
	return n
}

// convert asks for the conversion of the visitor holding the anonymous
// token tok to email.
func (ts *testServer) convert(t testing.TB, tok, email string) {
	t.Helper()
	check(t, ts.do("POST", "/v1/me/convert", `{"email":"`+email+`"}`, join(jsonType, withCookie(tok))...), http.StatusAccepted, "")
}

// complete redeems a conversion link with header as the client's
// credentials.
func (ts *testServer) complete(t testing.TB, link, pw string, header ...string) (linkResult, *httptest.ResponseRecorder) {
	t.Helper()
	w := ts.do("POST", "/v1/convert/complete", `{"token":"`+link+`","password":"`+pw+`"}`, join(jsonType, header)...)
	check(t, w, http.StatusOK, "")
	var res linkResult
	decode(t, w, &res)
	return res, w
}

// register makes a registered user with data through the API, as a
// visitor would: sign-up, data, conversion, completion in the same client.
func (ts *testServer) register(t testing.TB, email, data string) string {
	t.Helper()
	s := ts.signup(t)
	if data != "" {
		check(t, ts.do("PATCH", "/v1/me", `{"data":`+data+`}`, join(mergePatchType, withCookie(s.Token))...), 200, "")
	}
	ts.convert(t, s.Token, email)
	ts.complete(t, ts.mailToken(t, email, foyer.MailConversion), password, withCookie(s.Token)...)
	return s.User.ID
}

// login signs in and returns the answer.
func (ts *testServer) login(t testing.TB, email, pw string, header ...string) (loginResult, *httptest.ResponseRecorder) {
	t.Helper()
	w := ts.do("POST", "/v1/login", `{"email":"`+email+`","password":"`+pw+`"}`, join(jsonType, header)...)
	check(t, w, http.StatusOK, "")
	var res loginResult
	decode(t, w, &res)
	return res, w
}

// comparableResponse is a response without the headers that differ per
// request (the request id and date); normalize makes one.
type comparableResponse struct {
	Status int
	Header http.Header
	Body   string
}

func normalize(w *httptest.ResponseRecorder) comparableResponse {
	h := w.Header().Clone()
	h.Del("X-Request-Id")
	h.Del("Date")
	return comparableResponse{Status: w.Code, Header: h, Body: w.Body.String()}
}

func TestConvertMe(t *testing.T) {
	t.Run("OK", func(t *testing.T) {
		ts := setup(t)
		s := ts.signup(t)
		before := ts.findUser(t, s.User.ID)
		w := ts.do("POST", "/v1/me/convert", `{"email":"  Ann@Example.ORG "}`, join(jsonType, withCookie(s.Token))...)
		check(t, w, http.StatusAccepted, "")
		var a accepted
		decode(t, w, &a)
		if want := ts.clock.Now().Add(foyerhttp.DefaultConversionTTL); a.Status != "accepted" || !a.ExpiresAt.Equal(want) {
			t.Errorf("body = %+v, want accepted until %v", a, want)
		}
		u := ts.findUser(t, s.User.ID)
		if !u.Anonymous || u.Email != "" || u.EmailVerified || u.PendingEmail != "ann@example.org" {
			t.Fatalf("user = %+v, want anonymous with pending ann@example.org only", u)
		}
		if u.Epoch != before.Epoch {
			t.Errorf("a request bumped the epoch")
		}
		// Mail goes to the stored address only, never to the input's spelling.
		if n := ts.countMail(t, "ann@example.org", foyer.MailConversion); n != 1 {
			t.Errorf("%d conversion mails to ann@example.org, want 1", n)
		}
		if n := ts.countMail(t, "Ann@Example.ORG", foyer.MailConversion); n != 0 {
			t.Errorf("%d mails to the unnormalised spelling", n)
		}
		if ts.notified.Load() != 1 {
			t.Errorf("MailNotify called %d times, want 1", ts.notified.Load())
		}
		// The visitor is still signed in anonymously.
		check(t, ts.do("GET", "/v1/me", "", withCookie(s.Token)...), 200, "", `"pending_email":"ann@example.org"`)
	})

	t.Run("OKNewRequestKillsOldLink", func(t *testing.T) {
		ts := setup(t)
		s := ts.signup(t)
		ts.convert(t, s.Token, "a@example.org")
		old := ts.mailToken(t, "a@example.org", foyer.MailConversion)
		ts.convert(t, s.Token, "b@example.org")
		if u := ts.findUser(t, s.User.ID); u.PendingEmail != "b@example.org" {
			t.Fatalf("pending = %q, want the newer b@example.org", u.PendingEmail)
		}
		check(t, ts.do("POST", "/v1/convert/complete", `{"token":"`+old+`","password":"`+password+`"}`, jsonType...), 400, "token_invalid")
		res, _ := ts.complete(t, ts.mailToken(t, "b@example.org", foyer.MailConversion), password)
		if res.User.Email != "b@example.org" {
			t.Errorf("converted to %q, want b@example.org", res.User.Email)
		}
	})

	ts := setup(t)
	s := ts.signup(t)
	reg := ts.register(t, "owner@example.org", "")
	l, _ := ts.login(t, "owner@example.org", password)
	body := `{"email":"x@example.org"}`
	ts.run(t, []scenario{
		{"ErrUnauthorized", "POST", "/v1/me/convert", jsonType, body, 401, "unauthorized", nil},
		{"ErrInvalidEmail", "POST", "/v1/me/convert", join(jsonType, withCookie(s.Token)), `{"email":"not an address"}`, 400, "invalid", nil},
		{"ErrDisplayName", "POST", "/v1/me/convert", join(jsonType, withCookie(s.Token)), `{"email":"Ann <ann@example.org>"}`, 400, "invalid", nil},
		{"ErrMalformedJSON", "POST", "/v1/me/convert", join(jsonType, withCookie(s.Token)), `{"email":`, 400, "malformed_json", nil},
		{"ErrUnknownField", "POST", "/v1/me/convert", join(jsonType, withCookie(s.Token)), `{"email":"x@example.org","verified":true}`, 400, "malformed_json", nil},
		{"ErrUnsupportedMediaType", "POST", "/v1/me/convert", withCookie(s.Token), body, 415, "unsupported_media_type", nil},
		{"ErrCrossOriginCookie", "POST", "/v1/me/convert", join(jsonType, withCookie(s.Token), crossOrigin), body, 403, "forbidden", nil},
		{"ErrRegisteredAccess", "POST", "/v1/me/convert", join(jsonType, bearer(l.AccessToken)), body, 409, "conflict", nil},
		{"ErrAPIKey", "POST", "/v1/me/convert", join(jsonType, ts.api()), body, 401, "unauthorized", nil},
	})
	t.Run("NothingChanged", func(t *testing.T) {
		if u := ts.findUser(t, s.User.ID); u.PendingEmail != "" {
			t.Errorf("refused requests left a pending address %q", u.PendingEmail)
		}
		if u := ts.findUser(t, reg); u.PendingEmail != "" || u.Anonymous {
			t.Errorf("registered user changed: %+v", u)
		}
		if n := ts.countMail(t, "x@example.org", foyer.MailConversion); n != 0 {
			t.Errorf("refused requests queued %d mails", n)
		}
	})
}

// TestConvertRevealsNothing checks DESIGN §2.4: asking to convert to an
// address that has an account answers exactly like a free address
// (status, headers, cookies, body), moves nothing, and only the mail
// differs.
func TestConvertRevealsNothing(t *testing.T) {
	for _, client := range []struct {
		name string
		auth func(tok string) []string
	}{{"Cookie", withCookie}, {"Bearer", bearer}} {
		t.Run(client.name, func(t *testing.T) {
			ts := setup(t)
			owner := ts.register(t, "owner@example.org", `{"plan":"gold"}`)
			ownerBefore := ts.findUser(t, owner)
			// One visitor's token is due for renewal, the other's is not:
			// the answer must not depend on that either.
			old := ts.signup(t)
			ts.clock.Advance(foyerhttp.DefaultRenewAfter)
			fresh := ts.signup(t)
			check(t, ts.do("PATCH", "/v1/me", `{"data":{"cart":[1]}}`, join(mergePatchType, bearer(fresh.Token))...), 200, "")

			toNew := ts.do("POST", "/v1/me/convert", `{"email":"new@example.org"}`, join(jsonType, client.auth(old.Token))...)
			toExisting := ts.do("POST", "/v1/me/convert", `{"email":"Owner@Example.org"}`, join(jsonType, client.auth(fresh.Token))...)
			check(t, toNew, http.StatusAccepted, "")
			if diff := cmp.Diff(normalize(toNew), normalize(toExisting)); diff != "" {
				t.Fatalf("new and existing address answer differently (-new +existing):\n%s", diff)
			}
			if c := toNew.Header().Values("Set-Cookie"); len(c) != 0 {
				t.Errorf("Set-Cookie = %q, want none", c)
			}

			// Neither account changed beyond the requester's pending address.
			if got := ts.findUser(t, owner); got.Version != ownerBefore.Version || got.Epoch != ownerBefore.Epoch || string(got.Data) != `{"plan":"gold"}` {
				t.Errorf("owner changed: %+v → %+v", ownerBefore, got)
			}
			if u := ts.findUser(t, fresh.User.ID); !u.Anonymous || u.PendingEmail != "owner@example.org" || string(u.Data) != `{"cart":[1]}` {
				t.Errorf("requester = %+v, want anonymous with its data and the pending address", u)
			}
			// Only the mail differs: a link to the new address, a notice
			// without a link to the owner.
			if n := ts.countMail(t, "new@example.org", foyer.MailConversion); n != 1 {
				t.Errorf("%d conversion mails to the new address, want 1", n)
			}
			m := ts.newestMail(t, "owner@example.org", foyer.MailConversionExisting)
			if m == nil || ts.newestMail(t, "owner@example.org", foyer.MailConversion) != nil {
				t.Fatal("the owner did not get exactly the someone-tried notice")
			}
			if strings.Contains(string(m.Data), "token") {
				t.Errorf("the owner's notice carries a token: %s", m.Data)
			}
		})
	}

	t.Run("ServerAPI", func(t *testing.T) {
		ts := setup(t)
		ts.register(t, "owner@example.org", "")
		a, b := ts.signup(t), ts.signup(t)
		toNew := ts.do("POST", "/v1/users/"+a.User.ID+"/convert", `{"email":"new@example.org"}`, join(jsonType, ts.api())...)
		toExisting := ts.do("POST", "/v1/users/"+b.User.ID+"/convert", `{"email":"owner@example.org"}`, join(jsonType, ts.api())...)
		check(t, toNew, http.StatusAccepted, "")
		if diff := cmp.Diff(normalize(toNew), normalize(toExisting)); diff != "" {
			t.Fatalf("new and existing address answer differently (-new +existing):\n%s", diff)
		}
	})

	t.Run("PasswordForgot", func(t *testing.T) {
		ts := setup(t)
		ts.register(t, "owner@example.org", "")
		s := ts.signup(t)
		ts.convert(t, s.Token, "pending@example.org")
		known := ts.do("POST", "/v1/password/forgot", `{"email":"owner@example.org"}`, jsonType...)
		check(t, known, http.StatusAccepted, "")
		for _, email := range []string{"nobody@example.org", "pending@example.org"} {
			other := ts.do("POST", "/v1/password/forgot", `{"email":"`+email+`"}`, jsonType...)
			if diff := cmp.Diff(normalize(known), normalize(other)); diff != "" {
				t.Fatalf("%s answers differently (-registered +other):\n%s", email, diff)
			}
		}
		if ts.newestMail(t, "owner@example.org", foyer.MailPasswordReset) == nil {
			t.Error("no reset mail to the registered address")
		}
	})
}

func TestConvertRateLimit(t *testing.T) {
	from := func(addr, tok, email string) *http.Request {
		r := request("POST", "/v1/me/convert", `{"email":"`+email+`"}`, join(jsonType, bearer(tok))...)
		r.RemoteAddr = addr
		return r
	}
	retry := func(t *testing.T, w *httptest.ResponseRecorder) time.Duration {
		t.Helper()
		check(t, w, http.StatusTooManyRequests, "rate_limited")
		secs, err := strconv.Atoi(w.Header().Get("Retry-After"))
		if err != nil || secs < 1 || secs > 3600 {
			t.Fatalf("Retry-After = %q", w.Header().Get("Retry-After"))
		}
		return time.Duration(secs) * time.Second
	}

	t.Run("PerUser", func(t *testing.T) {
		ts := setup(t)
		s := ts.signup(t)
		for i := range foyerhttp.ConversionsPerUser {
			check(t, ts.serve(from("192.0.2.1:1", s.Token, "u"+strconv.Itoa(i)+"@example.org")), 202, "")
		}
		wait := retry(t, ts.serve(from("192.0.2.2:1", s.Token, "other@example.org")))
		ts.clock.Advance(wait)
		check(t, ts.serve(from("192.0.2.2:1", s.Token, "other@example.org")), 202, "")
	})

	t.Run("PerAddress", func(t *testing.T) {
		ts := setup(t)
		for range foyerhttp.ConversionsPerAddress {
			check(t, ts.serve(from("192.0.2.1:1", ts.signup(t).Token, "victim@example.org")), 202, "")
		}
		// Spelling does not matter: the limit is on the normalised address.
		retry(t, ts.serve(from("192.0.2.2:1", ts.signup(t).Token, "Victim@EXAMPLE.org")))
		if n := ts.countMail(t, "victim@example.org", foyer.MailConversion); n != foyerhttp.ConversionsPerAddress {
			t.Errorf("%d mails to the address, want %d", n, foyerhttp.ConversionsPerAddress)
		}
	})

	t.Run("PerIP", func(t *testing.T) {
		ts := setup(t, func(c *foyerhttp.Config) { c.AnonymousRateLimit = -1 })
		for i := range foyerhttp.ConversionsPerIP {
			check(t, ts.serve(from("192.0.2.1:1", ts.signup(t).Token, "a"+strconv.Itoa(i)+"@example.org")), 202, "")
		}
		retry(t, ts.serve(from("192.0.2.1:2", ts.signup(t).Token, "b@example.org")))
		check(t, ts.serve(from("192.0.2.9:1", ts.signup(t).Token, "b@example.org")), 202, "")
	})
}

func TestConvertUser(t *testing.T) {
	t.Run("OKRequest", func(t *testing.T) {
		ts := setup(t)
		s := ts.signup(t)
		w := ts.do("POST", "/v1/users/"+s.User.ID+"/convert", `{"email":"Ann@example.org","verified":false}`, join(jsonType, ts.api())...)
		check(t, w, http.StatusAccepted, "", `"status":"accepted"`)
		if u := ts.findUser(t, s.User.ID); !u.Anonymous || u.PendingEmail != "ann@example.org" {
			t.Fatalf("user = %+v, want anonymous with a pending address", u)
		}
		// The link mailed to the visitor works like any other; completed
		// outside the visitor's client, it signs nobody in.
		res, _ := ts.complete(t, ts.mailToken(t, "ann@example.org", foyer.MailConversion), password)
		if res.SignedIn || res.User.ID != s.User.ID || res.User.Anonymous {
			t.Fatalf("completion = %+v", res)
		}
	})

	t.Run("OKVerified", func(t *testing.T) {
		ts := setup(t)
		s := ts.signup(t)
		before := ts.findUser(t, s.User.ID)
		w := ts.do("POST", "/v1/users/"+s.User.ID+"/convert", `{"email":"Ann@example.org","verified":true}`, join(jsonType, ts.api())...)
		check(t, w, http.StatusOK, "", `"email":"ann@example.org"`, `"email_verified":true`, `"anonymous":false`)
		u := ts.findUser(t, s.User.ID)
		if u.Anonymous || !u.EmailVerified || u.HasPassword || u.Epoch <= before.Epoch || u.ConvertedAt == nil {
			t.Fatalf("user = %+v, want registered, verified, without password, epoch bumped", u)
		}
		check(t, ts.do("GET", "/v1/me", "", withCookie(s.Token)...), 401, "unauthorized")
		// Without a password nobody can sign in; a reset sets one.
		check(t, ts.do("POST", "/v1/login", `{"email":"ann@example.org","password":"`+password+`"}`, jsonType...), 401, "invalid_credentials")
		w = ts.do("GET", "/v1/events?type=user.converted&user_id="+s.User.ID, "", ts.api()...)
		check(t, w, 200, "", `"type":"user.converted"`, `"actor":"api_key:`)
	})

	ts := setup(t)
	s := ts.signup(t)
	ts.register(t, "taken@example.org", "")
	reg := ts.register(t, "reg@example.org", "")
	ts.run(t, []scenario{
		{"ErrNoAPIKey", "POST", "/v1/users/" + s.User.ID + "/convert", join(jsonType, bearer(s.Token)), `{"email":"a@example.org"}`, 401, "unauthorized", nil},
		{"ErrNotFound", "POST", "/v1/users/01900000-0000-7000-8000-000000000000/convert", join(jsonType, ts.api()), `{"email":"a@example.org"}`, 404, "not_found", nil},
		{"ErrNotFoundVerified", "POST", "/v1/users/nope/convert", join(jsonType, ts.api()), `{"email":"a@example.org","verified":true}`, 404, "not_found", nil},
		{"ErrRegistered", "POST", "/v1/users/" + reg + "/convert", join(jsonType, ts.api()), `{"email":"a@example.org"}`, 409, "conflict", nil},
		{"ErrRegisteredVerified", "POST", "/v1/users/" + reg + "/convert", join(jsonType, ts.api()), `{"email":"a@example.org","verified":true}`, 409, "conflict", nil},
		{"ErrIdentifierTaken", "POST", "/v1/users/" + s.User.ID + "/convert", join(jsonType, ts.api()), `{"email":"taken@example.org","verified":true}`, 409, "identifier_taken", nil},
		{"ErrInvalidEmail", "POST", "/v1/users/" + s.User.ID + "/convert", join(jsonType, ts.api()), `{"email":"nope","verified":true}`, 400, "invalid", nil},
		{"ErrVerifiedType", "POST", "/v1/users/" + s.User.ID + "/convert", join(jsonType, ts.api()), `{"email":"a@example.org","verified":"yes"}`, 400, "invalid", nil},
	})
	t.Run("NothingChanged", func(t *testing.T) {
		if u := ts.findUser(t, s.User.ID); !u.Anonymous || u.PendingEmail != "" {
			t.Errorf("refused conversions changed the user: %+v", u)
		}
	})
}

func TestCompleteConversion(t *testing.T) {
	t.Run("OKSameBrowser", func(t *testing.T) {
		ts := setup(t)
		s := ts.signup(t)
		check(t, ts.do("PATCH", "/v1/me", `{"data":{"level":7}}`, join(mergePatchType, withCookie(s.Token))...), 200, "")
		ts.convert(t, s.Token, "ann@example.org")
		link := ts.mailToken(t, "ann@example.org", foyer.MailConversion)
		before := ts.findUser(t, s.User.ID)

		res, w := ts.complete(t, link, password, withCookie(s.Token)...)
		if !res.SignedIn || res.User.ID != s.User.ID || res.User.Anonymous || res.User.Email != "ann@example.org" || !res.User.EmailVerified {
			t.Fatalf("completion = %+v", res)
		}
		if res.AccessToken != "" || res.RefreshToken != "" {
			t.Errorf("a cookie client got tokens in the body: %s", w.Body)
		}
		sc := cookie(w, sessionCookieName)
		if sc == nil || sc.Value == "" || !sc.HttpOnly || !sc.Secure || sc.Path != "/" || sc.SameSite != http.SameSiteLaxMode {
			t.Fatalf("session cookie = %+v", sc)
		}
		if ac := cookie(w, cookieName); ac == nil || ac.MaxAge >= 0 {
			t.Errorf("anonymous cookie not cleared: %v", w.Header()["Set-Cookie"])
		}
		claims, err := ts.keys.Verify(t.Context(), sc.Value, token.TypeSession)
		if err != nil {
			t.Fatal(err)
		}
		u := ts.findUser(t, s.User.ID)
		if claims.Subject != u.ID || claims.SessionID == "" || claims.Epoch != u.Epoch || claims.Anonymous {
			t.Errorf("session claims %+v for user %+v", claims, u)
		}
		if u.Epoch <= before.Epoch || !u.HasPassword || u.ConvertedAt == nil || u.PendingEmail != "" || string(u.Data) != `{"level":7}` {
			t.Errorf("stored user %+v", u)
		}
		// The session cookie is the account now; the anonymous token is dead.
		check(t, ts.do("GET", "/v1/me", "", withSession(sc.Value)...), 200, "", s.User.ID, `"anonymous":false`, `"level":7`)
		check(t, ts.do("GET", "/v1/me", "", withCookie(s.Token)...), 401, "unauthorized")
		for _, typ := range []string{foyer.EventUserConverted, foyer.EventUserEmailVerified} {
			check(t, ts.do("GET", "/v1/events?type="+typ+"&user_id="+s.User.ID, "", ts.api()...), 200, "", `"type":"`+typ+`"`)
		}
	})

	t.Run("OKApp", func(t *testing.T) {
		ts := setup(t)
		for name, h := range map[string]func(string) []string{"Bearer": bearer, "Header": anonymousHeader} {
			t.Run(name, func(t *testing.T) {
				s := ts.signup(t)
				email := strings.ToLower(name) + "@example.org"
				ts.convert(t, s.Token, email)
				res, w := ts.complete(t, ts.mailToken(t, email, foyer.MailConversion), password, h(s.Token)...)
				if !res.SignedIn || res.AccessToken == "" || res.RefreshToken == "" || res.User.ID != s.User.ID {
					t.Fatalf("completion = %s", w.Body)
				}
				if c := w.Header().Values("Set-Cookie"); len(c) != 0 {
					t.Errorf("an app got cookies: %q", c)
				}
				if want := ts.clock.Now().Add(foyerhttp.DefaultAccessTTL); !res.ExpiresAt.Equal(want) {
					t.Errorf("expires_at = %v, want %v", res.ExpiresAt, want)
				}
				check(t, ts.do("GET", "/v1/me", "", bearer(res.AccessToken)...), 200, "", s.User.ID)
				check(t, ts.do("POST", "/v1/token/refresh", `{"refresh_token":"`+res.RefreshToken+`"}`, jsonType...), 200, "")
			})
		}
	})

	t.Run("OKOtherClientIsNotSignedIn", func(t *testing.T) {
		ts := setup(t)
		s := ts.signup(t)
		stranger := ts.signup(t)
		ts.convert(t, s.Token, "ann@example.org")
		link := ts.mailToken(t, "ann@example.org", foyer.MailConversion)
		// The link opened in a browser holding someone else's anonymous
		// cookie (or none: see TestConvertUser): the account is saved, the
		// browser stays as it was.
		res, w := ts.complete(t, link, password, withCookie(stranger.Token)...)
		if res.SignedIn || res.User.ID != s.User.ID || res.User.Anonymous || res.AccessToken != "" {
			t.Fatalf("completion = %s", w.Body)
		}
		if c := w.Header().Values("Set-Cookie"); len(c) != 0 {
			t.Fatalf("Set-Cookie = %q, want none", c)
		}
		check(t, ts.do("GET", "/v1/me", "", withCookie(stranger.Token)...), 200, "", stranger.User.ID, `"anonymous":true`)
		check(t, ts.do("GET", "/v1/me", "", withCookie(s.Token)...), 401, "unauthorized")
		// The person signs in normally.
		l, _ := ts.login(t, "ann@example.org", password)
		if l.User.ID != s.User.ID {
			t.Errorf("signed in as %s, want %s", l.User.ID, s.User.ID)
		}
	})

	t.Run("OKCrossOriginCookieIsNotRead", func(t *testing.T) {
		ts := setup(t)
		s := ts.signup(t)
		ts.convert(t, s.Token, "ann@example.org")
		res, w := ts.complete(t, ts.mailToken(t, "ann@example.org", foyer.MailConversion), password, join(withCookie(s.Token), crossOrigin)...)
		if res.SignedIn || len(w.Header().Values("Set-Cookie")) != 0 {
			t.Fatalf("a cross-origin request was signed in: %s %q", w.Body, w.Header().Values("Set-Cookie"))
		}
	})

	t.Run("ErrTokenInvalid", func(t *testing.T) {
		ts := setup(t)
		s := ts.signup(t)
		redeem := func(link string, header ...string) *httptest.ResponseRecorder {
			return ts.do("POST", "/v1/convert/complete", `{"token":"`+link+`","password":"`+password+`"}`, join(jsonType, header)...)
		}

		ts.convert(t, s.Token, "a@example.org")
		superseded := ts.mailToken(t, "a@example.org", foyer.MailConversion)
		ts.convert(t, s.Token, "b@example.org")
		expired := ts.mailToken(t, "b@example.org", foyer.MailConversion)
		ts.clock.Advance(foyerhttp.DefaultConversionTTL)
		before := ts.findUser(t, s.User.ID)

		for name, link := range map[string]string{
			"Superseded": superseded,
			"Expired":    expired,
			"Unknown":    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
			"Empty":      "",
			"Overlong":   strings.Repeat("A", 200),
		} {
			t.Run(name, func(t *testing.T) {
				check(t, redeem(link, withCookie(s.Token)...), 400, "token_invalid")
				if after := ts.findUser(t, s.User.ID); !after.Anonymous || after.Version != before.Version || after.Epoch != before.Epoch || after.HasPassword {
					t.Fatalf("a refused link changed the user: %+v → %+v", before, after)
				}
			})
		}

		t.Run("Used", func(t *testing.T) {
			ts.convert(t, s.Token, "c@example.org")
			link := ts.mailToken(t, "c@example.org", foyer.MailConversion)
			ts.complete(t, link, password)
			after := ts.findUser(t, s.User.ID)
			check(t, redeem(link), 400, "token_invalid")
			if again := ts.findUser(t, s.User.ID); again.Version != after.Version || again.Epoch != after.Epoch {
				t.Fatalf("a used link changed the user: %+v → %+v", after, again)
			}
		})
	})

	t.Run("ErrInvalidPassword", func(t *testing.T) {
		ts := setup(t)
		s := ts.signup(t)
		ts.convert(t, s.Token, "ann@example.org")
		link := ts.mailToken(t, "ann@example.org", foyer.MailConversion)
		for _, pw := range []string{"short", strings.Repeat("x", foyer.MaxPasswordLength+1)} {
			check(t, ts.do("POST", "/v1/convert/complete", `{"token":"`+link+`","password":"`+pw+`"}`, jsonType...), 400, "invalid_password")
		}
		if u := ts.findUser(t, s.User.ID); !u.Anonymous {
			t.Fatal("a refused password converted the user")
		}
		ts.complete(t, link, password) // the link still works
	})

	t.Run("ErrIdentifierTaken", func(t *testing.T) {
		ts := setup(t)
		a, b := ts.signup(t), ts.signup(t)
		ts.convert(t, a.Token, "ann@example.org")
		linkA := ts.mailToken(t, "ann@example.org", foyer.MailConversion)
		ts.convert(t, b.Token, "ann@example.org")
		linkB := ts.mailToken(t, "ann@example.org", foyer.MailConversion)
		ts.complete(t, linkA, password, withCookie(a.Token)...)
		before := ts.findUser(t, b.User.ID)
		w := ts.do("POST", "/v1/convert/complete", `{"token":"`+linkB+`","password":"`+password+`"}`, join(jsonType, withCookie(b.Token))...)
		check(t, w, 409, "identifier_taken")
		if len(w.Header().Values("Set-Cookie")) != 0 {
			t.Errorf("a failed completion set cookies: %q", w.Header().Values("Set-Cookie"))
		}
		if after := ts.findUser(t, b.User.ID); !after.Anonymous || after.Version != before.Version || after.Epoch != before.Epoch {
			t.Fatalf("the failed completion changed the user: %+v → %+v", before, after)
		}
		check(t, ts.do("GET", "/v1/me", "", withCookie(b.Token)...), 200, "", `"anonymous":true`)
	})

	t.Run("OKGetNeverChangesState", func(t *testing.T) {
		ts := setup(t)
		s := ts.signup(t)
		ts.convert(t, s.Token, "ann@example.org")
		link := ts.mailToken(t, "ann@example.org", foyer.MailConversion)
		before := ts.findUser(t, s.User.ID)
		for _, method := range []string{"GET", "HEAD"} {
			path := "/v1/convert/complete?token=" + link
			if w := ts.do(method, path, "", withCookie(s.Token)...); w.Code < 400 {
				t.Errorf("%s %s = %d, want a refusal", method, path, w.Code)
			}
			// The hosted page the link opens only shows the form.
			path = "/convert/complete?token=" + link
			if w := ts.do(method, path, "", withCookie(s.Token)...); w.Code != 200 || cookie(w, sessionCookieName) != nil {
				t.Errorf("%s %s = %d with cookies %q, want the form", method, path, w.Code, w.Header().Values("Set-Cookie"))
			}
		}
		if after := ts.findUser(t, s.User.ID); !after.Anonymous || after.Version != before.Version || after.Epoch != before.Epoch {
			t.Fatalf("opening the link changed the user: %+v → %+v", before, after)
		}
		if res, _ := ts.complete(t, link, password, withCookie(s.Token)...); !res.SignedIn {
			t.Fatal("the link did not work after being opened")
		}
	})

	t.Run("ErrRedeemRateLimit", func(t *testing.T) {
		ts := setup(t)
		s := ts.signup(t)
		ts.convert(t, s.Token, "ann@example.org")
		link := ts.mailToken(t, "ann@example.org", foyer.MailConversion)
		bad := `{"token":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA","password":"` + password + `"}`
		for range foyerhttp.RedeemFailuresPerIP {
			check(t, ts.do("POST", "/v1/convert/complete", bad, jsonType...), 400, "token_invalid")
		}
		w := ts.do("POST", "/v1/convert/complete", `{"token":"`+link+`","password":"`+password+`"}`, jsonType...)
		check(t, w, 429, "rate_limited")
		secs, _ := strconv.Atoi(w.Header().Get("Retry-After"))
		ts.clock.Advance(time.Duration(secs) * time.Second)
		ts.complete(t, link, password)
	})
}

// TestAttackerLosesAccess: someone who starts a conversion of their own
// anonymous account with a victim's address (hoping to keep a foot in the
// account the victim then owns) loses every credential once the victim
// completes it, and the victim's browser is not signed into the
// attacker's session either.
func TestAttackerLosesAccess(t *testing.T) {
	ts := setup(t)
	attacker := ts.signup(t)
	ts.convert(t, attacker.Token, "victim@example.org")
	link := ts.mailToken(t, "victim@example.org", foyer.MailConversion)
	check(t, ts.do("GET", "/v1/me", "", withCookie(attacker.Token)...), 200, "")

	victimBrowser := ts.signup(t)
	res, _ := ts.complete(t, link, "the victim's own password", withCookie(victimBrowser.Token)...)
	if res.SignedIn {
		t.Fatal("the victim's browser was signed into the attacker's account")
	}

	for name, h := range map[string][]string{"Cookie": withCookie(attacker.Token), "Bearer": bearer(attacker.Token)} {
		t.Run(name, func(t *testing.T) {
			check(t, ts.do("GET", "/v1/me", "", h...), 401, "unauthorized")
			check(t, ts.do("PATCH", "/v1/me", `{"data":{"x":1}}`, join(mergePatchType, h)...), 401, "unauthorized")
			check(t, ts.do("POST", "/v1/me/convert", `{"email":"attacker@example.org"}`, join(jsonType, h)...), 401, "unauthorized")
			check(t, ts.do("DELETE", "/v1/me", "", h...), 401, "unauthorized")
		})
	}
	// The old token only starts a new, empty anonymous account.
	w := ts.do("POST", "/v1/anonymous", "", withCookie(attacker.Token)...)
	check(t, w, http.StatusCreated, "")
	// The victim signs in with the password they chose; the attacker's
	// guess does not work.
	check(t, ts.do("POST", "/v1/login", `{"email":"victim@example.org","password":"`+password+`"}`, jsonType...), 401, "invalid_credentials")
	l, _ := ts.login(t, "victim@example.org", "the victim's own password")
	if l.User.ID != attacker.User.ID {
		t.Fatalf("victim signed in as %s", l.User.ID)
	}
}
