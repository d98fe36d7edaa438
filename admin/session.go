package admin

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"path"
	"strings"
	"time"

	foyer "github.com/foyerhq/foyer"
)

// maxFormBytes caps the body of every console form. The largest form is
// the profile data editor: MaxDataSize of compact JSON, pretty-printed.
const maxFormBytes = 1 << 20

// contextKey is the type of this package's context keys.
type contextKey int

const sessionContextKey contextKey = iota + 1

// adminSession is the signed-in admin of a request, with the synchronizer
// token that the session's forms carry.
type adminSession struct {
	Admin   *foyer.Admin
	Session *foyer.AdminSession
	CSRF    string
}

// sessionFromContext returns the session requireAdmin attached, or nil.
func sessionFromContext(ctx context.Context) *adminSession {
	s, _ := ctx.Value(sessionContextKey).(*adminSession)
	return s
}

// randomToken returns 32 random bytes in base64url.
func randomToken() string {
	var b [32]byte
	rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// hashToken returns the SHA-256 of a session token, the only form stored.
func hashToken(raw string) []byte {
	sum := sha256.Sum256([]byte(raw))
	return sum[:]
}

// formToken derives a synchronizer token from a cookie's secret value:
// forms carry it in a hidden field, and only a page that could read the
// cookie's session can know it. purpose keeps the tokens of different
// cookies apart.
func formToken(secret, purpose string) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte("foyer admin form token: " + purpose))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// validFormToken compares a submitted token with the expected one in
// constant time.
func validFormToken(got, want string) bool {
	return got != "" && hmac.Equal([]byte(got), []byte(want))
}

// requireAdmin runs fn for a signed-in admin. Pages without a session
// redirect to the sign-in page; forms without one, or without the
// session's synchronizer token, are refused.
func (h *Handler) requireAdmin(fn handlerFunc) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		s, err := h.session(r)
		if err != nil {
			if foyer.ErrorCode(err) != foyer.EUnauthorized {
				return err
			}
			h.clearCookie(w, h.cookieName)
			if r.Method == http.MethodGet || r.Method == http.MethodHead {
				http.Redirect(w, r, "/admin/login?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
				return nil
			}
			return foyer.Errorf(foyer.EUnauthorized, "Your session has ended. Sign in again.")
		}
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			if err := parseForm(w, r); err != nil {
				return err
			}
			if !validFormToken(r.PostFormValue("csrf"), s.CSRF) {
				return foyer.Errorf(foyer.EForbidden, "This form has expired. Go back, reload the page and try again.")
			}
		}
		return fn(w, r.WithContext(context.WithValue(r.Context(), sessionContextKey, s)))
	}
}

// session returns the live session of the request's cookie, or
// EUnauthorized.
func (h *Handler) session(r *http.Request) (*adminSession, error) {
	c, err := r.Cookie(h.cookieName)
	if err != nil || c.Value == "" || len(c.Value) > 100 {
		return nil, foyer.Errorf(foyer.EUnauthorized, "Sign in first.")
	}
	a, s, err := h.deps.Admins.FindAdminSession(r.Context(), hashToken(c.Value))
	if err != nil {
		return nil, err
	}
	if !h.now().Before(s.ExpiresAt) {
		return nil, foyer.Errorf(foyer.EUnauthorized, "Your session has ended.")
	}
	return &adminSession{Admin: a, Session: s, CSRF: formToken(c.Value, "session")}, nil
}

// parseForm reads a form body of at most maxFormBytes.
func parseForm(w http.ResponseWriter, r *http.Request) error {
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	if err := r.ParseForm(); err != nil {
		if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
			return foyer.Errorf(foyer.ETooLarge, "The form is larger than %d KiB.", maxFormBytes>>10)
		}
		return foyer.Errorf(foyer.EInvalid, "The form could not be read.")
	}
	return nil
}

// setCookie sets a console cookie that lives for ttl.
func (h *Handler) setCookie(w http.ResponseWriter, name, value string, ttl time.Duration) {
	http.SetCookie(w, &http.Cookie{
		Name:     name,
		Value:    value,
		Path:     h.cookiePath,
		MaxAge:   int(ttl / time.Second),
		HttpOnly: true,
		Secure:   h.secure,
		SameSite: http.SameSiteStrictMode,
	})
}

