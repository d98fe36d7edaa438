package http

import (
	"bytes"
	"cmp"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"embed"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io"
	"io/fs"
	"log/slog"
	"mime"
	"net/http"
	"net/url"
	"os"
	"path"
	"slices"
	"strings"
	"time"

	foyer "github.com/foyerhq/foyer"
)

//go:embed pages/*.html pages/foyer.css
var pagesFS embed.FS

// Page files and paths.
const (
	// stylesheetName is the stylesheet's file name, in the embedded files
	// and in Config.PagesDir.
	stylesheetName = "foyer.css"
	// stylesheetPath is where the stylesheet is served.
	stylesheetPath = "/assets/foyer.css"
	// formCookieTTL is the lifetime of the cookie that the form tokens are
	// bound to; each page that shows a form renews it.
	formCookieTTL = time.Hour
	// maxReturnTo bounds a return_to address.
	maxReturnTo = 2048
)

// frameFiles are the templates every page is parsed with: layout.html,
// the frame, which calls the page's "content", and partials.html, the
// pieces forms share.
func frameFiles() []string { return []string{"layout.html", "partials.html"} }

// pageNames are the pages; each is the template file NAME.html, which
// defines "content".
func pageNames() []string {
	return []string{"login", "register", "convert", "forgot", "reset", "merge", "logout", "error"}
}

// knownFile reports whether name is a file a theme may replace.
func knownFile(name string) bool {
	return name == stylesheetName || slices.Contains(frameFiles(), name) ||
		(path.Ext(name) == ".html" && slices.Contains(pageNames(), strings.TrimSuffix(name, ".html")))
}

// pages serves the hosted pages, the HTML face of the visitor API for
// people in a browser: sign in, register, complete a conversion ("save
// your progress"), forgot and reset password, merge confirmation and
// sign-out.
// They are rendered on the server from embedded html/template files and
// one stylesheet, with no JavaScript and no external assets, and a theme
// may replace any of those files from Config.PagesDir.
//
// Every action is a form POST that calls the JSON API's own handler
// in-process (see callAPI), so the pages follow exactly the API's rules:
// limits, cookies, the other-browser rule of conversion (DESIGN §2.3), the
// same answer for new and existing addresses (§2.4). A GET only renders a
// form and never changes state: opening a link redeems nothing (§2.2).
// Forms are protected twice against cross-site request forgery: by
// http.CrossOriginProtection, and by a synchronizer token in a hidden
// field bound to a short-lived cookie.
type pages struct {
	s *Server
	// byName holds one template per page, each with the layout and the
	// partials.
	byName map[string]*template.Template
	css    []byte
	// allowed is Config.RedirectAllowlist as a set.
	allowed map[string]bool
	// csp is the Content-Security-Policy of every page; its form-action
	// names the allowlisted origins, since browsers apply it to the
	// redirect that follows a form post.
	csp string
	// formAction is csp's form-action sources.
	formAction string
	siteName   string
	formCookie string
}

// CheckPages reports whether the hosted pages can be served with c: every
// .html and .css file in PagesDir must replace an embedded file of the
// same name and render, and every RedirectAllowlist entry must be an
// absolute http(s) URL without user information or fragment. NewServer
// panics with the same error, so a caller validating its configuration
// should call this first.
func (c Config) CheckPages() error {
	_, err := loadPages(c.PagesDir)
	if err != nil {
		return err
	}
	_, err = allowedOrigins(c.RedirectAllowlist)
	return err
}

// newPages loads the pages of s. It panics if the configuration is not
// valid (see Config.CheckPages).
func (s *Server) newPages() *pages {
	p, err := loadPages(s.cfg.PagesDir)
	if err != nil {
		panic("foyerhttp: " + err.Error())
	}
	origins, err := allowedOrigins(s.cfg.RedirectAllowlist)
	if err != nil {
		panic("foyerhttp: " + err.Error())
	}
	p.s = s
	p.allowed = make(map[string]bool, len(s.cfg.RedirectAllowlist))
	for _, u := range s.cfg.RedirectAllowlist {
		p.allowed[u] = true
	}
	formAction := "'self'"
	for _, o := range origins {
		formAction += " " + o
	}
	p.formAction = formAction
	p.csp = cspWith(formAction)
	p.siteName = "Foyer"
	if u := s.cfg.PublicURL; u != nil && u.Host != "" {
		p.siteName = u.Host
	}
	p.formCookie = "foyer_csrf"
	if s.cookieSecure {
		p.formCookie = "__Host-foyer_csrf"
	}
	return p
}

// allowedOrigins checks a redirect allowlist and returns the origins of
// its entries.
func allowedOrigins(list []string) ([]string, error) {
	var origins []string
	for _, raw := range list {
		u, err := url.Parse(raw)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.User != nil || u.Fragment != "" || strings.ContainsAny(raw, "\\ \t\r\n") {
			return nil, fmt.Errorf("redirect allowlist: %q is not an absolute http(s) URL without user information or fragment", raw)
		}
		o := u.Scheme + "://" + u.Host
		if !slices.Contains(origins, o) {
			origins = append(origins, o)
		}
	}
	return origins, nil
}

