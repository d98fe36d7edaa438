package main

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"flag"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/foyerhq/foyer"
	foyerhttp "github.com/foyerhq/foyer/http"
	"github.com/google/go-cmp/cmp"
)

// appsRun runs `foyer …args` in-process with env as the whole
// environment, and returns its stdout, stderr and error.
func appsRun(t *testing.T, env map[string]string, args ...string) (string, string, error) {
	t.Helper()
	var out, errOut bytes.Buffer
	m := &Main{Stdout: &out, Stderr: &errOut, Getenv: func(k string) (string, bool) {
		v, ok := env[k]
		return v, ok
	}}
	err := m.Run(t.Context(), args)
	return out.String(), errOut.String(), err
}

func TestApps(t *testing.T) {
	t.Run("SQLite", func(t *testing.T) {
		t.Parallel()
		testApps(t, map[string]string{"FOYER_DATA_DIR": t.TempDir()})
	})
	t.Run("PostgreSQL", func(t *testing.T) {
		t.Parallel()
		testApps(t, map[string]string{"FOYER_DATA_DIR": t.TempDir(), "FOYER_DATABASE_URL": freshSchema(t, postgresDSN(t))})
	})
	t.Run("ErrUsage", func(t *testing.T) {
		env := map[string]string{"FOYER_DATA_DIR": t.TempDir()}
		for _, tt := range []struct {
			name string
			args []string
			want string
		}{
			{"NoSubcommand", []string{"apps"}, "name a subcommand"},
			{"UnknownSubcommand", []string{"apps", "rename"}, `unknown subcommand "rename"`},
			{"NoName", []string{"apps", "create", "--type", "public", "--redirect-uri", "https://a.example/cb"}, "--name is required"},
			{"NoType", []string{"apps", "create", "--name", "x", "--redirect-uri", "https://a.example/cb"}, "--type is required"},
			{"UnknownType", []string{"apps", "create", "--name", "x", "--type", "trusted", "--redirect-uri", "https://a.example/cb"}, `want "public" or "confidential"`},
			{"NoRedirectURI", []string{"apps", "create", "--name", "x", "--type", "public"}, "--redirect-uri is required"},
			{"DeleteNoID", []string{"apps", "delete"}, "name the client id"},
			{"DeleteTwoIDs", []string{"apps", "delete", "a", "b"}, `unexpected argument "b"`},
		} {
			t.Run(tt.name, func(t *testing.T) {
				_, _, err := appsRun(t, env, tt.args...)
				if !errors.As(err, new(usageError)) || exitCode(err) != 2 || !strings.Contains(err.Error(), tt.want) {
					t.Fatalf("foyer %s = %v (exit %d), want a usage error with %q", strings.Join(tt.args, " "), err, exitCode(err), tt.want)
				}
			})
		}
	})
	t.Run("OKHelp", func(t *testing.T) {
		out, _, err := appsRun(t, nil, "apps", "create", "--help")
		if !errors.Is(err, flag.ErrHelp) || exitCode(err) != 0 {
			t.Fatalf("apps create --help = %v", err)
		}
		for _, want := range []string{
			"Usage: foyer apps create", "--name [FOYER_APP_NAME]", "--type [FOYER_APP_TYPE]",
			"--redirect-uri [FOYER_APP_REDIRECT_URI]", "--post-logout-redirect-uri [FOYER_APP_POST_LOGOUT_REDIRECT_URI]",
			"--data-dir [FOYER_DATA_DIR]", "--database-url [FOYER_DATABASE_URL]",
		} {
			if !strings.Contains(out, want) {
				t.Errorf("help lacks %q:\n%s", want, out)
			}
		}
		out, _, err = appsRun(t, nil, "help")
		if err != nil || !strings.Contains(out, "apps create") || !strings.Contains(out, "apps delete") {
			t.Fatalf("top-level help (%v) does not list the apps commands:\n%s", err, out)
		}
	})
}

var (
	clientIDLine     = regexp.MustCompile(`(?m)^client_id=([0-9a-f-]{36})$`)
	clientSecretLine = regexp.MustCompile(`(?m)^client_secret=(foyer_cs_[A-Za-z0-9_-]{43})$`)
)

