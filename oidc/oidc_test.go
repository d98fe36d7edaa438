package oidc_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	foyer "github.com/foyerhq/foyer"
	"github.com/foyerhq/foyer/argon2"
	"github.com/foyerhq/foyer/client"
	foyerhttp "github.com/foyerhq/foyer/http"
	"github.com/foyerhq/foyer/oidc"
	"github.com/foyerhq/foyer/sqlite"
	"github.com/foyerhq/foyer/token"
	"golang.org/x/oauth2"
)

// The relying parties of these tests live at rpURL; nothing listens
// there: the browser stops at the redirect to it and hands the code over.
const (
	rpURL        = "http://localhost:1/callback"
	rpLogoutURL  = "http://localhost:1/signed-out"
	testAudience = "foyer-test"
	testPassword = "correct horse battery staple"
	// goneText is what Continue tells a person whose request is gone.
	goneText = "This sign-in request has expired or is unknown."
)

// cheapPasswords keeps password hashing fast; the format and the checks
// are those of the real parameters.
var cheapPasswords = argon2.Params{Memory: 1024, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}

// clock is the store's, the keyring's, the server's and the provider's
// clock: real time plus an offset the test can advance. It runs, rather
// than standing still, because the op library stamps "iat" with the real
// time and because a frozen clock would hide the time that passes between
// a sign-in and the request it completes.
type clock struct {
	mu     sync.Mutex
	offset time.Duration
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Now().Add(c.offset)
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.offset += d
}

// stack is Foyer as `foyer serve` wires it, in-process: a SQLite store,
// the keyring, the HTTP server and the OpenID Connect provider on its
// paths, behind one httptest server.
type stack struct {
	url          string
	clock        *clock
	apps         foyer.AppService
	authRequests foyer.AuthRequestService
	sessions     foyer.SessionService
	mail         foyer.MailService
	apiKey       string
}

// setup starts a stack on a fresh SQLite file.
func setup(t testing.TB) *stack {
	t.Helper()
	ctx := t.Context()
	clk := &clock{}
	db := sqlite.NewDB(filepath.Join(t.TempDir(), "foyer.db"))
	db.Now = clk.Now
	if err := db.Open(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	// The server's URL is the issuer, so the handlers are mounted once it
	// is known. Its cleanup runs before the database's.
	mux := http.NewServeMux()
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)

	s := &stack{
		url:          srv.URL,
		clock:        clk,
		apps:         sqlite.NewAppService(db),
		authRequests: sqlite.NewAuthRequestService(db),
		sessions:     sqlite.NewSessionService(db),
		mail:         sqlite.NewMailService(db),
	}
	users := sqlite.NewUserService(db)
	keys := token.NewKeyring(sqlite.NewSigningKeyService(db), token.Config{
		Issuer:        srv.URL,
		Audience:      testAudience,
		Algorithm:     "ES256",
		EncryptionKey: bytes.Repeat([]byte{7}, 32),
		MaxTokenTTL:   400 * 24 * time.Hour,
		Now:           clk.Now,
	})
	if err := keys.Load(ctx); err != nil {
		t.Fatal(err)
	}
	logger := slog.New(slog.NewTextHandler(t.Output(), nil))
	public, _ := url.Parse(srv.URL)
	apiKeys := sqlite.NewAPIKeyService(db)
	hs := foyerhttp.NewServer(foyerhttp.Config{PublicURL: public, Audience: testAudience, Now: clk.Now, PasswordParams: cheapPasswords}, foyerhttp.Deps{
		Users:       users,
		Conversions: sqlite.NewConversionService(db),
		Credentials: sqlite.NewCredentialService(db),
		Merges:      sqlite.NewMergeService(db),
		Sessions:    s.sessions,
		Mail:        s.mail,
		Events:      sqlite.NewEventService(db),
		APIKeys:     apiKeys,
		Keys:        keys,
		Ping:        db.Ping,
		Apps:        s.apps,
	}, logger, nil)
	provider, err := oidc.New(oidc.Config{
		Issuer:    srv.URL,
		Audience:  testAudience,
		CryptoKey: sha256.Sum256([]byte("foyer oidc test crypto key")),
		Insecure:  true,
		SignedIn:  hs.SignedIn,
		Now:       clk.Now,
		Logger:    logger,
	}, oidc.Deps{Apps: s.apps, AuthRequests: s.authRequests, Sessions: s.sessions, Users: users, Keys: keys})
	if err != nil {
		t.Fatal(err)
	}
	// As serve.go mounts them.
	for _, path := range oidc.Paths() {
		h := http.MaxBytesHandler(provider, 64<<10)
		if slices.Contains(oidc.BrowserPaths(), path) {
			h = hs.ErrorPages(h)
		}
		mux.Handle(path, h)
	}
	mux.Handle("/", hs.Handler())

	secret, k := foyerhttp.NewAPIKey()
	k.Name = "test"
	if err := apiKeys.CreateAPIKey(ctx, k); err != nil {
		t.Fatal(err)
	}
	s.apiKey = secret
	return s
}

// call sends a JSON request to the API with bearer as its credential,
// checks the status and decodes the answer into out when out is not nil.
func (s *stack) call(t testing.TB, method, path, bearer, body string, wantStatus int, out any) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, s.url+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != wantStatus {
		t.Fatalf("%s %s = %d, want %d: %s", method, path, resp.StatusCode, wantStatus, b)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			t.Fatalf("%s %s: decode %s: %v", method, path, b, err)
		}
	}
}

// register makes a registered user with testPassword through the API: the
// server API vouches for the address, then the person sets a password
// with the reset link mailed to them. It returns the user's id.
func (s *stack) register(t testing.TB, email string) string {
	t.Helper()
	var u struct {
		ID string `json:"id"`
	}
	s.call(t, "POST", "/v1/users", s.apiKey, `{"email":"`+email+`","email_verified":true}`, http.StatusCreated, &u)
	s.resetPassword(t, email)
	return u.ID
}

// resetPassword sets testPassword again through the reset link, which
// ends every session of the account.
func (s *stack) resetPassword(t testing.TB, email string) {
	t.Helper()
	s.call(t, "POST", "/v1/password/forgot", "", `{"email":"`+email+`"}`, http.StatusAccepted, nil)
	msgs, err := s.mail.FindMail(t.Context(), &email, 10)
	if err != nil {
		t.Fatal(err)
	}
	i := slices.IndexFunc(msgs, func(m *foyer.Mail) bool { return m.Kind == foyer.MailPasswordReset })
	if i < 0 {
		t.Fatalf("no reset mail to %s", email)
	}
	var d foyer.MailData
	if err := json.Unmarshal(msgs[i].Data, &d); err != nil || d.Token == "" {
		t.Fatalf("reset mail to %s has no token: %s", email, msgs[i].Data)
	}
	s.call(t, "POST", "/v1/password/reset", "", `{"token":"`+d.Token+`","password":"`+testPassword+`"}`, http.StatusOK, nil)
}