// loadPages parses the embedded pages with the overrides from dir (none
// when dir is "") and renders each once, so that a broken theme fails at
// startup rather than in front of a visitor.
func loadPages(dir string) (*pages, error) {
	var theme fs.FS
	if dir != "" {
		theme = os.DirFS(dir)
		entries, err := fs.ReadDir(theme, ".")
		if err != nil {
			return nil, fmt.Errorf("pages directory: %w", err)
		}
		for _, e := range entries {
			name := e.Name()
			if e.IsDir() || (path.Ext(name) != ".html" && path.Ext(name) != ".css") {
				continue
			}
			if !knownFile(name) {
				return nil, fmt.Errorf("pages directory %s: unknown file %s (known: %s, NAME.html for %s, and %s)",
					dir, name, strings.Join(frameFiles(), ", "), strings.Join(pageNames(), ", "), stylesheetName)
			}
		}
	}
	read := func(name string) ([]byte, error) {
		if theme != nil {
			b, err := fs.ReadFile(theme, name)
			if err == nil {
				return b, nil
			}
			if !errors.Is(err, fs.ErrNotExist) {
				return nil, fmt.Errorf("pages directory: %w", err)
			}
		}
		return fs.ReadFile(pagesFS, "pages/"+name)
	}
	parse := func(t *template.Template, name string) error {
		b, err := read(name)
		if err != nil {
			return err
		}
		if _, err := t.New(name).Parse(string(b)); err != nil {
			return fmt.Errorf("page template: %w", err)
		}
		return nil
	}

	base := template.New("pages")
	for _, file := range frameFiles() {
		if err := parse(base, file); err != nil {
			return nil, err
		}
	}
	p := &pages{byName: make(map[string]*template.Template)}
	for _, name := range pageNames() {
		file := name + ".html"
		t, err := base.Clone()
		if err != nil {
			return nil, err
		}
		if err := parse(t, file); err != nil {
			return nil, err
		}
		p.byName[name] = t
		for _, sample := range samplePages(name) {
			if err := t.ExecuteTemplate(io.Discard, "layout.html", sample); err != nil {
				return nil, fmt.Errorf("page template %s: %w", file, err)
			}
		}
	}
	css, err := read(stylesheetName)
	if err != nil {
		return nil, err
	}
	p.css = css
	return p, nil
}

// samplePages returns the data of every state of page name, to check
// that the templates render.
func samplePages(name string) []*pageData {
	var out []*pageData
	for _, state := range []string{"form", "confirm", "signed-in", "sent", "saved", "link-error", "done", "nothing", "merged"} {
		out = append(out, &pageData{
			Page: name, Title: "Sample", SiteName: "example.com", Stylesheet: stylesheetPath, State: state, CSRF: "csrf",
			Error: &pageError{Code: foyer.EInvalid, Message: "Sample error.", Field: "email"}, Notice: "Sample notice.",
			Email: "someone@example.com", Token: "token", ReturnTo: "/", DataKeys: 2, PolicyText: "Sample policy.",
			LinkTTL: "1 hour", MinPasswordLength: foyer.MinPasswordLength, Status: http.StatusBadRequest,
			ClientID: "app", PostLogoutURI: "https://app.example.com/",
		})
	}
	return out
}

// pageData is what a page template sees. Each page uses the fields it
// needs; State names the variant of the page to show.
type pageData struct {
	// Page names the page ("login", "register", "convert", "forgot",
	// "reset", "merge", "error"); the layout puts it, with State, on the
	// body element for themes and tests.
	Page string
	// Title is the page's one heading, also used in <title>.
	Title string
	// SiteName is the host of the public URL.
	SiteName string
	// Stylesheet is the path of the stylesheet.
	Stylesheet string
	// State is the variant of the page: "form" for a form ("confirm" on
	// the merge page), or an outcome such as "sent", "signed-in",
	// "saved", "link-error", "done", "nothing" or "merged"; on the error
	// page, the error code.
	State string
	// CSRF is the synchronizer token every form carries.
	CSRF string
	// Error is why the last submission failed, shown above the form.
	Error *pageError
	// Notice is a fixed message chosen by the notice query parameter.
	Notice string
	// Email is the address typed in, or that of the account concerned.
	Email string
	// Token is the link token of the conversion and reset forms.
	Token string
	// ReturnTo is where to go next, already checked (see safeReturn).
	ReturnTo string
	// DataKeys counts the top-level keys of the data the merge page
	// offers to bring in.
	DataKeys int
	// PolicyText says what happens to values both accounts have.
	PolicyText string
	// LinkTTL is how long a mailed link works, in words.
	LinkTTL string
	// MinPasswordLength is the shortest password accepted.
	MinPasswordLength int
	// Status is the HTTP status of an error page.
	Status int
	// ClientID is the app that signed the person out (the sign-out page).
	ClientID string
	// PostLogoutURI is where that app asked to send the person after
	// signing out, already checked against the app's registration.
	PostLogoutURI string
}

// pageError is a failure shown on a page.
type pageError struct {
	// Code is the stable error code, also in the data-code attribute.
	Code string
	// Message says what went wrong, for people.
	Message string
	// Field is the form field at fault ("email", "password"), or "".
	Field string
}

// Invalid reports whether the error shown is about field.
func (d *pageData) Invalid(field string) bool { return d.Error != nil && d.Error.Field == field }

// notices are the messages shown after a redirect, by the key in the
// notice parameter: fixed texts, so a link cannot make a page say
// something else.
func notice(key string) string {
	switch key {
	case "signed-out":
		return "You are signed out."
	}
	return ""
}

