package http_test

import (
	"html"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	foyer "github.com/foyerhq/foyer"
	foyerhttp "github.com/foyerhq/foyer/http"
	"github.com/foyerhq/foyer/sqlite"
	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/google/go-cmp/cmp"
)

// formCookieName is the form token's cookie on the https test server.
const formCookieName = "__Host-foyer_csrf"

// csrfField finds the synchronizer token of a page's forms.
var csrfField = regexp.MustCompile(`name="csrf" value="([^"]*)"`)

// pageBrowser sends requests to the hosted pages as a browser would: it
// keeps the cookies the server sets, remembers the form token of the last
// page it got, and marks its form posts as same-origin.
type pageBrowser struct {
	t       testing.TB
	ts      *testServer
	cookies map[string]string
	// token is the csrf field of the last page with a form.
	token string
	// remote is the client address; "" is httptest's.
	remote string
	// check, when set, sees every request (built afresh) and its response.
	check func(r *http.Request, w *httptest.ResponseRecorder)
}

func newPageBrowser(t testing.TB, ts *testServer) *pageBrowser {
	return &pageBrowser{t: t, ts: ts, cookies: map[string]string{}}
}

// send sends one request with form as its urlencoded body (none when nil)
// and header pairs, and takes in the cookies and form token of the answer.
func (b *pageBrowser) send(method, target string, form url.Values, header ...string) *httptest.ResponseRecorder {
	b.t.Helper()
	if form == nil {
		return b.sendBody(method, target, "", header...)
	}
	return b.sendBody(method, target, form.Encode(), join(header, []string{"Content-Type", "application/x-www-form-urlencoded"})...)
}

// sendBody is send with a body as it is; the first Content-Type in
// header wins.
func (b *pageBrowser) sendBody(method, target, body string, header ...string) *httptest.ResponseRecorder {
	b.t.Helper()
	build := func() *http.Request {
		r := request(method, target, body)
		for i := 0; i+1 < len(header); i += 2 {
			if r.Header.Get(header[i]) == "" || !strings.EqualFold(header[i], "Content-Type") {
				r.Header.Add(header[i], header[i+1])
			}
		}
		if method == http.MethodPost && r.Header.Get("Sec-Fetch-Site") == "" {
			r.Header.Set("Origin", testIssuer)
			r.Header.Set("Sec-Fetch-Site", "same-origin")
		}
		names := make([]string, 0, len(b.cookies))
		for n := range b.cookies {
			names = append(names, n)
		}
		slices.Sort(names)
		for _, n := range names {
			r.AddCookie(&http.Cookie{Name: n, Value: b.cookies[n]})
		}
		if b.remote != "" {
			r.RemoteAddr = b.remote
		}
		return r
	}
	w := b.ts.serve(build())
	if b.check != nil {
		b.check(build(), w)
	}
	for _, c := range w.Result().Cookies() {
		if c.MaxAge < 0 {
			delete(b.cookies, c.Name)
		} else {
			b.cookies[c.Name] = c.Value
		}
	}
	if m := csrfField.FindStringSubmatch(w.Body.String()); m != nil {
		b.token = html.UnescapeString(m[1])
	}
	return w
}

// get opens a page.
func (b *pageBrowser) get(target string) *httptest.ResponseRecorder {
	b.t.Helper()
	return b.send(http.MethodGet, target, nil)
}

// post submits a form with the token of the last page, unless form has a
// csrf field of its own.
func (b *pageBrowser) post(target string, form url.Values, header ...string) *httptest.ResponseRecorder {
	b.t.Helper()
	f := url.Values{}
	for k, v := range form {
		f[k] = v
	}
	if _, ok := f["csrf"]; !ok {
		f.Set("csrf", b.token)
	}
	return b.send(http.MethodPost, target, f, header...)
}

// form builds form values from name, value pairs.
func form(pairs ...string) url.Values {
	v := url.Values{}
	for i := 0; i+1 < len(pairs); i += 2 {
		v.Set(pairs[i], pairs[i+1])
	}
	return v
}

// checkPage asserts the status of a page, the stable code of the error it
// shows ("" for none) and substrings of its body.
func checkPage(t testing.TB, w *httptest.ResponseRecorder, wantStatus int, wantCode string, wantBody ...string) {
	t.Helper()
	if w.Code != wantStatus {
		t.Fatalf("status = %d, want %d; body %s", w.Code, wantStatus, clip(w.Body.String()))
	}
	if w.Code != http.StatusSeeOther {
		if ct := w.Header().Get("Content-Type"); !strings.HasPrefix(ct, "text/html") && !strings.HasPrefix(ct, "text/css") {
			t.Fatalf("Content-Type = %q, want HTML", ct)
		}
	}
	codes := regexp.MustCompile(`data-code="([a-z_]+)"`).FindAllStringSubmatch(w.Body.String(), -1)
	var got string
	if len(codes) > 0 {
		got = codes[0][1]
	}
	if got != wantCode {
		t.Fatalf("error code = %q, want %q; body %s", got, wantCode, clip(w.Body.String()))
	}
	for _, s := range wantBody {
		if !strings.Contains(w.Body.String(), s) {
			t.Errorf("body does not contain %q: %s", s, clip(w.Body.String()))
		}
	}
}

// checkRedirect asserts a 303 to location.
func checkRedirect(t testing.TB, w *httptest.ResponseRecorder, location string) {
	t.Helper()
	if w.Code != http.StatusSeeOther || w.Header().Get("Location") != location {
		t.Fatalf("answer = %d to %q, want 303 to %q; body %s", w.Code, w.Header().Get("Location"), location, clip(w.Body.String()))
	}
	if w.Body.Len() != 0 {
		t.Errorf("a redirect has a body: %s", clip(w.Body.String()))
	}
}

// anonymousBrowser returns a browser holding a new anonymous account with
// data (none when data is ""), as an app's page would have made it.
func anonymousBrowser(t testing.TB, ts *testServer, data string) (*pageBrowser, signup) {
	t.Helper()
	s := ts.signup(t)
	if data != "" {
		check(t, ts.do("PATCH", "/v1/me", `{"data":`+data+`}`, join(mergePatchType, withCookie(s.Token))...), 200, "")
	}
	b := newPageBrowser(t, ts)
	b.cookies[cookieName] = s.Token
	return b, s
}

// TestPagesGetChangesNothing checks that opening a conversion or reset
// link only shows its form: the link is not redeemed, and still works.
func TestPagesGetChangesNothing(t *testing.T) {
	t.Run("OKConversionLink", func(t *testing.T) {
		ts := setup(t)
		b, s := anonymousBrowser(t, ts, `{"level":3}`)
		ts.convert(t, s.Token, "ann@example.org")
		link := ts.mailToken(t, "ann@example.org", foyer.MailConversion)
		before := ts.findUser(t, s.User.ID)
		for range 2 {
			w := b.get("/convert/complete?token=" + url.QueryEscape(link))
			checkPage(t, w, 200, "", `name="token" value="`+link+`"`, `autocomplete="new-password"`)
			if c := cookie(w, sessionCookieName); c != nil {
				t.Fatalf("opening the link set a session cookie: %v", c)
			}
		}
		if after := ts.findUser(t, s.User.ID); !after.Anonymous || after.Version != before.Version || after.Epoch != before.Epoch {
			t.Fatalf("opening the link changed the user: %+v → %+v", before, after)
		}
		check(t, ts.do("GET", "/v1/me", "", withCookie(s.Token)...), 200, "", `"anonymous":true`)
		checkPage(t, b.post("/convert/complete", form("token", link, "password", password)), 200, "", "Your progress is saved")
		if u := ts.findUser(t, s.User.ID); u.Anonymous || u.Email != "ann@example.org" {
			t.Fatalf("the link did not work after being opened: %+v", u)
		}
	})

	t.Run("OKResetLink", func(t *testing.T) {
		ts := setup(t)
		id := ts.register(t, "ann@example.org", "")
		check(t, ts.do("POST", "/v1/password/forgot", `{"email":"ann@example.org"}`, jsonType...), 202, "")
		link := ts.mailToken(t, "ann@example.org", foyer.MailPasswordReset)
		before := ts.findUser(t, id)
		b := newPageBrowser(t, ts)
		checkPage(t, b.get("/password/reset?token="+url.QueryEscape(link)), 200, "", `name="token" value="`+link+`"`)
		if after := ts.findUser(t, id); after.Version != before.Version || after.Epoch != before.Epoch {
			t.Fatalf("opening the link changed the user: %+v → %+v", before, after)
		}
		ts.login(t, "ann@example.org", password)
		checkPage(t, b.post("/password/reset", form("token", link, "password", "a new battery horse")), 200, "", "Your password was changed")
		ts.login(t, "ann@example.org", "a new battery horse")
	})

	t.Run("ErrNoToken", func(t *testing.T) {
		ts := setup(t)
		b := newPageBrowser(t, ts)
		checkPage(t, b.get("/convert/complete"), 400, foyer.ETokenInvalid, `href="/register"`)
		checkPage(t, b.get("/password/reset?token="), 400, foyer.ETokenInvalid, `href="/password/forgot"`)
		checkPage(t, b.get("/convert/complete?token="+strings.Repeat("x", 200)), 400, foyer.ETokenInvalid)
	})
}