// login signs in through POST /v1/login, Foyer's own sign-in, and returns
// its access and refresh tokens.
func (s *stack) login(t *testing.T, email string) (access, refresh string) {
	t.Helper()
	var res struct {
		AccessToken  string `json:"access_token"`
		RefreshToken string `json:"refresh_token"`
	}
	s.call(t, "POST", "/v1/login", "", `{"email":"`+email+`","password":"`+testPassword+`"}`, http.StatusOK, &res)
	if res.AccessToken == "" || res.RefreshToken == "" {
		t.Fatalf("POST /v1/login = %+v, want an access and a refresh token", res)
	}
	return res.AccessToken, res.RefreshToken
}

// rp is a registered application with what it needs as a relying party.
type rp struct {
	app    *foyer.App
	secret string
	conf   *oauth2.Config
}

// newApp registers a confidential app whose client the tests use with
// scopes.
func (s *stack) newApp(t testing.TB, scopes ...string) *rp {
	t.Helper()
	b := make([]byte, 32)
	rand.Read(b)
	secret := base64.RawURLEncoding.EncodeToString(b)
	sum := sha256.Sum256([]byte(secret))
	app := &foyer.App{
		Name:                   "RP",
		Type:                   foyer.AppConfidential,
		SecretHash:             sum[:],
		RedirectURIs:           []string{rpURL},
		PostLogoutRedirectURIs: []string{rpLogoutURL},
	}
	if err := s.apps.CreateApp(t.Context(), app); err != nil {
		t.Fatal(err)
	}
	return &rp{app: app, secret: secret, conf: &oauth2.Config{
		ClientID:     app.ID,
		ClientSecret: secret,
		RedirectURL:  rpURL,
		Scopes:       scopes,
		Endpoint: oauth2.Endpoint{
			AuthURL:   s.url + oidc.PathAuthorize,
			TokenURL:  s.url + oidc.PathToken,
			AuthStyle: oauth2.AuthStyleInHeader,
		},
	}}
}

// offline are the scopes of an app that keeps people signed in.
var offline = []string{"openid", "email", "offline_access"}

// browser is a person's browser: a cookie jar that makes one request at
// a time; follow walks redirects on Foyer and stops at one that leaves.
type browser struct {
	t    testing.TB
	http *http.Client
	base *url.URL
}

func newBrowser(t testing.TB, s *stack) *browser {
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	base, _ := url.Parse(s.url)
	return &browser{t: t, base: base, http: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}}}
}

// hop is one answer the browser got.
type hop struct {
	status   int
	url      *url.URL // the request's
	location *url.URL // the redirect's target, resolved; nil if none
	body     string
}

// left reports whether h sends the browser away from Foyer.
func (h hop) left(base *url.URL) bool { return h.location != nil && h.location.Host != base.Host }

func (b *browser) do(req *http.Request) hop {
	b.t.Helper()
	resp, err := b.http.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	h := hop{status: resp.StatusCode, url: resp.Request.URL, body: string(body)}
	if resp.StatusCode >= 300 && resp.StatusCode < 400 {
		loc, err := resp.Location()
		if err != nil {
			b.t.Fatalf("redirect from %s without a location: %v", h.url, err)
		}
		h.location = loc
	}
	return h
}

// get makes one GET request of raw (absolute, or a path on Foyer).
func (b *browser) get(raw string) hop {
	b.t.Helper()
	u, err := b.base.Parse(raw)
	if err != nil {
		b.t.Fatal(err)
	}
	req, err := http.NewRequestWithContext(b.t.Context(), "GET", u.String(), nil)
	if err != nil {
		b.t.Fatal(err)
	}
	return b.do(req)
}

// follow gets raw and follows redirects on Foyer; it returns the last
// answer: a page, or a redirect away from Foyer.
func (b *browser) follow(raw string) hop {
	b.t.Helper()
	h := b.get(raw)
	for n := 0; h.location != nil && !h.left(b.base); n++ {
		if n == 20 {
			b.t.Fatalf("more than 20 redirects, the last to %s", h.location)
		}
		h = b.get(h.location.String())
	}
	return h
}