// route registers a page handler for pattern: it sets the headers of
// every page and renders a returned error as the error page.
func (p *pages) route(pattern string, h handlerFunc) {
	p.s.mux.Handle(pattern, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hd := w.Header()
		hd.Set("Content-Security-Policy", p.csp)
		hd.Set("X-Content-Type-Options", "nosniff")
		hd.Set("X-Frame-Options", "DENY")
		// The conversion and reset pages carry their link token in the
		// address: it must not leak to another site.
		hd.Set("Referrer-Policy", "no-referrer")
		hd.Set("Cache-Control", "no-store")
		if err := h(w, r); err != nil {
			p.renderError(w, r, err)
		}
	}))
}

// render writes page name with d and status. The page is rendered into a
// buffer first, so a template error becomes a clean error.
func (p *pages) render(w http.ResponseWriter, status int, name string, d *pageData) error {
	d.Page, d.SiteName, d.Stylesheet, d.MinPasswordLength = name, p.siteName, stylesheetPath, foyer.MinPasswordLength
	var buf bytes.Buffer
	if err := p.byName[name].ExecuteTemplate(&buf, "layout.html", d); err != nil {
		return &foyer.Error{Code: foyer.EInternal, Err: fmt.Errorf("render page %s: %w", name, err)}
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	w.Write(buf.Bytes())
	return nil
}

// show renders a page that may hold a form: it gives d the form token,
// setting or renewing the cookie the token is bound to. The forms that
// may end in an application (signing in and merging for an OpenID
// Connect sign-in, signing out for an app's sign-out) get a policy that
// lets the redirect after the post reach that one application (see
// appCSP); where the browser is sent is still decided by the server,
// only to registered addresses.
func (p *pages) show(w http.ResponseWriter, r *http.Request, status int, name string, d *pageData) error {
	d.CSRF = p.formToken(w, r)
	if name == "login" || name == "merge" || name == "logout" {
		csp, err := p.appCSP(r.Context(), d)
		if err != nil {
			return err
		}
		w.Header().Set("Content-Security-Policy", csp)
	}
	return p.render(w, status, name, d)
}

// cspWith is the Content-Security-Policy of a page whose forms may post
// to, and be redirected to, formAction.
func cspWith(formAction string) string {
	return "default-src 'none'; style-src 'self'; img-src 'self'; form-action " + formAction + "; frame-ancestors 'none'; base-uri 'none'"
}

// appCSP is the policy of page d with form-action extended to the one
// application its form's redirect may end at: browsers apply form-action
// to the redirects that follow a form post. That is the origin of the
// redirect URI of the OpenID Connect authorization request that
// d.ReturnTo continues (see authRedirectURI), after signing in or
// merging, and the origin of d.PostLogoutURI, already checked against
// the app's registration, after signing out. No other app is named: a
// page reveals no client, and costs at most one lookup.
func (p *pages) appCSP(ctx context.Context, d *pageData) (string, error) {
	redirectURI, err := p.authRedirectURI(ctx, d.ReturnTo)
	if err != nil {
		return "", err
	}
	sources := p.formAction
	for _, raw := range []string{redirectURI, d.PostLogoutURI} {
		if o := cspOrigin(raw); o != "" && !slices.Contains(strings.Fields(sources), o) {
			sources += " " + o
		}
	}
	if sources == p.formAction {
		return p.csp, nil
	}
	return cspWith(sources), nil
}

// maxReturnDepth bounds how deep authRedirectURI looks into return_to
// addresses that carry a return_to of their own.
const maxReturnDepth = 4

// authRedirectURI returns the redirect URI of the live OpenID Connect
// authorization request that returnTo leads to, or "" if it leads to
// none: returnTo is Deps.OIDCContinuePath with the request's id, or the
// sign-in or merge page whose return_to is, nested at most
// maxReturnDepth deep (the sign-in page sends people on through
// /merge?return_to=…, and the merge page through /login?return_to=…).
// The URI is one the app registered: the provider accepted the request.
func (p *pages) authRedirectURI(ctx context.Context, returnTo string) (string, error) {
	continuePath := p.s.deps.OIDCContinuePath
	if continuePath == "" || p.s.deps.AuthRequests == nil {
		return "", nil
	}
	for range maxReturnDepth {
		if returnTo == "" {
			return "", nil
		}
		u, err := url.Parse(returnTo)
		if err != nil || u.Scheme != "" || u.Host != "" {
			return "", nil
		}
		switch u.Path {
		case continuePath:
			id := u.Query().Get("id")
			if id == "" {
				return "", nil
			}
			a, err := p.s.deps.AuthRequests.FindAuthRequest(ctx, id)
			switch foyer.ErrorCode(err) {
			case "":
				return a.RedirectURI, nil
			case foyer.ENotFound, foyer.EInvalid:
				return "", nil
			}
			return "", err
		case "/login", "/merge":
			returnTo = p.safeReturn(u.Query().Get("return_to"))
		default:
			return "", nil
		}
	}
	return "", nil
}

// cspOrigin returns the origin of rawURL as a form-action source, or ""
// if it has no host or its origin holds a character that is not plainly
// a host's, which could end the source list.
func cspOrigin(rawURL string) string {
	if rawURL == "" {
		return ""
	}
	u, err := url.Parse(rawURL)
	if err != nil || u.Scheme == "" || u.Host == "" {
		return ""
	}
	for _, c := range []byte(u.Host) {
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '.' || c == '-' || c == ':' || c == '[' || c == ']') {
			return ""
		}
	}
	return u.Scheme + "://" + u.Host
}