// clearCookie deletes a console cookie.
func (h *Handler) clearCookie(w http.ResponseWriter, name string) {
	http.SetCookie(w, &http.Cookie{
		Name:     name,
		Path:     h.cookiePath,
		MaxAge:   -1,
		HttpOnly: true,
		Secure:   h.secure,
		SameSite: http.SameSiteStrictMode,
	})
}

// signInTTL is the lifetime of the cookie that protects the sign-in and
// setup forms.
const signInTTL = time.Hour

// signInToken returns the synchronizer token of the sign-in and setup
// forms, setting the cookie it derives from if the request has none.
func (h *Handler) signInToken(w http.ResponseWriter, r *http.Request) string {
	if c, err := r.Cookie(h.preCookieName); err == nil && c.Value != "" && len(c.Value) <= 100 {
		return formToken(c.Value, "sign-in")
	}
	v := randomToken()
	h.setCookie(w, h.preCookieName, v, signInTTL)
	return formToken(v, "sign-in")
}

// checkSignInToken reports whether a sign-in or setup form carries the
// token of the request's cookie.
func (h *Handler) checkSignInToken(r *http.Request) bool {
	c, err := r.Cookie(h.preCookieName)
	if err != nil || c.Value == "" || len(c.Value) > 100 {
		return false
	}
	return validFormToken(r.PostFormValue("csrf"), formToken(c.Value, "sign-in"))
}

// startSession signs admin a in: a new random token in the cookie, its
// hash in the store.
func (h *Handler) startSession(w http.ResponseWriter, r *http.Request, a *foyer.Admin) error {
	raw := randomToken()
	s := &foyer.AdminSession{AdminID: a.ID, TokenHash: hashToken(raw), ExpiresAt: h.now().Add(h.cfg.SessionTTL)}
	if err := h.deps.Admins.CreateAdminSession(r.Context(), s); err != nil {
		return fmt.Errorf("create admin session: %w", err)
	}
	h.setCookie(w, h.cookieName, raw, h.cfg.SessionTTL)
	h.clearCookie(w, h.preCookieName)
	return nil
}

// safeNext returns where to go after signing in: next if it is a path of
// the console, otherwise the dashboard. It never leaves the console, so
// the sign-in page is not an open redirect.
func safeNext(next string) string {
	if !strings.HasPrefix(next, "/admin/") || strings.ContainsAny(next, "\\\r\n\t") || strings.HasPrefix(next, "/admin/login") {
		return "/admin/"
	}
	u, err := url.Parse(next)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil || !strings.HasPrefix(path.Clean(u.Path)+"/", "/admin/") {
		return "/admin/"
	}
	return next
}

// signInPage is the data of the sign-in page.
type signInPage struct {
	layout
	Token     string
	Email     string
	Next      string
	Error     string
	CanSetUp  bool
	SignedOut bool
}

// loginPage handles GET /admin/login.
func (h *Handler) loginPage(w http.ResponseWriter, r *http.Request) error {
	if _, err := h.session(r); err == nil {
		http.Redirect(w, r, safeNext(r.URL.Query().Get("next")), http.StatusSeeOther)
		return nil
	}
	p := &signInPage{
		layout:    h.layout(r, "Sign in"),
		Token:     h.signInToken(w, r),
		Next:      safeNext(r.URL.Query().Get("next")),
		SignedOut: r.URL.Query().Get("notice") == "signed-out",
	}
	if h.deps.CheckBootstrapKey != nil {
		admins, err := h.deps.Admins.FindAdmins(r.Context())
		if err != nil {
			return err
		}
		p.CanSetUp = len(admins) == 0
	}
	h.render(w, r, http.StatusOK, "login", p)
	return nil
}

// errSignIn is the one message of every failed sign-in, so that it tells
// nothing about which part was wrong.
const errSignIn = "The email address, password or authentication code is not right."