// testApps registers, lists and deletes applications with the apps
// commands on the store that env selects, and reads the store to check
// what they did.
func testApps(t *testing.T, env map[string]string) {
	ctx := t.Context()

	// A confidential app from flags, with repeated addresses.
	out, errOut, err := appsRun(t, env, "apps", "create", "--name", " Web shop ", "--type", "confidential",
		"--redirect-uri", "https://shop.example.com/cb", "--redirect-uri", "http://localhost:3000/cb",
		"--post-logout-redirect-uri", "https://shop.example.com/")
	if err != nil {
		t.Fatalf("apps create = %v\n%s", err, errOut)
	}
	id, secret := clientIDLine.FindStringSubmatch(out), clientSecretLine.FindStringSubmatch(out)
	if id == nil || secret == nil || strings.Count(out, "\n") != 2 {
		t.Fatalf("apps create printed:\n%s", out)
	}
	if !strings.Contains(errOut, "shown once") {
		t.Fatalf("apps create does not say the secret is shown once:\n%s", errOut)
	}
	shop := id[1]

	// A public app from the environment: several addresses in one
	// variable, separated by spaces.
	pubEnv := map[string]string{"FOYER_APP_NAME": "Game", "FOYER_APP_TYPE": "public",
		"FOYER_APP_REDIRECT_URI": "https://game.example.com/cb  http://127.0.0.1:5173/cb"}
	for k, v := range env {
		pubEnv[k] = v
	}
	out, errOut, err = appsRun(t, pubEnv, "apps", "create")
	if err != nil {
		t.Fatalf("apps create from the environment = %v\n%s", err, errOut)
	}
	id = clientIDLine.FindStringSubmatch(out)
	if id == nil || strings.Contains(out, "client_secret") || strings.Contains(out, foyerhttp.AppSecretPrefix) {
		t.Fatalf("apps create of a public app printed:\n%s", out)
	}
	game := id[1]

	// What the store holds.
	c := DefaultConfig()
	c.DataDir, c.DatabaseURL = env["FOYER_DATA_DIR"], env["FOYER_DATABASE_URL"]
	s, err := openMigratedStore(ctx, c)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	stored, err := s.Apps.FindApps(ctx)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256([]byte(secret[1]))
	want := []*foyer.App{
		{ID: shop, Name: "Web shop", Type: foyer.AppConfidential, SecretHash: sum[:],
			RedirectURIs: []string{"https://shop.example.com/cb", "http://localhost:3000/cb"}, PostLogoutRedirectURIs: []string{"https://shop.example.com/"}},
		{ID: game, Name: "Game", Type: foyer.AppPublic,
			RedirectURIs: []string{"https://game.example.com/cb", "http://127.0.0.1:5173/cb"}, PostLogoutRedirectURIs: []string{}},
	}
	for _, a := range stored {
		if a.CreatedAt.IsZero() {
			t.Errorf("app %s has no creation time", a.ID)
		}
		a.CreatedAt = want[0].CreatedAt
	}
	if diff := cmp.Diff(want, stored); diff != "" {
		t.Fatalf("stored apps (-want +got):\n%s", diff)
	}

	// Refused values change nothing and exit 1.
	for _, args := range [][]string{
		{"--name", "x", "--type", "public", "--redirect-uri", "http://shop.example.com/cb"},
		{"--name", "x", "--type", "public", "--redirect-uri", "https://a.example/cb", "--redirect-uri", "https://a.example/cb"},
		{"--name", "x", "--type", "public", "--redirect-uri", "https://a.example/cb", "--post-logout-redirect-uri", "https://a.example/#bye"},
		{"--name", strings.Repeat("n", foyer.MaxAppNameLength+1), "--type", "public", "--redirect-uri", "https://a.example/cb"},
	} {
		_, _, err := appsRun(t, env, append([]string{"apps", "create"}, args...)...)
		if err == nil || exitCode(err) != 1 || !strings.HasPrefix(err.Error(), "apps create: ") {
			t.Fatalf("apps create %s = %v (exit %d), want a refusal", strings.Join(args, " "), err, exitCode(err))
		}
	}

	// The list, oldest first.
	out, _, err = appsRun(t, env, "apps", "list")
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 3 || !strings.HasPrefix(lines[0], "CLIENT ID") ||
		!strings.HasPrefix(lines[1], shop+"  confidential  Web shop") || !strings.Contains(lines[1], "https://shop.example.com/cb http://localhost:3000/cb") ||
		!strings.HasPrefix(lines[2], game+"  public") {
		t.Fatalf("apps list:\n%s", out)
	}
	if strings.Contains(out, secret[1]) {
		t.Fatalf("apps list shows the secret:\n%s", out)
	}

	// Deleting ends the app's sessions with it.
	u := &foyer.User{Email: "pat@example.com", EmailVerified: true, Data: []byte(`{}`)}
	if err := s.Users.CreateUser(ctx, u); err != nil {
		t.Fatal(err)
	}
	refresh := sha256.Sum256([]byte("refresh token of the shop's session"))
	sess := &foyer.Session{UserID: u.ID, AppID: shop, Scopes: []string{"openid"}, RefreshHash: refresh[:], ExpiresAt: time.Now().Add(24 * time.Hour)}
	if _, err := s.Sessions.CreateSession(ctx, sess); err != nil {
		t.Fatal(err)
	}
	out, _, err = appsRun(t, env, "apps", "delete", shop)
	if err != nil || !strings.Contains(out, shop+" deleted") {
		t.Fatalf("apps delete = %v\n%s", err, out)
	}
	if _, err := s.Apps.FindApp(ctx, shop); foyer.ErrorCode(err) != foyer.ENotFound {
		t.Fatalf("FindApp after delete = %v, want not_found", err)
	}
	if left, err := s.Sessions.FindSessions(ctx, u.ID); err != nil || len(left) != 0 {
		t.Fatalf("sessions after delete: %v, %v", left, err)
	}
	_, _, err = appsRun(t, env, "apps", "delete", shop)
	if err == nil || exitCode(err) != 1 || !strings.Contains(err.Error(), "no application with client id") {
		t.Fatalf("apps delete of a deleted app = %v", err)
	}
	_, _, err = appsRun(t, env, "apps", "delete", "nope")
	if err == nil || exitCode(err) != 1 || !strings.Contains(err.Error(), "no application with client id") {
		t.Fatalf("apps delete nope = %v", err)
	}
	out, _, err = appsRun(t, env, "apps", "list")
	if err != nil || strings.Contains(out, shop) || !strings.Contains(out, game) {
		t.Fatalf("apps list after delete (%v):\n%s", err, out)
	}
}
