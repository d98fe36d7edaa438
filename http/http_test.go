package http_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	foyer "github.com/foyerhq/foyer"
	"github.com/foyerhq/foyer/admin"
	"github.com/foyerhq/foyer/argon2"
	foyerhttp "github.com/foyerhq/foyer/http"
	"github.com/foyerhq/foyer/oidc"
	"github.com/foyerhq/foyer/reaper"
	"github.com/foyerhq/foyer/sqlite"
	"github.com/foyerhq/foyer/token"
	"github.com/foyerhq/foyer/webhook"
	"github.com/prometheus/client_golang/prometheus"
)

const (
	testIssuer        = "https://foyer.test"
	testAudience      = "foyer-test"
	cookieName        = "__Host-foyer_anon"
	sessionCookieName = "__Host-foyer_session"
)

// cheapPasswords keeps password hashing fast in tests; the format, the
// salt and the checks are those of the real parameters.
var cheapPasswords = argon2.Params{Memory: 1024, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}

// testClock is a settable clock shared by the store, the keyring and the
// server.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *testClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// testServer is the real handler over a real SQLite store and keyring.
type testServer struct {
	server      *foyerhttp.Server
	handler     http.Handler
	db          *sqlite.DB
	dbPath      string
	users       foyer.UserService
	events      foyer.EventService
	signingKeys foyer.SigningKeyService
	mail        foyer.MailService
	sessions    foyer.SessionService
	webhooks    foyer.WebhookService
	deliveries  foyer.DeliveryService
	audit       foyer.AuditService
	reaper      *reaper.Reaper
	keys        *token.Keyring
	keyConfig   token.Config
	clock       *testClock
	reg         *prometheus.Registry
	apiKey      string // secret of an API key for the server API
	apiKeyID    string // its id
	// notified counts the calls of Deps.MailNotify.
	notified atomic.Int64
	// webhookNotified counts the calls of Deps.WebhookNotify.
	webhookNotified atomic.Int64
}

// testRetention is the reaper's retention in tests: the default anonymous
// lifetime and a grace period.
const testRetention = foyerhttp.DefaultAnonymousTTL + 10*24*time.Hour

