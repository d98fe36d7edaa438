package client_test

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	foyer "github.com/foyerhq/foyer"
	"github.com/foyerhq/foyer/client"
	foyerhttp "github.com/foyerhq/foyer/http"
	"github.com/foyerhq/foyer/sqlite"
	"github.com/foyerhq/foyer/token"
)

// newApp serves an app behind m, as an app in front of Foyer would be:
//
//	GET  /browse  shows the visitor, if any, and creates nothing
//	POST /watch   creates the visitor's account if needed (EnsureUser) and
//	              counts one more watched video in their Foyer profile
//
// start is httptest.NewServer or httptest.NewTLSServer.
func newApp(t testing.TB, f *testFoyer, m *client.Middleware, start func(http.Handler) *httptest.Server) *httptest.Server {
	t.Helper()
	foyerClient := client.New(f.URL, "")
	mux := http.NewServeMux()
	mux.HandleFunc("GET /browse", func(w http.ResponseWriter, r *http.Request) {
		v := client.VisitorFromContext(r.Context())
		if v == nil {
			fmt.Fprint(w, "none")
			return
		}
		fmt.Fprintf(w, "%s anonymous=%v typ=%s", v.UserID, v.Anonymous, v.Claims.Type)
	})
	mux.HandleFunc("POST /watch", func(w http.ResponseWriter, r *http.Request) {
		v, err := client.EnsureUser(w, r)
		if err != nil {
			http.Error(w, foyer.ErrorCode(err), http.StatusInternalServerError)
			return
		}
		me, err := foyerClient.Me(r.Context(), v.Token)
		if err != nil {
			http.Error(w, foyer.ErrorCode(err), http.StatusInternalServerError)
			return
		}
		var data struct {
			Watched int `json:"watched"`
		}
		json.Unmarshal(me.Data, &data)
		patch := fmt.Appendf(nil, `{"watched":%d}`, data.Watched+1)
		if _, err := foyerClient.PatchMe(r.Context(), v.Token, foyer.UserUpdate{DataPatch: patch, IfVersion: &me.Version}); err != nil {
			http.Error(w, foyer.ErrorCode(err), http.StatusInternalServerError)
			return
		}
		if again := client.VisitorFromContext(r.Context()); again != v {
			http.Error(w, "VisitorFromContext does not return the ensured visitor", http.StatusInternalServerError)
			return
		}
		fmt.Fprintf(w, "%s watched=%d", v.UserID, data.Watched+1)
	})
	srv := start(m.Handler(mux))
	t.Cleanup(srv.Close)
	return srv
}

// browser is a visitor's browser: it keeps cookies.
type browser struct {
	t      testing.TB
	app    *httptest.Server
	hc     *http.Client
	header http.Header // sent with every request
}

func newBrowser(t testing.TB, app *httptest.Server) *browser {
	t.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &browser{t: t, app: app, hc: &http.Client{Transport: app.Client().Transport, Jar: jar}, header: http.Header{}}
}

// do sends a request and returns the response, whose body is read.
func (b *browser) do(method, path string) (*http.Response, string) {
	b.t.Helper()
	req, err := http.NewRequestWithContext(b.t.Context(), method, b.app.URL+path, nil)
	if err != nil {
		b.t.Fatal(err)
	}
	for k, vs := range b.header {
		req.Header[k] = vs
	}
	resp, err := b.hc.Do(req)
	if err != nil {
		b.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		b.t.Fatal(err)
	}
	return resp, strings.TrimSpace(string(body))
}

// visit sends a request that must succeed and returns the body.
func (b *browser) visit(method, path string) string {
	b.t.Helper()
	resp, body := b.do(method, path)
	if resp.StatusCode != http.StatusOK {
		b.t.Fatalf("%s %s: %s %s", method, path, resp.Status, body)
	}
	return body
}

// cookie returns the value of the browser's cookie named name, or "".
func (b *browser) cookie(name string) string {
	b.t.Helper()
	req, _ := http.NewRequest("GET", b.app.URL, nil)
	for _, c := range b.hc.Jar.Cookies(req.URL) {
		if c.Name == name {
			return c.Value
		}
	}
	return ""
}