// login handles POST /admin/login: email, password and, for admins who
// enabled it, a TOTP code.
func (h *Handler) login(w http.ResponseWriter, r *http.Request) error {
	if err := parseForm(w, r); err != nil {
		return err
	}
	p := &signInPage{
		layout: h.layout(r, "Sign in"),
		Email:  strings.TrimSpace(r.PostFormValue("email")),
		Next:   safeNext(r.PostFormValue("next")),
	}
	fail := func(status int, msg string) error {
		p.Token = h.signInToken(w, r)
		p.Error = msg
		h.render(w, r, status, "login", p)
		return nil
	}
	if !h.checkSignInToken(r) {
		// A fresh cookie and token come with the form shown again.
		r.Header.Del("Cookie")
		return fail(http.StatusForbidden, "The sign-in form had expired. Try again.")
	}
	now := h.now()
	ip := h.clientKey(r)
	email, emailErr := foyer.NormalizeEmail(p.Email)
	if ok, wait := h.limits.allowed(ip, email, now); !ok {
		return fail(http.StatusTooManyRequests, fmt.Sprintf("Too many failed sign-ins. Try again in %s.", waitText(wait)))
	}
	var a *foyer.Admin
	if emailErr == nil {
		var err error
		a, err = h.deps.Admins.FindAdminByEmail(r.Context(), email)
		if err != nil && foyer.ErrorCode(err) != foyer.ENotFound {
			return err
		}
	}
	hash := h.dummyHash()
	if a != nil {
		hash = a.PasswordHash
	}
	ok, err := h.deps.VerifyPassword(r.PostFormValue("password"), hash)
	if err != nil {
		ok = false
	}
	if ok && a != nil && a.TOTPSecret != "" {
		ok = h.checkTOTP(a, r.PostFormValue("code"), now)
	}
	if !ok || a == nil {
		h.limits.failed(ip, email, now)
		if a != nil {
			h.auditAs(r, a, "admin.login.failed", a.ID, http.StatusUnauthorized, nil)
		}
		return fail(http.StatusUnauthorized, errSignIn)
	}
	if err := h.startSession(w, r, a); err != nil {
		return err
	}
	h.auditAs(r, a, "admin.login", a.ID, http.StatusSeeOther, nil)
	http.Redirect(w, r, p.Next, http.StatusSeeOther)
	return nil
}

// waitText says how long to wait in whole minutes, at least one.
func waitText(d time.Duration) string {
	m := int((d + time.Minute - 1) / time.Minute)
	if m <= 1 {
		return "a minute"
	}
	return fmt.Sprintf("%d minutes", m)
}

// logout handles POST /admin/logout.
func (h *Handler) logout(w http.ResponseWriter, r *http.Request) error {
	s := sessionFromContext(r.Context())
	if err := h.deps.Admins.DeleteAdminSession(r.Context(), s.Session.TokenHash); err != nil && foyer.ErrorCode(err) != foyer.ENotFound {
		return err
	}
	h.clearCookie(w, h.cookieName)
	h.audit(r, "admin.logout", s.Admin.ID, http.StatusSeeOther, nil)
	http.Redirect(w, r, "/admin/login?notice=signed-out", http.StatusSeeOther)
	return nil
}

// setupPage is the data of the first-run setup page.
type setupPage struct {
	layout
	Token  string
	Email  string
	Errors map[string]string
}

// setupOpen reports whether the first-run setup may run: it is enabled
// and no admin exists yet.
func (h *Handler) setupOpen(ctx context.Context) (bool, error) {
	if h.deps.CheckBootstrapKey == nil {
		return false, nil
	}
	admins, err := h.deps.Admins.FindAdmins(ctx)
	if err != nil {
		return false, err
	}
	return len(admins) == 0, nil
}

// setupPage handles GET /admin/setup: the form that creates the first
// admin, shown only while there is none.
func (h *Handler) setupPage(w http.ResponseWriter, r *http.Request) error {
	open, err := h.setupOpen(r.Context())
	if err != nil {
		return err
	}
	if !open {
		http.Redirect(w, r, "/admin/login", http.StatusSeeOther)
		return nil
	}
	h.render(w, r, http.StatusOK, "setup", &setupPage{layout: h.layout(r, "Set up Foyer"), Token: h.signInToken(w, r)})
	return nil
}