// TestPagesCSRF checks that every form is refused, and changes nothing,
// without its synchronizer token, with the token of another browser's
// cookie, and when it is posted from another site.
func TestPagesCSRF(t *testing.T) {
	ts := setup(t)
	ts.register(t, "owner@example.org", `{"a":1}`)
	crossSite := []string{"Origin", "https://evil.test", "Sec-Fetch-Site", "cross-site"}
	sameSiteOtherOrigin := []string{"Origin", "https://evil.foyer.test", "Sec-Fetch-Site", "same-site"}
	other := newPageBrowser(t, ts)
	other.get("/login")

	tests := []struct {
		name string
		// prepare returns a browser that may post the form, at the page
		// of the form, and the form's fields.
		prepare func(t *testing.T) (*pageBrowser, string, url.Values)
		// unchanged checks that the refused posts did nothing.
		unchanged func(t *testing.T, b *pageBrowser)
	}{
		{"Login", func(t *testing.T) (*pageBrowser, string, url.Values) {
			b := newPageBrowser(t, ts)
			b.get("/login")
			return b, "/login", form("email", "owner@example.org", "password", password)
		}, func(t *testing.T, b *pageBrowser) {
			if _, ok := b.cookies[sessionCookieName]; ok {
				t.Error("a refused sign-in set the session cookie")
			}
		}},
		{"Register", func(t *testing.T) (*pageBrowser, string, url.Values) {
			b := newPageBrowser(t, ts)
			b.get("/register")
			return b, "/register", form("email", "csrf-register@example.org")
		}, func(t *testing.T, b *pageBrowser) {
			if n := ts.countMail(t, "csrf-register@example.org", foyer.MailConversion); n != 0 {
				t.Errorf("a refused registration sent %d mails", n)
			}
			if _, ok := b.cookies[cookieName]; ok {
				t.Error("a refused registration created an anonymous account")
			}
		}},
		{"ConvertComplete", func(t *testing.T) (*pageBrowser, string, url.Values) {
			b, s := anonymousBrowser(t, ts, "")
			ts.convert(t, s.Token, "csrf-convert@example.org")
			link := ts.mailToken(t, "csrf-convert@example.org", foyer.MailConversion)
			b.get("/convert/complete?token=" + link)
			return b, "/convert/complete", form("token", link, "password", password)
		}, func(t *testing.T, b *pageBrowser) {
			check(t, ts.do("GET", "/v1/me", "", withCookie(b.cookies[cookieName])...), 200, "", `"anonymous":true`)
		}},
		{"PasswordForgot", func(t *testing.T) (*pageBrowser, string, url.Values) {
			b := newPageBrowser(t, ts)
			b.get("/password/forgot")
			return b, "/password/forgot", form("email", "owner@example.org")
		}, func(t *testing.T, b *pageBrowser) {
			if n := ts.countMail(t, "owner@example.org", foyer.MailPasswordReset); n != 0 {
				t.Errorf("a refused request sent %d reset mails", n)
			}
		}},
		{"PasswordReset", func(t *testing.T) (*pageBrowser, string, url.Values) {
			ts.register(t, "csrf-reset@example.org", "")
			check(t, ts.do("POST", "/v1/password/forgot", `{"email":"csrf-reset@example.org"}`, jsonType...), 202, "")
			link := ts.mailToken(t, "csrf-reset@example.org", foyer.MailPasswordReset)
			b := newPageBrowser(t, ts)
			b.get("/password/reset?token=" + link)
			return b, "/password/reset", form("token", link, "password", "a new battery horse")
		}, func(t *testing.T, b *pageBrowser) {
			ts.login(t, "csrf-reset@example.org", password)
		}},
		{"Merge", func(t *testing.T) (*pageBrowser, string, url.Values) {
			b, _ := anonymousBrowser(t, ts, `{"b":2}`)
			b.get("/login")
			checkRedirect(t, b.post("/login", form("email", "owner@example.org", "password", password)), "/merge")
			b.get("/merge")
			return b, "/merge", url.Values{}
		}, func(t *testing.T, b *pageBrowser) {
			check(t, ts.do("GET", "/v1/me", "", withCookie(b.cookies[cookieName])...), 200, "", `"anonymous":true`, `"b":2`)
		}},
		{"Logout", func(t *testing.T) (*pageBrowser, string, url.Values) {
			b := newPageBrowser(t, ts)
			b.get("/login")
			checkRedirect(t, b.post("/login", form("email", "owner@example.org", "password", password)), "/login")
			b.get("/login")
			return b, "/logout", url.Values{}
		}, func(t *testing.T, b *pageBrowser) {
			check(t, ts.do("GET", "/v1/me", "", withSession(b.cookies[sessionCookieName])...), 200, "")
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, path, fields := tt.prepare(t)
			token := b.token
			if token == "" || b.cookies[formCookieName] == "" {
				t.Fatalf("the page of %s gave no form token", path)
			}
			withToken := func(tok string) url.Values {
				f := url.Values{"csrf": {tok}}
				for k, v := range fields {
					f[k] = v
				}
				return f
			}

			t.Run("ErrNoToken", func(t *testing.T) {
				f := withToken("")
				delete(f, "csrf")
				w := b.send("POST", path, f)
				if path == "/logout" {
					checkPage(t, w, 403, foyer.EForbidden)
				} else {
					checkPage(t, w, 403, foyer.EForbidden, `name="csrf"`)
				}
				tt.unchanged(t, b)
			})
			t.Run("ErrOtherBrowsersToken", func(t *testing.T) {
				checkPage(t, b.post(path, withToken(other.token)), 403, foyer.EForbidden)
				tt.unchanged(t, b)
			})
			t.Run("ErrNoFormCookie", func(t *testing.T) {
				saved := b.cookies[formCookieName]
				delete(b.cookies, formCookieName)
				checkPage(t, b.post(path, withToken(token)), 403, foyer.EForbidden)
				b.cookies[formCookieName] = saved
				tt.unchanged(t, b)
			})
			t.Run("ErrCrossSite", func(t *testing.T) {
				checkPage(t, b.post(path, withToken(token), crossSite...), 403, foyer.EForbidden, "another site")
				tt.unchanged(t, b)
			})
			t.Run("ErrSameSiteOtherOrigin", func(t *testing.T) {
				checkPage(t, b.post(path, withToken(token), sameSiteOtherOrigin...), 403, foyer.EForbidden, "another site")
				tt.unchanged(t, b)
			})
		})
	}
}