// setCookie puts a cookie in the browser.
func (b *browser) setCookie(name, value string) {
	req, _ := http.NewRequest("GET", b.app.URL, nil)
	b.hc.Jar.SetCookies(req.URL, []*http.Cookie{{Name: name, Value: value, Path: "/"}})
}

func TestMiddlewareLazy(t *testing.T) {
	f := setup(t)
	api := f.client()
	app := newApp(t, f, &client.Middleware{Verifier: f.verifier(), BaseURL: f.URL}, httptest.NewServer)
	br := newBrowser(t, app)

	t.Run("OKBrowsingCreatesNothing", func(t *testing.T) {
		for range 5 {
			if got := br.visit("GET", "/browse"); got != "none" {
				t.Fatalf("browse = %q, want none", got)
			}
		}
		if n := countUsers(t, api, client.UserFilter{}); n != 0 {
			t.Fatalf("%d users after browsing, want 0", n)
		}
		if n := f.Requests("GET " + token.JWKSPath); n != 0 {
			t.Fatalf("%d key set fetches without a token, want 0", n)
		}
	})

	var id string
	t.Run("OKEnsureUserCreatesOne", func(t *testing.T) {
		got := br.visit("POST", "/watch")
		id, _, _ = strings.Cut(got, " ")
		if got != id+" watched=1" {
			t.Fatalf("watch = %q", got)
		}
		if n := countUsers(t, api, client.UserFilter{}); n != 1 {
			t.Fatalf("%d users after the first watch, want 1", n)
		}
		if br.cookie(client.DefaultCookieName) == "" {
			t.Fatal("no anonymous cookie after EnsureUser")
		}
	})

	t.Run("OKEnsureUserReuses", func(t *testing.T) {
		if got, want := br.visit("POST", "/watch"), id+" watched=2"; got != want {
			t.Fatalf("watch = %q, want %q", got, want)
		}
		if got, want := br.visit("GET", "/browse"), id+" anonymous=true typ=anonymous"; got != want {
			t.Fatalf("browse = %q, want %q", got, want)
		}
		if n := countUsers(t, api, client.UserFilter{}); n != 1 {
			t.Fatalf("%d users after the second watch, want 1", n)
		}
		u, err := api.GetUser(t.Context(), id)
		if err != nil {
			t.Fatal(err)
		}
		if !u.Anonymous || string(u.Data) != `{"watched":2}` {
			t.Fatalf("stored user %+v", u)
		}
	})

	t.Run("OKOtherVisitorGetsOwnAccount", func(t *testing.T) {
		other := newBrowser(t, app)
		if got := other.visit("GET", "/browse"); got != "none" {
			t.Fatalf("browse = %q, want none", got)
		}
		if got := other.visit("POST", "/watch"); strings.HasPrefix(got, id) || !strings.HasSuffix(got, " watched=1") {
			t.Fatalf("watch = %q", got)
		}
		if n := countUsers(t, api, client.UserFilter{Anonymous: ptr(true)}); n != 2 {
			t.Fatalf("%d users, want 2", n)
		}
	})

	t.Run("OKOneKeySetFetch", func(t *testing.T) {
		if n := f.Requests("GET " + token.JWKSPath); n != 1 {
			t.Fatalf("%d key set fetches, want 1", n)
		}
	})
}

func TestMiddlewareCookie(t *testing.T) {
	f := setup(t)
	tests := []struct {
		name       string
		cookieName string
		start      func(http.Handler) *httptest.Server
		wantSecure bool
	}{
		{"OKPlainHTTP", "", httptest.NewServer, false},
		{"OKTLS", "", httptest.NewTLSServer, true},
		{"OKHostPrefix", "__Host-app_visitor", httptest.NewServer, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := &client.Middleware{Verifier: f.verifier(), BaseURL: f.URL, CookieName: tt.cookieName, Now: f.Clock.Now}
			br := newBrowser(t, newApp(t, f, m, tt.start))
			resp, body := br.do("POST", "/watch")
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("watch: %s %s", resp.Status, body)
			}
			cookies := resp.Cookies()
			if len(cookies) != 1 {
				t.Fatalf("cookies %v, want one", cookies)
			}
			c := cookies[0]
			wantName := tt.cookieName
			if wantName == "" {
				wantName = client.DefaultCookieName
			}
			year := int(foyerhttp.DefaultAnonymousTTL / time.Second)
			if c.Name != wantName || c.Path != "/" || !c.HttpOnly || c.SameSite != http.SameSiteLaxMode || c.Secure != tt.wantSecure || c.MaxAge != year {
				t.Fatalf("cookie %s, want %s with Path=/ HttpOnly SameSite=Lax Secure=%v Max-Age=%d", resp.Header.Get("Set-Cookie"), wantName, tt.wantSecure, year)
			}
		})
	}
}