// setup handles POST /admin/setup: with the bootstrap API key, it creates
// the first admin and signs them in. It refuses once an admin exists.
func (h *Handler) setup(w http.ResponseWriter, r *http.Request) error {
	if err := parseForm(w, r); err != nil {
		return err
	}
	p := &setupPage{layout: h.layout(r, "Set up Foyer"), Email: strings.TrimSpace(r.PostFormValue("email")), Errors: map[string]string{}}
	fail := func(status int) error {
		p.Token = h.signInToken(w, r)
		h.render(w, r, status, "setup", p)
		return nil
	}
	if !h.checkSignInToken(r) {
		r.Header.Del("Cookie")
		p.Errors["form"] = "The form had expired. Try again."
		return fail(http.StatusForbidden)
	}
	now := h.now()
	ip := h.clientKey(r)
	if ok, wait := h.limits.allowed(ip, "", now); !ok {
		p.Errors["form"] = fmt.Sprintf("Too many failed attempts. Try again in %s.", waitText(wait))
		return fail(http.StatusTooManyRequests)
	}
	h.setupMu.Lock()
	defer h.setupMu.Unlock()
	open, err := h.setupOpen(r.Context())
	if err != nil {
		return err
	}
	if !open {
		return foyer.Errorf(foyer.EForbidden, "Foyer is already set up: sign in instead.")
	}
	if !h.deps.CheckBootstrapKey(r.PostFormValue("bootstrap_key")) {
		h.limits.failed(ip, "", now)
		p.Errors["bootstrap_key"] = "This is not the bootstrap API key."
		return fail(http.StatusUnauthorized)
	}
	password := r.PostFormValue("password")
	if password != r.PostFormValue("password_confirm") {
		p.Errors["password_confirm"] = "The passwords differ."
		return fail(http.StatusBadRequest)
	}
	a, err := CreateAdmin(r.Context(), h.deps.Admins, p.Email, password, h.deps.HashPassword)
	if err != nil {
		switch foyer.ErrorCode(err) {
		case foyer.EInvalid:
			p.Errors["email"] = foyer.ErrorMessage(err)
		case foyer.EInvalidPassword:
			p.Errors["password"] = foyer.ErrorMessage(err)
		default:
			return err
		}
		return fail(http.StatusBadRequest)
	}
	h.auditAs(r, a, "admin.setup", a.ID, http.StatusSeeOther, nil)
	if err := h.startSession(w, r, a); err != nil {
		return err
	}
	http.Redirect(w, r, "/admin/?notice=welcome", http.StatusSeeOther)
	return nil
}

// CreateAdmin creates an admin with email and password, hashed with hash
// (argon2id in Foyer). It is what `foyer admin create` and the first-run
// setup page call. Returns EInvalid for an email that is not valid,
// EInvalidPassword for a password outside the allowed length and
// EConflict if the email already has an admin.
func CreateAdmin(ctx context.Context, svc foyer.AdminService, email, password string, hash func(string) (string, error)) (*foyer.Admin, error) {
	email, err := foyer.NormalizeEmail(email)
	if err != nil {
		return nil, err
	}
	if err := foyer.ValidatePassword(password); err != nil {
		return nil, err
	}
	ph, err := hash(password)
	if err != nil {
		return nil, fmt.Errorf("hash admin password: %w", err)
	}
	a := &foyer.Admin{Email: email, PasswordHash: ph}
	if err := svc.CreateAdmin(ctx, a); err != nil {
		return nil, err
	}
	return a, nil
}

// audit records an action of the request's admin. A failure to record is
// logged: the action itself already happened.
func (h *Handler) audit(r *http.Request, action, target string, status int, details any) {
	s := sessionFromContext(r.Context())
	if s == nil {
		return
	}
	h.auditAs(r, s.Admin, action, target, status, details)
}

// auditAs records an action of admin a.
func (h *Handler) auditAs(r *http.Request, a *foyer.Admin, action, target string, status int, details any) {
	e := &foyer.AuditEntry{Actor: "admin:" + a.ID, Action: action, Target: target, Status: status}
	if ip := h.clientIP(r); ip.IsValid() {
		e.IP = ip.String()
	}
	if details != nil {
		b, err := json.Marshal(details)
		if err == nil {
			e.Details = b
		}
	}
	// The entry is written even if the client has gone away meanwhile.
	ctx := context.WithoutCancel(r.Context())
	if err := h.deps.Audit.CreateAuditEntry(ctx, e); err != nil {
		h.logger.ErrorContext(ctx, "admin: record audit entry",
			slog.String("actor", e.Actor), slog.String("action", action), slog.String("target", target), slog.Any("err", err))
	}
}
