// Package admin serves Foyer's admin console under /admin/: server-rendered
// HTML pages (html/template, embedded templates and one small CSS file,
// inline SVG charts, no JavaScript) for operators to sign in, find and
// manage users, read the reports and run operations (webhooks and their
// deliveries, signing keys, API keys, applications, the reaper, the audit
// log and the development mailbox). It also exports Reports, the report
// queries as plain structs, so that other transports can serve them.
//
// It owns the console's transport concerns: its own sessions (apart from
// end users'), CSRF protection, sign-in throttling and TOTP. Business rules
// and storage stay behind the root service interfaces and the functions in
// Deps. It imports the root package, the standard library and
// github.com/pquerna/otp only; it must not import a storage package, http,
// token, argon2, mail, webhook or reaper.
package admin

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"runtime/debug"
	"sync"
	"time"

	foyer "github.com/foyerhq/foyer"
)

// Billing rules of the monthly active users report.
const (
	// BillingActive counts an anonymous user in every month it was active.
	BillingActive = "active"
	// BillingCreatedMonth counts an anonymous user once, in the month it
	// was created, as FusionAuth counts them.
	BillingCreatedMonth = "created_month"
)

// DefaultSessionTTL is the lifetime of an admin session.
const DefaultSessionTTL = 12 * time.Hour

// Config holds the console's tunables. A zero value of a field takes the
// default given in its comment.
type Config struct {
	// PublicURL is the externally visible base URL of the service. Its
	// origin is trusted for form posts, and the session cookie is
	// "__Host-foyer_admin" (Secure) unless it is plain http on localhost,
	// 127.0.0.1 or ::1, where it is "foyer_admin".
	PublicURL *url.URL
	// TrustForwardedFor makes the client IP, used to throttle sign-ins
	// and recorded in the audit log, the right-most X-Forwarded-For entry.
	// Set it only behind a proxy that adds one.
	TrustForwardedFor bool
	// BillingRule decides how anonymous users count in the monthly active
	// users report: BillingActive (default) or BillingCreatedMonth.
	BillingRule string
	// SessionTTL is the lifetime of an admin session (default 12 h).
	SessionTTL time.Duration
	// TOTPIssuer names the service in authenticator apps (default "Foyer").
	TOTPIssuer string
	// DevMode shows the development mailbox, whose messages carry live
	// conversion and reset links; never set in production.
	DevMode bool
	// Now is the clock (default time.Now). It should be the store's.
	Now func() time.Time
}

