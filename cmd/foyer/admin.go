package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"
	"unicode/utf8"

	"github.com/foyerhq/foyer"
	"github.com/foyerhq/foyer/admin"
	"github.com/foyerhq/foyer/argon2"
	foyerhttp "github.com/foyerhq/foyer/http"
	"github.com/foyerhq/foyer/token"
)

const migrateSynopsis = `foyer migrate [flags]

Applies the database migrations that have not run yet and exits. foyer serve
also applies them on start; run this to migrate ahead of a deployment.`

func (m *Main) runMigrate(ctx context.Context, args []string) error {
	c, err := m.loadConfig(newFlagSet("migrate", migrateSynopsis), groupStore, args)
	if err != nil {
		return err
	}
	s, err := openMigratedStore(ctx, c)
	if err != nil {
		return err
	}
	defer s.Close()
	fmt.Fprintf(m.Stdout, "Migrated %s (%s).\n", s.location, s.kind)
	return nil
}

const keysSynopsis = `foyer keys rotate|list [flags]

rotate  creates a new token signing key (of --signing-algorithm) that signs
        from now on; the previous key keeps verifying until the tokens it
        signed have expired, and keys retired before that are deleted.
        Running servers pick the new key up within a minute.
list    lists the signing keys, newest first.`

func (m *Main) runKeys(ctx context.Context, args []string) error {
	if len(args) == 0 || strings.HasPrefix(args[0], "-") {
		fs := newFlagSet("keys", keysSynopsis)
		c := DefaultConfig()
		registerFlags(fs.FlagSet, &c, groupStore|groupKeys|groupAnonymousTTL)
		if _, err := m.parseFlags(fs, args); err != nil {
			return err
		}
		fs.printUsage(m.Stderr)
		return usageError{errors.New("keys: name a subcommand: rotate or list")}
	}
	sub, rest := args[0], args[1:]
	switch sub {
	case "rotate", "list":
	default:
		return usageError{fmt.Errorf("keys: unknown subcommand %q (want rotate or list)", sub)}
	}
	fs := newFlagSet("keys "+sub, keysSynopsis)
	c, err := m.loadConfig(fs, groupStore|groupKeys|groupAnonymousTTL, rest)
	if err != nil {
		return err
	}
	s, err := openMigratedStore(ctx, c)
	if err != nil {
		return err
	}
	defer s.Close()

	if sub == "list" {
		keys, err := s.SigningKeys.FindSigningKeys(ctx)
		if err != nil {
			return fmt.Errorf("list signing keys: %w", err)
		}
		if len(keys) == 0 {
			fmt.Fprintln(m.Stdout, "No signing keys yet: foyer serve creates the first on start.")
			return nil
		}
		tw := tabwriter.NewWriter(m.Stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tALGORITHM\tCREATED\tSTATUS")
		for _, k := range keys {
			status := "signing"
			if k.RetiredAt != nil {
				until := k.RetiredAt.Add(c.maxTokenTTL())
				status = "retired " + k.RetiredAt.UTC().Format(time.RFC3339) + ", verifies until " + until.UTC().Format(time.RFC3339)
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", k.ID, k.Algorithm, k.CreatedAt.UTC().Format(time.RFC3339), status)
		}
		return tw.Flush()
	}

	kek, err := keyEncryptionKey(c)
	if err != nil {
		return err
	}
	publicURL := c.publicURL(c.Listen)
	kr := token.NewKeyring(s.SigningKeys, token.Config{
		Issuer:        publicURL,
		Audience:      c.audience(c.Listen),
		Algorithm:     c.SigningAlgorithm,
		EncryptionKey: kek,
		MaxTokenTTL:   c.maxTokenTTL(),
	})
	// Load checks that the encryption key opens the stored keys before a
	// new key is added with it.
	if err := kr.Load(ctx); err != nil {
		return fmt.Errorf("load signing keys: %w", err)
	}
	k, err := kr.Rotate(ctx)
	if err != nil {
		return fmt.Errorf("rotate signing key: %w", err)
	}
	fmt.Fprintf(m.Stdout, "New signing key %s (%s) signs from now on; the previous key verifies for %s more.\n", k.ID, k.Algorithm, c.maxTokenTTL())
	return nil
}

const apiKeysSynopsis = `foyer api-keys create --name NAME [flags]

Creates a server API key and prints it once; only its hash is stored. Use
it as "Authorization: Bearer <key>" on the server API (/v1/users, …).`

func (m *Main) runAPIKeys(ctx context.Context, args []string) error {
	if len(args) == 0 || args[0] != "create" {
		if len(args) > 0 && (args[0] == "--help" || args[0] == "-help" || args[0] == "-h") {
			args = []string{"create", "--help"}
		} else {
			return usageError{errors.New("api-keys: name a subcommand: create")}
		}
	}
	fs := newFlagSet("api-keys create", apiKeysSynopsis)
	var name string
	fs.StringVar(&name, "name", "", "name of the key, to tell keys apart (required)")
	fs.ownFlags("api-key", "name")
	c, err := m.loadConfig(fs, groupStore, args[1:])
	if err != nil {
		return err
	}
	if n := utf8.RuneCountInString(strings.TrimSpace(name)); n == 0 || n > foyerhttp.MaxAPIKeyNameLength {
		return usageError{fmt.Errorf("api-keys create: --name is required, at most %d characters", foyerhttp.MaxAPIKeyNameLength)}
	}
	s, err := openMigratedStore(ctx, c)
	if err != nil {
		return err
	}
	defer s.Close()
	secret, k := foyerhttp.NewAPIKey()
	k.Name = strings.TrimSpace(name)
	if err := s.APIKeys.CreateAPIKey(ctx, k); err != nil {
		return fmt.Errorf("store API key: %w", err)
	}
	fmt.Fprintf(m.Stderr, "API key %q created (id %s). It is shown once; store it now:\n", k.Name, k.ID)
	fmt.Fprintln(m.Stdout, secret)
	return nil
}

const adminSynopsis = `foyer admin create --email EMAIL [flags]
foyer admin list [flags]

create  creates an account for the admin console (/admin/ on the server)
        with EMAIL and a password of 8 to 256 characters, taken from
        FOYER_ADMIN_PASSWORD or, when that is unset, from the first line of
        standard input. Only an argon2id hash of it is stored.
list    lists the admin console accounts, oldest first.

The first admin can also be created in the browser, on /admin/setup, with
the bootstrap API key, as long as no admin exists.`

// adminPasswordEnv holds the password of foyer admin create. The password
// is never a flag, so that it stays out of shell histories and process
// lists.
const adminPasswordEnv = "FOYER_ADMIN_PASSWORD"

func (m *Main) runAdmin(ctx context.Context, args []string) error {
	if len(args) == 0 || strings.HasPrefix(args[0], "-") {
		if len(args) > 0 && (args[0] == "--help" || args[0] == "-help" || args[0] == "-h") {
			args = []string{"list", "--help"}
		} else {
			return usageError{errors.New("admin: name a subcommand: create or list")}
		}
	}
	sub, rest := args[0], args[1:]
	fs := newFlagSet("admin "+sub, adminSynopsis)
	var email string
	switch sub {
	case "create":
		fs.StringVar(&email, "email", "", "email address the admin signs in with (required)")
		fs.ownFlags("admin", "email")
	case "list":
	default:
		return usageError{fmt.Errorf("admin: unknown subcommand %q (want create or list)", sub)}
	}
	c, err := m.loadConfig(fs, groupStore, rest)
	if err != nil {
		return err
	}
	if sub == "create" && strings.TrimSpace(email) == "" {
		fs.printUsage(m.Stderr)
		return usageError{errors.New("admin create: --email is required")}
	}
	var password string
	if sub == "create" {
		if password, err = m.adminPassword(email); err != nil {
			return err
		}
	}
	s, err := openMigratedStore(ctx, c)
	if err != nil {
		return err
	}
	defer s.Close()

	if sub == "list" {
		admins, err := s.Admins.FindAdmins(ctx)
		if err != nil {
			return fmt.Errorf("list admins: %w", err)
		}
		if len(admins) == 0 {
			fmt.Fprintln(m.Stdout, "No admins yet: create one with foyer admin create --email EMAIL.")
			return nil
		}
		tw := tabwriter.NewWriter(m.Stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tEMAIL\tCREATED\tLAST SIGN-IN\tTOTP")
		for _, a := range admins {
			last, totp := "never", "off"
			if a.LastLoginAt != nil {
				last = a.LastLoginAt.UTC().Format(time.RFC3339)
			}
			if a.TOTPSecret != "" {
				totp = "on"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", a.ID, a.Email, a.CreatedAt.UTC().Format(time.RFC3339), last, totp)
		}
		return tw.Flush()
	}

	a, err := admin.CreateAdmin(ctx, s.Admins, email, password, argon2.Hash)
	if err != nil {
		switch foyer.ErrorCode(err) {
		case foyer.EInvalid, foyer.EInvalidPassword, foyer.EConflict:
			return fmt.Errorf("admin create: %s", foyer.ErrorMessage(err))
		}
		return fmt.Errorf("admin create: %w", err)
	}
	fmt.Fprintf(m.Stdout, "Admin %s created (id %s). Sign in at /admin/ on the server.\n", a.Email, a.ID)
	return nil
}

// adminPassword returns the password of a new admin: FOYER_ADMIN_PASSWORD,
// or the first line of Stdin without its line ending.
func (m *Main) adminPassword(email string) (string, error) {
	if p, ok := m.getenv(adminPasswordEnv); ok && p != "" {
		return p, nil
	}
	in := m.Stdin
	if in == nil {
		in = os.Stdin
	}
	if f, ok := in.(*os.File); ok {
		if fi, err := f.Stat(); err == nil && fi.Mode()&os.ModeCharDevice != 0 {
			fmt.Fprintf(m.Stderr, "Password for %s (it is shown as you type; set %s to avoid that): ", email, adminPasswordEnv)
		}
	}
	line, err := bufio.NewReader(io.LimitReader(in, 64<<10)).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", fmt.Errorf("admin create: read the password: %w", err)
	}
	line = strings.TrimSuffix(strings.TrimSuffix(line, "\n"), "\r")
	if line == "" {
		return "", fmt.Errorf("admin create: no password: set %s or write it on the first line of standard input", adminPasswordEnv)
	}
	return line, nil
}
