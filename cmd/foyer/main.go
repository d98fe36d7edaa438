// Command foyer is the Foyer identity service: one binary that serves the
// API, migrates the database, manages signing keys, API keys and
// applications, and measures itself.
//
// It owns the configuration (flags with FOYER_* environment fallbacks,
// validated at start) and the wiring of the storage, token, HTTP and mail
// packages. It is the only package that imports several of them.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"runtime"
	"runtime/debug"
	"strings"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		// After the first signal, a second one stops the process at once.
		<-ctx.Done()
		stop()
	}()

	m := NewMain()
	if err := m.Run(ctx, os.Args[1:]); err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "foyer:", err)
		}
		stop()
		os.Exit(exitCode(err))
	}
}

// exitCode is 2 for usage errors (as the flag package does), 0 for an
// explicit request for help and 1 otherwise.
func exitCode(err error) int {
	var u usageError
	switch {
	case errors.Is(err, flag.ErrHelp):
		return 0
	case errors.As(err, &u):
		return 2
	}
	return 1
}

// usageError is a command line that cannot be run: an unknown subcommand
// or flag, or a flag value that does not parse.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

// Main runs the foyer command line. Its fields are the process's outside
// world, so tests can run subcommands in-process.
type Main struct {
	// Stdin gives foyer admin create the password when it is not in the
	// environment; os.Stdin when nil.
	Stdin io.Reader
	// Stdout receives the results of commands (URLs, tables, reports).
	Stdout io.Writer
	// Stderr receives logs, usage text and the one-time bootstrap API key.
	Stderr io.Writer
	// Getenv looks up an environment variable; os.LookupEnv by default.
	Getenv func(key string) (string, bool)
}

// NewMain returns a Main wired to the process's standard streams and
// environment.
func NewMain() *Main {
	return &Main{Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr, Getenv: os.LookupEnv}
}

// commands lists the subcommands in the order help shows them.
var commands = []struct{ name, summary string }{
	{"serve", "run the HTTP server"},
	{"migrate", "apply database migrations and exit"},
	{"keys rotate", "create a new token signing key; the previous one keeps verifying"},
	{"keys list", "list token signing keys"},
	{"api-keys create", "create a server API key and print it once"},
	{"apps create", "register an OpenID Connect application; print its client id (and secret) once"},
	{"apps list", "list OpenID Connect applications"},
	{"apps delete", "delete an application and end its sessions"},
	{"admin create", "create an admin console account (password from FOYER_ADMIN_PASSWORD or stdin)"},
	{"admin list", "list admin console accounts"},
	{"reap", "delete stale anonymous users now (--dry-run counts them)"},
	{"bench", "measure requests/s and latency of the main endpoints"},
	{"version", "print the version"},
	{"help", "show this help"},
}

// Run runs the subcommand named by args[0] with the rest of args.
func (m *Main) Run(ctx context.Context, args []string) error {
	if len(args) == 0 {
		m.usage(m.Stderr)
		return usageError{errors.New("no command given")}
	}
	cmd, rest := args[0], args[1:]
	switch cmd {
	case "serve":
		return m.runServe(ctx, rest)
	case "migrate":
		return m.runMigrate(ctx, rest)
	case "keys":
		return m.runKeys(ctx, rest)
	case "api-keys":
		return m.runAPIKeys(ctx, rest)
	case "apps":
		return m.runApps(ctx, rest)
	case "admin":
		return m.runAdmin(ctx, rest)
	case "reap":
		return m.runReap(ctx, rest)
	case "bench":
		return m.runBench(ctx, rest)
	case "version", "--version", "-version":
		fmt.Fprintln(m.Stdout, "foyer", version())
		return nil
	case "help", "--help", "-help", "-h":
		if len(rest) > 0 {
			return m.Run(ctx, append(rest, "--help"))
		}
		m.usage(m.Stdout)
		return nil
	}
	m.usage(m.Stderr)
	return usageError{fmt.Errorf("unknown command %q", cmd)}
}

func (m *Main) usage(w io.Writer) {
	fmt.Fprint(w, "Foyer is an identity service for anonymous visitors and the accounts they become.\n\n")
	fmt.Fprint(w, "Usage: foyer <command> [flags]\n\nCommands:\n")
	for _, c := range commands {
		fmt.Fprintf(w, "  %-17s %s\n", c.name, c.summary)
	}
	fmt.Fprint(w, "\nRun \"foyer <command> --help\" for the flags of a command. Every flag can also be set\nwith an environment variable: FOYER_ and the flag name in capitals, dashes as underscores\n(--data-dir is FOYER_DATA_DIR). A flag on the command line wins over the environment.\n")
}