// fail shows page name again with err explained above its form, with the
// status of err's code. Server-side failures go to the error page.
func (p *pages) fail(w http.ResponseWriter, r *http.Request, name string, d *pageData, err error) error {
	code := foyer.ErrorCode(err)
	status, ok := codeStatus[code]
	if !ok || status >= http.StatusInternalServerError {
		return err
	}
	d.Error = &pageError{Code: code, Message: pageMessage(err), Field: errorField(code)}
	return p.show(w, r, status, name, d)
}

// pageMessage returns what a page says about err: the message of its
// code, in words for a person in front of a form.
func pageMessage(err error) string {
	switch foyer.ErrorCode(err) {
	case foyer.ETokenInvalid:
		return "This link has expired, was already used, or was replaced by a newer one."
	case foyer.EIdentifierTaken:
		return "Another account already uses this email address."
	case foyer.EInternal:
		return "Something went wrong on our side. It was logged; please try again later."
	case foyer.EUnavailable:
		return "The service is unavailable right now. Please try again in a moment."
	}
	return foyer.ErrorMessage(err)
}

// errorField names the form field an error code is about.
func errorField(code string) string {
	switch code {
	case foyer.EInvalid:
		return "email"
	case foyer.EInvalidPassword, foyer.EInvalidCredentials:
		return "password"
	}
	return ""
}

// errorTitle is the heading of the error page for status.
func errorTitle(status int) string {
	switch {
	case status == http.StatusForbidden:
		return "This request was refused"
	case status == http.StatusTooManyRequests:
		return "Too many attempts"
	case status == http.StatusRequestEntityTooLarge, status == http.StatusUnsupportedMediaType, status == http.StatusBadRequest:
		return "This form could not be read"
	case status >= http.StatusInternalServerError:
		return "Something went wrong"
	}
	return http.StatusText(status)
}

// renderError writes err as the error page, with the status of its code.
// Server-side failures are logged here, once, and their message to the
// visitor stays generic.
func (p *pages) renderError(w http.ResponseWriter, r *http.Request, err error) {
	code := foyer.ErrorCode(err)
	status, ok := codeStatus[code]
	if !ok {
		code, status = foyer.EInternal, http.StatusInternalServerError
	}
	if status >= http.StatusInternalServerError && !errors.Is(err, context.Canceled) {
		p.s.logger.ErrorContext(r.Context(), "page request failed",
			slog.String("request_id", w.Header().Get("X-Request-Id")),
			slog.String("method", r.Method),
			slog.String("route", r.Pattern),
			slog.String("code", code),
			slog.Any("err", err))
	}
	d := &pageData{Title: errorTitle(status), State: code, Status: status, Error: &pageError{Code: code, Message: pageMessage(err)}}
	if status >= http.StatusInternalServerError {
		d.Error.Message = pageMessage(&foyer.Error{Code: code})
	}
	if err := p.render(w, status, "error", d); err != nil {
		p.s.logger.ErrorContext(r.Context(), "render error page", slog.Any("err", err))
		http.Error(w, "Something went wrong.", http.StatusInternalServerError)
	}
}

// redirect answers 303 See Other to loc, without a body.
func redirect(w http.ResponseWriter, loc string) {
	w.Header().Set("Location", loc)
	w.WriteHeader(http.StatusSeeOther)
}

// safeReturn returns raw if it is a safe place to send a person after a
// form: a path on this server (not "//host", no backslash, no control
// character, no scheme), or exactly an entry of Config.RedirectAllowlist.
// Anything else gives "", so the pages are never an open redirect.
func (p *pages) safeReturn(raw string) string {
	if raw == "" || len(raw) > maxReturnTo {
		return ""
	}
	if p.allowed[raw] {
		return raw
	}
	if raw[0] != '/' || strings.HasPrefix(raw, "//") || strings.ContainsRune(raw, '\\') {
		return ""
	}
	for i := 0; i < len(raw); i++ {
		if raw[i] < 0x20 || raw[i] == 0x7f {
			return ""
		}
	}
	u, err := url.Parse(raw)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil || u.Opaque != "" {
		return ""
	}
	return raw
}

// withReturn adds return_to to a page path when there is one.
func withReturn(pagePath, returnTo string) string {
	if returnTo == "" {
		return pagePath
	}
	return pagePath + "?return_to=" + url.QueryEscape(returnTo)
}

// formToken returns the synchronizer token of r's form cookie, setting a
// new cookie when r has none, and renewing its lifetime either way.
func (p *pages) formToken(w http.ResponseWriter, r *http.Request) string {
	v := p.formCookieValue(r)
	if v == "" {
		var b [32]byte
		rand.Read(b[:])
		v = base64.RawURLEncoding.EncodeToString(b[:])
	}
	http.SetCookie(w, &http.Cookie{
		Name:     p.formCookie,
		Value:    v,
		Path:     "/",
		MaxAge:   int(formCookieTTL / time.Second),
		HttpOnly: true,
		Secure:   p.s.cookieSecure,
		SameSite: http.SameSiteLaxMode,
	})
	return formTokenOf(v)
}