// TestPagesOpenRedirect checks that the pages send a person on only to a
// path of this server or to an exact entry of the redirect allowlist.
func TestPagesOpenRedirect(t *testing.T) {
	const allowed = "https://app.example.com/welcome"
	ts := setup(t, func(c *foyerhttp.Config) { c.RedirectAllowlist = []string{allowed} })
	ts.register(t, "ann@example.org", "")
	tests := []struct {
		name     string
		returnTo string
		want     string // where sign-in goes; "" for the default
	}{
		{"OKPath", "/account", "/account"},
		{"OKPathWithQuery", "/account?tab=1&x=%2F#top", "/account?tab=1&x=%2F#top"},
		{"OKEncodedSlashesStayAPath", "/%2F%2Fevil.test", "/%2F%2Fevil.test"},
		{"OKAllowlisted", allowed, allowed},
		{"ErrAllowlistedWithQuery", allowed + "?next=https://evil.test", ""},
		{"ErrAllowlistedWithSlash", allowed + "/", ""},
		{"ErrAllowlistedPrefixHost", "https://app.example.com.evil.test/welcome", ""},
		{"ErrAbsolute", "https://evil.test/", ""},
		{"ErrSchemeRelative", "//evil.test/", ""},
		{"ErrBackslash", "/\\evil.test", ""},
		{"ErrBackslashes", "\\\\evil.test", ""},
		{"ErrTab", "/\t/evil.test", ""},
		{"ErrHeaderInjection", "/login\r\nSet-Cookie: a=b", ""},
		{"ErrNoSlash", "http:evil.test", ""},
		{"ErrJavaScript", "javascript:alert(1)", ""},
		{"ErrLeadingSpace", " /account", ""},
		{"ErrTooLong", "/" + strings.Repeat("a", 3000), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := newPageBrowser(t, ts)
			w := b.get("/login?return_to=" + url.QueryEscape(tt.returnTo))
			checkPage(t, w, 200, "")
			hidden := `name="return_to" value="` + html.EscapeString(tt.returnTo) + `"`
			if got := strings.Contains(w.Body.String(), `name="return_to"`); got != (tt.want != "") || (got && !strings.Contains(w.Body.String(), hidden)) {
				t.Fatalf("the form's return_to: want %q, body %s", tt.want, clip(w.Body.String()))
			}
			want := tt.want
			if want == "" {
				want = "/login"
			}
			checkRedirect(t, b.post("/login", form("email", "ann@example.org", "password", password, "return_to", tt.returnTo)), want)

			// The same check guards the merge page and sign-out.
			w = b.get("/merge?return_to=" + url.QueryEscape(tt.returnTo))
			if tt.want == "" && strings.Contains(w.Body.String(), "evil") {
				t.Fatalf("the merge page links to %q: %s", tt.returnTo, clip(w.Body.String()))
			}
			want = tt.want
			if want == "" {
				want = "/login?notice=signed-out"
			}
			checkRedirect(t, b.post("/logout", form("return_to", tt.returnTo)), want)
		})
	}

	t.Run("OKMergeKeepsReturnTo", func(t *testing.T) {
		b, _ := anonymousBrowser(t, ts, `{"a":1}`)
		b.get("/login")
		checkRedirect(t, b.post("/login", form("email", "ann@example.org", "password", password, "return_to", allowed)), "/merge?return_to="+url.QueryEscape(allowed))
		checkPage(t, b.get("/merge?return_to="+url.QueryEscape(allowed)), 200, "", `href="`+allowed+`"`)
		checkRedirect(t, b.post("/merge", form("return_to", allowed)), allowed)
	})

	t.Run("OKSignInFirst", func(t *testing.T) {
		b := newPageBrowser(t, ts)
		checkRedirect(t, b.get("/merge?return_to=%2Faccount"), "/login?return_to="+url.QueryEscape("/merge?return_to=%2Faccount"))
		checkRedirect(t, b.get("/merge?return_to=https://evil.test"), "/login?return_to=%2Fmerge")
	})

	t.Run("OKFormActionAllowsTheAllowlist", func(t *testing.T) {
		w := newPageBrowser(t, ts).get("/login")
		csp := w.Header().Get("Content-Security-Policy")
		if !strings.Contains(csp, "form-action 'self' https://app.example.com;") || !strings.Contains(csp, "default-src 'none'") {
			t.Fatalf("Content-Security-Policy = %q", csp)
		}
	})

	// Browsers apply form-action to the redirects after a post: signing
	// in or merging for an OpenID Connect app ends at the app's redirect
	// URI, signing out for one at its post-logout URI. Those pages name
	// that one app's origin, and no other app's.
	t.Run("OKFormActionAllowsTheRequestsApp", func(t *testing.T) {
		apps := sqlite.NewAppService(ts.db)
		shop := &foyer.App{Name: "Shop", Type: foyer.AppPublic, RedirectURIs: []string{"https://shop.example.net/cb"}, PostLogoutRedirectURIs: []string{"http://localhost:9012/out"}}
		other := &foyer.App{Name: "Other", Type: foyer.AppPublic, RedirectURIs: []string{"https://other.example.org/cb"}, PostLogoutRedirectURIs: []string{"https://other.example.org/out"}}
		for _, a := range []*foyer.App{shop, other} {
			if err := apps.CreateApp(t.Context(), a); err != nil {
				t.Fatal(err)
			}
		}
		const shopOrigin, signedOutOrigin = "https://shop.example.net", "http://localhost:9012"
		formAction := func(t *testing.T, w *httptest.ResponseRecorder) []string {
			t.Helper()
			csp := w.Header().Get("Content-Security-Policy")
			_, after, ok := strings.Cut(csp, "form-action ")
			directive, _, _ := strings.Cut(after, ";")
			if !ok || !strings.Contains(csp, "frame-ancestors 'none'") {
				t.Fatalf("Content-Security-Policy = %q", csp)
			}
			return strings.Fields(directive)
		}
		want := func(t *testing.T, name string, w *httptest.ResponseRecorder, origins ...string) {
			t.Helper()
			checkPage(t, w, 200, "")
			if got, want := formAction(t, w), append([]string{"'self'", "https://app.example.com"}, origins...); !slices.Equal(got, want) {
				t.Errorf("%s: form-action %q, want %q", name, got, want)
			}
		}

		// The app sends the browser to the provider, which sends it to
		// sign in with the request to continue.
		b := newPageBrowser(t, ts)
		w := b.get("/oauth2/authorize?" + url.Values{
			"client_id": {shop.ID}, "redirect_uri": {"https://shop.example.net/cb"}, "response_type": {"code"},
			"scope": {"openid"}, "state": {"st"}, "code_challenge": {"E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"}, "code_challenge_method": {"S256"},
		}.Encode())
		continued := w.Header().Get("Location")
		if w.Code != http.StatusFound || !strings.HasPrefix(continued, "/oauth2/continue?id=") {
			t.Fatalf("authorize = %d to %q, want a redirect to continue; body %s", w.Code, continued, clip(w.Body.String()))
		}
		w = b.get(continued)
		signIn := w.Header().Get("Location")
		if want := "/login?return_to=" + url.QueryEscape(continued); w.Code != http.StatusFound || signIn != want {
			t.Fatalf("continue = %d to %q, want a redirect to %q", w.Code, signIn, want)
		}
		want(t, "sign-in page", b.get(signIn), shopOrigin)
		viaMerge := "/merge?return_to=" + url.QueryEscape(continued)
		want(t, "sign-in page before the merge page", b.get("/login?return_to="+url.QueryEscape(viaMerge)), shopOrigin)
		want(t, "registration page", b.get("/register?return_to="+url.QueryEscape(continued)))
		want(t, "sign-in page for an unknown request", b.get("/login?return_to="+url.QueryEscape("/oauth2/continue?id=nope")))
		deep := continued
		for range 5 {
			deep = "/login?return_to=" + url.QueryEscape(deep)
		}
		want(t, "sign-in page nested too deep", b.get(deep))

		// Signing in ends at the app, the origin the page allowed.
		b.get(signIn)
		checkRedirect(t, b.post("/login", form("email", "ann@example.org", "password", password, "return_to", continued)), continued)
		w = b.get(continued)
		if loc, _ := url.Parse(w.Header().Get("Location")); w.Code != http.StatusFound || loc == nil || loc.Scheme+"://"+loc.Host != shopOrigin {
			t.Fatalf("continue after signing in = %d to %q, want a redirect to %s", w.Code, w.Header().Get("Location"), shopOrigin)
		}
		want(t, "merge page", b.get(viaMerge), shopOrigin)

		// Signing out for the app ends at its post-logout URI.
		want(t, "sign-out page", b.get("/logout?"+url.Values{"client_id": {shop.ID}, "post_logout_redirect_uri": {"http://localhost:9012/out"}}.Encode()), signedOutOrigin)
		want(t, "sign-out page of an unregistered URI", b.get("/logout?"+url.Values{"client_id": {shop.ID}, "post_logout_redirect_uri": {"https://other.example.org/out"}}.Encode()))
	})
}

