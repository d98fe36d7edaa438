package admin_test

import (
	"context"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
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
	"strings"
	"sync"
	"testing"
	"time"

	foyer "github.com/foyerhq/foyer"
	"github.com/foyerhq/foyer/admin"
	"github.com/foyerhq/foyer/sqlite"
	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"
)

// testClock is a settable clock shared by the store and the console.
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

func (c *testClock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

// start is the test clock's first reading: the console's dashboard and
// the fixtures count days from it.
var start = time.Date(2026, 3, 4, 10, 0, 0, 0, time.UTC)

// Passwords of the test admins, and the bootstrap API key.
const (
	adminEmail    = "ops@example.com"
	adminPassword = "correct horse battery staple"
	bootstrapKey  = "foyer_sk_bootstrap-key-for-tests-0123456789"
)

// hashPassword and verifyPassword hash admin passwords with PBKDF2 from
// the standard library, cheap enough for tests; the console treats the
// hash as opaque.
func hashPassword(p string) (string, error) {
	salt := make([]byte, 16)
	rand.Read(salt)
	k, err := pbkdf2.Key(sha256.New, p, salt, 1000, 32)
	if err != nil {
		return "", err
	}
	return base64.RawStdEncoding.EncodeToString(salt) + "$" + base64.RawStdEncoding.EncodeToString(k), nil
}

func verifyPassword(p, encoded string) (bool, error) {
	s, h, ok := strings.Cut(encoded, "$")
	if !ok {
		return false, fmt.Errorf("malformed hash")
	}
	salt, err := base64.RawStdEncoding.DecodeString(s)
	if err != nil {
		return false, err
	}
	want, err := base64.RawStdEncoding.DecodeString(h)
	if err != nil {
		return false, err
	}
	k, err := pbkdf2.Key(sha256.New, p, salt, 1000, 32)
	if err != nil {
		return false, err
	}
	return subtle.ConstantTimeCompare(k, want) == 1, nil
}

// console is the admin console over a real SQLite store, served by a
// real HTTP server.
type console struct {
	URL   string
	srv   *httptest.Server
	db    *sqlite.DB
	clock *testClock

	users       foyer.UserService
	sessions    foyer.SessionService
	conversions foyer.ConversionService
	admins      foyer.AdminService
	audit       foyer.AuditService
	events      foyer.EventService
	reaps       foyer.ReapService
	apiKeys     foyer.APIKeyService
	signingKeys foyer.SigningKeyService
	webhooks    foyer.WebhookService
	deliveries  foyer.DeliveryService
	mail        foyer.MailService
	apps        foyer.AppService
}

// setup starts the console on a fresh SQLite file, in development mode.
// configure may change the configuration and dependencies before the
// handler is built.
func setup(t *testing.T, configure ...func(*admin.Config, *admin.Deps)) *console {
	t.Helper()
	ctx := t.Context()
	clock := &testClock{t: start}
	db := sqlite.NewDB(filepath.Join(t.TempDir(), "foyer.db"))
	db.Now = clock.Now
	if err := db.Open(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	c := &console{
		db:          db,
		clock:       clock,
		users:       sqlite.NewUserService(db),
		sessions:    sqlite.NewSessionService(db),
		conversions: sqlite.NewConversionService(db),
		admins:      sqlite.NewAdminService(db),
		audit:       sqlite.NewAuditService(db),
		events:      sqlite.NewEventService(db),
		reaps:       sqlite.NewReapService(db),
		apiKeys:     sqlite.NewAPIKeyService(db),
		signingKeys: sqlite.NewSigningKeyService(db),
		webhooks:    sqlite.NewWebhookService(db),
		deliveries:  sqlite.NewDeliveryService(db),
		mail:        sqlite.NewMailService(db),
		apps:        sqlite.NewAppService(db),
	}
	c.srv = httptest.NewUnstartedServer(nil)
	c.URL = "http://" + c.srv.Listener.Addr().String()
	public, _ := url.Parse(c.URL)
	cfg := admin.Config{PublicURL: public, Now: clock.Now, DevMode: true}
	deps := admin.Deps{
		Admins:         c.admins,
		Audit:          c.audit,
		Users:          c.users,
		Events:         c.events,
		Sessions:       c.sessions,
		Conversions:    c.conversions,
		Exports:        sqlite.NewExportService(db),
		Reports:        sqlite.NewReportService(db),
		Webhooks:       c.webhooks,
		Deliveries:     c.deliveries,
		APIKeys:        c.apiKeys,
		Mail:           c.mail,
		Apps:           c.apps,
		HashPassword:   hashPassword,
		VerifyPassword: verifyPassword,
		CheckBootstrapKey: func(key string) bool {
			return subtle.ConstantTimeCompare([]byte(key), []byte(bootstrapKey)) == 1
		},
		NewAPIKey:    newAPIKey,
		NewAppSecret: newAppSecret,
		ListKeys:     c.listKeys,
		RotateKeys:   c.rotateKey,
		RenderMail:   renderMail,
		Reap: func(ctx context.Context, dryRun bool) (int, time.Time, error) {
			cutoff := clock.Now().Add(-30 * 24 * time.Hour)
			ids, err := c.reaps.DeleteExpiredAnonymousUsers(ctx, cutoff, 100, dryRun)
			return len(ids), cutoff, err
		},
		UserCounts: db.UserCounts,
	}
	for _, f := range configure {
		f(&cfg, &deps)
	}
	logger := slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn}))
	mux := http.NewServeMux()
	mux.Handle("/admin/", admin.NewHandler(cfg, deps, logger))
	c.srv.Config.Handler = mux
	c.srv.Start()
	t.Cleanup(c.srv.Close)
	return c
}