// csrfField is the synchronizer token of a hosted page's form.
var csrfField = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// submit posts fields to path with the CSRF token of the page from, and
// follows the redirects.
func (b *browser) submit(from hop, path string, fields url.Values) hop {
	b.t.Helper()
	m := csrfField.FindStringSubmatch(from.body)
	if m == nil {
		b.t.Fatalf("no form on %s:\n%s", from.url, from.body)
	}
	fields.Set("csrf", html.UnescapeString(m[1]))
	req, err := http.NewRequestWithContext(b.t.Context(), "POST", b.base.JoinPath(path).String(), strings.NewReader(fields.Encode()))
	if err != nil {
		b.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	h := b.do(req)
	if h.location == nil || h.left(b.base) {
		return h
	}
	return b.follow(h.location.String())
}

// signIn fills in the sign-in form the browser is on, which goes on to
// the page's return_to.
func (b *browser) signIn(on hop, email string) hop {
	b.t.Helper()
	if on.url.Path != "/login" || !strings.Contains(on.body, `name="password"`) {
		b.t.Fatalf("browser is on %s (status %d), want the sign-in form:\n%s", on.url, on.status, on.body)
	}
	return b.submit(on, "/login", url.Values{"email": {email}, "password": {testPassword}, "return_to": {on.url.Query().Get("return_to")}})
}

// signInDirectly signs the browser in on the hosted sign-in page, as
// someone who came to Foyer on their own.
func (b *browser) signInDirectly(email string) {
	b.t.Helper()
	h := b.signIn(b.follow("/login?prompt=login"), email)
	if h.url.Path != "/login" || h.status != http.StatusOK || !strings.Contains(h.body, email) {
		b.t.Fatalf("signing in as %s ended on %s (status %d), want the signed-in page:\n%s", email, h.url, h.status, h.body)
	}
}

// authorize starts an authorization request of app in b with PKCE and
// follows it as far as Foyer goes.
func authorize(b *browser, app *rp, state, verifier string, opts ...oauth2.AuthCodeOption) hop {
	b.t.Helper()
	return b.follow(app.conf.AuthCodeURL(state, append([]oauth2.AuthCodeOption{oauth2.S256ChallengeOption(verifier)}, opts...)...))
}

// codeFrom returns the code of an authorization response, checking that
// it went to the app's redirect URI with state.
func codeFrom(t testing.TB, h hop, state string) string {
	t.Helper()
	if h.location == nil || !strings.HasPrefix(h.location.String(), rpURL+"?") {
		t.Fatalf("browser at %s (status %d, location %v), want a redirect to %s:\n%s", h.url, h.status, h.location, rpURL, h.body)
	}
	q := h.location.Query()
	if q.Get("state") != state || q.Get("code") == "" {
		t.Fatalf("authorization response %s, want a code and state %q", h.location, state)
	}
	return q.Get("code")
}

// requestID returns the id of the authorization request a sign-in or
// registration page h will continue.
func requestID(t *testing.T, h hop) string {
	t.Helper()
	back, err := url.Parse(h.url.Query().Get("return_to"))
	if err != nil || back.Path != oidc.PathContinue || back.Query().Get("id") == "" {
		t.Fatalf("page %s does not return to %s?id=…", h.url, oidc.PathContinue)
	}
	return back.Query().Get("id")
}

// signInThroughApp signs email in to app from b, which nobody is signed
// in on yet, and redeems the code.
func signInThroughApp(t *testing.T, b *browser, app *rp, email string) *oauth2.Token {
	t.Helper()
	state, verifier := randomString(), oauth2.GenerateVerifier()
	code := codeFrom(t, b.signIn(authorize(b, app, state, verifier), email), state)
	tok, err := app.conf.Exchange(t.Context(), code, oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatalf("exchange: %v", err)
	}
	return tok
}

// codeFor returns a code for app from b, whose person is already signed
// in, with the PKCE verifier it must be redeemed with.
func codeFor(t testing.TB, b *browser, app *rp) (code, verifier string) {
	t.Helper()
	state, verifier := randomString(), oauth2.GenerateVerifier()
	return codeFrom(t, authorize(b, app, state, verifier), state), verifier
}

func randomString() string {
	b := make([]byte, 12)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// oauthError returns the OAuth error code of a failed token request.
func oauthError(err error) string {
	if re, ok := errors.AsType[*oauth2.RetrieveError](err); ok {
		return re.ErrorCode
	}
	return ""
}

// refresh presents a refresh token for app.
func refresh(t *testing.T, app *rp, refreshToken string) (*oauth2.Token, error) {
	t.Helper()
	return app.conf.TokenSource(t.Context(), &oauth2.Token{RefreshToken: refreshToken}).Token()
}

// tokenResponse is what a raw token or revocation request got.
type tokenResponse struct {
	status int
	Error  string `json:"error"`
	Access string `json:"access_token"`
}

// postForm posts form to path on the provider with app's credentials in
// the Authorization header (none when app is nil).
func (s *stack) postForm(t *testing.T, path string, app *rp, form url.Values) tokenResponse {
	t.Helper()
	res, err := s.send(t.Context(), path, app, form)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// send is postForm for goroutines other than the test's, which must not
// call t.Fatal.
func (s *stack) send(ctx context.Context, path string, app *rp, form url.Values) (tokenResponse, error) {
	req, err := http.NewRequestWithContext(ctx, "POST", s.url+path, strings.NewReader(form.Encode()))
	if err != nil {
		return tokenResponse{}, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if app != nil {
		req.SetBasicAuth(url.QueryEscape(app.app.ID), url.QueryEscape(app.secret))
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return tokenResponse{}, err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	res := tokenResponse{status: resp.StatusCode}
	if b := bytes.TrimSpace(b); len(b) > 0 && string(b) != "null" {
		if err := json.Unmarshal(b, &res); err != nil {
			return res, fmt.Errorf("POST %s: %d %s: %w", path, resp.StatusCode, b, err)
		}
	}
	return res, nil
}

// refreshRaw sends one refresh token grant for app.
func (s *stack) refreshRaw(t *testing.T, app *rp, refreshToken string) tokenResponse {
	t.Helper()
	return s.postForm(t, oidc.PathToken, app, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {refreshToken}})
}

// revoke asks the revocation endpoint, as app, to revoke tok.
func (s *stack) revoke(t *testing.T, app *rp, tok, hint string) tokenResponse {
	t.Helper()
	form := url.Values{"token": {tok}}
	if hint != "" {
		form.Set("token_type_hint", hint)
	}
	return s.postForm(t, oidc.PathRevoke, app, form)
}

// userinfo calls the userinfo endpoint with tok and returns the status
// and the subject it answered with.
func (s *stack) userinfo(t *testing.T, tok string) (int, string, http.Header) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), "GET", s.url+oidc.PathUserinfo, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var info struct {
		Subject string `json:"sub"`
	}
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode == http.StatusOK {
		if err := json.Unmarshal(b, &info); err != nil {
			t.Fatalf("userinfo %s: %v", b, err)
		}
	}
	return resp.StatusCode, info.Subject, resp.Header
}

// appSessions returns the live sessions of userID signed in through app.
func (s *stack) appSessions(t *testing.T, userID, appID string) []*foyer.Session {
	t.Helper()
	all, err := s.sessions.FindSessions(t.Context(), userID)
	if err != nil {
		t.Fatal(err)
	}
	return slices.DeleteFunc(all, func(x *foyer.Session) bool { return x.AppID != appID })
}

// claimsOf returns the payload of a JWT, unverified: the tests that look
// at claims verify the signature elsewhere.
func claimsOf(t *testing.T, raw string) map[string]any {
	t.Helper()
	parts := strings.Split(raw, ".")
	if len(parts) != 3 {
		t.Fatalf("%q is not a JWT", raw)
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// idToken returns the ID token of tok.
func idToken(t *testing.T, tok *oauth2.Token) string {
	t.Helper()
	raw, _ := tok.Extra("id_token").(string)
	if raw == "" {
		t.Fatal("no ID token")
	}
	return raw
}

// authTime returns the auth_time of the ID token of tok.
func authTime(t *testing.T, tok *oauth2.Token) time.Time {
	t.Helper()
	v, ok := claimsOf(t, idToken(t, tok))["auth_time"].(float64)
	if !ok {
		t.Fatal("ID token without auth_time")
	}
	return time.Unix(int64(v), 0)
}

// TestContinue covers the hand-off between an authorization request and
// the hosted pages: requests that are gone, registration, re-sign-in for
// prompt=login and max_age, and a request that another account already
// completed.
func TestContinue(t *testing.T) {
	t.Parallel()

	t.Run("ErrUnknownRequest", func(t *testing.T) {
		t.Parallel()
		s := setup(t)
		b := newBrowser(t, s)
		for _, id := range []string{"", "nope", "01900000-0000-7000-8000-000000000000", "' OR 1=1 --"} {
			h := b.get(oidc.PathContinue + "?id=" + url.QueryEscape(id))
			if h.status != http.StatusBadRequest || h.location != nil || !strings.Contains(h.body, goneText) {
				t.Fatalf("continue with id %q: status %d, location %v, body %q; want 400 saying %q", id, h.status, h.location, h.body, goneText)
			}
		}
	})

	t.Run("ErrExpired", func(t *testing.T) {
		t.Parallel()
		s := setup(t)
		email := "ann@example.com"
		s.register(t, email)
		app := s.newApp(t, offline...)
		b := newBrowser(t, s)
		login := authorize(b, app, randomString(), oauth2.GenerateVerifier())
		id := requestID(t, login)
		if _, err := s.authRequests.FindAuthRequest(t.Context(), id); err != nil {
			t.Fatalf("request %s before it expired: %v", id, err)
		}
		s.clock.Advance(oidc.DefaultAuthRequestTTL + time.Second)
		// The person signs in too late: the sign-in works, the request
		// it was for does not.
		h := b.signIn(login, email)
		if h.url.Path != oidc.PathContinue || h.status != http.StatusBadRequest || h.location != nil || !strings.Contains(h.body, goneText) {
			t.Fatalf("continue of an expired request: %s status %d, location %v, body %q; want 400 saying %q", h.url, h.status, h.location, h.body, goneText)
		}
	})

	t.Run("PromptCreate", func(t *testing.T) {
		t.Parallel()
		s := setup(t)
		app := s.newApp(t, offline...)
		b := newBrowser(t, s)
		h := b.get(app.conf.AuthCodeURL(randomString(), oauth2.S256ChallengeOption(oauth2.GenerateVerifier()), oauth2.SetAuthURLParam("prompt", "create")))
		if h.location == nil || h.location.Path != oidc.PathContinue {
			t.Fatalf("authorize: status %d, location %v; want a redirect to %s", h.status, h.location, oidc.PathContinue)
		}
		id := h.location.Query().Get("id")
		h = b.get(h.location.String())
		back := oidc.PathContinue + "?id=" + url.QueryEscape(id)
		if h.status != http.StatusFound || h.location == nil || h.location.Path != "/register" || h.location.RawQuery != (url.Values{"return_to": {back}}).Encode() {
			t.Fatalf("continue with prompt=create: status %d, location %v; want /register?return_to=%s", h.status, h.location, back)
		}
		page := b.follow(h.location.String())
		if page.status != http.StatusOK || !strings.Contains(page.body, html.EscapeString(back)) {
			t.Fatalf("registration page %s: status %d, want 200 carrying return_to %s:\n%s", page.url, page.status, back, page.body)
		}
	})

	// A browser signed in long enough ago for max_age is sent to sign in
	// again; one signed in recently enough is not.
	t.Run("MaxAge", func(t *testing.T) {
		t.Parallel()
		s := setup(t)
		email := "ann@example.com"
		id := s.register(t, email)
		app := s.newApp(t, offline...)
		b := newBrowser(t, s)
		first := signInThroughApp(t, b, app, email)

		code, verifier := codeFor(t, b, app)
		if _, err := app.conf.Exchange(t.Context(), code, oauth2.VerifierOption(verifier)); err != nil {
			t.Fatalf("exchange without max_age: %v", err)
		}
		state, verifier := randomString(), oauth2.GenerateVerifier()
		code = codeFrom(t, authorize(b, app, state, verifier, oauth2.SetAuthURLParam("max_age", "600")), state)
		if _, err := app.conf.Exchange(t.Context(), code, oauth2.VerifierOption(verifier)); err != nil {
			t.Fatalf("exchange with max_age=600 a moment after signing in: %v", err)
		}

		s.clock.Advance(2 * time.Minute)
		state, verifier = randomString(), oauth2.GenerateVerifier()
		login := authorize(b, app, state, verifier, oauth2.SetAuthURLParam("max_age", "60"))
		if login.url.Path != "/login" || login.url.Query().Get("prompt") != "login" || !strings.Contains(login.body, `name="password"`) {
			t.Fatalf("max_age=60 two minutes after signing in: %s (status %d), want the sign-in form with prompt=login", login.url, login.status)
		}
		code = codeFrom(t, b.signIn(login, email), state)
		tok, err := app.conf.Exchange(t.Context(), code, oauth2.VerifierOption(verifier))
		if err != nil {
			t.Fatalf("exchange after signing in again: %v", err)
		}
		if sub := claimsOf(t, idToken(t, tok))["sub"]; sub != id {
			t.Fatalf("ID token sub %v, want %s", sub, id)
		}
		if got, before := authTime(t, tok), authTime(t, first); !got.After(before) {
			t.Fatalf("auth_time %v after signing in again, want later than the first sign-in's %v", got, before)
		}
	})

	// prompt=login and max_age=0 send a signed-in browser to sign in
	// again, and the new sign-in completes the request: it is newer than
	// the request, however long the way back took.
	for _, tt := range []struct{ name, param, value string }{
		{"PromptLogin", "prompt", "login"},
		{"MaxAgeZero", "max_age", "0"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := setup(t)
			email := "ann@example.com"
			s.register(t, email)
			app := s.newApp(t, offline...)
			b := newBrowser(t, s)
			first := signInThroughApp(t, b, app, email)

			s.clock.Advance(time.Minute)
			state, verifier := randomString(), oauth2.GenerateVerifier()
			login := authorize(b, app, state, verifier, oauth2.SetAuthURLParam(tt.param, tt.value))
			if login.url.Path != "/login" || login.url.Query().Get("prompt") != "login" || !strings.Contains(login.body, `name="password"`) {
				t.Fatalf("%s=%s in a signed-in browser: %s (status %d), want the sign-in form with prompt=login", tt.param, tt.value, login.url, login.status)
			}
			// The time a person takes to come back does not matter.
			s.clock.Advance(3 * time.Second)
			code := codeFrom(t, b.signIn(login, email), state)
			tok, err := app.conf.Exchange(t.Context(), code, oauth2.VerifierOption(verifier))
			if err != nil {
				t.Fatalf("exchange after signing in again: %v", err)
			}
			if got, before := authTime(t, tok), authTime(t, first); !got.After(before) {
				t.Fatalf("auth_time %v, want later than the first sign-in's %v", got, before)
			}
		})
	}

	// A request completed for one account cannot be completed for
	// another who signs in in the same browser before the code is issued:
	// the app gets an error, and nothing more comes of the request.
	t.Run("ErrConflict", func(t *testing.T) {
		t.Parallel()
		s := setup(t)
		ann, bob := "ann@example.com", "bob@example.com"
		s.register(t, ann)
		s.register(t, bob)
		app := s.newApp(t, offline...)
		b := newBrowser(t, s)
		b.signInDirectly(ann)

		state, verifier := randomString(), oauth2.GenerateVerifier()
		h := b.get(app.conf.AuthCodeURL(state, oauth2.S256ChallengeOption(verifier)))
		id := h.location.Query().Get("id")
		h = b.get(h.location.String())
		if !h.left(b.base) || h.location.Query().Get("code") == "" || h.location.Query().Get("state") != state {
			t.Fatalf("continue for a signed-in browser: status %d, location %v; want the app's redirect URI with a code", h.status, h.location)
		}
		code := h.location.Query().Get("code")
		if a, err := s.authRequests.FindAuthRequest(t.Context(), id); err != nil || !a.Done() {
			t.Fatalf("request %s after continue: %+v, %v; want it completed", id, a, err)
		}

		b.signInDirectly(bob)
		h = b.get(oidc.PathContinue + "?id=" + url.QueryEscape(id))
		if !h.left(b.base) || !strings.HasPrefix(h.location.String(), rpURL+"?") || h.location.Query().Get("error") != "login_required" || h.location.Query().Get("state") != state || h.location.Query().Has("code") {
			t.Fatalf("continue of ann's request by bob: status %d, location %v; want %s with error=login_required and the state", h.status, h.location, rpURL)
		}
		if _, err := s.authRequests.FindAuthRequest(t.Context(), id); foyer.ErrorCode(err) != foyer.ENotFound {
			t.Fatalf("request after the app was answered with an error: %v, want it gone", err)
		}
		if _, err := app.conf.Exchange(t.Context(), code, oauth2.VerifierOption(verifier)); oauthError(err) != "invalid_grant" {
			t.Fatalf("ann's code after the request was refused: %v, want invalid_grant", err)
		}
	})

	// The code goes to the browser that signed in, never to another that
	// knows the request's id: op's callback, which would hand a code for
	// any completed request to whoever asks, is not served.
	t.Run("CodeOnlyToTheSignedInBrowser", func(t *testing.T) {
		t.Parallel()
		s := setup(t)
		s.register(t, "ann@example.com")
		app := s.newApp(t, offline...)
		attacker := newBrowser(t, s)
		h := attacker.get(app.conf.AuthCodeURL(randomString(), oauth2.S256ChallengeOption(oauth2.GenerateVerifier())))
		continueURL := h.location.String()
		id := h.location.Query().Get("id")

		victim := newBrowser(t, s)
		victim.signInDirectly("ann@example.com")
		if h := victim.get(continueURL); !h.left(victim.base) || h.location.Query().Get("code") == "" {
			t.Fatalf("continue in the signed-in browser: status %d, location %v; want the code sent to the app", h.status, h.location)
		}
		for _, path := range []string{oidc.PathCallback, oidc.PathIntrospect} {
			if h := attacker.get(path + "?id=" + url.QueryEscape(id)); h.status != http.StatusNotFound || h.location != nil {
				t.Fatalf("%s from another browser: status %d, location %v; want 404", path, h.status, h.location)
			}
		}
		if h := attacker.get(continueURL); h.left(attacker.base) {
			t.Fatalf("continue from a browser nobody is signed in on: sent to %v, want the sign-in page", h.location)
		}
	})

	// prompt=none answers login_required once, and the request is over:
	// signing in afterwards does not answer the app a second time.
	t.Run("PromptNoneEndsRequest", func(t *testing.T) {
		t.Parallel()
		s := setup(t)
		email := "ann@example.com"
		s.register(t, email)
		app := s.newApp(t, offline...)
		b := newBrowser(t, s)
		state := randomString()
		h := b.get(app.conf.AuthCodeURL(state, oauth2.S256ChallengeOption(oauth2.GenerateVerifier()), oauth2.SetAuthURLParam("prompt", "none")))
		id := h.location.Query().Get("id")
		h = b.get(h.location.String())
		if !h.left(b.base) || h.location.Query().Get("error") != "login_required" || h.location.Query().Get("state") != state {
			t.Fatalf("prompt=none without a session: status %d, location %v; want error=login_required", h.status, h.location)
		}
		b.signInDirectly(email)
		if h := b.get(oidc.PathContinue + "?id=" + url.QueryEscape(id)); h.status != http.StatusBadRequest || h.location != nil || !strings.Contains(h.body, goneText) {
			t.Fatalf("continue after login_required was answered: status %d, location %v; want 400 saying %q", h.status, h.location, goneText)
		}
	})
}

// TestTokenEndpoint covers what the token endpoint refuses: codes and
// refresh tokens of other apps, malformed tokens, and tokens of Foyer's
// own sessions, and that a code works once however many try at once.
func TestTokenEndpoint(t *testing.T) {
	t.Parallel()

	t.Run("ConcurrentCodeRedemption", func(t *testing.T) {
		t.Parallel()
		s := setup(t)
		email := "ann@example.com"
		id := s.register(t, email)
		app := s.newApp(t, offline...)
		b := newBrowser(t, s)
		b.signInDirectly(email)
		code, verifier := codeFor(t, b, app)

		const n = 8
		results := make([]tokenResponse, n)
		var start, wg sync.WaitGroup
		start.Add(1)
		for i := range n {
			wg.Go(func() {
				start.Wait()
				r, err := s.send(t.Context(), oidc.PathToken, app, url.Values{
					"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {rpURL}, "code_verifier": {verifier},
				})
				if err != nil {
					t.Error(err)
				}
				results[i] = r
			})
		}
		start.Done()
		wg.Wait()
		ok := 0
		for _, r := range results {
			switch {
			case r.status == http.StatusOK && r.Access != "":
				ok++
			case r.status == http.StatusBadRequest && r.Error == "invalid_grant":
			default:
				t.Errorf("redemption: status %d, error %q; want 200 or 400 invalid_grant", r.status, r.Error)
			}
		}
		if ok != 1 {
			t.Fatalf("%d of %d concurrent redemptions of one code succeeded, want 1", ok, n)
		}
		if got := s.appSessions(t, id, app.app.ID); len(got) != 1 {
			t.Fatalf("%d sessions for the app, want 1", len(got))
		}
	})

	// A code presented by another app is refused, and is spent: the app
	// it was issued to cannot redeem it afterwards either.
	t.Run("ErrCodeOfAnotherApp", func(t *testing.T) {
		t.Parallel()
		s := setup(t)
		email := "ann@example.com"
		id := s.register(t, email)
		a, other := s.newApp(t, offline...), s.newApp(t, offline...)
		b := newBrowser(t, s)
		b.signInDirectly(email)
		code, verifier := codeFor(t, b, a)
		if _, err := other.conf.Exchange(t.Context(), code, oauth2.VerifierOption(verifier)); oauthError(err) != "invalid_grant" {
			t.Fatalf("another app redeeming the code: %v, want invalid_grant", err)
		}
		if _, err := a.conf.Exchange(t.Context(), code, oauth2.VerifierOption(verifier)); oauthError(err) != "invalid_grant" {
			t.Fatalf("redeeming a code another app presented: %v, want invalid_grant", err)
		}
		if got := append(s.appSessions(t, id, a.app.ID), s.appSessions(t, id, other.app.ID)...); len(got) != 0 {
			t.Fatalf("sessions %v after refused redemptions, want none", got)
		}
	})

	// A refresh token presented by another app is refused. Its token is
	// named for its own app, so Foyer rotates it for that app before op
	// compares the clients: the token is spent. The session stays live
	// (its access token works) until the app it belongs to presents the
	// spent token, which is reuse and ends the session.
	t.Run("ErrRefreshOfAnotherApp", func(t *testing.T) {
		t.Parallel()
		s := setup(t)
		email := "ann@example.com"
		id := s.register(t, email)
		a, other := s.newApp(t, offline...), s.newApp(t, offline...)
		tok := signInThroughApp(t, newBrowser(t, s), a, email)
		if _, err := refresh(t, other, tok.RefreshToken); oauthError(err) != "invalid_grant" {
			t.Fatalf("another app refreshing: %v, want invalid_grant", err)
		}
		s.call(t, "GET", "/v1/me", tok.AccessToken, "", http.StatusOK, nil)
		if _, err := refresh(t, a, tok.RefreshToken); oauthError(err) != "invalid_grant" {
			t.Fatalf("the app refreshing after another app presented its token: %v, want invalid_grant", err)
		}
		s.call(t, "GET", "/v1/me", tok.AccessToken, "", http.StatusUnauthorized, nil)
		if got := s.appSessions(t, id, a.app.ID); len(got) != 0 {
			t.Fatalf("sessions %v after reuse, want none", got)
		}
	})

	// Malformed refresh tokens are refused as invalid_grant and spend
	// nothing: the app's real token still works afterwards.
	t.Run("ErrMalformedRefresh", func(t *testing.T) {
		t.Parallel()
		s := setup(t)
		email := "ann@example.com"
		s.register(t, email)
		app := s.newApp(t, offline...)
		tok := signInThroughApp(t, newBrowser(t, s), app, email)
		_, secret, _ := strings.Cut(tok.RefreshToken, ".")
		for _, raw := range []string{
			"garbage",
			secret,
			app.app.ID,
			".",
			app.app.ID + ".",
			"." + secret,
			app.app.ID + ".garbage",
			"not-an-id." + secret,
			strings.ToUpper(app.app.ID) + ".garbage",
			tok.RefreshToken + "x",
			tok.RefreshToken + ".x",
			"a.b.c",
			strings.Repeat("a", 4000) + "." + secret,
		} {
			if r := s.refreshRaw(t, app, raw); r.status != http.StatusBadRequest || r.Error != "invalid_grant" {
				t.Fatalf("refresh token %.60q: status %d, error %q; want 400 invalid_grant", raw, r.status, r.Error)
			}
		}
		if r := s.refreshRaw(t, app, ""); r.status != http.StatusBadRequest || r.Error != "invalid_request" {
			t.Fatalf("no refresh token: status %d, error %q; want 400 invalid_request", r.status, r.Error)
		}
		if _, err := refresh(t, app, tok.RefreshToken); err != nil {
			t.Fatalf("the real refresh token after the malformed ones: %v", err)
		}
	})

	// Foyer's own refresh tokens and apps' refresh tokens are not
	// interchangeable, and presenting one in the wrong place spends
	// nothing.
	t.Run("ErrForeignSessions", func(t *testing.T) {
		t.Parallel()
		s := setup(t)
		email := "ann@example.com"
		s.register(t, email)
		app := s.newApp(t, offline...)
		tok := signInThroughApp(t, newBrowser(t, s), app, email)
		_, own := s.login(t, email)

		if r := s.refreshRaw(t, app, own); r.status != http.StatusBadRequest || r.Error != "invalid_grant" {
			t.Fatalf("Foyer's own refresh token at %s: status %d, error %q; want 400 invalid_grant", oidc.PathToken, r.status, r.Error)
		}
		var foyerErr struct {
			Error struct {
				Code string `json:"code"`
			} `json:"error"`
		}
		s.call(t, "POST", "/v1/token/refresh", "", `{"refresh_token":"`+tok.RefreshToken+`"}`, http.StatusUnauthorized, &foyerErr)
		if foyerErr.Error.Code != foyer.EUnauthorized {
			t.Fatalf("an app's refresh token at POST /v1/token/refresh: code %q, want %q", foyerErr.Error.Code, foyer.EUnauthorized)
		}

		s.call(t, "POST", "/v1/token/refresh", "", `{"refresh_token":"`+own+`"}`, http.StatusOK, nil)
		if _, err := refresh(t, app, tok.RefreshToken); err != nil {
			t.Fatalf("the app's refresh token after it was presented to the API: %v", err)
		}
	})
}

// TestWithoutOfflineAccess checks that an app that did not ask for
// offline_access gets no refresh token, and that its access token stops
// working when the account's sessions end.
func TestWithoutOfflineAccess(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name string
		end  func(t *testing.T, s *stack, id, email string)
	}{
		{"RevokeUser", func(t *testing.T, s *stack, id, _ string) {
			s.call(t, "POST", "/v1/users/"+id+"/revoke", s.apiKey, "", http.StatusOK, nil)
		}},
		{"PasswordReset", func(t *testing.T, s *stack, _, email string) {
			s.resetPassword(t, email)
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := setup(t)
			email := "ann@example.com"
			id := s.register(t, email)
			app := s.newApp(t, "openid", "email")
			tok := signInThroughApp(t, newBrowser(t, s), app, email)
			if tok.RefreshToken != "" {
				t.Fatalf("refresh token %q without offline_access, want none", tok.RefreshToken)
			}
			sessions := s.appSessions(t, id, app.app.ID)
			if len(sessions) != 1 || sessions[0].ExpiresAt.After(s.clock.Now().Add(oidc.DefaultAccessTTL)) {
				t.Fatalf("app sessions %+v, want one that ends with the access token", sessions)
			}
			s.call(t, "GET", "/v1/me", tok.AccessToken, "", http.StatusOK, nil)
			if status, sub, _ := s.userinfo(t, tok.AccessToken); status != http.StatusOK || sub != id {
				t.Fatalf("userinfo: %d %q, want 200 %s", status, sub, id)
			}

			tt.end(t, s, id, email)
			s.call(t, "GET", "/v1/me", tok.AccessToken, "", http.StatusUnauthorized, nil)
			if status, _, _ := s.userinfo(t, tok.AccessToken); status != http.StatusUnauthorized {
				t.Fatalf("userinfo after the sessions ended: %d, want 401", status)
			}
		})
	}
}

// TestRevocation checks the revocation endpoint: revoking either token
// of a session ends it, and another app cannot revoke it.
func TestRevocation(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name, hint string
		token      func(*oauth2.Token) string
	}{
		{"RefreshToken", "refresh_token", func(tok *oauth2.Token) string { return tok.RefreshToken }},
		{"RefreshTokenWithoutHint", "", func(tok *oauth2.Token) string { return tok.RefreshToken }},
		{"AccessToken", "access_token", func(tok *oauth2.Token) string { return tok.AccessToken }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := setup(t)
			email := "ann@example.com"
			id := s.register(t, email)
			app, other := s.newApp(t, offline...), s.newApp(t, offline...)
			tok := signInThroughApp(t, newBrowser(t, s), app, email)

			if r := s.revoke(t, other, tt.token(tok), tt.hint); r.status == http.StatusOK {
				t.Fatalf("another app revoking the token: status 200, want it refused")
			}
			s.call(t, "GET", "/v1/me", tok.AccessToken, "", http.StatusOK, nil)
			if len(s.appSessions(t, id, app.app.ID)) != 1 {
				t.Fatal("the session ended when another app tried to revoke its token")
			}

			if r := s.revoke(t, app, tt.token(tok), tt.hint); r.status != http.StatusOK {
				t.Fatalf("revoking: status %d, error %q; want 200", r.status, r.Error)
			}
			if _, err := refresh(t, app, tok.RefreshToken); oauthError(err) != "invalid_grant" {
				t.Fatalf("refresh after revocation: %v, want invalid_grant", err)
			}
			s.call(t, "GET", "/v1/me", tok.AccessToken, "", http.StatusUnauthorized, nil)
		})
	}

	// Tokens the provider does not know are not an error (RFC 7009 §2.2).
	t.Run("UnknownToken", func(t *testing.T) {
		t.Parallel()
		s := setup(t)
		app := s.newApp(t, offline...)
		for _, raw := range []string{"garbage", app.app.ID + ".garbage"} {
			if r := s.revoke(t, app, raw, "refresh_token"); r.status != http.StatusOK {
				t.Fatalf("revoking %q: status %d, error %q; want 200", raw, r.status, r.Error)
			}
		}
	})
}