// TestPagesOtherBrowser checks DESIGN §2.3 on the pages: a conversion link
// signs in only the browser that holds the anonymous credential of that
// very account; completed anywhere else, the account is saved and the
// person is asked to sign in.
func TestPagesOtherBrowser(t *testing.T) {
	t.Run("OKSameBrowserSignedIn", func(t *testing.T) {
		ts := setup(t)
		b, s := anonymousBrowser(t, ts, `{"level":3}`)
		b.get("/register")
		checkPage(t, b.post("/register", form("email", "Ann@Example.org")), 200, "", "Check your email", "ann@example.org")
		link := ts.mailToken(t, "ann@example.org", foyer.MailConversion)
		b.get("/convert/complete?token=" + link)
		w := b.post("/convert/complete", form("token", link, "password", password))
		checkPage(t, w, 200, "", "Your progress is saved", "ann@example.org")
		if _, ok := b.cookies[cookieName]; ok {
			t.Error("the anonymous cookie was not cleared")
		}
		sc := b.cookies[sessionCookieName]
		if sc == "" {
			t.Fatalf("no session cookie in %q", w.Header().Values("Set-Cookie"))
		}
		check(t, ts.do("GET", "/v1/me", "", withSession(sc)...), 200, "", `"id":"`+s.User.ID+`"`, `"anonymous":false`, `"level":3`)
	})

	t.Run("OKOtherBrowserOnlySaved", func(t *testing.T) {
		ts := setup(t)
		a, s := anonymousBrowser(t, ts, `{"level":3}`)
		a.get("/register")
		checkPage(t, a.post("/register", form("email", "ann@example.org")), 200, "")
		link := ts.mailToken(t, "ann@example.org", foyer.MailConversion)

		phone := newPageBrowser(t, ts)
		phone.get("/convert/complete?token=" + link)
		w := phone.post("/convert/complete", form("token", link, "password", password))
		checkPage(t, w, 200, "", "Your account is saved — sign in", `href="/login"`)
		if cookie(w, sessionCookieName) != nil || cookie(w, cookieName) != nil {
			t.Fatalf("a stranger's browser got cookies: %q", w.Header().Values("Set-Cookie"))
		}
		u := ts.findUser(t, s.User.ID)
		if u.Anonymous || u.Email != "ann@example.org" || string(u.Data) != `{"level":3}` {
			t.Fatalf("the account was not saved as it was: %+v", u)
		}
		// The conversion revoked the anonymous token of the first browser.
		check(t, ts.do("GET", "/v1/me", "", withCookie(s.Token)...), 401, "unauthorized")
	})

	t.Run("OKAnotherAnonymousAccountNotSignedIn", func(t *testing.T) {
		ts := setup(t)
		a, s := anonymousBrowser(t, ts, "")
		a.get("/register")
		a.post("/register", form("email", "ann@example.org"))
		link := ts.mailToken(t, "ann@example.org", foyer.MailConversion)

		c, other := anonymousBrowser(t, ts, `{"mine":true}`)
		c.get("/convert/complete?token=" + link)
		w := c.post("/convert/complete", form("token", link, "password", password))
		checkPage(t, w, 200, "", "Your account is saved — sign in")
		if cookie(w, sessionCookieName) != nil || cookie(w, cookieName) != nil {
			t.Fatalf("the other visitor's browser got cookies: %q", w.Header().Values("Set-Cookie"))
		}
		if u := ts.findUser(t, s.User.ID); u.Anonymous {
			t.Fatal("the account was not saved")
		}
		check(t, ts.do("GET", "/v1/me", "", withCookie(other.Token)...), 200, "", `"id":"`+other.User.ID+`"`, `"anonymous":true`)
	})
}

// TestPagesRegister checks registration on the hosted page.
func TestPagesRegister(t *testing.T) {
	t.Run("OKWithoutAnonymousCredential", func(t *testing.T) {
		ts := setup(t)
		b := newPageBrowser(t, ts)
		b.get("/register")
		checkPage(t, b.post("/register", form("email", "ann@example.org")), 200, "", "Check your email", "1 hour")
		anon := b.cookies[cookieName]
		if anon == "" {
			t.Fatal("no anonymous account was made for the browser")
		}
		var me userDoc
		w := ts.do("GET", "/v1/me", "", withCookie(anon)...)
		check(t, w, 200, "", `"anonymous":true`, `"pending_email":"ann@example.org"`)
		decode(t, w, &me)

		link := ts.mailToken(t, "ann@example.org", foyer.MailConversion)
		b.get("/convert/complete?token=" + link)
		checkPage(t, b.post("/convert/complete", form("token", link, "password", password)), 200, "", "Your progress is saved")
		check(t, ts.do("GET", "/v1/me", "", withSession(b.cookies[sessionCookieName])...), 200, "", `"id":"`+me.ID+`"`, `"anonymous":false`)
	})

	t.Run("OKSameAnswerForExistingAddress", func(t *testing.T) {
		ts := setup(t)
		ts.register(t, "taken@example.org", "")
		answer := func(email string) comparableResponse {
			b := newPageBrowser(t, ts)
			b.get("/register")
			w := b.post("/register", form("email", email))
			checkPage(t, w, 200, "")
			r := normalize(w)
			r.Body = strings.ReplaceAll(r.Body, b.token, "TOKEN")
			r.Body = strings.ReplaceAll(r.Body, email, "EMAIL")
			var cookies []string
			for _, c := range w.Result().Cookies() {
				cookies = append(cookies, c.Name+" "+strconv.Itoa(c.MaxAge))
			}
			r.Header.Del("Set-Cookie")
			r.Header["Set-Cookie"] = cookies
			return r
		}
		fresh, taken := answer("fresh@example.org"), answer("taken@example.org")
		if diff := cmp.Diff(fresh, taken); diff != "" {
			t.Fatalf("the answers differ (-new +existing):\n%s", diff)
		}
		if ts.countMail(t, "taken@example.org", foyer.MailConversionExisting) != 1 || ts.countMail(t, "fresh@example.org", foyer.MailConversion) != 1 {
			t.Fatal("the right mails were not queued")
		}
	})

	t.Run("ErrInvalidEmail", func(t *testing.T) {
		ts := setup(t)
		b := newPageBrowser(t, ts)
		b.get("/register")
		checkPage(t, b.post("/register", form("email", "not an address")), 400, foyer.EInvalid, `aria-invalid="true"`, `value="not an address"`)
		if _, ok := b.cookies[cookieName]; ok {
			t.Error("an invalid address created an anonymous account")
		}
	})

	t.Run("ErrSignedIn", func(t *testing.T) {
		ts := setup(t)
		ts.register(t, "ann@example.org", "")
		b := newPageBrowser(t, ts)
		b.get("/login")
		b.post("/login", form("email", "ann@example.org", "password", password))
		checkPage(t, b.get("/register"), 200, "", "You already have an account", "ann@example.org")
		checkPage(t, b.post("/register", form("email", "bob@example.org")), 409, foyer.EConflict)
		if n := ts.countMail(t, "bob@example.org", foyer.MailConversion); n != 0 {
			t.Fatalf("a signed-in browser started a conversion: %d mails", n)
		}
	})

	t.Run("ErrRateLimited", func(t *testing.T) {
		ts := setup(t)
		b, _ := anonymousBrowser(t, ts, "")
		b.get("/register")
		for i := range foyerhttp.ConversionsPerUser {
			checkPage(t, b.post("/register", form("email", "ann"+strconv.Itoa(i)+"@example.org")), 200, "")
		}
		w := b.post("/register", form("email", "ann@example.org"))
		checkPage(t, w, 429, foyer.ERateLimited)
		if s, err := strconv.Atoi(w.Header().Get("Retry-After")); err != nil || s < 1 {
			t.Fatalf("Retry-After = %q", w.Header().Get("Retry-After"))
		}
	})
}