// setup starts a server on a fresh SQLite file, in development mode and
// with cheap password hashing. configure may change the server
// configuration before it is built.
func setup(t testing.TB, configure ...func(*foyerhttp.Config)) *testServer {
	t.Helper()
	ctx := t.Context()
	clock := &testClock{t: time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)}
	path := filepath.Join(t.TempDir(), "foyer.db")
	db := sqlite.NewDB(path)
	db.Now = clock.Now
	if err := db.Open(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	ts := &testServer{
		db:          db,
		dbPath:      path,
		users:       sqlite.NewUserService(db),
		events:      sqlite.NewEventService(db),
		signingKeys: sqlite.NewSigningKeyService(db),
		mail:        sqlite.NewMailService(db),
		sessions:    sqlite.NewSessionService(db),
		webhooks:    sqlite.NewWebhookService(db),
		deliveries:  sqlite.NewDeliveryService(db),
		audit:       sqlite.NewAuditService(db),
		clock:       clock,
		reg:         prometheus.NewRegistry(),
	}
	ts.keyConfig = token.Config{
		Issuer:        testIssuer,
		Audience:      testAudience,
		Algorithm:     "ES256",
		EncryptionKey: bytes.Repeat([]byte{7}, 32),
		MaxTokenTTL:   400 * 24 * time.Hour,
		Now:           clock.Now,
	}
	ts.keys = token.NewKeyring(ts.signingKeys, ts.keyConfig)
	if err := ts.keys.Load(ctx); err != nil {
		t.Fatal(err)
	}
	public, _ := url.Parse(testIssuer)
	cfg := foyerhttp.Config{PublicURL: public, Audience: testAudience, Now: clock.Now, DevMode: true, PasswordParams: cheapPasswords}
	for _, f := range configure {
		f(&cfg)
	}
	logger := slog.New(slog.NewTextHandler(t.Output(), nil))
	ts.reaper = reaper.New(sqlite.NewReapService(db), logger)
	ts.reaper.Retention = testRetention
	ts.reaper.Now = clock.Now
	apiKeys := sqlite.NewAPIKeyService(db)
	apps, authRequests := sqlite.NewAppService(db), sqlite.NewAuthRequestService(db)
	// The OpenID Connect provider, mounted as foyer serve mounts it; it
	// asks the server who is signed in, which it is asked only once both
	// are built.
	provider, err := oidc.New(oidc.Config{
		Issuer:    testIssuer,
		Audience:  testAudience,
		CryptoKey: [32]byte{7},
		SignedIn:  func(r *http.Request) (string, time.Time, error) { return ts.server.SignedIn(r) },
		Now:       clock.Now,
		Logger:    logger,
	}, oidc.Deps{Apps: apps, AuthRequests: authRequests, Sessions: ts.sessions, Users: ts.users, Keys: ts.keys})
	if err != nil {
		t.Fatal(err)
	}
	deps := foyerhttp.Deps{
		Users:       ts.users,
		Conversions: sqlite.NewConversionService(db),
		Credentials: sqlite.NewCredentialService(db),
		Merges:      sqlite.NewMergeService(db),
		Sessions:    ts.sessions,
		Mail:        ts.mail,
		Events:      ts.events,
		APIKeys:     apiKeys,
		Keys:        ts.keys,
		Ping:        db.Ping,
		UserCounts:  db.UserCounts,
		MailNotify:  func() { ts.notified.Add(1) },
		Render:      renderMail,

		Webhooks: ts.webhooks,
		// As in production: endpoints on this machine or a private
		// network are refused.
		ValidateWebhookURL: func(raw string) error { return webhook.ValidateURL(raw, false) },
		NewWebhookSecret:   webhook.NewSecret,
		Deliveries:         ts.deliveries,
		WebhookNotify:      func() { ts.webhookNotified.Add(1) },
		Audit:              ts.audit,
		Exports:            sqlite.NewExportService(db),
		Reap: func(ctx context.Context, dryRun bool) (int, time.Time, error) {
			res, err := ts.reaper.RunOnce(ctx, dryRun)
			return res.Deleted, res.Cutoff, err
		},
		Reports: admin.ReportsAPIHandler(admin.NewReports(sqlite.NewReportService(db), admin.BillingActive, clock.Now)),
		Apps:    apps,

		OIDC:              provider,
		OIDCPaths:         oidc.Paths(),
		OIDCBrowserPaths:  oidc.BrowserPaths(),
		OIDCAuthorizePath: oidc.PathAuthorize,
		OIDCContinuePath:  oidc.PathContinue,
		AuthRequests:      authRequests,
	}
	ts.server = foyerhttp.NewServer(cfg, deps, logger, ts.reg)
	ts.handler = ts.server.Handler()

	secret, k := foyerhttp.NewAPIKey()
	k.Name = "test"
	if err := apiKeys.CreateAPIKey(ctx, k); err != nil {
		t.Fatal(err)
	}
	ts.apiKey, ts.apiKeyID = secret, k.ID
	return ts
}

// request builds a request; header holds name, value pairs.
func request(method, path, body string, header ...string) *http.Request {
	var r *http.Request
	if body == "" {
		r = httptest.NewRequest(method, path, nil)
	} else {
		r = httptest.NewRequest(method, path, strings.NewReader(body))
	}
	for i := 0; i+1 < len(header); i += 2 {
		r.Header.Add(header[i], header[i+1])
	}
	return r
}

// serve runs r through the handler.
func (ts *testServer) serve(r *http.Request) *httptest.ResponseRecorder {
	w := httptest.NewRecorder()
	ts.handler.ServeHTTP(w, r)
	return w
}

// do sends one request.
func (ts *testServer) do(method, path, body string, header ...string) *httptest.ResponseRecorder {
	return ts.serve(request(method, path, body, header...))
}

// Header pairs used by the tables.
var (
	jsonType       = []string{"Content-Type", "application/json"}
	mergePatchType = []string{"Content-Type", "application/merge-patch+json"}
	crossOrigin    = []string{"Origin", "https://evil.test", "Sec-Fetch-Site", "cross-site"}
)

func bearer(tok string) []string     { return []string{"Authorization", "Bearer " + tok} }
func withCookie(tok string) []string { return []string{"Cookie", cookieName + "=" + tok} }
func (ts *testServer) api() []string { return bearer(ts.apiKey) }