// withDefaults returns c with every zero field set to its default.
func (c Config) withDefaults() Config {
	if c.BillingRule == "" {
		c.BillingRule = BillingActive
	}
	if c.SessionTTL <= 0 {
		c.SessionTTL = DefaultSessionTTL
	}
	if c.TOTPIssuer == "" {
		c.TOTPIssuer = "Foyer"
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return c
}

// KeyInfo describes a token signing key without its key material.
type KeyInfo struct {
	ID        string
	Algorithm string
	CreatedAt time.Time
	// RetiredAt is when a newer key took over signing; nil for the key
	// that signs now.
	RetiredAt *time.Time
}

// Deps are what the console calls. Admins, Audit, Users, HashPassword and
// VerifyPassword are required. Every other member is optional: the pages
// and actions of one that is nil are left out.
type Deps struct {
	Admins foyer.AdminService
	// Audit records every admin action and serves the audit log page.
	Audit foyer.AuditService
	Users foyer.UserService
	// Events serves the user page's timeline.
	Events foyer.EventService
	// Sessions lists and revokes a user's sessions.
	Sessions foyer.SessionService
	// Conversions serves the admin conversion of an anonymous user.
	Conversions foyer.ConversionService
	// Exports serves the download of everything stored about a user.
	Exports foyer.ExportService
	// Reports serves the dashboard and the CSV downloads.
	Reports foyer.ReportService
	// Webhooks and Deliveries serve the webhook pages, the delivery log
	// and redelivery.
	Webhooks   foyer.WebhookService
	Deliveries foyer.DeliveryService
	// APIKeys serves the API key page; creating a key needs NewAPIKey too.
	APIKeys foyer.APIKeyService
	// Mail serves the development mailbox (with Config.DevMode).
	Mail foyer.MailService
	// Apps serves the applications page (OAuth clients) and their
	// deletion; registering one needs NewAppSecret too.
	Apps foyer.AppService

	// HashPassword and VerifyPassword hash and check admin passwords
	// (argon2id in Foyer).
	HashPassword   func(password string) (string, error)
	VerifyPassword func(password, encoded string) (bool, error)
	// CheckBootstrapKey reports whether key is the bootstrap API key that
	// the first-run setup page asks for; nil disables the setup page.
	CheckBootstrapKey func(key string) bool
	// NewAPIKey returns a fresh API key secret and the key to store for it
	// (the http package's NewAPIKey).
	NewAPIKey func() (secret string, k *foyer.APIKey)
	// NewAppSecret returns a fresh client secret for a confidential
	// application and the SHA-256 to store for it (the http package's
	// NewAppSecret).
	NewAppSecret func() (secret string, hash []byte)
	// ListKeys lists the signing keys that still verify, and RotateKeys
	// makes a new key sign from now on (the keyring's Keys and Rotate).
	ListKeys   func() []KeyInfo
	RotateKeys func(ctx context.Context) error
	// RenderMail renders a queued message into its subject, text and HTML
	// for the development mailbox.
	RenderMail func(m *foyer.Mail) (subject, text, html string, err error)
	// Reap runs the reaper once (a dry run counts without deleting) and
	// reports how many users were, or would be, deleted and the cut-off.
	Reap func(ctx context.Context, dryRun bool) (deleted int, cutoff time.Time, err error)
	// UserCounts reports how many anonymous and registered users exist
	// (index-backed counts), for the dashboard's totals.
	UserCounts func(ctx context.Context) (anonymous, registered int64, err error)
	// WebhookNotify wakes the webhook dispatcher after a redelivery.
	WebhookNotify func()
}

// Handler is the admin console. Create it with NewHandler.
type Handler struct {
	cfg     Config
	deps    Deps
	logger  *slog.Logger
	mux     *http.ServeMux
	csrf    *http.CrossOriginProtection
	pages   *pages
	reports *Reports
	limits  *limits

	// cookieName, preCookieName and cookiePath follow from PublicURL.
	cookieName    string
	preCookieName string
	cookiePath    string
	secure        bool

	// dummyHash matches no password: sign-ins of unknown addresses check
	// against it, so timing does not tell which addresses are admins.
	dummyHash func() string
	// setupMu serialises the first-run setup, so two concurrent posts
	// cannot both create the first admin.
	setupMu sync.Mutex
	// totpUsed remembers the last TOTP time step each admin used, so a
	// code cannot be replayed within its window.
	totpUsed *usedSteps
}

// NewHandler returns the console for cfg and deps. It serves paths under
// /admin/: mount it at "/admin/" without stripping the prefix.
// It panics if a required member of deps is nil, as http.ServeMux does for
// a bad pattern: that is a programming error.
func NewHandler(cfg Config, deps Deps, logger *slog.Logger) http.Handler {
	cfg = cfg.withDefaults()
	if deps.Admins == nil || deps.Audit == nil || deps.Users == nil || deps.HashPassword == nil || deps.VerifyPassword == nil {
		panic("admin: Deps needs Admins, Audit, Users, HashPassword and VerifyPassword")
	}
	if cfg.BillingRule != BillingActive && cfg.BillingRule != BillingCreatedMonth {
		panic(fmt.Sprintf("admin: unknown billing rule %q", cfg.BillingRule))
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	h := &Handler{
		cfg:      cfg,
		deps:     deps,
		logger:   logger,
		mux:      http.NewServeMux(),
		csrf:     http.NewCrossOriginProtection(),
		pages:    parsePages(),
		limits:   newLimits(),
		totpUsed: newUsedSteps(),
	}
	if deps.Reports != nil {
		h.reports = NewReports(deps.Reports, cfg.BillingRule, cfg.Now)
	}
	h.secure = secureCookies(cfg.PublicURL)
	h.cookieName, h.preCookieName, h.cookiePath = "foyer_admin", "foyer_admin_signin", "/admin/"
	if h.secure {
		// The __Host- prefix makes browsers refuse the cookie unless it
		// is Secure, host-only and for path "/".
		h.cookieName, h.preCookieName, h.cookiePath = "__Host-foyer_admin", "__Host-foyer_admin_signin", "/"
	}
	if u := cfg.PublicURL; u != nil && u.Scheme != "" && u.Host != "" {
		if err := h.csrf.AddTrustedOrigin(u.Scheme + "://" + u.Host); err != nil {
			panic("admin: public URL: " + err.Error())
		}
	}
	h.csrf.SetDenyHandler(http.HandlerFunc(h.crossOriginDenied))
	h.dummyHash = sync.OnceValue(func() string {
		s, err := deps.HashPassword(randomToken())
		if err != nil {
			return ""
		}
		return s
	})
	h.routes()
	return h.csrf.Handler(http.HandlerFunc(h.serve))
}

// handlerFunc is the signature of every route: it returns the error to
// report instead of writing it.
type handlerFunc func(w http.ResponseWriter, r *http.Request) error

// routes lists every route of the console.
func (h *Handler) routes() {
	h.mux.HandleFunc("GET /admin/static/admin.css", h.stylesheet)
	h.mux.HandleFunc("GET /admin", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/admin/", http.StatusMovedPermanently)
	})

	// Signing in: no session yet.
	h.public("GET /admin/login", h.loginPage)
	h.public("POST /admin/login", h.login)
	h.public("GET /admin/setup", h.setupPage)
	h.public("POST /admin/setup", h.setup)

	// Everything else needs a session.
	h.private("POST /admin/logout", h.logout)
	h.private("GET /admin/{$}", h.dashboard)
	h.private("GET /admin/reports/{file}", h.reportCSV)
	h.private("GET /admin/users", h.listUsers)
	h.private("GET /admin/users/{id}", h.userPage)
	h.private("POST /admin/users/{id}/data", h.updateUserData)
	h.private("POST /admin/users/{id}/revoke", h.revokeUserTokens)
	h.private("GET /admin/users/{id}/delete", h.deleteUserPage)
	h.private("POST /admin/users/{id}/delete", h.deleteUser)
	h.private("POST /admin/users/{id}/sessions/{sid}/revoke", h.revokeSession)
	h.private("GET /admin/users/{id}/export", h.exportUser)
	h.private("POST /admin/users/{id}/convert", h.convertUser)
	h.private("GET /admin/webhooks", h.listWebhooks)
	h.private("GET /admin/webhooks/{id}", h.webhookPage)
	h.private("POST /admin/webhooks/{id}/enabled", h.setWebhookEnabled)
	h.private("POST /admin/deliveries/{id}/redeliver", h.redeliver)
	h.private("GET /admin/keys", h.listKeys)
	h.private("POST /admin/keys/rotate", h.rotateKeys)
	h.private("GET /admin/api-keys", h.listAPIKeys)
	h.private("POST /admin/api-keys", h.createAPIKey)
	h.private("POST /admin/api-keys/{id}/revoke", h.revokeAPIKey)
	h.private("GET /admin/apps", h.listApps)
	h.private("POST /admin/apps", h.createApp)
	h.private("GET /admin/apps/{id}/delete", h.deleteAppPage)
	h.private("POST /admin/apps/{id}/delete", h.deleteApp)
	h.private("GET /admin/reaper", h.reaperPage)
	h.private("POST /admin/reaper", h.runReaper)
	h.private("GET /admin/mail", h.mailbox)
	h.private("GET /admin/audit", h.auditLog)
	h.private("GET /admin/settings", h.settings)
	h.private("GET /admin/settings/totp", h.totpEnrolPage)
	h.private("POST /admin/settings/totp", h.enableTOTP)
	h.private("POST /admin/settings/totp/disable", h.disableTOTP)

	h.public("/admin/", func(w http.ResponseWriter, r *http.Request) error {
		return foyer.Errorf(foyer.ENotFound, "There is no page at %s.", r.URL.Path)
	})
}

// public registers a route that needs no session.
func (h *Handler) public(pattern string, fn handlerFunc) {
	h.mux.Handle(pattern, h.handle(fn))
}

// private registers a route that needs a signed-in admin; unsafe methods
// also need the session's CSRF token.
func (h *Handler) private(pattern string, fn handlerFunc) {
	h.mux.Handle(pattern, h.handle(h.requireAdmin(fn)))
}

// serve sets the headers every response carries and recovers panics.
func (h *Handler) serve(w http.ResponseWriter, r *http.Request) {
	hd := w.Header()
	hd.Set("Content-Security-Policy", "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("X-Frame-Options", "DENY")
	hd.Set("Referrer-Policy", "same-origin")
	hd.Set("Cache-Control", "no-store")
	defer func() {
		if p := recover(); p != nil {
			if p == http.ErrAbortHandler {
				panic(p)
			}
			h.logger.ErrorContext(r.Context(), "admin console panic",
				slog.String("path", r.URL.Path), slog.Any("err", fmt.Errorf("%v\n%s", p, debug.Stack())))
			http.Error(w, "Internal error", http.StatusInternalServerError)
		}
	}()
	h.mux.ServeHTTP(w, r)
}

// handle adapts an error-returning handler: renderError is the only place
// that turns an error into a status and an error page.
func (h *Handler) handle(fn handlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := fn(w, r); err != nil {
			h.renderError(w, r, err)
		}
	})
}