// TestUserinfo checks that userinfo answers only to an app's access
// token, with 401 and a Bearer challenge otherwise (RFC 6750 §3.1).
func TestUserinfo(t *testing.T) {
	t.Parallel()
	s := setup(t)
	email := "ann@example.com"
	id := s.register(t, email)
	app := s.newApp(t, offline...)
	tok := signInThroughApp(t, newBrowser(t, s), app, email)
	own, _ := s.login(t, email)
	var anon struct {
		Token string `json:"token"`
	}
	s.call(t, "POST", "/v1/anonymous", "", "", http.StatusCreated, &anon)

	if status, sub, _ := s.userinfo(t, tok.AccessToken); status != http.StatusOK || sub != id {
		t.Fatalf("userinfo with the app's access token: %d %q, want 200 %s", status, sub, id)
	}
	// The token may come in a form body instead (RFC 6750 §2.2).
	if r, err := http.PostForm(s.url+oidc.PathUserinfo, url.Values{"access_token": {tok.AccessToken}}); err != nil || r.StatusCode != http.StatusOK {
		t.Fatalf("userinfo with the access token in the form: %v %v, want 200", r.Status, err)
	} else {
		r.Body.Close()
	}
	// Without a token the challenge names no error (RFC 6750 §3.1).
	r, err := http.Get(s.url + oidc.PathUserinfo)
	if err != nil {
		t.Fatal(err)
	}
	r.Body.Close()
	if r.StatusCode != http.StatusUnauthorized || r.Header.Get("WWW-Authenticate") != "Bearer" {
		t.Fatalf("userinfo without a token: status %d, WWW-Authenticate %q; want 401 and Bearer", r.StatusCode, r.Header.Get("WWW-Authenticate"))
	}
	for name, raw := range map[string]string{
		"IDToken":          idToken(t, tok),
		"FoyerAccessToken": own,
		"AnonymousToken":   anon.Token,
		"RefreshToken":     tok.RefreshToken,
		"Garbage":          "garbage",
	} {
		status, _, header := s.userinfo(t, raw)
		if status != http.StatusUnauthorized || !strings.HasPrefix(header.Get("WWW-Authenticate"), `Bearer error="invalid_token"`) {
			t.Errorf("userinfo with %s: status %d, WWW-Authenticate %q; want 401 with a Bearer challenge", name, status, header.Get("WWW-Authenticate"))
		}
	}
}