// TestPagesConvertErrors checks that a link that cannot be used, and a
// password outside the allowed length, are explained on the page with
// their stable code, and change nothing.
func TestPagesConvertErrors(t *testing.T) {
	ts := setup(t)
	b, s := anonymousBrowser(t, ts, "")
	ts.convert(t, s.Token, "ann@example.org")
	old := ts.mailToken(t, "ann@example.org", foyer.MailConversion)
	ts.convert(t, s.Token, "ann@example.org")
	link := ts.mailToken(t, "ann@example.org", foyer.MailConversion)
	b.get("/convert/complete?token=" + link)

	t.Run("ErrWeakPassword", func(t *testing.T) {
		checkPage(t, b.post("/convert/complete", form("token", link, "password", "short")), 400, foyer.EInvalidPassword,
			`name="token" value="`+link+`"`, `aria-invalid="true"`, "8 to 256 characters")
	})
	t.Run("ErrSuperseded", func(t *testing.T) {
		checkPage(t, b.post("/convert/complete", form("token", old, "password", password)), 400, foyer.ETokenInvalid, "replaced by a newer one", `href="/register"`)
	})
	t.Run("ErrExpired", func(t *testing.T) {
		ts.clock.Advance(foyerhttp.DefaultConversionTTL + time.Second)
		defer ts.clock.Advance(-foyerhttp.DefaultConversionTTL - time.Second)
		checkPage(t, b.post("/convert/complete", form("token", link, "password", password)), 400, foyer.ETokenInvalid, "expired")
	})
	if u := ts.findUser(t, s.User.ID); !u.Anonymous {
		t.Fatal("a failed completion changed the user")
	}
	t.Run("ErrUsed", func(t *testing.T) {
		checkPage(t, b.post("/convert/complete", form("token", link, "password", password)), 200, "")
		other := newPageBrowser(t, ts)
		other.get("/convert/complete?token=" + link)
		checkPage(t, other.post("/convert/complete", form("token", link, "password", password)), 400, foyer.ETokenInvalid)
	})
	t.Run("ErrIdentifierTaken", func(t *testing.T) {
		c, cs := anonymousBrowser(t, ts, "")
		d, ds := anonymousBrowser(t, ts, "")
		ts.convert(t, cs.Token, "shared@example.org")
		cLink := ts.mailToken(t, "shared@example.org", foyer.MailConversion)
		ts.convert(t, ds.Token, "shared@example.org")
		dLink := ts.mailToken(t, "shared@example.org", foyer.MailConversion)
		d.get("/convert/complete?token=" + dLink)
		checkPage(t, d.post("/convert/complete", form("token", dLink, "password", password)), 200, "")
		c.get("/convert/complete?token=" + cLink)
		checkPage(t, c.post("/convert/complete", form("token", cLink, "password", password)), 409, foyer.EIdentifierTaken, `href="/login"`)
		if u := ts.findUser(t, cs.User.ID); !u.Anonymous {
			t.Fatal("the account that lost the race changed")
		}
	})
}

// TestPagesSignInAndMerge checks sign-in on the hosted page and the merge
// confirmation it leads to.
func TestPagesSignInAndMerge(t *testing.T) {
	ts := setup(t)
	owner := ts.register(t, "ann@example.org", `{"level":7,"theme":"dark"}`)

	t.Run("OKMerge", func(t *testing.T) {
		b, s := anonymousBrowser(t, ts, `{"level":2,"cart":[1]}`)
		b.get("/login")
		checkRedirect(t, b.post("/login", form("email", "Ann@Example.org", "password", password)), "/merge")
		if b.cookies[sessionCookieName] == "" {
			t.Fatal("signing in set no session cookie")
		}
		checkPage(t, b.get("/merge"), 200, "", "Bring your progress into your account?", "2 saved items", "ann@example.org", "Not now")
		if u := ts.findUser(t, s.User.ID); !u.Anonymous {
			t.Fatal("showing the merge page changed the anonymous account")
		}
		checkPage(t, b.post("/merge", nil), 200, "", "Your progress is in your account")
		if _, ok := b.cookies[cookieName]; ok {
			t.Error("the merged account's cookie was not cleared")
		}
		check(t, ts.do("GET", "/v1/me", "", withSession(b.cookies[sessionCookieName])...), 200, "",
			`"id":"`+owner+`"`, `"level":7`, `"cart":[1]`, `"theme":"dark"`)
		check(t, ts.do("GET", "/v1/aliases/"+s.User.ID, "", ts.api()...), 200, "", owner)
		checkPage(t, b.get("/merge"), 200, "", "Nothing to bring in")
		checkPage(t, b.post("/merge", nil), 409, foyer.EConflict)
	})

	t.Run("OKNotNowChangesNothing", func(t *testing.T) {
		b, s := anonymousBrowser(t, ts, `{"x":1}`)
		b.get("/login")
		checkRedirect(t, b.post("/login", form("email", "ann@example.org", "password", password, "return_to", "/home")), "/merge?return_to=%2Fhome")
		checkPage(t, b.get("/merge?return_to=%2Fhome"), 200, "", `href="/home">Not now`)
		check(t, ts.do("GET", "/v1/me", "", withCookie(s.Token)...), 200, "", `"anonymous":true`, `"x":1`)
	})

	t.Run("OKNoDataNoMerge", func(t *testing.T) {
		b, _ := anonymousBrowser(t, ts, "")
		b.get("/login")
		checkRedirect(t, b.post("/login", form("email", "ann@example.org", "password", password)), "/login")
		checkPage(t, b.get("/login"), 200, "", "You are signed in", "ann@example.org", `action="/logout"`)
	})

	t.Run("ErrWrongPassword", func(t *testing.T) {
		b := newPageBrowser(t, ts)
		b.get("/login")
		w := b.post("/login", form("email", "ann@example.org", "password", "wrong horse battery"))
		checkPage(t, w, 401, foyer.EInvalidCredentials, `value="ann@example.org"`, `aria-invalid="true"`)
		if cookie(w, sessionCookieName) != nil {
			t.Fatal("a failed sign-in set the session cookie")
		}
		checkPage(t, b.post("/login", form("email", "nobody", "password", password)), 400, foyer.EInvalid)
	})

	t.Run("ErrThrottled", func(t *testing.T) {
		b := newPageBrowser(t, ts)
		b.remote = "198.51.100.30:1234"
		b.get("/login")
		for i := range foyerhttp.LoginFailuresPerAccount {
			checkPage(t, b.post("/login", form("email", "victim@example.org", "password", "guess "+strconv.Itoa(i))), 401, foyer.EInvalidCredentials)
		}
		w := b.post("/login", form("email", "victim@example.org", "password", "guess"))
		checkPage(t, w, 429, foyer.ERateLimited)
		if w.Header().Get("Retry-After") == "" {
			t.Fatal("no Retry-After")
		}
	})

	t.Run("OKLogout", func(t *testing.T) {
		b, _ := anonymousBrowser(t, ts, "")
		b.get("/login")
		b.post("/login", form("email", "ann@example.org", "password", password))
		session := b.cookies[sessionCookieName]
		b.get("/login")
		checkRedirect(t, b.post("/logout", nil), "/login?notice=signed-out")
		if len(b.cookies[sessionCookieName]+b.cookies[cookieName]) != 0 {
			t.Fatalf("cookies left after signing out: %v", b.cookies)
		}
		check(t, ts.do("GET", "/v1/me", "", withSession(session)...), 401, "unauthorized")
		checkPage(t, b.get("/login?notice=signed-out"), 200, "", "You are signed out.", `action="/login"`)
	})
}