// newAPIKey makes an API key as the http package does: a random secret
// whose SHA-256 is stored.
func newAPIKey() (string, *foyer.APIKey) {
	var b [32]byte
	rand.Read(b[:])
	secret := "foyer_sk_" + base64.RawURLEncoding.EncodeToString(b[:])
	sum := sha256.Sum256([]byte(secret))
	return secret, &foyer.APIKey{Prefix: secret[:15], Hash: sum[:]}
}

// newAppSecret makes a client secret as the http package does: a random
// secret whose SHA-256 is stored.
func newAppSecret() (string, []byte) {
	var b [32]byte
	rand.Read(b[:])
	secret := "foyer_cs_" + base64.RawURLEncoding.EncodeToString(b[:])
	sum := sha256.Sum256([]byte(secret))
	return secret, sum[:]
}

// rotateKey stores a new signing key. The store treats key material as
// opaque bytes, so the test stores placeholders of the right shape.
func (c *console) rotateKey(ctx context.Context) error {
	var b [8]byte
	rand.Read(b[:])
	id := fmt.Sprintf("key-%x", b)
	return c.signingKeys.CreateSigningKey(ctx, &foyer.SigningKey{
		ID: id, Algorithm: "ES256", PrivateKey: []byte("sealed"), PublicKey: []byte(`{"kid":"` + id + `"}`),
	})
}

// listKeys lists the stored signing keys.
func (c *console) listKeys() []admin.KeyInfo {
	keys, err := c.signingKeys.FindSigningKeys(context.Background())
	if err != nil {
		return nil
	}
	out := make([]admin.KeyInfo, len(keys))
	for i, k := range keys {
		out[i] = admin.KeyInfo{ID: k.ID, Algorithm: k.Algorithm, CreatedAt: k.CreatedAt, RetiredAt: k.RetiredAt}
	}
	return out
}

// renderMail renders a queued message the way the development mailbox
// shows it: a subject by kind and a text with the link.
func renderMail(m *foyer.Mail) (subject, text, html string, err error) {
	var d struct {
		Token string `json:"token"`
	}
	if err := json.Unmarshal(m.Data, &d); err != nil {
		return "", "", "", err
	}
	link := "https://foyer.test/convert/complete?token=" + d.Token
	return "Save your progress (" + m.Kind + ")", "Open " + link + " to save your progress.", "<p><a href=\"" + link + "\">Save</a></p>", nil
}