// TestDeleteApp checks that deleting an app ends the sessions signed in
// through it, and only those.
func TestDeleteApp(t *testing.T) {
	t.Parallel()
	s := setup(t)
	email := "ann@example.com"
	id := s.register(t, email)
	app, kept := s.newApp(t, offline...), s.newApp(t, offline...)
	b := newBrowser(t, s)
	tok := signInThroughApp(t, b, app, email)
	code, verifier := codeFor(t, b, kept)
	keptTok, err := kept.conf.Exchange(t.Context(), code, oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatal(err)
	}
	own, _ := s.login(t, email)
	pending := requestID(t, authorize(newBrowser(t, s), app, randomString(), oauth2.GenerateVerifier()))

	if err := s.apps.DeleteApp(t.Context(), app.app.ID); err != nil {
		t.Fatal(err)
	}
	if got := s.appSessions(t, id, app.app.ID); len(got) != 0 {
		t.Fatalf("sessions of the deleted app: %+v, want none", got)
	}
	if _, err := refresh(t, app, tok.RefreshToken); oauthError(err) != "invalid_client" {
		t.Fatalf("refresh token of a deleted app: %v, want invalid_client", err)
	}
	s.call(t, "GET", "/v1/me", tok.AccessToken, "", http.StatusUnauthorized, nil)
	if status, _, _ := s.userinfo(t, tok.AccessToken); status != http.StatusUnauthorized {
		t.Fatalf("userinfo with the deleted app's access token: %d, want 401", status)
	}
	if h := newBrowser(t, s).get(oidc.PathContinue + "?id=" + url.QueryEscape(pending)); h.status != http.StatusBadRequest || !strings.Contains(h.body, goneText) {
		t.Fatalf("continue of the deleted app's pending request: status %d, want 400 saying %q", h.status, goneText)
	}
	// A new request of the deleted app goes nowhere: its redirect URIs
	// are no longer anyone's.
	if h := newBrowser(t, s).get(app.conf.AuthCodeURL(randomString(), oauth2.S256ChallengeOption(oauth2.GenerateVerifier()))); h.status != http.StatusBadRequest || h.location != nil {
		t.Fatalf("authorization request of the deleted app: status %d, location %v; want 400 and no redirect", h.status, h.location)
	}

	// The other app's session and Foyer's own go on.
	s.call(t, "GET", "/v1/me", own, "", http.StatusOK, nil)
	if _, err := refresh(t, kept, keptTok.RefreshToken); err != nil {
		t.Fatalf("refresh of another app after the deletion: %v", err)
	}
}