// TestPagesPasswordReset checks the forgot and reset pages.
func TestPagesPasswordReset(t *testing.T) {
	ts := setup(t)
	ts.register(t, "ann@example.org", "")

	t.Run("OKSameAnswerForUnknownAddress", func(t *testing.T) {
		answer := func(email string) string {
			b := newPageBrowser(t, ts)
			b.get("/password/forgot")
			w := b.post("/password/forgot", form("email", email))
			checkPage(t, w, 200, "", "Check your email")
			return strings.ReplaceAll(strings.ReplaceAll(w.Body.String(), b.token, "TOKEN"), email, "EMAIL")
		}
		if known, unknown := answer("ann@example.org"), answer("nobody@example.org"); known != unknown {
			t.Fatalf("the answers differ:\n%s\n%s", known, unknown)
		}
	})

	t.Run("OKReset", func(t *testing.T) {
		signedIn := newPageBrowser(t, ts)
		signedIn.get("/login")
		signedIn.post("/login", form("email", "ann@example.org", "password", password))
		session := signedIn.cookies[sessionCookieName]

		b := newPageBrowser(t, ts)
		b.get("/password/forgot")
		b.post("/password/forgot", form("email", "ann@example.org"))
		link := ts.mailToken(t, "ann@example.org", foyer.MailPasswordReset)
		b.get("/password/reset?token=" + link)
		checkPage(t, b.post("/password/reset", form("token", link, "password", "short")), 400, foyer.EInvalidPassword, `name="token"`)
		w := b.post("/password/reset", form("token", link, "password", "a new battery horse"))
		checkPage(t, w, 200, "", "Your password was changed", `href="/login"`)
		if cookie(w, sessionCookieName) != nil {
			t.Fatal("a reset signed the browser in")
		}
		check(t, ts.do("GET", "/v1/me", "", withSession(session)...), 401, "unauthorized")
		checkPage(t, b.post("/password/reset", form("token", link, "password", "a new battery horse")), 400, foyer.ETokenInvalid, `href="/password/forgot"`)
		ts.login(t, "ann@example.org", "a new battery horse")
	})

	t.Run("ErrInvalidEmail", func(t *testing.T) {
		b := newPageBrowser(t, ts)
		b.get("/password/forgot")
		checkPage(t, b.post("/password/forgot", form("email", "ann")), 400, foyer.EInvalid)
	})
}

// TestPagesForm checks what every form post must be: an urlencoded form
// within the body limit.
func TestPagesForm(t *testing.T) {
	ts := setup(t)
	b := newPageBrowser(t, ts)
	b.get("/login")
	for _, path := range []string{"/login", "/register", "/convert/complete", "/password/forgot", "/password/reset", "/merge", "/logout"} {
		t.Run(strings.ReplaceAll(path, "/", "_"), func(t *testing.T) {
			checkPage(t, b.send("POST", path, nil, "Content-Type", "application/json"), 415, foyer.EUnsupportedMediaType)
			big := form("csrf", b.token, "email", strings.Repeat("a", foyerhttp.DefaultMaxBodyBytes))
			checkPage(t, b.send("POST", path, big), 413, foyer.ETooLarge)
		})
	}
	t.Run("ErrNotAllowed", func(t *testing.T) {
		if w := b.send("DELETE", "/logout", nil); w.Code != http.StatusMethodNotAllowed {
			t.Fatalf("DELETE /logout = %d, want 405", w.Code)
		}
	})
	t.Run("LogoutPageChangesNothing", func(t *testing.T) {
		w := b.get("/logout")
		if w.Code != http.StatusOK || !strings.Contains(w.Body.String(), "You are signed out") {
			t.Fatalf("GET /logout without a session = %d:\n%s", w.Code, w.Body)
		}
	})
}

// TestPagesHeaders checks the headers of every page.
func TestPagesHeaders(t *testing.T) {
	ts := setup(t)
	b := newPageBrowser(t, ts)
	for _, path := range []string{"/login", "/register", "/password/forgot", "/convert/complete?token=x", "/password/reset?token=x"} {
		w := b.get(path)
		checkPage(t, w, 200, "")
		h := w.Header()
		for name, want := range map[string]string{
			"Content-Type":           "text/html; charset=utf-8",
			"X-Frame-Options":        "DENY",
			"Referrer-Policy":        "no-referrer",
			"Cache-Control":          "no-store",
			"X-Content-Type-Options": "nosniff",
		} {
			if got := h.Get(name); got != want {
				t.Errorf("%s: %s = %q, want %q", path, name, got, want)
			}
		}
		if csp := h.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") || !strings.Contains(csp, "frame-ancestors 'none'") {
			t.Errorf("%s: Content-Security-Policy = %q", path, csp)
		}
		c := cookie(w, formCookieName)
		if c == nil || !c.HttpOnly || !c.Secure || c.SameSite != http.SameSiteLaxMode || c.MaxAge <= 0 || c.MaxAge > 3600 {
			t.Errorf("%s: form cookie %+v", path, c)
		}
	}
	w := b.get("/assets/foyer.css")
	if w.Code != 200 || !strings.HasPrefix(w.Header().Get("Content-Type"), "text/css") || !strings.Contains(w.Body.String(), ":focus-visible") {
		t.Fatalf("stylesheet: %d %q", w.Code, w.Header().Get("Content-Type"))
	}
}

// TestPagesAccessible checks, in every state a person can reach, what the
// pages promise: a language, one h1, a label, an id and an autocomplete
// hint for every field, and an error announced and tied to its field.
func TestPagesAccessible(t *testing.T) {
	ts := setup(t)
	ts.register(t, "ann@example.org", "")
	var pages []*httptest.ResponseRecorder
	add := func(w *httptest.ResponseRecorder) { pages = append(pages, w) }

	b := newPageBrowser(t, ts)
	add(b.get("/login"))
	add(b.post("/login", form("email", "ann@example.org", "password", "wrong password")))
	add(b.get("/register"))
	add(b.post("/register", form("email", "nope")))
	add(b.post("/register", form("email", "bob@example.org")))
	add(b.get("/password/forgot"))
	add(b.post("/password/forgot", form("email", "ann@example.org")))
	add(b.get("/password/reset?token=x"))
	add(b.post("/password/reset", form("token", "x", "password", "short")))
	add(b.post("/password/reset", form("token", "x", "password", password)))
	add(b.get("/convert/complete?token=x"))
	add(b.get("/convert/complete"))
	add(b.post("/convert/complete", nil, "Origin", "https://evil.test", "Sec-Fetch-Site", "cross-site"))
	a, _ := anonymousBrowser(t, ts, `{"a":1}`)
	a.get("/login")
	a.post("/login", form("email", "ann@example.org", "password", password))
	add(a.get("/merge"))
	add(a.post("/merge", nil))
	add(a.get("/login"))

	tag := regexp.MustCompile(`<(input|label)\b[^>]*>`)
	attr := func(t, name string) (string, bool) {
		m := regexp.MustCompile(`\b` + name + `="([^"]*)"`).FindStringSubmatch(t)
		if m == nil {
			return "", strings.Contains(t, " "+name+">") || strings.Contains(t, " "+name+" ")
		}
		return m[1], true
	}
	for i, w := range pages {
		body := w.Body.String()
		if !strings.Contains(body, `<html lang="en">`) {
			t.Errorf("page %d has no language", i)
		}
		if n := strings.Count(body, "<h1"); n != 1 {
			t.Errorf("page %d has %d h1: %s", i, n, clip(body))
		}
		if !strings.Contains(body, `name="viewport"`) || !strings.Contains(body, `href="#main"`) {
			t.Errorf("page %d lacks the viewport or the skip link", i)
		}
		labels := map[string]bool{}
		for _, m := range tag.FindAllStringSubmatch(body, -1) {
			if m[1] == "label" {
				if f, ok := attr(m[0], "for"); ok {
					labels[f] = true
				}
			}
		}
		for _, m := range tag.FindAllStringSubmatch(body, -1) {
			if m[1] != "input" {
				continue
			}
			if typ, _ := attr(m[0], "type"); typ == "hidden" {
				continue
			}
			id, _ := attr(m[0], "id")
			if id == "" || !labels[id] {
				t.Errorf("page %d: %s has no label", i, m[0])
			}
			if _, ok := attr(m[0], "autocomplete"); !ok {
				t.Errorf("page %d: %s has no autocomplete hint", i, m[0])
			}
			if _, invalid := attr(m[0], "aria-invalid"); invalid {
				if d, _ := attr(m[0], "aria-describedby"); !strings.Contains(d, "form-error") || !strings.Contains(body, `id="form-error"`) {
					t.Errorf("page %d: %s is invalid without its error", i, m[0])
				}
			}
		}
		if strings.Contains(body, "data-code=") && !strings.Contains(body, `role="alert"`) {
			t.Errorf("page %d shows an error that is not announced", i)
		}
	}
}