// flagSet is a subcommand's flags with the synopsis its usage starts with.
type flagSet struct {
	*flag.FlagSet
	synopsis string
	// prefix is put before the environment variable name of the
	// subcommand's own flags, which do not configure the server.
	prefix string
	own    map[string]bool
}

// ownFlags marks flags defined by the subcommand itself: their environment
// variables are FOYER_<PREFIX>_<NAME> (FOYER_BENCH_URL for bench --url).
func (fs *flagSet) ownFlags(prefix string, names ...string) {
	fs.prefix = prefix
	if fs.own == nil {
		fs.own = map[string]bool{}
	}
	for _, n := range names {
		fs.own[n] = true
	}
}

// envName is the environment variable of the flag name.
func (fs *flagSet) envName(name string) string {
	if fs.own[name] {
		return envName(fs.prefix + "-" + name)
	}
	return envName(name)
}

// newFlagSet returns the flag set of a subcommand. Parsing never prints:
// parseFlags prints the usage, listing every flag with its environment
// variable and default.
func newFlagSet(name, synopsis string) *flagSet {
	fs := flag.NewFlagSet("foyer "+name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	return &flagSet{FlagSet: fs, synopsis: synopsis}
}

// printUsage writes the synopsis and every flag: name, environment
// variable, default and meaning.
func (fs *flagSet) printUsage(w io.Writer) {
	fmt.Fprintf(w, "Usage: %s\n", fs.synopsis)
	n := 0
	fs.VisitAll(func(f *flag.Flag) {
		if n == 0 {
			fmt.Fprint(w, "\nFlags [environment variable]:\n")
		}
		n++
		fmt.Fprintf(w, "  --%s [%s]", f.Name, fs.envName(f.Name))
		if f.DefValue != "" && f.DefValue != "0" && f.DefValue != "false" && f.DefValue != "0s" {
			fmt.Fprintf(w, " (default %s)", f.DefValue)
		}
		fmt.Fprintf(w, "\n      %s\n", f.Usage)
	})
}

// parseFlags parses args with fs, applies FOYER_* environment fallbacks
// for flags not given, and handles --help by printing the usage to Stdout.
// It returns flag.ErrHelp after printing help, and a usageError (after
// printing the usage to Stderr) for a bad command line.
func (m *Main) parseFlags(fs *flagSet, args []string) (map[string]bool, error) {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fs.printUsage(m.Stdout)
			return nil, flag.ErrHelp
		}
		fs.printUsage(m.Stderr)
		return nil, usageError{err}
	}
	if fs.NArg() > 0 {
		fs.printUsage(m.Stderr)
		return nil, usageError{fmt.Errorf("%s: unexpected argument %q", fs.Name(), fs.Arg(0))}
	}
	set, err := applyEnv(fs.FlagSet, fs.envName, m.getenv)
	if err != nil {
		return nil, usageError{err}
	}
	return set, nil
}

func (m *Main) getenv(key string) (string, bool) {
	if m.Getenv == nil {
		return os.LookupEnv(key)
	}
	return m.Getenv(key)
}

// loadConfig registers the flags of the given groups on fs beside the
// subcommand's own, reads them (with their environment fallbacks) from
// args, resolves derived defaults and validates the result.
func (m *Main) loadConfig(fs *flagSet, groups int, args []string) (Config, error) {
	c := DefaultConfig()
	registerFlags(fs.FlagSet, &c, groups)
	set, err := m.parseFlags(fs, args)
	if err != nil {
		return c, err
	}
	c.resolve(set["dev"])
	if err := c.Validate(); err != nil {
		return c, err
	}
	return c, nil
}

// newLogger returns a JSON logger on Stderr at the configured level.
func (m *Main) newLogger(level string) *slog.Logger {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		l = slog.LevelInfo
	}
	return slog.New(slog.NewJSONHandler(m.Stderr, &slog.HandlerOptions{Level: l}))
}

// version reports the module version and VCS revision the binary was
// built from, and the Go version.
func version() string {
	v := "(devel)"
	var rev, modified string
	if info, ok := debug.ReadBuildInfo(); ok {
		if info.Main.Version != "" {
			v = info.Main.Version
		}
		for _, s := range info.Settings {
			switch s.Key {
			case "vcs.revision":
				rev = s.Value
			case "vcs.modified":
				if s.Value == "true" {
					modified = "+dirty"
				}
			}
		}
	}
	if len(rev) > 12 {
		rev = rev[:12]
	}
	parts := []string{v}
	if rev != "" && !strings.Contains(v, rev) {
		parts = append(parts, rev+modified)
	}
	return strings.Join(parts, " ") + " " + runtime.Version()
}