// TestAccessTokenIsFoyerToken checks that an app's access token verifies
// locally, with the SDK's JWKS verification and middleware, as a Foyer
// access token of a registered user bound to the app's session, and that
// the ID token does not.
func TestAccessTokenIsFoyerToken(t *testing.T) {
	t.Parallel()
	s := setup(t)
	email := "ann@example.com"
	id := s.register(t, email)
	app := s.newApp(t, offline...)
	tok := signInThroughApp(t, newBrowser(t, s), app, email)
	sessions := s.appSessions(t, id, app.app.ID)
	if len(sessions) != 1 {
		t.Fatalf("%d app sessions, want 1", len(sessions))
	}

	verifier := token.NewJWKSVerifier(token.JWKSConfig{BaseURL: s.url, Audience: testAudience, Now: s.clock.Now})
	claims, err := verifier.Verify(t.Context(), tok.AccessToken, token.TypeAccess)
	if err != nil {
		t.Fatalf("JWKS verification of the access token: %v", err)
	}
	if claims.Subject != id || claims.Anonymous || claims.SessionID != sessions[0].ID || !slices.Contains(claims.Audience, app.app.ID) || !slices.Contains(claims.Audience, testAudience) {
		t.Fatalf("claims %+v, want sub %s, not anonymous, sid %s, aud with %s and %s", claims, id, sessions[0].ID, app.app.ID, testAudience)
	}
	if v, ok := claimsOf(t, tok.AccessToken)["is_anonymous"]; v != false || !ok {
		t.Fatalf("is_anonymous = %v (present %t), want false, present", v, ok)
	}
	if _, err := verifier.Verify(t.Context(), idToken(t, tok), token.TypeAccess); err == nil {
		t.Fatal("the ID token verifies as an access token")
	}

	// The SDK's middleware in front of an app sees the registered user.
	mw := &client.Middleware{Verifier: verifier}
	var seen *client.Visitor
	h := mw.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { seen = client.VisitorFromContext(r.Context()) }))
	req := httptest.NewRequest("GET", "/", nil)
	req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
	h.ServeHTTP(httptest.NewRecorder(), req)
	if seen == nil || seen.UserID != id || seen.Anonymous {
		t.Fatalf("middleware visitor %+v, want registered user %s", seen, id)
	}
}