// formCookieValue returns the value of r's form cookie, or "" if it has
// none that Foyer could have set.
func (p *pages) formCookieValue(r *http.Request) string {
	c, err := r.Cookie(p.formCookie)
	if err != nil || len(c.Value) != 43 {
		return ""
	}
	if _, err := base64.RawURLEncoding.DecodeString(c.Value); err != nil {
		return ""
	}
	return c.Value
}

// formTokenOf derives the form token from the form cookie's value. A page
// of another site can neither read the cookie nor set it (it is HttpOnly,
// host-only and, on https, __Host-), so it cannot make the token.
func formTokenOf(cookie string) string {
	sum := sha256.Sum256([]byte("foyer form token\x00" + cookie))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// validFormToken reports whether the posted csrf field matches the form
// cookie of r.
func (p *pages) validFormToken(r *http.Request) bool {
	v := p.formCookieValue(r)
	posted := r.PostFormValue("csrf")
	return v != "" && posted != "" && subtle.ConstantTimeCompare([]byte(posted), []byte(formTokenOf(v))) == 1
}

// errFormExpired is the answer to a form without a valid token: it
// expired, or it did not come from this site's page.
var errFormExpired = foyer.Errorf(foyer.EForbidden, "This form has expired or did not come from this site. Please submit it again.")

// readForm reads the body of a form post: it refuses a cross-origin post
// (http.CrossOriginProtection), a body that is not
// application/x-www-form-urlencoded, and one larger than MaxBodyBytes. The
// synchronizer token is checked by the caller (validFormToken), which
// then shows its form again.
func (p *pages) readForm(w http.ResponseWriter, r *http.Request) error {
	if err := p.s.csrf.Check(r); err != nil {
		p.s.logger.WarnContext(r.Context(), "cross-origin form post refused",
			slog.String("path", r.URL.Path), slog.String("origin", r.Header.Get("Origin")))
		return &foyer.Error{Code: foyer.EForbidden, Message: "This form was sent from another site, so it was refused.", Err: err}
	}
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/x-www-form-urlencoded" {
		return foyer.Errorf(foyer.EUnsupportedMediaType, "The form must be sent as application/x-www-form-urlencoded.")
	}
	limit := p.s.cfg.MaxBodyBytes
	if r.ContentLength > limit {
		return tooLarge(limit)
	}
	r.Body = http.MaxBytesReader(w, r.Body, limit)
	if err := r.ParseForm(); err != nil {
		if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
			return tooLarge(limit)
		}
		return &foyer.Error{Code: foyer.EInvalid, Message: "The form could not be read.", Err: err}
	}
	return nil
}

// apiCapture records what an API handler wrote when a page called it.
type apiCapture struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (c *apiCapture) Header() http.Header { return c.header }

func (c *apiCapture) WriteHeader(code int) {
	if c.status == 0 {
		c.status = code
	}
}

func (c *apiCapture) Write(b []byte) (int, error) {
	if c.status == 0 {
		c.status = http.StatusOK
	}
	return c.body.Write(b)
}

// callAPI runs the JSON API handler h for a page's form, in-process, so
// that the page acts exactly as the API does. The API request is r with
// in as its JSON body (none when in is nil) and without the Authorization
// and Foyer-Anonymous-Token headers: a form carries cookies only. The
// cookies h sets and its Retry-After are copied to w, and its JSON answer
// is decoded into out when out is not nil. The error is h's.
func (p *pages) callAPI(w http.ResponseWriter, r *http.Request, h handlerFunc, in, out any) error {
	ar := r.Clone(r.Context())
	ar.Method = http.MethodPost
	ar.Header.Del("Authorization")
	ar.Header.Del(AnonymousTokenHeader)
	ar.Header.Del("Content-Type")
	ar.Body, ar.ContentLength = http.NoBody, 0
	ar.Form, ar.PostForm = nil, nil
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		ar.Header.Set("Content-Type", mediaJSON)
		ar.Body, ar.ContentLength = io.NopCloser(bytes.NewReader(b)), int64(len(b))
	}
	c := &apiCapture{header: make(http.Header)}
	err := h(c, ar)
	for _, v := range c.header.Values("Set-Cookie") {
		w.Header().Add("Set-Cookie", v)
	}
	if v := c.header.Get("Retry-After"); v != "" {
		w.Header().Set("Retry-After", v)
	}
	if err != nil || out == nil {
		return err
	}
	if err := json.Unmarshal(c.body.Bytes(), out); err != nil {
		return fmt.Errorf("read the answer of %s: %w", r.URL.Path, err)
	}
	return nil
}

// withCookies returns a copy of r that carries only the cookies cs.
func withCookies(r *http.Request, cs ...*http.Cookie) *http.Request {
	r2 := r.Clone(r.Context())
	r2.Header.Del("Cookie")
	for _, c := range cs {
		r2.AddCookie(c)
	}
	return r2
}

// account returns the registered user whose live session r's session
// cookie holds, or nil.
func (p *pages) account(r *http.Request) (*foyer.User, error) {
	c, err := r.Cookie(p.s.sessionCookieName)
	if err != nil || c.Value == "" {
		return nil, nil
	}
	u, _, err := p.s.authenticate(r.Context(), credential{raw: c.Value, cookie: c.Name, types: sessionTypes}, sessionTypes)
	if foyer.ErrorCode(err) == foyer.EUnauthorized {
		return nil, nil
	}
	return u, err
}

