package client_test

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	foyer "github.com/foyerhq/foyer"
	"github.com/foyerhq/foyer/client"
	foyerhttp "github.com/foyerhq/foyer/http"
	"github.com/foyerhq/foyer/mail"
	"github.com/foyerhq/foyer/sqlite"
	"github.com/foyerhq/foyer/token"
)

// testFoyer is a real Foyer: the HTTP API over a SQLite file, served on a
// loopback port, with an API key for the server API. Its issuer and
// audience are its own URL, as for `foyer serve` without --public-url.
type testFoyer struct {
	URL    string
	APIKey string
	Clock  *testClock
	Keys   *token.Keyring
	Merges foyer.MergeService

	srv      *httptest.Server
	db       *sqlite.DB
	mu       sync.Mutex
	requests map[string]int // by method and path
}

// testClock is a settable clock shared by the store, the keyring, the
// server and the verifiers of a test.
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

// startFoyer starts a Foyer on a new SQLite file in dir. Its clock starts
// at the current time; configure may change the server configuration.
func startFoyer(ctx context.Context, dir string, logs io.Writer, configure ...func(*foyerhttp.Config)) (*testFoyer, error) {
	f := &testFoyer{Clock: &testClock{t: time.Now().UTC().Truncate(time.Second)}}
	f.db = sqlite.NewDB(filepath.Join(dir, "foyer.db"))
	f.db.Now = f.Clock.Now
	if err := f.db.Open(ctx); err != nil {
		return nil, err
	}
	if err := f.db.Migrate(ctx); err != nil {
		f.db.Close()
		return nil, err
	}
	// The listener exists before the server starts: its address is the
	// public URL, which the keyring needs as issuer.
	f.srv = httptest.NewUnstartedServer(nil)
	f.URL = "http://" + f.srv.Listener.Addr().String()
	f.Keys = token.NewKeyring(sqlite.NewSigningKeyService(f.db), token.Config{
		Issuer:        f.URL,
		Audience:      f.URL,
		EncryptionKey: bytes.Repeat([]byte{7}, 32),
		MaxTokenTTL:   400 * 24 * time.Hour,
		Now:           f.Clock.Now,
	})
	if err := f.Keys.Load(ctx); err != nil {
		f.srv.Close()
		f.db.Close()
		return nil, err
	}
	public, _ := url.Parse(f.URL)
	cfg := foyerhttp.Config{PublicURL: public, Audience: f.URL, Now: f.Clock.Now}
	for _, c := range configure {
		c(&cfg)
	}
	apiKeys := sqlite.NewAPIKeyService(f.db)
	f.Merges = sqlite.NewMergeService(f.db)
	deps := foyerhttp.Deps{
		Users:       sqlite.NewUserService(f.db),
		Conversions: sqlite.NewConversionService(f.db),
		Credentials: sqlite.NewCredentialService(f.db),
		Merges:      f.Merges,
		Sessions:    sqlite.NewSessionService(f.db),
		Mail:        sqlite.NewMailService(f.db),
		Events:      sqlite.NewEventService(f.db),
		APIKeys:     apiKeys,
		Keys:        f.Keys,
		Ping:        f.db.Ping,
		Apps:        sqlite.NewAppService(f.db),
	}
	if cfg.DevMode {
		// The development mailbox shows mail as it would be sent.
		templates, err := mail.NewTemplates(mail.Config{PublicURL: f.URL, From: "Foyer <foyer@example.com>", LinkTTL: foyerhttp.DefaultConversionTTL})
		if err != nil {
			f.srv.Close()
			f.db.Close()
			return nil, err
		}
		deps.Render = templates.Render
	}
	handler := foyerhttp.NewServer(cfg, deps, slog.New(slog.NewTextHandler(logs, nil)), nil).Handler()
	f.requests = make(map[string]int)
	f.srv.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		f.requests[r.Method+" "+r.URL.Path]++
		f.mu.Unlock()
		handler.ServeHTTP(w, r)
	})
	secret, k := foyerhttp.NewAPIKey()
	k.Name = "app"
	if err := apiKeys.CreateAPIKey(ctx, k); err != nil {
		f.srv.Close()
		f.db.Close()
		return nil, err
	}
	f.APIKey = secret
	f.srv.Start()
	return f, nil
}

// Requests reports how many requests Foyer received for route, a method
// and a path such as "GET /v1/me".
func (f *testFoyer) Requests(route string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.requests[route]
}

// Close stops the server and closes the store.
func (f *testFoyer) Close() {
	f.srv.Close()
	f.db.Close()
}

// setup starts a Foyer for a test.
func setup(t testing.TB, configure ...func(*foyerhttp.Config)) *testFoyer {
	t.Helper()
	f, err := startFoyer(t.Context(), t.TempDir(), t.Output(), configure...)
	if err != nil {
		t.Fatalf("start Foyer: %v", err)
	}
	t.Cleanup(f.Close)
	return f
}

// client returns a Client of f with its API key.
func (f *testFoyer) client() *client.Client { return client.New(f.URL, f.APIKey) }

// verifier returns a JWKSVerifier of f on f's clock.
func (f *testFoyer) verifier() *token.JWKSVerifier {
	return token.NewJWKSVerifier(token.JWKSConfig{BaseURL: f.URL, Now: f.Clock.Now})
}

// exampleFoyer is a Foyer for the package examples, which have no
// testing.T: its data lives in a temporary directory that Close removes.
type exampleFoyer struct {
	*testFoyer
	dir string
}

// newExampleFoyer starts a Foyer for an example. It panics on failure,
// which fails the example.
func newExampleFoyer() *exampleFoyer {
	dir, err := os.MkdirTemp("", "foyer-example-")
	if err != nil {
		panic(err)
	}
	f, err := startFoyer(context.Background(), dir, io.Discard)
	if err != nil {
		os.RemoveAll(dir)
		panic(err)
	}
	return &exampleFoyer{testFoyer: f, dir: dir}
}

func (f *exampleFoyer) Close() {
	f.testFoyer.Close()
	os.RemoveAll(f.dir)
}

// countUsers counts the users matching f through the API.
func countUsers(t testing.TB, c *client.Client, f client.UserFilter) int {
	t.Helper()
	n := 0
	for _, err := range c.AllUsers(t.Context(), f) {
		if err != nil {
			t.Fatalf("AllUsers: %v", err)
		}
		n++
	}
	return n
}

// wantCode fails unless err has code want ("" for no error).
func wantCode(t testing.TB, err error, want string) {
	t.Helper()
	if got := foyer.ErrorCode(err); got != want {
		t.Fatalf("code=%q, want %q (%v)", got, want, err)
	}
}

func ptr[T any](v T) *T { return &v }
