// Package storetest is the contract suite of Foyer's stores: one set of
// tests, written against the root service interfaces, that the sqlite and
// postgres packages both run, so that they are proven to behave the same.
// It covers every method and every documented error code, and the
// lifecycle rules of DESIGN §2, moving time through the clock it hands to
// the store.
//
// It imports only the root package, the standard library, go-cmp and
// github.com/google/uuid; a store's own tests import it, never the reverse.
package storetest

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/foyerhq/foyer"
)

// Services are the services of one store, all on the same database.
type Services struct {
	Users       foyer.UserService
	Conversions foyer.ConversionService
	Credentials foyer.CredentialService
	Merges      foyer.MergeService
	Sessions    foyer.SessionService
	Mail        foyer.MailService
	Events      foyer.EventService
	APIKeys     foyer.APIKeyService
	SigningKeys foyer.SigningKeyService
	Reaps       foyer.ReapService
	Webhooks    foyer.WebhookService
	Deliveries  foyer.DeliveryService
	Audit       foyer.AuditService
	Exports     foyer.ExportService
	Retention   foyer.EventRetentionService
	Expiry      foyer.ExpiryService
	Admins      foyer.AdminService
	Reports     foyer.ReportService

	Apps         foyer.AppService
	AuthRequests foyer.AuthRequestService

	// Mentions looks through every row of every table of the store for
	// values, as text or, for a UUID, as the bytes a store may keep it
	// in, and counts the rows that hold one of them, by table. It is how
	// the suite proves that deleting a user leaves nothing personal
	// behind, without knowing the store's schema.
	Mentions func(t *testing.T, values ...string) map[string]int
}

// Opener opens a fresh, fully migrated, empty store whose clock is now,
// and closes it in t.Cleanup. Every test opens its own store, so tests may
// run in parallel.
type Opener func(t *testing.T, now func() time.Time) Services

// Run runs the whole suite against the stores that open returns.
func Run(t *testing.T, open func(t *testing.T, now func() time.Time) Services) {
	o := Opener(open)
	t.Run("Users", func(t *testing.T) { testUsers(t, o) })
	t.Run("Conversions", func(t *testing.T) { testConversions(t, o) })
	t.Run("Credentials", func(t *testing.T) { testCredentials(t, o) })
	t.Run("Merges", func(t *testing.T) { testMerges(t, o) })
	t.Run("Sessions", func(t *testing.T) { testSessions(t, o) })
	t.Run("Mail", func(t *testing.T) { testMail(t, o) })
	t.Run("Events", func(t *testing.T) { testEvents(t, o) })
	t.Run("APIKeys", func(t *testing.T) { testAPIKeys(t, o) })
	t.Run("SigningKeys", func(t *testing.T) { testSigningKeys(t, o) })
	t.Run("Reaps", func(t *testing.T) { testReaps(t, o) })
	t.Run("Webhooks", func(t *testing.T) { testWebhooks(t, o) })
	t.Run("Deliveries", func(t *testing.T) { testDeliveries(t, o) })
	t.Run("Audit", func(t *testing.T) { testAudit(t, o) })
	t.Run("Export", func(t *testing.T) { testExport(t, o) })
	t.Run("Retention", func(t *testing.T) { testRetention(t, o) })
	t.Run("Expiry", func(t *testing.T) { testExpiry(t, o) })
	t.Run("Admins", func(t *testing.T) { testAdmins(t, o) })
	t.Run("Reports", func(t *testing.T) { testReports(t, o) })
	t.Run("Apps", func(t *testing.T) { testApps(t, o) })
	t.Run("AuthRequests", func(t *testing.T) { testAuthRequests(t, o) })
	t.Run("Text", func(t *testing.T) { testText(t, o) })
	t.Run("Lifecycle", func(t *testing.T) { testLifecycle(t, o) })
}

// t0 is where every test's clock starts: a time with milliseconds, which
// stores keep exactly.
var t0 = time.Date(2030, 1, 2, 3, 4, 5, 6_000_000, time.UTC)

// clock is a settable clock, safe for concurrent use.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

// Now returns the clock's time.
func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Advance moves the clock forward by d.
func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// Set moves the clock to t, which must not be before its time: ids are
// time-ordered.
func (c *clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if t.Before(c.now) {
		panic("storetest: the clock cannot go back")
	}
	c.now = t
}

// setup opens a fresh store with a clock at t0. It marks the test
// parallel.
func setup(t *testing.T, open Opener) (Services, *clock) {
	t.Helper()
	t.Parallel()
	c := &clock{now: t0}
	return open(t, c.Now), c
}

// wantCode fails the test unless err has the code want ("" for nil).
func wantCode(t *testing.T, err error, want string) {
	t.Helper()
	if got := foyer.ErrorCode(err); got != want {
		t.Fatalf("error code = %q, want %q (err: %v)", got, want, err)
	}
}

// ok fails the test if err is not nil.
func ok(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("unexpected error: %v", err)
	}
}

// newToken returns a random link token and its SHA-256, as the http
// package makes them.
func newToken(t *testing.T) (string, []byte) {
	t.Helper()
	b := make([]byte, 32)
	rand.Read(b)
	raw := hex.EncodeToString(b)
	h := sha256.Sum256([]byte(raw))
	return raw, h[:]
}

// createAnonymous creates an anonymous user with data (nil for {}).
func createAnonymous(t *testing.T, s Services, data string) *foyer.User {
	t.Helper()
	u := &foyer.User{Anonymous: true}
	if data != "" {
		u.Data = json.RawMessage(data)
	}
	ok(t, s.Users.CreateUser(t.Context(), u))
	return u
}