// TestLogout covers the hosted sign-out page's way back to an app: a
// browser nobody is signed in on goes straight to the registered
// post-logout URI with the state op added, and to nothing else.
func TestLogout(t *testing.T) {
	t.Parallel()
	s := setup(t)
	app := s.newApp(t, offline...)
	b := newBrowser(t, s)
	logout := func(clientID, uri string) hop {
		return b.get("/logout?" + (url.Values{"client_id": {clientID}, "post_logout_redirect_uri": {uri}}).Encode())
	}

	withState := rpLogoutURL + "?state=xyz"
	if h := logout(app.app.ID, withState); h.status != http.StatusSeeOther || h.location == nil || h.location.String() != withState {
		t.Fatalf("sign-out for %s: status %d, location %v; want 303 to it", withState, h.status, h.location)
	}
	for _, tt := range []struct{ name, clientID, uri string }{
		{"InjectedParameter", app.app.ID, rpLogoutURL + "?state=a;next=https://evil.example"},
		{"MalformedQuery", app.app.ID, rpLogoutURL + "?state=a&%zz"},
		{"UserInfo", app.app.ID, "http://evil@localhost:1/signed-out"},
		{"OtherPath", app.app.ID, rpURL},
		{"UnknownApp", "01900000-0000-7000-8000-000000000000", withState},
	} {
		if h := logout(tt.clientID, tt.uri); h.location != nil || h.status != http.StatusOK {
			t.Errorf("%s: sign-out page answered %d, location %v; want the page and no redirect", tt.name, h.status, h.location)
		}
	}

	// An end-session request naming an unknown app is the app's error,
	// not the server's.
	h := b.get(oidc.PathEndSession + "?" + (url.Values{"client_id": {"01900000-0000-7000-8000-000000000000"}, "post_logout_redirect_uri": {withState}}).Encode())
	if h.status != http.StatusUnauthorized || !strings.Contains(h.body, `data-page="error"`) || !strings.Contains(h.body, "The client is unknown.") {
		t.Fatalf("end session for an unknown app: status %d, body %s; want 401 and the hosted error page saying the client is unknown", h.status, h.body)
	}
}
