package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/foyerhq/foyer"
	foyerhttp "github.com/foyerhq/foyer/http"
)

const appsSynopsis = `foyer apps create --name NAME --type public|confidential --redirect-uri URI [--redirect-uri URI …] [--post-logout-redirect-uri URI …] [flags]
foyer apps list [flags]
foyer apps delete ID [flags]

create  registers an application that signs people in through OpenID
        Connect and prints its client id and, for a confidential
        application, its client secret, once: only its hash is stored.
        A public application (browser or native) has no secret and must
        use PKCE (S256). Redirect URIs are compared exactly: https, or
        http on localhost, 127.0.0.1 or [::1]. --redirect-uri and
        --post-logout-redirect-uri may be repeated; their environment
        variables hold one or more URIs separated by spaces.
list    lists the applications, oldest first.
delete  deletes the application with client id ID, its pending sign-ins
        and every session signed in through it.`

// appTypeValue is the --type flag: only the two application types parse.
type appTypeValue struct{ t *foyer.AppType }

func (v appTypeValue) String() string {
	if v.t == nil {
		return ""
	}
	return string(*v.t)
}

func (v appTypeValue) Set(s string) error {
	switch t := foyer.AppType(s); t {
	case foyer.AppPublic, foyer.AppConfidential:
		*v.t = t
		return nil
	}
	return errors.New(`want "public" or "confidential"`)
}

// uriListValue is a repeatable URI flag. Each value may hold several URIs
// separated by spaces, which a URI cannot contain, so that one
// environment variable can give several.
type uriListValue struct{ uris *[]string }

func (v uriListValue) String() string {
	if v.uris == nil {
		return ""
	}
	return strings.Join(*v.uris, " ")
}

func (v uriListValue) Set(s string) error {
	*v.uris = append(*v.uris, strings.Fields(s)...)
	return nil
}

func (m *Main) runApps(ctx context.Context, args []string) error {
	if len(args) == 0 || strings.HasPrefix(args[0], "-") {
		if len(args) > 0 && (args[0] == "--help" || args[0] == "-help" || args[0] == "-h") {
			args = []string{"list", "--help"}
		} else {
			return usageError{errors.New("apps: name a subcommand: create, list or delete")}
		}
	}
	sub, rest := args[0], args[1:]
	fs := newFlagSet("apps "+sub, appsSynopsis)
	var (
		a  foyer.App
		id string
	)
	switch sub {
	case "create":
		fs.StringVar(&a.Name, "name", "", "name of the application, shown to operators (required)")
		fs.Var(appTypeValue{&a.Type}, "type", `"confidential" for an application on a server, "public" for one in a browser or on a device (required)`)
		fs.Var(uriListValue{&a.RedirectURIs}, "redirect-uri", "an address the authorization response may be sent to; repeat for several (at least one)")
		fs.Var(uriListValue{&a.PostLogoutRedirectURIs}, "post-logout-redirect-uri", "an address people may be sent to after signing out; repeat for several")
		fs.ownFlags("app", "name", "type", "redirect-uri", "post-logout-redirect-uri")
	case "list":
	case "delete":
		if len(rest) > 0 && !strings.HasPrefix(rest[0], "-") {
			id, rest = rest[0], rest[1:]
		}
	default:
		return usageError{fmt.Errorf("apps: unknown subcommand %q (want create, list or delete)", sub)}
	}
	c, err := m.loadConfig(fs, groupStore, rest)
	if err != nil {
		return err
	}
	a.Name = strings.TrimSpace(a.Name)
	switch {
	case sub == "create" && a.Name == "":
		err = errors.New("apps create: --name is required")
	case sub == "create" && a.Type == "":
		err = errors.New("apps create: --type is required: public or confidential")
	case sub == "create" && len(a.RedirectURIs) == 0:
		err = errors.New("apps create: at least one --redirect-uri is required")
	case sub == "delete" && id == "":
		err = errors.New("apps delete: name the client id of the application: foyer apps delete ID")
	}
	if err != nil {
		fs.printUsage(m.Stderr)
		return usageError{err}
	}
	s, err := openMigratedStore(ctx, c)
	if err != nil {
		return err
	}
	defer s.Close()

	switch sub {
	case "list":
		return m.listApps(ctx, s)
	case "delete":
		if err := s.Apps.DeleteApp(ctx, id); err != nil {
			if foyer.ErrorCode(err) == foyer.ENotFound {
				return fmt.Errorf("apps delete: there is no application with client id %q", id)
			}
			return fmt.Errorf("apps delete: %w", err)
		}
		fmt.Fprintf(m.Stdout, "Application %s deleted; every session signed in through it has ended.\n", id)
		return nil
	}

	var secret string
	if a.Type == foyer.AppConfidential {
		secret, a.SecretHash = foyerhttp.NewAppSecret()
	}
	if err := s.Apps.CreateApp(ctx, &a); err != nil {
		if foyer.ErrorCode(err) == foyer.EInvalid {
			return fmt.Errorf("apps create: %s", foyer.ErrorMessage(err))
		}
		return fmt.Errorf("apps create: %w", err)
	}
	if secret != "" {
		fmt.Fprintf(m.Stderr, "Application %q (confidential) registered. The client secret is shown once; store it now.\n", a.Name)
		fmt.Fprintf(m.Stdout, "client_id=%s\nclient_secret=%s\n", a.ID, secret)
		return nil
	}
	fmt.Fprintf(m.Stderr, "Application %q (public) registered. It has no secret and must use PKCE (S256).\n", a.Name)
	fmt.Fprintf(m.Stdout, "client_id=%s\n", a.ID)
	return nil
}

// listApps prints the applications of s as a table.
func (m *Main) listApps(ctx context.Context, s *store) error {
	apps, err := s.Apps.FindApps(ctx)
	if err != nil {
		return fmt.Errorf("list applications: %w", err)
	}
	if len(apps) == 0 {
		fmt.Fprintln(m.Stdout, "No applications yet: register one with foyer apps create.")
		return nil
	}
	tw := tabwriter.NewWriter(m.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "CLIENT ID\tTYPE\tNAME\tCREATED\tREDIRECT URIS")
	for _, a := range apps {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", a.ID, a.Type, a.Name, a.CreatedAt.UTC().Format(time.RFC3339), strings.Join(a.RedirectURIs, " "))
	}
	return tw.Flush()
}
