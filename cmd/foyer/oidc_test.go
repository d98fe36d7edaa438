package main

import (
	"errors"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	gooidc "github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
)

// The relying party of these tests lives at rpURL; nothing listens there:
// the browser stops at the redirect to it and hands the code over.
const (
	rpURL        = "http://localhost:1/callback"
	rpLogoutURL  = "http://localhost:1/signed-out"
	testPassword = "correct horse battery staple"
)

// browser is a person's browser for the hosted pages: a cookie jar that
// follows redirects on Foyer and stops at the first one that leaves it.
type browser struct {
	t    *testing.T
	http *http.Client
	base string
}

func newBrowser(t *testing.T, base string) *browser {
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	b := &browser{t: t, base: base}
	b.http = &http.Client{Jar: jar, CheckRedirect: func(req *http.Request, via []*http.Request) error {
		if !strings.HasPrefix(req.URL.String(), base) {
			return http.ErrUseLastResponse
		}
		return nil
	}}
	return b
}

// page is where a browser ended up: the last URL on Foyer and its body,
// or the address outside Foyer it was sent to.
type page struct {
	url      string
	status   int
	body     string
	leftTo   *url.URL // set when Foyer redirected the browser away
	location string
}

func (b *browser) finish(resp *http.Response, err error) page {
	b.t.Helper()
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	p := page{url: resp.Request.URL.String(), status: resp.StatusCode, body: string(body)}
	if loc := resp.Header.Get("Location"); loc != "" && resp.StatusCode >= 300 && resp.StatusCode < 400 {
		p.location = loc
		if u, err := url.Parse(loc); err == nil && u.IsAbs() {
			p.leftTo = u
		}
	}
	return p
}

func (b *browser) get(rawURL string) page {
	b.t.Helper()
	return b.finish(b.http.Get(rawURL))
}

// submit posts the form fields to path with the page's CSRF token.
func (b *browser) submit(from page, path string, fields url.Values) page {
	b.t.Helper()
	m := csrfField.FindStringSubmatch(from.body)
	if m == nil {
		b.t.Fatalf("no CSRF token on %s:\n%s", from.url, from.body)
	}
	fields.Set("csrf", html.UnescapeString(m[1]))
	return b.finish(b.http.PostForm(b.base+path, fields))
}

// signIn fills in the hosted sign-in page the browser is on.
func (b *browser) signIn(on page, email, password string) page {
	b.t.Helper()
	if !strings.Contains(on.url, "/login") {
		b.t.Fatalf("browser is on %s, want the sign-in page", on.url)
	}
	u, _ := url.Parse(on.url)
	return b.submit(on, "/login", url.Values{"email": {email}, "password": {password}, "return_to": {u.Query().Get("return_to")}})
}

// codeFrom returns the code of an authorization response, checking state.
func codeFrom(t *testing.T, p page, state string) string {
	t.Helper()
	if p.leftTo == nil || p.leftTo.String()[:len(rpURL)] != rpURL {
		t.Fatalf("browser at %s (status %d), want a redirect to %s:\n%s", p.url, p.status, rpURL, p.body)
	}
	q := p.leftTo.Query()
	if q.Get("state") != state || q.Get("code") == "" {
		t.Fatalf("authorization response %s, want a code and state %q", p.leftTo, state)
	}
	return q.Get("code")
}

// appDoc is an application as POST /v1/apps answers.
type appDoc struct {
	ID     string `json:"id"`
	Secret string `json:"secret"`
}

// createApp registers an application through the server API.
func createApp(t *testing.T, base, apiKey, typ string) appDoc {
	t.Helper()
	var app appDoc
	body := `{"name":"RP ` + typ + `","type":"` + typ + `","redirect_uris":["` + rpURL + `"],"post_logout_redirect_uris":["` + rpLogoutURL + `"]}`
	newClient(t, base).do("POST", "/v1/apps", "application/json", body, apiKey, http.StatusCreated, &app)
	if app.ID == "" || (typ == "confidential") != (app.Secret != "") {
		t.Fatalf("POST /v1/apps = %+v, want an id, and a secret exactly for a confidential app", app)
	}
	return app
}

// oauthError returns the OAuth error code of a failed token request.
func oauthError(err error) string {
	var re *oauth2.RetrieveError
	if errors.As(err, &re) {
		return re.ErrorCode
	}
	return ""
}