// anonymous returns the live anonymous user whose token r's anonymous
// cookie holds, with the cookie, or nil.
func (p *pages) anonymous(r *http.Request) (*foyer.User, *http.Cookie, error) {
	c, err := r.Cookie(p.s.cookieName)
	if err != nil || c.Value == "" {
		return nil, nil, nil
	}
	u, _, err := p.s.authenticate(r.Context(), credential{raw: c.Value, cookie: c.Name, types: anonymousTypes}, anonymousTypes)
	switch foyer.ErrorCode(err) {
	case "":
		return u, c, nil
	case foyer.EUnauthorized:
		return nil, nil, nil
	}
	return nil, nil, err
}

// dataKeys counts the top-level keys of a user's data.
func dataKeys(u *foyer.User) int {
	var m map[string]json.RawMessage
	if json.Unmarshal(u.Data, &m) != nil {
		return 0
	}
	return len(m)
}

// linkTTL says d in words: "1 hour", "30 minutes", "2 days".
func linkTTL(d time.Duration) string {
	unit := func(n int64, one string) string {
		if n == 1 {
			return "1 " + one
		}
		return fmt.Sprintf("%d %ss", n, one)
	}
	switch {
	case d >= 24*time.Hour && d%(24*time.Hour) == 0:
		return unit(int64(d/(24*time.Hour)), "day")
	case d >= time.Hour && d%time.Hour == 0:
		return unit(int64(d/time.Hour), "hour")
	case d >= time.Minute:
		return unit(int64(d/time.Minute), "minute")
	}
	return unit(max(int64(d/time.Second), 1), "second")
}

// policyText says what a merge does under the configured policy.
func (p *pages) policyText() string {
	switch p.s.cfg.MergePolicy {
	case foyer.MergeAnonymousWins:
		return "Where both have a value, the one from this device replaces your account's."
	case foyer.MergeKeepRegistered:
		return "Your account keeps its own data; the progress on this device is discarded."
	}
	return "Where both have a value, your account's value is kept."
}

// stylesheet handles GET /assets/foyer.css.
func (p *pages) stylesheet(w http.ResponseWriter, r *http.Request) error {
	w.Header().Set("Content-Type", "text/css; charset=utf-8")
	w.Header().Set("Cache-Control", "public, max-age=3600")
	w.Write(p.css)
	return nil
}

// loginForm handles GET /login: the sign-in form, or, for a browser that
// is signed in, who it is signed in as, with a sign-out button.
func (p *pages) loginForm(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	d := &pageData{Title: "Sign in", State: "form", ReturnTo: p.safeReturn(q.Get("return_to")), Notice: notice(q.Get("notice"))}
	u, err := p.account(r)
	if err != nil {
		return err
	}
	// prompt=login is an app asking for a fresh sign-in (OpenID
	// Connect): the form, even for a browser that is signed in.
	if u != nil && q.Get("prompt") != "login" {
		d.Title, d.State, d.Email = "You are signed in", "signed-in", u.Email
	}
	return p.show(w, r, http.StatusOK, "login", d)
}

// login handles POST /login (email, password, return_to): it signs in as
// POST /v1/login does, throttling included, which sets the session
// cookie. When the browser also holds a live anonymous account with data,
// the person is sent to /merge to decide about it; otherwise to
// return_to, if it is safe, or to the signed-in view of /login.
func (p *pages) login(w http.ResponseWriter, r *http.Request) error {
	if err := p.readForm(w, r); err != nil {
		return err
	}
	d := &pageData{Title: "Sign in", State: "form", Email: strings.TrimSpace(r.PostFormValue("email")), ReturnTo: p.safeReturn(r.PostFormValue("return_to"))}
	if !p.validFormToken(r) {
		return p.fail(w, r, "login", d, errFormExpired)
	}
	var res struct {
		User foyer.User `json:"user"`
	}
	in := map[string]string{"email": d.Email, "password": r.PostFormValue("password")}
	if err := p.callAPI(w, r, p.s.login, in, &res); err != nil {
		return p.fail(w, r, "login", d, err)
	}
	au, _, err := p.anonymous(r)
	if err != nil {
		return err
	}
	if au != nil && au.ID != res.User.ID && dataKeys(au) > 0 {
		redirect(w, withReturn("/merge", d.ReturnTo))
		return nil
	}
	if d.ReturnTo != "" {
		redirect(w, d.ReturnTo)
		return nil
	}
	redirect(w, "/login")
	return nil
}

// registerForm handles GET /register.
func (p *pages) registerForm(w http.ResponseWriter, r *http.Request) error {
	d := &pageData{Title: "Save your progress", State: "form", ReturnTo: p.safeReturn(r.URL.Query().Get("return_to"))}
	u, err := p.account(r)
	if err != nil {
		return err
	}
	if u != nil {
		d.Title, d.State, d.Email = "You already have an account", "signed-in", u.Email
	}
	return p.show(w, r, http.StatusOK, "register", d)
}