// TestPagesTheme checks that a pages directory replaces templates and the
// stylesheet file by file, and that a broken theme is refused.
func TestPagesTheme(t *testing.T) {
	write := func(t *testing.T, dir, name, text string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	t.Run("OK", func(t *testing.T) {
		dir := t.TempDir()
		write(t, dir, "login.html", `{{define "content"}}<h1>Welcome back to {{.SiteName}}</h1><form method="post" action="/login">{{template "csrf" .}}</form>{{end}}`)
		write(t, dir, "foyer.css", "body { color: rebeccapurple; }\n")
		write(t, dir, "README.txt", "Files other than templates and stylesheets are ignored.\n")
		if err := (foyerhttp.Config{PagesDir: dir}).CheckPages(); err != nil {
			t.Fatal(err)
		}
		ts := setup(t, func(c *foyerhttp.Config) { c.PagesDir = dir })
		b := newPageBrowser(t, ts)
		checkPage(t, b.get("/login"), 200, "", "Welcome back to foyer.test", `lang="en"`, `name="csrf"`)
		checkPage(t, b.get("/register"), 200, "", "Save your progress")
		if w := b.get("/assets/foyer.css"); !strings.Contains(w.Body.String(), "rebeccapurple") {
			t.Fatalf("stylesheet = %s", w.Body)
		}
	})
	tests := []struct {
		name, file, text, want string
	}{
		{"ErrUnknownFile", "logn.html", "x", "unknown file logn.html"},
		{"ErrUnknownStylesheet", "theme.css", "x", "unknown file theme.css"},
		{"ErrParse", "merge.html", `{{define "content"}}{{if}}{{end}}`, "page template"},
		{"ErrExecute", "reset.html", `{{define "content"}}{{.Nope}}{{end}}`, "reset.html"},
		{"ErrLayoutCallsUnknownTemplate", "layout.html", `<html>{{template "body" .}}</html>`, "page template"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			write(t, dir, tt.file, tt.text)
			err := (foyerhttp.Config{PagesDir: dir}).CheckPages()
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("CheckPages = %v, want an error about %q", err, tt.want)
			}
			defer func() {
				if recover() == nil {
					t.Fatal("NewServer accepted a broken theme")
				}
			}()
			setup(t, func(c *foyerhttp.Config) { c.PagesDir = dir })
		})
	}
	t.Run("ErrMissingDir", func(t *testing.T) {
		if err := (foyerhttp.Config{PagesDir: filepath.Join(t.TempDir(), "none")}).CheckPages(); err == nil {
			t.Fatal("a missing pages directory was accepted")
		}
	})
	t.Run("ErrAllowlist", func(t *testing.T) {
		for _, u := range []string{"/path", "app.example.com", "ftp://app.example.com/", "https://user@app.example.com/", "https://app.example.com/#x"} {
			if err := (foyerhttp.Config{RedirectAllowlist: []string{u}}).CheckPages(); err == nil {
				t.Errorf("the allowlist entry %q was accepted", u)
			}
		}
	})
}

// FuzzReturnTo checks that whatever return_to a sign-in page is given, the
// only one it keeps is a path on this server or the allowlisted URL.
func FuzzReturnTo(f *testing.F) {
	const allowed = "https://app.example.com/welcome"
	for _, s := range []string{"/account", allowed, "//evil.test", "/\\evil.test", "https://evil.test", "/%2F%2Fx", "\x00/", "/a\nb", "javascript:x", "/.././/x", "http:/x"} {
		f.Add(s)
	}
	ts := setup(f, func(c *foyerhttp.Config) { c.RedirectAllowlist = []string{allowed} })
	base, _ := url.Parse(testIssuer + "/login")
	field := regexp.MustCompile(`name="return_to" value="([^"]*)"`)
	f.Fuzz(func(t *testing.T, returnTo string) {
		w := ts.do("GET", "/login?return_to="+url.QueryEscape(returnTo), "")
		if w.Code != http.StatusOK {
			t.Fatalf("status %d", w.Code)
		}
		m := field.FindStringSubmatch(w.Body.String())
		if m == nil {
			return
		}
		kept := html.UnescapeString(m[1])
		if kept == allowed {
			return
		}
		u, err := base.Parse(kept)
		if err != nil || u.Scheme != "https" || u.Host != "foyer.test" || !strings.HasPrefix(kept, "/") || strings.HasPrefix(kept, "//") || strings.ContainsAny(kept, "\\\t\r\n") {
			t.Fatalf("kept return_to %q leaves the server (%v)", kept, u)
		}
	})
}

// isPageOperation reports whether op is one of the hosted pages, which
// answer HTML rather than the JSON API's error shape.
func isPageOperation(op *openapi3.Operation) bool { return slices.Contains(op.Tags, "pages") }

// pageChecker returns a check for pageBrowser that validates each page
// request and response against the document, as apiChecker.do does for
// the JSON API, and records the status as covered. The request must
// follow the document unless req says otherwise.
func (a *apiChecker) pageChecker(t testing.TB, req *reqCheck) func(r *http.Request, w *httptest.ResponseRecorder) {
	return func(r *http.Request, w *httptest.ResponseRecorder) {
		t.Helper()
		name := r.Method + " " + r.URL.Path
		opts := &openapi3filter.Options{
			IncludeResponseStatus:   true,
			AuthenticationFunc:      authenticateOpenAPI,
			SchemaValidationOptions: []openapi3.SchemaValidationOption{openapi3.DisableSchemaErrorDetails()},
		}
		route, params, err := a.router.FindRoute(r)
		if err != nil {
			t.Fatalf("%s is not in the document: %v", name, err)
		}
		if !isPageOperation(route.Operation) {
			t.Fatalf("%s is not a page of the document", name)
		}
		in := &openapi3filter.RequestValidationInput{Request: r, PathParams: params, Route: route, Options: opts}
		err = openapi3filter.ValidateRequest(t.Context(), in)
		switch {
		case *req == reqValid && err != nil:
			t.Errorf("%s: the document refuses the request: %v", name, err)
		case *req == reqInvalid && err == nil:
			t.Errorf("%s: the document accepts a request that breaks it", name)
		}
		*req = reqValid
		out := &openapi3filter.ResponseValidationInput{RequestValidationInput: in, Status: w.Code, Header: w.Header(), Options: opts}
		out.SetBodyBytes(w.Body.Bytes())
		if err := openapi3filter.ValidateResponse(t.Context(), out); err != nil {
			t.Errorf("%s: response %d does not match the document: %v\nheaders %v", name, w.Code, err, w.Header())
		}
		a.checkHeaders(t, name, route.Operation, w)
		op := route.Method + " " + route.Path
		if a.covered[op] == nil {
			a.covered[op] = map[int]bool{}
		}
		a.covered[op][w.Code] = true
	}
}