func TestMiddlewareRefusedTokens(t *testing.T) {
	f := setup(t)
	api := f.client()
	app := newApp(t, f, &client.Middleware{Verifier: f.verifier(), BaseURL: f.URL}, httptest.NewServer)
	a, err := client.New(f.URL, "").CreateAnonymousUser(t.Context(), nil)
	if err != nil {
		t.Fatal(err)
	}
	now := f.Clock.Now()
	sign := func(c *token.Claims) string {
		t.Helper()
		if c.Subject == "" && c.Type != token.TypeVended {
			c.Subject = a.User.ID
		}
		raw, err := f.Keys.Sign(c)
		if err != nil {
			t.Fatal(err)
		}
		return raw
	}
	// A keyring of another deployment with the same issuer and audience.
	otherDB := sqlite.NewDB(filepath.Join(t.TempDir(), "other.db"))
	if err := otherDB.Open(t.Context()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { otherDB.Close() })
	if err := otherDB.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	other := token.NewKeyring(sqlite.NewSigningKeyService(otherDB), token.Config{
		Issuer: f.URL, Audience: f.URL, EncryptionKey: make([]byte, 32), MaxTokenTTL: time.Hour, Now: f.Clock.Now,
	})
	if err := other.Load(t.Context()); err != nil {
		t.Fatal(err)
	}
	foreign, err := other.Sign(&token.Claims{Subject: a.User.ID, Type: token.TypeAnonymous, Anonymous: true, Expiry: now.Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	h, p, s := strings.Split(a.Token, ".")[0], strings.Split(a.Token, ".")[1], strings.Split(a.Token, ".")[2]
	payload, _ := base64.RawURLEncoding.DecodeString(p)
	tampered := h + "." + base64.RawURLEncoding.EncodeToString([]byte(strings.Replace(string(payload), a.User.ID, "0195a2b4-7c1d-7e2f-8a3b-4c5d6e7f8091", 1))) + "." + s

	expired := sign(&token.Claims{Type: token.TypeAnonymous, Anonymous: true, IssuedAt: now.Add(-2 * time.Hour), Expiry: now.Add(-time.Hour)})
	wrongAudience := sign(&token.Claims{Type: token.TypeAnonymous, Anonymous: true, Audience: []string{"https://other-app.example"}, Expiry: now.Add(time.Hour)})
	wrongIssuer := sign(&token.Claims{Type: token.TypeAnonymous, Anonymous: true, Issuer: "https://evil.example", Expiry: now.Add(time.Hour)})
	vended := sign(&token.Claims{Type: token.TypeVended, Expiry: now.Add(time.Hour)})
	session := sign(&token.Claims{Type: token.TypeSession, SessionID: "s1", Expiry: now.Add(time.Hour)})
	access := sign(&token.Claims{Type: token.TypeAccess, SessionID: "s1", Expiry: now.Add(time.Hour)})

	tests := []struct {
		name   string
		cookie string // the anonymous cookie
		sess   string // the session cookie
		auth   string // the Authorization header
		want   string // the visitor's typ, or "none"
	}{
		{"OKCookie", a.Token, "", "", "anonymous"},
		{"OKBearer", "", "", "Bearer " + a.Token, "anonymous"},
		{"OKBearerAccess", "", "", "Bearer " + access, "access"},
		{"OKSessionCookie", "", session, "", "session"},
		{"OKSessionCookieWins", a.Token, session, "", "session"},
		{"OKOtherAuthorizationScheme", a.Token, "", "Basic dXNlcjpwYXNz", "anonymous"},
		{"ErrTampered", tampered, "", "", "none"},
		{"ErrTamperedBearer", "", "", "Bearer " + tampered, "none"},
		{"ErrExpired", expired, "", "", "none"},
		{"ErrExpiredBearer", "", "", "Bearer " + expired, "none"},
		{"ErrWrongAudience", wrongAudience, "", "", "none"},
		{"ErrWrongAudienceBearer", "", "", "Bearer " + wrongAudience, "none"},
		{"ErrWrongIssuer", wrongIssuer, "", "", "none"},
		{"ErrForeignKey", foreign, "", "", "none"},
		{"ErrVendedCookie", vended, "", "", "none"},
		{"ErrVendedBearer", "", "", "Bearer " + vended, "none"},
		{"ErrSessionInAnonymousCookie", session, "", "", "none"},
		{"ErrAccessInAnonymousCookie", access, "", "", "none"},
		{"ErrSessionBearer", "", "", "Bearer " + session, "none"},
		{"ErrAnonymousInSessionCookie", "", a.Token, "", "none"},
		{"ErrGarbage", "not-a-token", "", "", "none"},
		{"ErrBadBearerDoesNotFallBack", a.Token, "", "Bearer nope", "none"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			br := newBrowser(t, app)
			if tt.cookie != "" {
				br.setCookie(client.DefaultCookieName, tt.cookie)
			}
			if tt.sess != "" {
				br.setCookie(client.DefaultSessionCookieName, tt.sess)
			}
			if tt.auth != "" {
				br.header.Set("Authorization", tt.auth)
			}
			got := br.visit("GET", "/browse")
			if tt.want == "none" {
				if got != "none" {
					t.Fatalf("browse = %q, want no visitor", got)
				}
				return
			}
			if !strings.HasPrefix(got, a.User.ID+" ") || !strings.HasSuffix(got, " typ="+tt.want) {
				t.Fatalf("browse = %q, want visitor %s with typ %s", got, a.User.ID, tt.want)
			}
		})
	}

	// With AppID set, an access token issued to another OpenID Connect
	// application is refused; this app's, and Foyer's own, are not.
	t.Run("AppID", func(t *testing.T) {
		scoped := newApp(t, f, &client.Middleware{Verifier: f.verifier(), BaseURL: f.URL, AppID: "app-1"}, httptest.NewServer)
		for _, tt := range []struct {
			name, token, want string
		}{
			{"OKOwnApp", sign(&token.Claims{Type: token.TypeAccess, SessionID: "s1", Expiry: now.Add(time.Hour), Extra: map[string]any{"client_id": "app-1"}}), "access"},
			{"OKFoyerSignIn", access, "access"},
			{"ErrOtherApp", sign(&token.Claims{Type: token.TypeAccess, SessionID: "s1", Expiry: now.Add(time.Hour), Extra: map[string]any{"client_id": "app-2"}}), "none"},
			{"ErrNotAString", sign(&token.Claims{Type: token.TypeAccess, SessionID: "s1", Expiry: now.Add(time.Hour), Extra: map[string]any{"client_id": 1}}), "none"},
		} {
			br := newBrowser(t, scoped)
			br.header.Set("Authorization", "Bearer "+tt.token)
			got := br.visit("GET", "/browse")
			if (tt.want == "none") != (got == "none") || (tt.want != "none" && !strings.HasSuffix(got, " typ="+tt.want)) {
				t.Errorf("%s: browse = %q, want %s", tt.name, got, tt.want)
			}
		}
	})

	t.Run("OKEnsureUserReplacesRefusedCookie", func(t *testing.T) {
		before := countUsers(t, api, client.UserFilter{})
		br := newBrowser(t, app)
		br.setCookie(client.DefaultCookieName, expired)
		got := br.visit("POST", "/watch")
		if strings.HasPrefix(got, a.User.ID) {
			t.Fatalf("watch = %q: the expired token's user was used", got)
		}
		if after := countUsers(t, api, client.UserFilter{}); after != before+1 {
			t.Fatalf("%d users, want %d", after, before+1)
		}
		if c := br.cookie(client.DefaultCookieName); c == expired || c == "" {
			t.Fatal("the refused cookie was not replaced")
		}
	})
}

// TestMiddlewareKeyRotation checks that a token of a key the verifier has
// not seen makes it fetch the key set once, and then verifies.
func TestMiddlewareKeyRotation(t *testing.T) {
	f := setup(t)
	api := f.client()
	app := newApp(t, f, &client.Middleware{Verifier: f.verifier(), BaseURL: f.URL, Now: f.Clock.Now}, httptest.NewServer)
	fetches := func() int { return f.Requests("GET " + token.JWKSPath) }

	before := newBrowser(t, app)
	before.visit("POST", "/watch")
	if n := fetches(); n != 1 {
		t.Fatalf("%d key set fetches for the first token, want 1", n)
	}

	if _, err := api.RotateKeys(t.Context()); err != nil {
		t.Fatal(err)
	}
	f.Clock.Advance(token.DefaultJWKSRefreshInterval)
	after := newBrowser(t, app)
	for range 3 {
		after.visit("POST", "/watch")
		after.visit("GET", "/browse")
		before.visit("GET", "/browse")
	}
	if got := after.visit("GET", "/browse"); !strings.HasSuffix(got, "typ=anonymous") {
		t.Fatalf("browse with the new key's token = %q", got)
	}
	if got := before.visit("GET", "/browse"); !strings.HasSuffix(got, "typ=anonymous") {
		t.Fatalf("browse with the retired key's token = %q", got)
	}
	if n := fetches(); n != 2 {
		t.Fatalf("%d key set fetches after one rotation, want 2", n)
	}
}

// TestMiddlewareRenewal checks that an active visitor's cookie slides and
// that a revoked one is dropped when it is due.
func TestMiddlewareRenewal(t *testing.T) {
	f := setup(t)
	api := f.client()
	app := newApp(t, f, &client.Middleware{Verifier: f.verifier(), BaseURL: f.URL, Now: f.Clock.Now}, httptest.NewServer)
	br := newBrowser(t, app)
	id, _, _ := strings.Cut(br.visit("POST", "/watch"), " ")
	first := br.cookie(client.DefaultCookieName)
	me := f.Requests("GET /v1/me")

	t.Run("OKNotDue", func(t *testing.T) {
		f.Clock.Advance(client.DefaultRenewAfter - time.Minute)
		br.visit("GET", "/browse")
		if n := f.Requests("GET /v1/me"); n != me {
			t.Fatalf("%d calls of GET /v1/me before renewal is due, want 0", n-me)
		}
	})

	t.Run("OKRenewed", func(t *testing.T) {
		f.Clock.Advance(2 * time.Minute)
		if got := br.visit("GET", "/browse"); !strings.HasPrefix(got, id+" ") {
			t.Fatalf("browse = %q, want visitor %s", got, id)
		}
		renewed := br.cookie(client.DefaultCookieName)
		if renewed == first || renewed == "" {
			t.Fatal("the anonymous cookie was not renewed")
		}
		u, err := api.GetUser(t.Context(), id)
		if err != nil {
			t.Fatal(err)
		}
		if !u.LastSeenAt.Equal(f.Clock.Now()) {
			t.Fatalf("last seen %v, want now %v", u.LastSeenAt, f.Clock.Now())
		}
		// The fresh token is not due: no more calls.
		me = f.Requests("GET /v1/me")
		br.visit("GET", "/browse")
		if n := f.Requests("GET /v1/me"); n != me {
			t.Fatalf("%d calls of GET /v1/me right after renewal, want 0", n-me)
		}
	})

	t.Run("OKRevokedDropped", func(t *testing.T) {
		if _, err := api.RevokeUser(t.Context(), id); err != nil {
			t.Fatal(err)
		}
		// Locally the token still verifies until renewal is due.
		if got := br.visit("GET", "/browse"); !strings.HasPrefix(got, id+" ") {
			t.Fatalf("browse = %q before renewal is due", got)
		}
		f.Clock.Advance(client.DefaultRenewAfter)
		if got := br.visit("GET", "/browse"); got != "none" {
			t.Fatalf("browse = %q with a revoked token, want none", got)
		}
		if c := br.cookie(client.DefaultCookieName); c != "" {
			t.Fatal("the revoked cookie was kept")
		}
	})

	t.Run("OKFoyerDownKeepsVisitor", func(t *testing.T) {
		down := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			http.Error(w, "down", http.StatusBadGateway)
		}))
		defer down.Close()
		a, err := client.New(f.URL, "").CreateAnonymousUser(t.Context(), nil)
		if err != nil {
			t.Fatal(err)
		}
		app := newApp(t, f, &client.Middleware{Verifier: f.verifier(), BaseURL: down.URL, Now: f.Clock.Now}, httptest.NewServer)
		br := newBrowser(t, app)
		br.setCookie(client.DefaultCookieName, a.Token)
		f.Clock.Advance(client.DefaultRenewAfter)
		if got := br.visit("GET", "/browse"); !strings.HasPrefix(got, a.User.ID+" ") {
			t.Fatalf("browse = %q while Foyer is down, want visitor %s", got, a.User.ID)
		}
		if c := br.cookie(client.DefaultCookieName); c != a.Token {
			t.Fatal("the cookie changed while Foyer was down")
		}
	})
}