// register handles POST /register (email). Every registration goes
// through proof of ownership: a browser holding an anonymous credential
// starts the verified conversion of that account, as POST /v1/me/convert
// does; a browser without one first gets an anonymous account, as from
// POST /v1/anonymous, which is then converted the same way. The page says
// "check your email" whether or not the address has an account.
func (p *pages) register(w http.ResponseWriter, r *http.Request) error {
	if err := p.readForm(w, r); err != nil {
		return err
	}
	d := &pageData{Title: "Save your progress", State: "form", Email: strings.TrimSpace(r.PostFormValue("email")), ReturnTo: p.safeReturn(r.PostFormValue("return_to"))}
	if !p.validFormToken(r) {
		return p.fail(w, r, "register", d, errFormExpired)
	}
	u, err := p.account(r)
	if err != nil {
		return err
	}
	if u != nil {
		d.Title, d.State, d.Email = "You already have an account", "signed-in", u.Email
		return p.fail(w, r, "register", d, foyer.Errorf(foyer.EConflict, "You are signed in to a registered account; sign out to register another."))
	}
	email, err := foyer.NormalizeEmail(d.Email)
	if err != nil {
		return p.fail(w, r, "register", d, err)
	}
	_, cookie, err := p.anonymous(r)
	if err != nil {
		return err
	}
	if cookie == nil {
		var created struct {
			Token string `json:"token"`
		}
		if err := p.callAPI(w, withCookies(r), p.s.createAnonymous, nil, &created); err != nil {
			return p.fail(w, r, "register", d, err)
		}
		cookie = &http.Cookie{Name: p.s.cookieName, Value: created.Token}
	}
	if err := p.callAPI(w, withCookies(r, cookie), p.s.visitor(p.s.convertMe), map[string]string{"email": email}, nil); err != nil {
		return p.fail(w, r, "register", d, err)
	}
	d.Title, d.State, d.Email, d.LinkTTL = "Check your email", "sent", email, linkTTL(p.s.cfg.ConversionTTL)
	return p.show(w, r, http.StatusOK, "register", d)
}

// convertForm handles GET /convert/complete?token=…, the page the
// conversion link opens: a form to choose a password, with the token in
// a hidden field. It does not redeem the link.
func (p *pages) convertForm(w http.ResponseWriter, r *http.Request) error {
	d := &pageData{Title: "Save your progress", State: "form", Token: r.URL.Query().Get("token")}
	if d.Token == "" || len(d.Token) > maxLinkTokenLength {
		d.Title, d.State = "This link cannot be used", "link-error"
		return p.fail(w, r, "convert", d, foyer.Errorf(foyer.ETokenInvalid, "The link is not valid."))
	}
	return p.show(w, r, http.StatusOK, "convert", d)
}

// convert handles POST /convert/complete (token, password): it redeems
// the link as POST /v1/convert/complete does. Only the browser holding the
// anonymous credential of that very account is signed in; anywhere else
// the account is saved and the person is asked to sign in.
func (p *pages) convert(w http.ResponseWriter, r *http.Request) error {
	if err := p.readForm(w, r); err != nil {
		return err
	}
	d := &pageData{Title: "Save your progress", State: "form", Token: r.PostFormValue("token")}
	if !p.validFormToken(r) {
		return p.fail(w, r, "convert", d, errFormExpired)
	}
	var res struct {
		User     foyer.User `json:"user"`
		SignedIn bool       `json:"signed_in"`
	}
	in := map[string]string{"token": d.Token, "password": r.PostFormValue("password")}
	if err := p.callAPI(w, r, p.s.completeConversion, in, &res); err != nil {
		switch foyer.ErrorCode(err) {
		case foyer.ETokenInvalid, foyer.EIdentifierTaken:
			d.Title, d.State = "This link cannot be used", "link-error"
		}
		return p.fail(w, r, "convert", d, err)
	}
	d.Email = res.User.Email
	if res.SignedIn {
		d.Title, d.State = "Your progress is saved", "signed-in"
	} else {
		d.Title, d.State = "Your account is saved — sign in", "saved"
	}
	return p.show(w, r, http.StatusOK, "convert", d)
}

// forgotForm handles GET /password/forgot.
func (p *pages) forgotForm(w http.ResponseWriter, r *http.Request) error {
	return p.show(w, r, http.StatusOK, "forgot", &pageData{Title: "Reset your password", State: "form"})
}

// forgot handles POST /password/forgot (email) as POST
// /v1/password/forgot does; the page says the same whether or not the
// address has an account.
func (p *pages) forgot(w http.ResponseWriter, r *http.Request) error {
	if err := p.readForm(w, r); err != nil {
		return err
	}
	d := &pageData{Title: "Reset your password", State: "form", Email: strings.TrimSpace(r.PostFormValue("email"))}
	if !p.validFormToken(r) {
		return p.fail(w, r, "forgot", d, errFormExpired)
	}
	if err := p.callAPI(w, r, p.s.forgotPassword, map[string]string{"email": d.Email}, nil); err != nil {
		return p.fail(w, r, "forgot", d, err)
	}
	if email, err := foyer.NormalizeEmail(d.Email); err == nil {
		d.Email = email
	}
	d.Title, d.State, d.LinkTTL = "Check your email", "sent", linkTTL(p.s.cfg.ResetTTL)
	return p.show(w, r, http.StatusOK, "forgot", d)
}