// codeStatus maps error codes to HTTP statuses; others are 500.
var codeStatus = map[string]int{
	foyer.EInvalid:            http.StatusBadRequest,
	foyer.EMalformedJSON:      http.StatusBadRequest,
	foyer.EInvalidPassword:    http.StatusBadRequest,
	foyer.EUnauthorized:       http.StatusUnauthorized,
	foyer.EInvalidCredentials: http.StatusUnauthorized,
	foyer.EForbidden:          http.StatusForbidden,
	foyer.ENotFound:           http.StatusNotFound,
	foyer.EConflict:           http.StatusConflict,
	foyer.EIdentifierTaken:    http.StatusConflict,
	foyer.EPreconditionFailed: http.StatusPreconditionFailed,
	foyer.ETooLarge:           http.StatusRequestEntityTooLarge,
	foyer.ERateLimited:        http.StatusTooManyRequests,
	foyer.EUnavailable:        http.StatusServiceUnavailable,
}

// errorStatus returns the HTTP status of err.
func errorStatus(err error) int {
	if st, ok := codeStatus[foyer.ErrorCode(err)]; ok {
		return st
	}
	return http.StatusInternalServerError
}

// errorPage is the data of the error page.
type errorPage struct {
	layout
	Status  int
	Message string
}

// renderError writes err as an error page. Server-side failures are
// logged here, once; their message stays generic.
func (h *Handler) renderError(w http.ResponseWriter, r *http.Request, err error) {
	status := errorStatus(err)
	msg := foyer.ErrorMessage(err)
	if status >= 500 {
		msg = "Something went wrong on our side. The error was logged; try again later."
		if !errors.Is(err, context.Canceled) {
			h.logger.ErrorContext(r.Context(), "admin request failed",
				slog.String("method", r.Method), slog.String("route", r.Pattern), slog.Any("err", err))
		}
	}
	h.render(w, r, status, "error", &errorPage{
		layout:  h.layout(r, http.StatusText(status)),
		Status:  status,
		Message: msg,
	})
}

// crossOriginDenied answers a form post from another origin.
func (h *Handler) crossOriginDenied(w http.ResponseWriter, r *http.Request) {
	h.logger.WarnContext(r.Context(), "admin: cross-origin request refused",
		slog.String("method", r.Method), slog.String("path", r.URL.Path), slog.String("origin", r.Header.Get("Origin")))
	h.renderError(w, r, foyer.Errorf(foyer.EForbidden, "This form was sent from another site, so it was refused."))
}

// now returns the console's current time.
func (h *Handler) now() time.Time { return h.cfg.Now() }

// secureCookies reports whether cookies get the Secure attribute: always,
// except for a plain-http PublicURL on the loopback host used in
// development.
func secureCookies(u *url.URL) bool {
	if u == nil || u.Scheme != "http" {
		return true
	}
	switch u.Hostname() {
	case "localhost", "127.0.0.1", "::1":
		return false
	}
	return true
}