// join concatenates header pairs.
func join(parts ...[]string) []string {
	var h []string
	for _, p := range parts {
		h = append(h, p...)
	}
	return h
}

// scenario is one row of a table test: a request and what must come back.
type scenario struct {
	name       string
	method     string
	path       string
	header     []string
	body       string
	wantStatus int
	wantCode   string   // error code; "" for a success
	wantBody   []string // substrings of the body
}

// run runs each scenario as a subtest.
func (ts *testServer) run(t *testing.T, tests []scenario) {
	t.Helper()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Helper()
			w := ts.do(tt.method, tt.path, tt.body, tt.header...)
			check(t, w, tt.wantStatus, tt.wantCode, tt.wantBody...)
		})
	}
}

// check asserts status, error code (or its absence) and body substrings.
func check(t testing.TB, w *httptest.ResponseRecorder, wantStatus int, wantCode string, wantBody ...string) {
	t.Helper()
	if w.Code != wantStatus {
		t.Fatalf("status = %d, want %d; body %s", w.Code, wantStatus, w.Body)
	}
	if got := errorCode(t, w); got != wantCode {
		t.Fatalf("error code = %q, want %q; body %s", got, wantCode, w.Body)
	}
	for _, s := range wantBody {
		if !strings.Contains(w.Body.String(), s) {
			t.Errorf("body %s does not contain %q", w.Body, s)
		}
	}
}

// errorCode returns the code of an error response, "" for a success. An
// error body must be exactly {"error":{"code","message"}}.
func errorCode(t testing.TB, w *httptest.ResponseRecorder) string {
	t.Helper()
	if w.Code < 400 {
		return ""
	}
	if ct := w.Header().Get("Content-Type"); ct != "application/json" {
		t.Fatalf("error Content-Type = %q, want application/json", ct)
	}
	var body struct {
		Error struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
	dec := json.NewDecoder(bytes.NewReader(w.Body.Bytes()))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&body); err != nil {
		t.Fatalf("error body %s: %v", w.Body, err)
	}
	if body.Error.Code == "" || body.Error.Message == "" {
		t.Fatalf("error body %s lacks code or message", w.Body)
	}
	if got, want := w.Code, foyerhttp.ErrorStatus(body.Error.Code); got != want {
		t.Fatalf("status %d for code %q, want %d", got, body.Error.Code, want)
	}
	return body.Error.Code
}

// decode decodes a JSON response body into v.
func decode(t testing.TB, w *httptest.ResponseRecorder, v any) {
	t.Helper()
	if err := json.Unmarshal(w.Body.Bytes(), v); err != nil {
		t.Fatalf("decode %s: %v", w.Body, err)
	}
}

// signup is the body of POST /v1/anonymous.
type signup struct {
	User      userDoc   `json:"user"`
	Token     string    `json:"token"`
	ExpiresAt time.Time `json:"expires_at"`
}

// userDoc is the user document as clients see it.
type userDoc struct {
	ID            string          `json:"id"`
	Anonymous     bool            `json:"anonymous"`
	Email         string          `json:"email"`
	EmailVerified bool            `json:"email_verified"`
	PendingEmail  string          `json:"pending_email"`
	Data          json.RawMessage `json:"data"`
	CreatedAt     time.Time       `json:"created_at"`
	UpdatedAt     time.Time       `json:"updated_at"`
	LastSeenAt    time.Time       `json:"last_seen_at"`
}

// signup creates an anonymous visitor through the API.
func (ts *testServer) signup(t testing.TB) signup {
	t.Helper()
	w := ts.do("POST", "/v1/anonymous", "")
	check(t, w, http.StatusCreated, "")
	var s signup
	decode(t, w, &s)
	return s
}

// findUser reads a user straight from the store.
func (ts *testServer) findUser(t testing.TB, id string) *foyer.User {
	t.Helper()
	u, err := ts.users.FindUserByID(t.Context(), id)
	if err != nil {
		t.Fatalf("find user %s: %v", id, err)
	}
	return u
}

// cookie returns the Set-Cookie named name of w, or nil.
func cookie(w *httptest.ResponseRecorder, name string) *http.Cookie {
	for _, c := range w.Result().Cookies() {
		if c.Name == name {
			return c
		}
	}
	return nil
}