// resetForm handles GET /password/reset?token=…, the page the reset link
// opens: a form to choose a new password. It does not redeem the link.
func (p *pages) resetForm(w http.ResponseWriter, r *http.Request) error {
	d := &pageData{Title: "Choose a new password", State: "form", Token: r.URL.Query().Get("token")}
	if d.Token == "" || len(d.Token) > maxLinkTokenLength {
		d.Title, d.State = "This link cannot be used", "link-error"
		return p.fail(w, r, "reset", d, foyer.Errorf(foyer.ETokenInvalid, "The link is not valid."))
	}
	return p.show(w, r, http.StatusOK, "reset", d)
}

// reset handles POST /password/reset (token, password) as POST
// /v1/password/reset does: every session of the account ends and nobody
// is signed in.
func (p *pages) reset(w http.ResponseWriter, r *http.Request) error {
	if err := p.readForm(w, r); err != nil {
		return err
	}
	d := &pageData{Title: "Choose a new password", State: "form", Token: r.PostFormValue("token")}
	if !p.validFormToken(r) {
		return p.fail(w, r, "reset", d, errFormExpired)
	}
	var res struct {
		User foyer.User `json:"user"`
	}
	in := map[string]string{"token": d.Token, "password": r.PostFormValue("password")}
	if err := p.callAPI(w, r, p.s.resetPassword, in, &res); err != nil {
		if foyer.ErrorCode(err) == foyer.ETokenInvalid {
			d.Title, d.State = "This link cannot be used", "link-error"
		}
		return p.fail(w, r, "reset", d, err)
	}
	d.Title, d.State, d.Email = "Your password was changed", "done", res.User.Email
	return p.show(w, r, http.StatusOK, "reset", d)
}

// mergeForm handles GET /merge: for a signed-in browser that also holds
// a live anonymous account, it asks whether to bring that account's data
// in, saying how much there is. Without a session it sends the person to
// sign in first.
func (p *pages) mergeForm(w http.ResponseWriter, r *http.Request) error {
	returnTo := p.safeReturn(r.URL.Query().Get("return_to"))
	u, err := p.account(r)
	if err != nil {
		return err
	}
	if u == nil {
		redirect(w, withReturn("/login", withReturn("/merge", returnTo)))
		return nil
	}
	d := &pageData{Title: "Bring your progress into your account?", State: "confirm", Email: u.Email, ReturnTo: returnTo, PolicyText: p.policyText()}
	au, _, err := p.anonymous(r)
	if err != nil {
		return err
	}
	if au == nil || au.ID == u.ID {
		d.Title, d.State = "Nothing to bring in", "nothing"
	} else {
		d.DataKeys = dataKeys(au)
	}
	return p.show(w, r, http.StatusOK, "merge", d)
}

// merge handles POST /merge (return_to): it merges the browser's
// anonymous account into the signed-in one, as POST /v1/me/merge does,
// then goes to return_to or says it is done. Declining is the "Not now"
// link of the form, which changes nothing.
func (p *pages) merge(w http.ResponseWriter, r *http.Request) error {
	if err := p.readForm(w, r); err != nil {
		return err
	}
	d := &pageData{Title: "Bring your progress into your account?", State: "confirm", ReturnTo: p.safeReturn(r.PostFormValue("return_to")), PolicyText: p.policyText()}
	u, err := p.account(r)
	if err != nil {
		return err
	}
	if u == nil {
		redirect(w, withReturn("/login", withReturn("/merge", d.ReturnTo)))
		return nil
	}
	d.Email = u.Email
	au, _, err := p.anonymous(r)
	if err != nil {
		return err
	}
	if au == nil || au.ID == u.ID {
		d.Title, d.State = "Nothing to bring in", "nothing"
		return p.fail(w, r, "merge", d, foyer.Errorf(foyer.EConflict, "This browser holds no progress from before you signed in."))
	}
	d.DataKeys = dataKeys(au)
	if !p.validFormToken(r) {
		return p.fail(w, r, "merge", d, errFormExpired)
	}
	if err := p.callAPI(w, r, p.s.registered(p.s.mergeMe), nil, nil); err != nil {
		return p.fail(w, r, "merge", d, err)
	}
	if d.ReturnTo != "" {
		redirect(w, d.ReturnTo)
		return nil
	}
	d.Title, d.State = "Your progress is in your account", "merged"
	return p.show(w, r, http.StatusOK, "merge", d)
}

// logout handles POST /logout (return_to): it ends the browser's session
// as POST /v1/logout does and clears its cookies, then goes to return_to
// or to the sign-in page.
func (p *pages) logout(w http.ResponseWriter, r *http.Request) error {
	if err := p.readForm(w, r); err != nil {
		return err
	}
	if !p.validFormToken(r) {
		return errFormExpired
	}
	u, err := p.account(r)
	if err != nil {
		return err
	}
	if u != nil {
		if err := p.callAPI(w, r, p.s.registered(p.s.logout), nil, nil); err != nil {
			return err
		}
	} else {
		p.s.clearSessionCookie(w)
		p.s.clearAnonymousCookie(w)
	}
	target, err := p.postLogoutTarget(r, r.PostFormValue("client_id"), r.PostFormValue("post_logout_redirect_uri"))
	if err != nil {
		return err
	}
	redirect(w, cmp.Or(target, p.safeReturn(r.PostFormValue("return_to")), "/login?notice=signed-out"))
	return nil
}