// TestEnsureUserClientIP checks that Foyer's per-address limit on new
// anonymous accounts applies to the app's visitors, not to the app.
func TestEnsureUserClientIP(t *testing.T) {
	f := setup(t, func(c *foyerhttp.Config) {
		c.TrustForwardedFor = true
		c.AnonymousRateLimit = 1
	})
	m := &client.Middleware{
		Verifier: f.verifier(),
		BaseURL:  f.URL,
		// The app's proxy says who the visitor is.
		ClientIP: func(r *http.Request) string { return r.Header.Get("X-Visitor-IP") },
	}
	app := newApp(t, f, m, httptest.NewServer)
	tests := []struct {
		name       string
		ip         string
		wantStatus int
		wantBody   string
	}{
		{"OK", "203.0.113.1", http.StatusOK, "watched=1"},
		{"OKOtherAddress", "203.0.113.2", http.StatusOK, "watched=1"},
		{"ErrRateLimited", "203.0.113.1", http.StatusInternalServerError, foyer.ERateLimited},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			br := newBrowser(t, app)
			br.header.Set("X-Visitor-IP", tt.ip)
			resp, body := br.do("POST", "/watch")
			if resp.StatusCode != tt.wantStatus || !strings.Contains(body, tt.wantBody) {
				t.Fatalf("watch: %s %q, want %d %q", resp.Status, body, tt.wantStatus, tt.wantBody)
			}
		})
	}
}