// createRegistered creates a registered user with a verified email.
func createRegistered(t *testing.T, s Services, email string) *foyer.User {
	t.Helper()
	u := &foyer.User{Email: email, EmailVerified: true}
	ok(t, s.Users.CreateUser(t.Context(), u))
	return u
}

// requestConversion asks to convert the user to email, with a link valid
// for ttl, and returns the link token and its hash.
func requestConversion(t *testing.T, s Services, c *clock, userID, email string, ttl time.Duration) (string, []byte) {
	t.Helper()
	raw, hash := newToken(t)
	ok(t, s.Conversions.RequestConversion(t.Context(), foyer.ConversionRequest{
		UserID: userID, Email: email, TokenHash: hash, Token: raw, ExpiresAt: c.Now().Add(ttl),
	}))
	return raw, hash
}

// convert takes an anonymous user through the whole conversion and
// returns the registered user.
func convert(t *testing.T, s Services, c *clock, userID, email string) *foyer.User {
	t.Helper()
	_, hash := requestConversion(t, s, c, userID, email, time.Hour)
	u, err := s.Conversions.CompleteConversion(t.Context(), hash, "hash:"+email, nil)
	ok(t, err)
	return u
}

// createSession signs a registered user in with a session that expires
// after ttl, and returns it with its refresh hash.
func createSession(t *testing.T, s Services, c *clock, userID string, ttl time.Duration) *foyer.Session {
	t.Helper()
	_, hash := newToken(t)
	sess := &foyer.Session{UserID: userID, RefreshHash: hash, ExpiresAt: c.Now().Add(ttl), UserAgent: "test", IP: "127.0.0.1"}
	_, err := s.Sessions.CreateSession(t.Context(), sess)
	ok(t, err)
	return sess
}

// findUser returns the stored user with id, which must exist.
func findUser(t *testing.T, s Services, id string) *foyer.User {
	t.Helper()
	u, err := s.Users.FindUserByID(t.Context(), id)
	ok(t, err)
	return u
}

// userEvents returns the events recorded about a user, oldest first.
func userEvents(t *testing.T, s Services, userID string) []*foyer.Event {
	t.Helper()
	evs, err := s.Events.FindEvents(t.Context(), foyer.EventFilter{UserID: &userID, Limit: foyer.MaxPageSize})
	ok(t, err)
	return evs
}

// eventTypes lists the types of evs.
func eventTypes(evs []*foyer.Event) []string {
	out := []string{}
	for _, e := range evs {
		out = append(out, e.Type)
	}
	return out
}

// mailTo returns the messages to an address, newest first.
func mailTo(t *testing.T, s Services, to string) []*foyer.Mail {
	t.Helper()
	m, err := s.Mail.FindMail(t.Context(), &to, foyer.MaxPageSize)
	ok(t, err)
	return m
}

// ids lists the ids of users.
func ids(users []*foyer.User) []string {
	out := []string{}
	for _, u := range users {
		out = append(out, u.ID)
	}
	return out
}

// jsonEqual fails the test unless got and want are the same JSON value.
func jsonEqual(t *testing.T, what string, got json.RawMessage, want string) {
	t.Helper()
	var g, w any
	if err := json.Unmarshal(got, &g); err != nil {
		t.Fatalf("%s: %s is not JSON: %v", what, got, err)
	}
	if err := json.Unmarshal([]byte(want), &w); err != nil {
		t.Fatalf("%s: bad expectation %s: %v", what, want, err)
	}
	if diff := cmp.Diff(w, g); diff != "" {
		t.Fatalf("%s mismatch (-want +got):\n%s", what, diff)
	}
}

// eventUser decodes the "user" member of an event's data.
func eventUser(t *testing.T, e *foyer.Event) *foyer.User {
	t.Helper()
	var d struct {
		User *foyer.User `json:"user"`
	}
	if err := json.Unmarshal(e.Data, &d); err != nil || d.User == nil {
		t.Fatalf("event %s has no user: %s (%v)", e.Type, e.Data, err)
	}
	return d.User
}

// wantNothingMentions fails the test if any event or mail still holds one
// of the given strings (personal data of a deleted user).
func wantNothingMentions(t *testing.T, s Services, secrets ...string) {
	t.Helper()
	var after string
	for {
		evs, err := s.Events.FindEvents(t.Context(), foyer.EventFilter{After: after, Limit: foyer.MaxPageSize})
		ok(t, err)
		for _, e := range evs {
			for _, x := range secrets {
				if strings.Contains(string(e.Data), x) {
					t.Errorf("event %s %s still holds %q: %s", e.ID, e.Type, x, e.Data)
				}
			}
		}
		if len(evs) < foyer.MaxPageSize {
			break
		}
		after = evs[len(evs)-1].ID
	}
	mail, err := s.Mail.FindMail(t.Context(), nil, foyer.MaxPageSize)
	ok(t, err)
	for _, m := range mail {
		for _, x := range secrets {
			if strings.Contains(m.To, x) || strings.Contains(string(m.Data), x) {
				t.Errorf("mail %s to %s still holds %q", m.ID, m.To, x)
			}
		}
	}
}

// ptr returns a pointer to v.
func ptr[T any](v T) *T { return &v }

// userDiff compares users, ignoring nothing.
func userDiff(want, got *foyer.User) string {
	return cmp.Diff(want, got)
}

// notFoundIDs are ids that name nothing: a valid UUID that was never
// stored, and strings that are not UUIDs at all, which stores must answer
// with ENotFound rather than an internal error.
func notFoundIDs() []struct{ name, id string } {
	return []struct{ name, id string }{
		{"ErrNotFound/Unknown", "01890a5d-ac96-774b-bcce-b302099a8057"},
		{"ErrNotFound/Malformed", "not-a-uuid"},
		{"ErrNotFound/Empty", ""},
	}
}