// testOpenIDConnect is the relying-party conformance test: a standard
// client (go-oidc with x/oauth2) signs a person in through the hosted
// pages of a real `foyer serve`.
func testOpenIDConnect(t *testing.T, env ...string) {
	bin := foyerBinary(t)
	key := "foyer_sk_" + randomHex(24)
	env = append(env, "FOYER_DATA_DIR="+filepath.Join(t.TempDir(), "data"), "FOYER_LISTEN="+freePort(t), "FOYER_ADMIN_API_KEY="+key)
	p := startFoyer(t, bin, env...)
	ctx := t.Context()

	// A registered user, who saved their progress as a visitor.
	visitor, id := walkthrough(t, p.url, key)
	email := "oidc-" + randomHex(4) + "@example.com"
	register(t, p.url, key, visitor, email, testPassword)

	// Discovery: go-oidc checks that the issuer is the URL it asked.
	provider, err := gooidc.NewProvider(ctx, p.url)
	if err != nil {
		t.Fatalf("discovery: %v", err)
	}
	var meta struct {
		JWKS        string   `json:"jwks_uri"`
		EndSession  string   `json:"end_session_endpoint"`
		PKCE        []string `json:"code_challenge_methods_supported"`
		GrantTypes  []string `json:"grant_types_supported"`
		ResponseTyp []string `json:"response_types_supported"`
		Device      string   `json:"device_authorization_endpoint"`
	}
	if err := provider.Claims(&meta); err != nil {
		t.Fatal(err)
	}
	if meta.JWKS != p.url+"/.well-known/jwks.json" || meta.EndSession != p.url+"/oauth2/logout" || !slices.Contains(meta.PKCE, "S256") || !slices.Contains(meta.GrantTypes, "refresh_token") {
		t.Fatalf("discovery = %+v, want Foyer's JWKS, /oauth2/logout, S256 and refresh_token", meta)
	}
	if !slices.Equal(meta.ResponseTyp, []string{"code"}) || !slices.Equal(meta.GrantTypes, []string{"authorization_code", "refresh_token"}) || meta.Device != "" {
		t.Fatalf("discovery offers %v, %v, device %q; want only the code flow and refresh tokens", meta.ResponseTyp, meta.GrantTypes, meta.Device)
	}

	app := createApp(t, p.url, key, "confidential")
	conf := &oauth2.Config{
		ClientID: app.ID, ClientSecret: app.Secret, Endpoint: provider.Endpoint(),
		RedirectURL: rpURL, Scopes: []string{gooidc.ScopeOpenID, "email", gooidc.ScopeOfflineAccess},
	}
	verifier := provider.Verifier(&gooidc.Config{ClientID: app.ID})

	// Code + PKCE: the browser is sent to sign in, then back with a code.
	b := newBrowser(t, p.url)
	state, nonce, pkce := randomHex(8), randomHex(8), oauth2.GenerateVerifier()
	login := b.get(conf.AuthCodeURL(state, gooidc.Nonce(nonce), oauth2.S256ChallengeOption(pkce)))
	code := codeFrom(t, b.signIn(login, email, testPassword), state)

	// The provider is served by the HTTP server, behind its middleware:
	// request ids, and metrics by route.
	resp, err := http.Get(p.url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	metrics, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{`route="/.well-known/openid-configuration"`, `route="/oauth2/authorize"`, `route="/oauth2/continue"`} {
		if !strings.Contains(string(metrics), want) {
			t.Errorf("/metrics has no %s", want)
		}
	}
	if resp, err := http.Get(p.url + "/.well-known/openid-configuration"); err != nil || resp.Header.Get("X-Request-Id") == "" {
		t.Errorf("discovery has no X-Request-Id (%v)", err)
	} else {
		resp.Body.Close()
	}

	tok, err := conf.Exchange(ctx, code, oauth2.VerifierOption(pkce))
	if err != nil {
		t.Fatalf("exchange: %v", err)
	}
	rawID, _ := tok.Extra("id_token").(string)
	idt, err := verifier.Verify(ctx, rawID)
	if err != nil {
		t.Fatalf("ID token: %v", err)
	}
	var claims struct {
		Email         string `json:"email"`
		EmailVerified bool   `json:"email_verified"`
		Anonymous     *bool  `json:"is_anonymous"`
	}
	if err := idt.Claims(&claims); err != nil {
		t.Fatal(err)
	}
	if idt.Subject != id || idt.Nonce != nonce || claims.Email != email || !claims.EmailVerified || claims.Anonymous == nil || *claims.Anonymous {
		t.Fatalf("ID token sub %s nonce %s claims %+v, want %s, nonce %s, %s verified, is_anonymous false", idt.Subject, idt.Nonce, claims, id, nonce, email)
	}
	if tok.RefreshToken == "" {
		t.Fatal("no refresh token for offline_access")
	}

	// The access token is a Foyer access token: the API takes it. The ID
	// token is not one.
	var me registeredDoc
	newClient(t, p.url).do("GET", "/v1/me", "", "", tok.AccessToken, http.StatusOK, &me)
	if me.ID != id || me.Email != email {
		t.Fatalf("GET /v1/me with the access token = %+v, want %s", me, id)
	}
	newClient(t, p.url).do("GET", "/v1/me", "", "", rawID, http.StatusUnauthorized, nil)

	// A code works once.
	if _, err := conf.Exchange(ctx, code, oauth2.VerifierOption(pkce)); oauthError(err) != "invalid_grant" {
		t.Fatalf("second exchange of a code: %v, want invalid_grant", err)
	}

	// Userinfo.
	info, err := provider.UserInfo(ctx, oauth2.StaticTokenSource(tok))
	if err != nil {
		t.Fatalf("userinfo: %v", err)
	}
	var infoClaims struct {
		Anonymous *bool `json:"is_anonymous"`
	}
	if err := info.Claims(&infoClaims); err != nil {
		t.Fatal(err)
	}
	if info.Subject != id || info.Email != email || !info.EmailVerified || infoClaims.Anonymous == nil || *infoClaims.Anonymous {
		t.Fatalf("userinfo = %+v %+v, want %s, %s", info, infoClaims, id, email)
	}

	// Refresh rotates; presenting a rotated token again is reuse, which
	// ends the session, so even the newest token stops working.
	refreshed, err := conf.TokenSource(ctx, &oauth2.Token{RefreshToken: tok.RefreshToken}).Token()
	if err != nil {
		t.Fatalf("refresh: %v", err)
	}
	if refreshed.RefreshToken == "" || refreshed.RefreshToken == tok.RefreshToken || refreshed.AccessToken == "" {
		t.Fatalf("refresh gave %+v, want a new refresh and access token", refreshed)
	}
	if rid, _ := refreshed.Extra("id_token").(string); rid != "" {
		if _, err := verifier.Verify(ctx, rid); err != nil {
			t.Fatalf("ID token of a refresh: %v", err)
		}
	}
	newClient(t, p.url).do("GET", "/v1/me", "", "", refreshed.AccessToken, http.StatusOK, nil)
	if _, err := conf.TokenSource(ctx, &oauth2.Token{RefreshToken: tok.RefreshToken}).Token(); oauthError(err) != "invalid_grant" {
		t.Fatalf("reusing a rotated refresh token: %v, want invalid_grant", err)
	}
	if _, err := conf.TokenSource(ctx, &oauth2.Token{RefreshToken: refreshed.RefreshToken}).Token(); oauthError(err) != "invalid_grant" {
		t.Fatalf("refresh after reuse was detected: %v, want invalid_grant (session revoked)", err)
	}
	newClient(t, p.url).do("GET", "/v1/me", "", "", refreshed.AccessToken, http.StatusUnauthorized, nil)

	// The browser is signed in now: prompt=none gets a code at once, and
	// a second sign-in needs no password.
	state = randomHex(8)
	code = codeFrom(t, b.get(conf.AuthCodeURL(state, gooidc.Nonce(nonce), oauth2.S256ChallengeOption(pkce), oauth2.SetAuthURLParam("prompt", "none"))), state)
	tok, err = conf.Exchange(ctx, code, oauth2.VerifierOption(pkce))
	if err != nil {
		t.Fatalf("exchange after prompt=none: %v", err)
	}
	rawID, _ = tok.Extra("id_token").(string)

	// prompt=login asks for the password again even so.
	again := b.get(conf.AuthCodeURL(randomHex(8), oauth2.S256ChallengeOption(pkce), oauth2.SetAuthURLParam("prompt", "login")))
	if !strings.Contains(again.url, "/login") || !strings.Contains(again.body, `name="password"`) {
		t.Fatalf("prompt=login landed on %s, want the sign-in form", again.url)
	}

	// A browser nobody is signed in on gets login_required for
	// prompt=none.
	fresh := newBrowser(t, p.url)
	state = randomHex(8)
	none := fresh.get(conf.AuthCodeURL(state, oauth2.S256ChallengeOption(pkce), oauth2.SetAuthURLParam("prompt", "none")))
	if none.leftTo == nil || none.leftTo.Query().Get("error") != "login_required" || none.leftTo.Query().Get("state") != state {
		t.Fatalf("prompt=none without a session: %s %s, want error=login_required", none.url, none.location)
	}

	// A redirect URI that is not registered exactly is refused without
	// sending the browser anywhere.
	bad := *conf
	bad.RedirectURL = rpURL + "/"
	refused := fresh.get(bad.AuthCodeURL(randomHex(8), oauth2.S256ChallengeOption(pkce)))
	if refused.leftTo != nil || refused.status != http.StatusBadRequest {
		t.Fatalf("unregistered redirect URI: status %d, sent to %v; want 400 and no redirect", refused.status, refused.leftTo)
	}
	if !strings.Contains(refused.body, `data-page="error"`) || !strings.Contains(refused.body, "redirect_uri") {
		t.Fatalf("unregistered redirect URI: want the hosted error page saying why, got:\n%s", refused.body)
	}

	// A wrong PKCE verifier does not redeem the code.
	state = randomHex(8)
	code = codeFrom(t, b.get(conf.AuthCodeURL(state, oauth2.S256ChallengeOption(pkce))), state)
	if _, err := conf.Exchange(ctx, code, oauth2.VerifierOption(oauth2.GenerateVerifier())); oauthError(err) != "invalid_grant" {
		t.Fatalf("exchange with the wrong verifier: %v, want invalid_grant", err)
	}

	// A public app must use PKCE with S256.
	pub := createApp(t, p.url, key, "public")
	pubConf := &oauth2.Config{ClientID: pub.ID, Endpoint: provider.Endpoint(), RedirectURL: rpURL, Scopes: []string{gooidc.ScopeOpenID}}
	for name, opts := range map[string][]oauth2.AuthCodeOption{
		"no challenge": nil,
		"plain":        {oauth2.SetAuthURLParam("code_challenge", pkce), oauth2.SetAuthURLParam("code_challenge_method", "plain")},
	} {
		state := randomHex(8)
		r := b.get(pubConf.AuthCodeURL(state, opts...))
		if r.leftTo == nil || r.leftTo.Query().Get("error") != "invalid_request" {
			t.Fatalf("public app, %s: %s %s, want error=invalid_request", name, r.url, r.location)
		}
	}
	state = randomHex(8)
	code = codeFrom(t, b.get(pubConf.AuthCodeURL(state, oauth2.S256ChallengeOption(pkce))), state)
	if _, err := pubConf.Exchange(ctx, code, oauth2.VerifierOption(pkce)); err != nil {
		t.Fatalf("public app exchange with PKCE: %v", err)
	}

	// A confidential app's secret is checked.
	wrong := *conf
	wrong.ClientSecret = "wrong"
	state = randomHex(8)
	code = codeFrom(t, b.get(conf.AuthCodeURL(state, oauth2.S256ChallengeOption(pkce))), state)
	if _, err := wrong.Exchange(ctx, code, oauth2.VerifierOption(pkce)); oauthError(err) != "invalid_client" {
		t.Fatalf("exchange with a wrong secret: %v, want invalid_client", err)
	}

	// RP-initiated logout: the app's session ends at once; the browser's
	// after the person confirms on the hosted page (no GET ends it); then
	// the browser goes to the registered post-logout URI with the state.
	logoutState := randomHex(8)
	q := url.Values{"id_token_hint": {rawID}, "post_logout_redirect_uri": {rpLogoutURL}, "state": {logoutState}}
	confirm := b.get(meta.EndSession + "?" + q.Encode())
	if !strings.Contains(confirm.url, "/logout") || !strings.Contains(confirm.body, "Sign out?") {
		t.Fatalf("end session landed on %s (status %d), want the sign-out confirmation:\n%s", confirm.url, confirm.status, confirm.body)
	}
	if _, err := conf.TokenSource(ctx, &oauth2.Token{RefreshToken: tok.RefreshToken}).Token(); oauthError(err) != "invalid_grant" {
		t.Fatalf("refresh after logout: %v, want invalid_grant", err)
	}
	cu, _ := url.Parse(confirm.url)
	out := b.submit(confirm, "/logout", url.Values{"client_id": {cu.Query().Get("client_id")}, "post_logout_redirect_uri": {cu.Query().Get("post_logout_redirect_uri")}})
	if out.leftTo == nil || !strings.HasPrefix(out.leftTo.String(), rpLogoutURL) || out.leftTo.Query().Get("state") != logoutState {
		t.Fatalf("after confirming sign-out: %s %s, want %s with state", out.url, out.location, rpLogoutURL)
	}
	state = randomHex(8)
	after := b.get(conf.AuthCodeURL(state, oauth2.S256ChallengeOption(pkce), oauth2.SetAuthURLParam("prompt", "none")))
	if after.leftTo == nil || after.leftTo.Query().Get("error") != "login_required" {
		t.Fatalf("prompt=none after sign-out: %s %s, want login_required", after.url, after.location)
	}

	// A post-logout URI the app did not register is not followed, even
	// through the hosted page's form.
	forged := b.get(p.url + "/logout?" + url.Values{"client_id": {app.ID}, "post_logout_redirect_uri": {"https://evil.example/"}}.Encode())
	if forged.leftTo != nil {
		t.Fatalf("sign-out page sent the browser to %s, an unregistered address", forged.leftTo)
	}
}

func TestOpenIDConnect(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	t.Run("SQLite", func(t *testing.T) {
		t.Parallel()
		testOpenIDConnect(t)
	})
	t.Run("PostgreSQL", func(t *testing.T) {
		t.Parallel()
		dsn := freshSchema(t, postgresDSN(t))
		testOpenIDConnect(t, "FOYER_DATABASE_URL="+dsn)
	})
}