// createAdmin creates the test admin.
func (c *console) createAdmin(t *testing.T, email string) *foyer.Admin {
	t.Helper()
	a, err := admin.CreateAdmin(t.Context(), c.admins, email, adminPassword, hashPassword)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// client is a browser-like HTTP client with its own cookies. It does not
// follow redirects, so tests see them.
type client struct {
	t    *testing.T
	c    *console
	http *http.Client
	// header is added to every request.
	header http.Header
}

func (c *console) client(t *testing.T) *client {
	jar, _ := cookiejar.New(nil)
	return &client{t: t, c: c, header: http.Header{}, http: &http.Client{
		Jar: jar,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}}
}

// response is a response read whole.
type response struct {
	Status int
	Header http.Header
	Body   string
}

// Location returns the redirect target's path and query.
func (r *response) Location() string { return r.Header.Get("Location") }

// do sends a request; a non-nil form is sent as the body.
func (cl *client) do(method, path string, form url.Values) *response {
	cl.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequestWithContext(cl.t.Context(), method, cl.c.URL+path, body)
	if err != nil {
		cl.t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for k, vs := range cl.header {
		req.Header[k] = vs
	}
	resp, err := cl.http.Do(req)
	if err != nil {
		cl.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		cl.t.Fatal(err)
	}
	return &response{Status: resp.StatusCode, Header: resp.Header, Body: string(b)}
}

// get fetches path and checks the status.
func (cl *client) get(path string, want int) *response {
	cl.t.Helper()
	r := cl.do("GET", path, nil)
	if r.Status != want {
		cl.t.Fatalf("GET %s: status %d, want %d\n%s", path, r.Status, want, r.Body)
	}
	return r
}

// post sends a form with the CSRF token of page (a path to fetch first)
// and checks the status.
func (cl *client) post(page, path string, form url.Values, want int) *response {
	cl.t.Helper()
	if form == nil {
		form = url.Values{}
	}
	if _, ok := form["csrf"]; !ok {
		form.Set("csrf", csrfToken(cl.t, cl.get(page, http.StatusOK).Body))
	}
	r := cl.do("POST", path, form)
	if r.Status != want {
		cl.t.Fatalf("POST %s: status %d, want %d\n%s", path, r.Status, want, r.Body)
	}
	return r
}

// secretPattern finds the TOTP setup key on the enrolment page.
var secretPattern = regexp.MustCompile(`id="totp-secret">([A-Z2-7]+)<`)

var csrfPattern = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// csrfToken returns the synchronizer token in a page's forms.
func csrfToken(t *testing.T, page string) string {
	t.Helper()
	m := csrfPattern.FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("no CSRF token in the page:\n%s", page)
	}
	return html.UnescapeString(m[1])
}

// signIn signs cl in as email with the test password and, if not "", a
// TOTP code.
func (cl *client) signIn(email, code string) {
	cl.t.Helper()
	form := url.Values{"email": {email}, "password": {adminPassword}}
	if code != "" {
		form.Set("code", code)
	}
	r := cl.post("/admin/login", "/admin/login", form, http.StatusSeeOther)
	if r.Location() != "/admin/" {
		cl.t.Fatalf("signed in to %q, want /admin/", r.Location())
	}
}

// signedIn returns a client signed in as a fresh admin.
func (c *console) signedIn(t *testing.T) *client {
	t.Helper()
	c.createAdmin(t, adminEmail)
	cl := c.client(t)
	cl.signIn(adminEmail, "")
	return cl
}

// totpCode returns the code of secret at the console's time.
func (c *console) totpCode(t *testing.T, secret string) string {
	t.Helper()
	code, err := totp.GenerateCodeCustom(secret, c.clock.Now(), totp.ValidateOpts{Period: 30, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
	if err != nil {
		t.Fatal(err)
	}
	return code
}

// auditActions returns the actions recorded for target, oldest first.
func (c *console) auditActions(t *testing.T, target string) []string {
	t.Helper()
	entries, err := c.audit.FindAuditEntries(t.Context(), foyer.AuditFilter{Target: &target, Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for i := len(entries) - 1; i >= 0; i-- {
		out = append(out, fmt.Sprintf("%s %d", entries[i].Action, entries[i].Status))
	}
	return out
}

// anonymous creates an anonymous user with data.
func (c *console) anonymous(t *testing.T, data string) *foyer.User {
	t.Helper()
	u := &foyer.User{Anonymous: true, Data: []byte(data)}
	if err := c.users.CreateUser(t.Context(), u); err != nil {
		t.Fatal(err)
	}
	return u
}

// registered creates a registered user with a verified email.
func (c *console) registered(t *testing.T, email string) *foyer.User {
	t.Helper()
	u := &foyer.User{Email: email, EmailVerified: true, Data: []byte(`{}`)}
	if err := c.users.CreateUser(t.Context(), u); err != nil {
		t.Fatal(err)
	}
	return u
}

// session starts a session of a registered user.
func (c *console) session(t *testing.T, u *foyer.User, userAgent string) *foyer.Session {
	t.Helper()
	sum := sha256.Sum256([]byte(userAgent + u.ID + c.clock.Now().String()))
	s := &foyer.Session{UserID: u.ID, RefreshHash: sum[:], ExpiresAt: c.clock.Now().Add(30 * 24 * time.Hour), UserAgent: userAgent, IP: "198.51.100.7"}
	if _, err := c.sessions.CreateSession(t.Context(), s); err != nil {
		t.Fatal(err)
	}
	return s
}

// requestConversion records a pending conversion of u to email.
func (c *console) requestConversion(t *testing.T, u *foyer.User, email string) {
	t.Helper()
	token := fmt.Sprintf("token-%s", u.ID)
	sum := sha256.Sum256([]byte(token))
	err := c.conversions.RequestConversion(t.Context(), foyer.ConversionRequest{
		UserID: u.ID, Email: email, TokenHash: sum[:], Token: token, ExpiresAt: c.clock.Now().Add(time.Hour),
	})
	if err != nil {
		t.Fatal(err)
	}
}

// mustContain fails unless body contains every one of want.
func mustContain(t *testing.T, body string, want ...string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(body, w) {
			t.Errorf("the page does not contain %q", w)
		}
	}
	if t.Failed() {
		t.Logf("page:\n%s", body)
		t.FailNow()
	}
}

// mustNotContain fails if body contains one of unwanted.
func mustNotContain(t *testing.T, body string, unwanted ...string) {
	t.Helper()
	for _, w := range unwanted {
		if strings.Contains(body, w) {
			t.Errorf("the page contains %q", w)
		}
	}
	if t.Failed() {
		t.Logf("page:\n%s", body)
		t.FailNow()
	}
}