// walkPages walks every hosted page through the real handler, validating
// each request and response against the document, through every status
// the document gives them.
func walkPages(t *testing.T, a *apiChecker, ts *testServer) {
	req := reqValid
	n := 0
	browser := func() *pageBrowser {
		n++
		b := newPageBrowser(t, ts)
		b.remote = "203.0.113." + strconv.Itoa(n) + ":1234"
		b.check = a.pageChecker(t, &req)
		return b
	}
	invalid := func() { req = reqInvalid }
	const pw = "correct horse battery"

	// Pages without a session.
	b := browser()
	checkPage(t, b.get("/assets/foyer.css"), 200, "")
	checkPage(t, b.get("/login"), 200, "")
	checkPage(t, b.get("/password/forgot"), 200, "")
	checkRedirect(t, b.get("/merge"), "/login?return_to=%2Fmerge")
	invalid()
	checkPage(t, b.get("/convert/complete"), 400, foyer.ETokenInvalid)
	invalid()
	checkPage(t, b.get("/password/reset"), 400, foyer.ETokenInvalid)

	// Registration, completed in the same browser.
	checkPage(t, b.get("/register"), 200, "")
	checkPage(t, b.post("/register", form("email", "pages@example.com")), 200, "")
	checkPage(t, b.post("/register", form("email", "pages")), 400, foyer.EInvalid)
	invalid()
	checkPage(t, b.send("POST", "/register", form("email", "pages@example.com")), 403, foyer.EForbidden)
	link := ts.mailToken(t, "pages@example.com", foyer.MailConversion)
	checkPage(t, b.get("/convert/complete?token="+url.QueryEscape(link)), 200, "")
	checkPage(t, b.post("/convert/complete", form("token", link, "password", "short")), 400, foyer.EInvalidPassword)
	invalid()
	checkPage(t, b.send("POST", "/convert/complete", form("token", link, "password", pw)), 403, foyer.EForbidden)
	checkPage(t, b.post("/convert/complete", form("token", link, "password", pw)), 200, "")
	checkPage(t, b.post("/convert/complete", form("token", link, "password", pw)), 400, foyer.ETokenInvalid)
	checkPage(t, b.get("/login"), 200, "")
	checkPage(t, b.get("/register"), 200, "")
	checkPage(t, b.post("/register", form("email", "pages2@example.com")), 409, foyer.EConflict)
	checkPage(t, b.get("/merge"), 200, "")
	checkPage(t, b.post("/merge", nil), 409, foyer.EConflict)
	invalid()
	checkPage(t, b.send("POST", "/logout", form()), 403, foyer.EForbidden)
	checkRedirect(t, b.post("/logout", nil), "/login?notice=signed-out")

	// Two visitors ask for the same address; the second to complete finds
	// it taken.
	c, d := browser(), browser()
	c.get("/register")
	c.post("/register", form("email", "pages-shared@example.com"))
	cLink := ts.mailToken(t, "pages-shared@example.com", foyer.MailConversion)
	d.get("/register")
	d.post("/register", form("email", "pages-shared@example.com"))
	dLink := ts.mailToken(t, "pages-shared@example.com", foyer.MailConversion)
	checkPage(t, d.post("/convert/complete", form("token", dLink, "password", pw)), 200, "")
	checkPage(t, c.post("/convert/complete", form("token", cLink, "password", pw)), 409, foyer.EIdentifierTaken)

	// Sign-in, and the merge it offers.
	e := browser()
	e.get("/login")
	checkPage(t, e.post("/login", form("email", "pages@example.com", "password", "wrong horse battery")), 401, foyer.EInvalidCredentials)
	checkPage(t, e.post("/login", form("email", "pages", "password", pw)), 400, foyer.EInvalid)
	invalid()
	checkPage(t, e.send("POST", "/login", form("email", "pages@example.com", "password", pw)), 403, foyer.EForbidden)
	visitor := ts.signup(t)
	check(t, ts.do("PATCH", "/v1/me", `{"data":{"videos":3}}`, join(mergePatchType, withCookie(visitor.Token))...), 200, "")
	e.cookies[cookieName] = visitor.Token
	checkRedirect(t, e.post("/login", form("email", "pages@example.com", "password", pw)), "/merge")
	checkPage(t, e.get("/merge"), 200, "", "1 saved item")
	invalid()
	checkPage(t, e.send("POST", "/merge", form()), 403, foyer.EForbidden)
	checkPage(t, e.post("/merge", nil), 200, "")
	visitor = ts.signup(t)
	check(t, ts.do("PATCH", "/v1/me", `{"data":{"videos":4}}`, join(mergePatchType, withCookie(visitor.Token))...), 200, "")
	f := browser()
	f.cookies[cookieName] = visitor.Token
	f.get("/login")
	checkRedirect(t, f.post("/login", form("email", "pages@example.com", "password", pw, "return_to", "/videos")), "/merge?return_to=%2Fvideos")
	f.get("/merge?return_to=%2Fvideos")
	checkRedirect(t, f.post("/merge", form("return_to", "/videos")), "/videos")

	// Password reset.
	g := browser()
	g.get("/password/forgot")
	checkPage(t, g.post("/password/forgot", form("email", "pages@example.com")), 200, "")
	checkPage(t, g.post("/password/forgot", form("email", "pages")), 400, foyer.EInvalid)
	invalid()
	checkPage(t, g.send("POST", "/password/forgot", form("email", "pages@example.com")), 403, foyer.EForbidden)
	reset := ts.mailToken(t, "pages@example.com", foyer.MailPasswordReset)
	checkPage(t, g.get("/password/reset?token="+url.QueryEscape(reset)), 200, "")
	checkPage(t, g.post("/password/reset", form("token", reset, "password", "short")), 400, foyer.EInvalidPassword)
	invalid()
	checkPage(t, g.send("POST", "/password/reset", form("token", reset, "password", pw)), 403, foyer.EForbidden)
	checkPage(t, g.post("/password/reset", form("token", reset, "password", pw)), 200, "")

	// Limits, as on the API.
	h := browser()
	h.get("/login")
	for i := range foyerhttp.LoginFailuresPerAccount {
		checkPage(t, h.post("/login", form("email", "pages-victim@example.com", "password", "guess "+strconv.Itoa(i))), 401, foyer.EInvalidCredentials)
	}
	checkPage(t, h.post("/login", form("email", "pages-victim@example.com", "password", "guess")), 429, foyer.ERateLimited)
	for i := range foyerhttp.ConversionsPerUser + 1 {
		want, code := 200, ""
		if i == foyerhttp.ConversionsPerUser {
			want, code = 429, foyer.ERateLimited
		}
		checkPage(t, h.post("/register", form("email", "pages-often"+strconv.Itoa(i)+"@example.com")), want, code)
	}
	for i := range foyerhttp.ResetsPerAddress + 1 {
		want, code := 200, ""
		if i == foyerhttp.ResetsPerAddress {
			want, code = 429, foyer.ERateLimited
		}
		checkPage(t, h.post("/password/forgot", form("email", "pages-often@example.com")), want, code)
	}
	for i := range foyerhttp.RedeemFailuresPerIP {
		checkPage(t, h.post("/convert/complete", form("token", "guess"+strconv.Itoa(i), "password", pw)), 400, foyer.ETokenInvalid)
	}
	checkPage(t, h.post("/convert/complete", form("token", "guess", "password", pw)), 429, foyer.ERateLimited)
	checkPage(t, h.post("/password/reset", form("token", "guess", "password", pw)), 429, foyer.ERateLimited)

	// Every form: sent as another media type, or too large.
	big := strings.Repeat("a", foyerhttp.DefaultMaxBodyBytes)
	for _, op := range a.operations() {
		o := a.operation(op)
		if !isPageOperation(o) || o.RequestBody == nil {
			continue
		}
		_, path, _ := strings.Cut(op, " ")
		x := browser()
		x.get("/login")
		invalid()
		checkPage(t, x.send("POST", path, nil, "Content-Type", "text/plain"), 415, foyer.EUnsupportedMediaType)
		req = reqAny
		checkPage(t, x.post(path, form("email", big)), 413, foyer.ETooLarge)
		req = reqAny
		checkPage(t, x.sendBody("POST", path, "csrf=%zz", "Content-Type", "application/x-www-form-urlencoded"), 400, foyer.EInvalid)
	}
}
