package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"
	"unicode/utf8"

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
