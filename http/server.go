// Package http serves Foyer's JSON API: the visitor API (anonymous
// sign-up, /v1/me, progressive registration, sign-in, password reset,
// merge and export, authenticated by the anonymous cookie, the session
// cookie or a bearer token), the server API (authenticated by API keys,
// every call recorded in the audit log: users, tokens and keys, the event
// log, webhooks and their deliveries, reaper runs, exports, reports), the
// JSON Web Key Set and the operational endpoints (/healthz, /readyz,
// /metrics), and the hosted pages: server-rendered HTML forms for
// sign-in, registration, conversion, password reset and merge (pages.go).
//
// It owns the transport concerns: routing, cookies, cross-origin
// protection, the in-memory rate limits (anonymous sign-ups, conversion
// and reset requests, failed sign-ins and failed link redemptions), link
// tokens and password hashing, JSON decoding rules and the one mapping of
// error codes to HTTP statuses. Business rules and storage stay behind the
// root service interfaces. It imports the root package and, from the
// module, only token and argon2; it must not import a storage package,
// mail, webhook or reaper (they are reached through functions in Deps:
// Render, ValidateWebhookURL, NewWebhookSecret, WebhookNotify, Reap).
// Other packages import it as foyerhttp.
package http

import (
	"context"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	foyer "github.com/foyerhq/foyer"
	"github.com/foyerhq/foyer/argon2"
	"github.com/foyerhq/foyer/token"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Config holds the server's tunables. A zero value of a field takes the
// default given in its comment.
type Config struct {
	// PublicURL is the externally visible base URL of the service. Links
	// are built from it and the cookie is Secure unless it is plain http
	// on localhost or 127.0.0.1; request headers are never used instead.
	PublicURL *url.URL
	// Audience is the "aud" of the tokens the server issues. It should
	// equal the keyring's audience, which is what verification checks;
	// empty means the keyring's.
	Audience string

	// AnonymousTTL is the lifetime of an anonymous token and cookie
	// (default 365 days). It must not exceed the keyring's MaxTokenTTL.
	AnonymousTTL time.Duration
	// RenewAfter is the age after which an anonymous token is replaced on
	// its next request (sliding renewal, DESIGN §2.9); default 24h.
	RenewAfter time.Duration
	// ActivityGranularity is how often at most a user's last_seen_at is
	// written (default 1h), so that activity costs one write per visitor
	// per granularity rather than one per request.
	ActivityGranularity time.Duration
	// AccessTTL is the lifetime of a registered user's access token
	// (default 15m).
	AccessTTL time.Duration
	// SessionTTL is the lifetime of a registered user's session (default
	// 30 days).
	SessionTTL time.Duration

	// AnonymousRateLimit is how many anonymous users one client IP (one
	// /64 for IPv6) may create per hour (default 30; negative disables the
	// limit, as for a benchmark). The limit is a token bucket held in the
	// memory of each instance: behind a load balancer of n instances a
	// client may get up to n times as many, and a restart forgets it.
	AnonymousRateLimit int
	// AuthorizeRateLimit is how many requests one client IP (one /64 for
	// IPv6) may make per minute to the OpenID Connect authorization
	// endpoint, Deps.OIDCAuthorizePath (default 60; negative disables the
	// limit). Every such request stores an authorization request until it
	// expires, signed in or not, so the limit bounds what one client can
	// make the store keep; a person signing in makes one or two. Beyond it
	// the endpoint answers with the hosted error page, 429 rate_limited
	// and Retry-After. Like AnonymousRateLimit it is a token bucket in the
	// memory of each instance.
	AuthorizeRateLimit int
	// TrustForwardedFor makes the client IP the right-most entry of
	// X-Forwarded-For, the one the trusted proxy in front added. Set it
	// only behind such a proxy: otherwise clients choose their own IP.
	TrustForwardedFor bool
	// TrustedOrigins are further origins ("https://app.example.com") whose
	// cross-origin requests may use the cookie on unsafe methods. The
	// origin of PublicURL is always trusted.
	TrustedOrigins []string
	// MaxBodyBytes caps every request body (default 64 KiB).
	MaxBodyBytes int64

	// ConversionTTL is the lifetime of a conversion link (default 1h).
	ConversionTTL time.Duration
	// ResetTTL is the lifetime of a password reset link (default 1h).
	ResetTTL time.Duration
	// MergePolicy decides which data wins when an anonymous account is
	// merged into a registered one (default registered_wins).
	MergePolicy foyer.MergePolicy
	// RedirectAllowlist lists the absolute URLs outside this server that
	// the hosted pages may send a person to after signing in (return_to),
	// compared exactly. Paths on this server are always allowed.
	RedirectAllowlist []string
	// PagesDir, when set, is a directory whose files replace the hosted
	// pages' embedded templates and stylesheet of the same name, one by
	// one (see Config.CheckPages).
	PagesDir string
	// DevMode enables development conveniences, such as the development
	// mailbox GET /v1/dev/mail; never set in production.
	DevMode bool
	// PasswordParams are the argon2id parameters of new password hashes;
	// the zero value means argon2.DefaultParams. Stored hashes keep the
	// parameters they were made with.
	PasswordParams argon2.Params
	// MaxConcurrentHashes bounds how many password hashes or
	// verifications run at once (default 2): each holds the argon2id
	// memory cost, so this bounds the memory sign-in bursts can take.
	// Requests wait up to 10 s for a slot, then get 503 unavailable.
	MaxConcurrentHashes int

	// Now is the clock (default time.Now). It should be the clock the
	// keyring and the store use.
	Now func() time.Time
}

// Defaults of Config.
const (
	DefaultAnonymousTTL        = 365 * 24 * time.Hour
	DefaultRenewAfter          = 24 * time.Hour
	DefaultActivityGranularity = time.Hour
	DefaultAccessTTL           = 15 * time.Minute
	DefaultSessionTTL          = 30 * 24 * time.Hour
	DefaultAnonymousRateLimit  = 30
	DefaultAuthorizeRateLimit  = 60
	DefaultMaxBodyBytes        = 64 << 10
	DefaultConversionTTL       = time.Hour
	DefaultResetTTL            = time.Hour
)

// withDefaults returns c with every zero field set to its default.
func (c Config) withDefaults() Config {
	set := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	set(&c.AnonymousTTL, DefaultAnonymousTTL)
	set(&c.RenewAfter, DefaultRenewAfter)
	set(&c.ActivityGranularity, DefaultActivityGranularity)
	set(&c.AccessTTL, DefaultAccessTTL)
	set(&c.SessionTTL, DefaultSessionTTL)
	set(&c.ConversionTTL, DefaultConversionTTL)
	set(&c.ResetTTL, DefaultResetTTL)
	if c.AnonymousRateLimit == 0 {
		c.AnonymousRateLimit = DefaultAnonymousRateLimit
	}
	if c.AuthorizeRateLimit == 0 {
		c.AuthorizeRateLimit = DefaultAuthorizeRateLimit
	}
	if c.MaxBodyBytes <= 0 {
		c.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if c.MergePolicy == "" {
		c.MergePolicy = foyer.MergeRegisteredWins
	}
	if c.MaxConcurrentHashes <= 0 {
		c.MaxConcurrentHashes = 2
	}
	if c.PasswordParams == (argon2.Params{}) {
		c.PasswordParams = argon2.DefaultParams
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return c
}

// Deps are the services the server calls. Users, APIKeys, Events and Keys
// are required by every server; Conversions, Credentials, Merges, Sessions
// and Mail by the registration, sign-in, password and merge routes. The
// webhook, delivery, audit, export, reaper, reports, apps and OpenID
// Connect members are optional: the routes of one that is nil are not
// served.
type Deps struct {
	Users       foyer.UserService
	Conversions foyer.ConversionService
	Credentials foyer.CredentialService
	Merges      foyer.MergeService
	Sessions    foyer.SessionService
	Mail        foyer.MailService
	Events      foyer.EventService
	APIKeys     foyer.APIKeyService
	Keys        *token.Keyring

	// Ping checks the database for /readyz; nil means always ready.
	Ping func(ctx context.Context) error
	// UserCounts reports the number of anonymous and registered users for
	// the foyer_users gauge, at scrape time; nil leaves the gauge out.
	UserCounts func(ctx context.Context) (anonymous, registered int64, err error)
	// MailNotify wakes the mail worker after a request queued mail; nil
	// leaves the worker to its own schedule.
	MailNotify func()
	// Render renders a queued message into its subject, text and HTML
	// (the mail package's Templates.Render), for the development mailbox;
	// nil lists messages without their content.
	Render func(m *foyer.Mail) (subject, text, html string, err error)
	// Gatherer serves /metrics. When nil, the Registerer given to
	// NewServer is used if it is also a Gatherer (a *prometheus.Registry
	// is); otherwise /metrics is not served.
	Gatherer prometheus.Gatherer

	// Webhooks serves /v1/webhooks; nil leaves those routes out. It needs
	// ValidateWebhookURL and NewWebhookSecret.
	Webhooks foyer.WebhookService
	// ValidateWebhookURL checks an endpoint URL when it is created or
	// changed, returning EInvalid (the webhook package's ValidateURL with
	// the configured allowance for private addresses). The dispatcher's
	// client checks the address again when it connects.
	ValidateWebhookURL func(rawURL string) error
	// NewWebhookSecret returns a fresh endpoint secret, "whsec_…" (the
	// webhook package's NewSecret).
	NewWebhookSecret func() string
	// Deliveries serves /v1/deliveries; nil leaves those routes out.
	Deliveries foyer.DeliveryService
	// WebhookNotify wakes the webhook dispatcher after a redelivery was
	// queued; nil leaves the dispatcher to its own schedule.
	WebhookNotify func()
	// Audit records every server API call and serves GET /v1/audit; nil
	// records nothing and leaves the route out.
	Audit foyer.AuditService
	// Exports serves GET /v1/me/export and GET /v1/users/{id}/export; nil
	// leaves those routes out.
	Exports foyer.ExportService
	// Reap runs the reaper once (a dry run counts without deleting) for
	// POST /v1/reaper/runs, and reports how many users were, or would be,
	// deleted and the cut-off it used; nil leaves the route out.
	Reap func(ctx context.Context, dryRun bool) (deleted int, cutoff time.Time, err error)
	// Reports serves GET /v1/reports/{name} behind the API key check and
	// the audit log (the admin package's ReportsAPIHandler); it reads the
	// report name from r.PathValue("name") and writes its own answers,
	// errors included. nil leaves the route out.
	Reports http.Handler
	// Apps serves /v1/apps, the applications (OAuth clients) that sign
	// people in through OpenID Connect; nil leaves those routes out.
	Apps foyer.AppService

	// OIDC, the OpenID Connect provider (the oidc package's Provider),
	// serves OIDCPaths, every method, behind this server's request ids,
	// metrics, panic recovery and body limit; nil leaves them out. This
	// package does not import the provider, so its paths come with it.
	OIDC http.Handler
	// OIDCPaths are the paths OIDC serves (oidc.Paths).
	OIDCPaths []string
	// OIDCBrowserPaths are the paths of OIDCPaths that people reach in a
	// browser (oidc.BrowserPaths): their error answers become the hosted
	// error page (see ErrorPages).
	OIDCBrowserPaths []string
	// OIDCAuthorizePath is the authorization endpoint among OIDCPaths
	// (oidc.PathAuthorize), whose requests, of any method, are limited
	// per client IP by Config.AuthorizeRateLimit; "" limits none.
	OIDCAuthorizePath string
	// OIDCContinuePath is where the hosted sign-in and merge pages send
	// a person back to the provider, with the authorization request's id
	// ("?id=…", oidc.PathContinue). Such a page's policy lets its form's
	// redirect reach that one request's redirect URI (CSP form-action),
	// which the page finds through AuthRequests; "" or a nil AuthRequests
	// lets it reach only the allowlisted origins.
	OIDCContinuePath string
	// AuthRequests finds the authorization request of a page's return_to
	// (see OIDCContinuePath).
	AuthRequests foyer.AuthRequestService
}

// Server is the HTTP API. Create it with NewServer and serve Handler.
type Server struct {
	cfg     Config
	deps    Deps
	logger  *slog.Logger
	mux     *http.ServeMux
	handler http.Handler
	metrics *metrics
	limits  *limits
	csrf    *http.CrossOriginProtection
	pages   *pages
	// bodies holds buffers for the bodies written by hand (see
	// writeUserBody), as *[]byte.
	bodies sync.Pool

	// dummyHash is a password hash of the configured cost that matches no
	// password: sign-ins for unknown accounts verify against it, so that
	// timing does not tell which addresses have an account.
	dummyHash func() string
	// hashSlots holds one token per password hash running now.
	hashSlots chan struct{}
	// hashWait overrides how long a request waits for a slot (tests).
	hashWait time.Duration

	// cookieSecure, cookieName (the anonymous cookie) and
	// sessionCookieName follow from PublicURL.
	cookieSecure      bool
	cookieName        string
	sessionCookieName string
	// cookieAttrs are the attributes of the anonymous cookie as its
	// Set-Cookie header writes them after the value ("; Path=/; …").
	cookieAttrs string
}

// NewServer returns a server for cfg and deps. Metrics are registered on
// reg; a nil reg gets a private registry, served on /metrics.
// It panics if a TrustedOrigins entry is not an origin, or if Webhooks is
// set without ValidateWebhookURL and NewWebhookSecret, like http.ServeMux
// does for a bad pattern: these are programming errors, and an endpoint
// URL must never go unchecked.
func NewServer(cfg Config, deps Deps, logger *slog.Logger, reg prometheus.Registerer) *Server {
	cfg = cfg.withDefaults()
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if reg == nil {
		r := prometheus.NewRegistry()
		reg = r
		if deps.Gatherer == nil {
			deps.Gatherer = r
		}
	}
	if deps.Gatherer == nil {
		if g, ok := reg.(prometheus.Gatherer); ok {
			deps.Gatherer = g
		}
	}
	s := &Server{
		cfg:     cfg,
		deps:    deps,
		logger:  logger,
		mux:     http.NewServeMux(),
		metrics: newMetrics(reg, deps.UserCounts),
		limits:  newLimits(cfg.AnonymousRateLimit, cfg.AuthorizeRateLimit),
		csrf:    http.NewCrossOriginProtection(),

		hashSlots: make(chan struct{}, cfg.MaxConcurrentHashes),
	}
	s.dummyHash = sync.OnceValue(func() string { return newDummyHash(cfg.PasswordParams) })
	s.cookieSecure = secureCookies(cfg.PublicURL)
	s.cookieName, s.sessionCookieName = "foyer_anon", "foyer_session"
	if s.cookieSecure {
		s.cookieName, s.sessionCookieName = "__Host-foyer_anon", "__Host-foyer_session"
	}
	// The attributes follow the empty value: "name=; Path=/; …".
	s.cookieAttrs = strings.TrimPrefix(s.anonymousCookie().String(), s.cookieName+"=")
	origins := cfg.TrustedOrigins
	if u := cfg.PublicURL; u != nil && u.Scheme != "" && u.Host != "" {
		origins = append([]string{u.Scheme + "://" + u.Host}, origins...)
	}
	for _, o := range origins {
		if err := s.csrf.AddTrustedOrigin(o); err != nil {
			panic("foyerhttp: trusted origin: " + err.Error())
		}
	}
	if deps.Webhooks != nil && (deps.ValidateWebhookURL == nil || deps.NewWebhookSecret == nil) {
		panic("foyerhttp: Deps.Webhooks needs ValidateWebhookURL and NewWebhookSecret")
	}
	s.routes()
	s.handler = http.HandlerFunc(s.serve)
	return s
}

// Handler returns the handler of the whole API.
func (s *Server) Handler() http.Handler { return s.handler }

// handlerFunc is the signature of every route: it returns the error to
// report instead of writing it.
type handlerFunc func(w http.ResponseWriter, r *http.Request) error

// routes lists every route of the API.
func (s *Server) routes() {
	// Visitor API: the anonymous cookie, the session cookie or a bearer
	// token; the routes without a middleware read what they need.
	s.route("POST /v1/anonymous", s.createAnonymous)
	s.route("GET /v1/me", s.visitor(s.getMe))
	s.route("PATCH /v1/me", s.visitor(s.patchMe))
	s.route("DELETE /v1/me", s.visitor(s.deleteMe))
	s.route("POST /v1/me/convert", s.visitor(s.convertMe))
	s.route("POST /v1/convert/complete", s.completeConversion)
	s.route("POST /v1/me/merge", s.registered(s.mergeMe))
	s.route("POST /v1/login", s.login)
	s.route("POST /v1/token/refresh", s.refreshToken)
	s.route("POST /v1/logout", s.registered(s.logout))
	s.route("POST /v1/password/forgot", s.forgotPassword)
	s.route("POST /v1/password/reset", s.resetPassword)
	if s.deps.Exports != nil {
		s.route("GET /v1/me/export", s.visitor(s.exportMe))
	}

	// Server API: an API key as bearer token.
	s.route("POST /v1/users", s.server(s.createUser))
	s.route("GET /v1/users", s.server(s.listUsers))
	s.route("GET /v1/users/{id}", s.server(s.getUser))
	s.route("PATCH /v1/users/{id}", s.server(s.patchUser))
	s.route("DELETE /v1/users/{id}", s.server(s.deleteUser))
	s.route("POST /v1/users/{id}/revoke", s.server(s.revokeUser))
	s.route("POST /v1/users/{id}/convert", s.server(s.convertUser))
	s.route("GET /v1/aliases/{id}", s.server(s.getAlias))
	s.route("POST /v1/tokens", s.server(s.vendToken))
	s.route("POST /v1/api-keys", s.server(s.createAPIKey))
	s.route("GET /v1/api-keys", s.server(s.listAPIKeys))
	s.route("DELETE /v1/api-keys/{id}", s.server(s.deleteAPIKey))
	s.route("GET /v1/keys", s.server(s.listKeys))
	s.route("POST /v1/keys/rotate", s.server(s.rotateKeys))
	s.route("GET /v1/events", s.server(s.listEvents))
	if s.deps.Webhooks != nil {
		s.route("POST /v1/webhooks", s.server(s.createWebhook))
		s.route("GET /v1/webhooks", s.server(s.listWebhooks))
		s.route("GET /v1/webhooks/{id}", s.server(s.getWebhook))
		s.route("PATCH /v1/webhooks/{id}", s.server(s.patchWebhook))
		s.route("DELETE /v1/webhooks/{id}", s.server(s.deleteWebhook))
		s.route("POST /v1/webhooks/{id}/rotate-secret", s.server(s.rotateWebhookSecret))
	}
	if s.deps.Deliveries != nil {
		s.route("GET /v1/deliveries", s.server(s.listDeliveries))
		s.route("POST /v1/deliveries/{id}/redeliver", s.server(s.redeliver))
	}
	if s.deps.Reap != nil {
		s.route("POST /v1/reaper/runs", s.server(s.runReaper))
	}
	if s.deps.Exports != nil {
		s.route("GET /v1/users/{id}/export", s.server(s.exportUser))
	}
	if s.deps.Audit != nil {
		s.route("GET /v1/audit", s.server(s.listAudit))
	}
	if s.deps.Reports != nil {
		s.route("GET /v1/reports/{name}", s.server(s.report))
	}
	if s.deps.Apps != nil {
		s.route("POST /v1/apps", s.server(s.createApp))
		s.route("GET /v1/apps", s.server(s.listApps))
		s.route("GET /v1/apps/{id}", s.server(s.getApp))
		s.route("PATCH /v1/apps/{id}", s.server(s.patchApp))
		s.route("DELETE /v1/apps/{id}", s.server(s.deleteApp))
		s.route("POST /v1/apps/{id}/secret", s.server(s.newAppSecret))
	}
	if s.cfg.DevMode {
		s.route("GET /v1/dev/mail", s.server(s.devMail))
	}

	// Hosted pages: HTML forms that act through the visitor API's
	// handlers (pages.go).
	p := s.newPages()
	s.pages = p
	p.route("GET /login", p.loginForm)
	p.route("POST /login", p.login)
	p.route("GET /register", p.registerForm)
	p.route("POST /register", p.register)
	p.route("GET /convert/complete", p.convertForm)
	p.route("POST /convert/complete", p.convert)
	p.route("GET /password/forgot", p.forgotForm)
	p.route("POST /password/forgot", p.forgot)
	p.route("GET /password/reset", p.resetForm)
	p.route("POST /password/reset", p.reset)
	p.route("GET /merge", p.mergeForm)
	p.route("POST /merge", p.merge)
	p.route("GET /logout", p.logoutForm)
	p.route("POST /logout", p.logout)
	p.route("GET /assets/foyer.css", p.stylesheet)

	// OpenID Connect: the provider's paths, every method; the provider
	// routes them itself (oidc.go).
	if s.deps.OIDC != nil {
		for _, path := range s.deps.OIDCPaths {
			s.mux.Handle(path, s.oidcHandler(path))
		}
	}

	// Public keys and operations.
	s.route("GET /.well-known/jwks.json", s.jwks)
	s.route("GET /healthz", s.healthz)
	s.route("GET /readyz", s.readyz)
	if s.deps.Gatherer != nil {
		s.mux.Handle("GET /metrics", promhttp.HandlerFor(s.deps.Gatherer, promhttp.HandlerOpts{}))
	}
}

// route registers h for pattern.
func (s *Server) route(pattern string, h handlerFunc) {
	s.mux.Handle(pattern, s.handle(h))
}

// handle adapts an error-returning handler; writeError is the only place
// that turns an error into a status code and a JSON body.
func (s *Server) handle(h handlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := h(w, r); err != nil {
			s.writeError(w, r, err)
		}
	})
}

// now returns the server's current time.
func (s *Server) now() time.Time { return s.cfg.Now() }

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