func TestEnsureUserErrors(t *testing.T) {
	f := setup(t)
	api := f.client()
	ensure := func(m *client.Middleware) error {
		var err error
		h := m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			_, err = client.EnsureUser(w, r)
		}))
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("POST", "/watch", nil))
		return err
	}
	t.Run("ErrOutsideMiddleware", func(t *testing.T) {
		if _, err := client.EnsureUser(httptest.NewRecorder(), httptest.NewRequest("POST", "/", nil)); err == nil {
			t.Fatal("EnsureUser outside the middleware succeeded")
		}
	})
	t.Run("ErrNoBaseURL", func(t *testing.T) {
		if err := ensure(&client.Middleware{Verifier: f.verifier()}); err == nil {
			t.Fatal("EnsureUser without BaseURL succeeded")
		}
	})
	t.Run("ErrFoyerDown", func(t *testing.T) {
		down := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusServiceUnavailable)
			w.Write([]byte(`{"error":{"code":"unavailable","message":"The database is not available."}}`))
		}))
		defer down.Close()
		wantCode(t, ensure(&client.Middleware{Verifier: f.verifier(), BaseURL: down.URL}), foyer.EUnavailable)
	})
	t.Run("ErrVerifierMismatch", func(t *testing.T) {
		v := token.NewJWKSVerifier(token.JWKSConfig{BaseURL: f.URL, Audience: "https://someone-else.example"})
		wantCode(t, ensure(&client.Middleware{Verifier: v, BaseURL: f.URL}), foyer.EInternal)
	})
	t.Run("ErrNilVerifier", func(t *testing.T) {
		defer func() {
			if recover() == nil {
				t.Fatal("Handler with a nil Verifier did not panic")
			}
		}()
		(&client.Middleware{}).Handler(http.NotFoundHandler())
	})
	t.Run("OKNoVisitorWithoutMiddleware", func(t *testing.T) {
		if v := client.VisitorFromContext(t.Context()); v != nil {
			t.Fatalf("VisitorFromContext = %+v", v)
		}
		if n := countUsers(t, api, client.UserFilter{Anonymous: ptr(true)}); n != 1 {
			t.Fatalf("%d anonymous users, want the one of ErrVerifierMismatch", n)
		}
	})
}
