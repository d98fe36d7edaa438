package main

import (
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"net"
	netmail "net/mail"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/foyerhq/foyer"
	"github.com/foyerhq/foyer/admin"
	foyerhttp "github.com/foyerhq/foyer/http"
)

// Config is every setting of the foyer binary. Each field is a flag with a
// FOYER_* environment fallback (the flag name upper-cased, dashes turned
// into underscores); a flag given on the command line wins over the
// environment, which wins over DefaultConfig. Library packages never read
// the environment: Main copies these values onto each component.
type Config struct {
	// DataDir holds the SQLite database and the key encryption key file.
	DataDir string
	// DatabaseURL selects PostgreSQL when it is a postgres:// or
	// postgresql:// URL; empty means SQLite at <DataDir>/foyer.db.
	DatabaseURL string
	// Listen is the TCP address the HTTP server listens on.
	Listen string
	// PublicURL is the base URL people and apps reach Foyer at. It is the
	// token issuer and the base of every link in mail; empty means
	// http://<Listen>.
	PublicURL string
	// Audience is the "aud" claim of issued tokens; empty means PublicURL.
	Audience string
	// SigningAlgorithm is the JOSE algorithm of new signing keys.
	SigningAlgorithm string
	// KeyEncryptionKey is the base64 of 32 bytes that encrypt private
	// signing keys at rest; empty means <DataDir>/master.key.
	KeyEncryptionKey string
	// AdminAPIKey, when set, is stored (hashed) as an API key on start.
	AdminAPIKey string
	// AdminSessionTTL is the lifetime of an admin console session.
	AdminSessionTTL time.Duration
	// BillingRule decides how anonymous users count in the monthly active
	// users report (the admin console and /v1/reports): admin.BillingActive,
	// in every month they were active, or admin.BillingCreatedMonth, once,
	// in the month they were created.
	BillingRule string

	AnonymousTTL        time.Duration
	AnonymousRenewAfter time.Duration
	// AnonymousRateLimit is how many anonymous users one client IP may
	// create per hour; 0 disables the limit.
	AnonymousRateLimit int
	TrustForwardedFor  bool
	MaxBodyBytes       int64
	AccessTTL          time.Duration
	SessionTTL         time.Duration
	ConversionTTL      time.Duration
	ResetTTL           time.Duration
	MergePolicy        foyer.MergePolicy

	// ReaperRetention is how long an anonymous user may stay inactive
	// before the reaper deletes it; zero means AnonymousTTL + ReaperGrace.
	ReaperRetention time.Duration
	ReaperGrace     time.Duration
	// ReaperInterval is how often the server's periodic work runs: the
	// reaper, the event-log retention and the pruning of expired signing
	// keys.
	ReaperInterval time.Duration

	// EventRetention is how long the event log keeps an event; older
	// events are deleted once every delivery of theirs has finished.
	EventRetention time.Duration
	// WebhookAllowPrivate lets webhook endpoints be on loopback, private
	// and other non-public addresses. For development only: in production
	// it lets whoever holds an API key make Foyer send requests into its
	// own network.
	WebhookAllowPrivate bool

	// PagesDir overrides the hosted pages' templates and CSS file by file.
	PagesDir string
	// RedirectAllowlist is a comma-separated list of absolute URLs the
	// hosted pages may redirect to after signing in (exact match).
	RedirectAllowlist string
	// MaxConcurrentHashes bounds how many argon2id password hashes run at
	// once, which bounds their memory (64 MiB each).
	MaxConcurrentHashes int

	// Dev keeps outgoing mail in the development mailbox instead of
	// sending it; it defaults to true when SMTPHost is empty and the
	// public URL is plain http on this machine.
	Dev             bool
	SMTPHost        string
	SMTPPort        int
	SMTPUsername    string
	SMTPPassword    string
	SMTPTLS         string
	MailFrom        string
	MailTemplateDir string

	LogLevel string
}

// activityGranularity is how stale a user's recorded last activity may be:
// the HTTP server writes it at most this often. The reaper's retention must
// cover the token lifetime plus this, or it could delete a visitor whose
// last request renewed a token that is still valid.
const activityGranularity = foyerhttp.DefaultActivityGranularity

// minAPIKeySecret is the least number of characters a configured admin API
// key has after its prefix, so that it cannot be guessed.
const minAPIKeySecret = 32

// Signing algorithms accepted by --signing-algorithm.
var signingAlgorithms = []string{"ES256", "EdDSA", "RS256"}

// SMTP connection security modes accepted by --smtp-tls.
var smtpTLSModes = []string{"starttls", "tls", "none"}

// Log levels accepted by --log-level.
var logLevels = []string{"debug", "info", "warn", "error"}

// Billing rules accepted by --billing-rule.
var billingRules = []string{admin.BillingActive, admin.BillingCreatedMonth}

// DefaultConfig returns the configuration of `foyer serve` with no flags:
// SQLite under ./foyer-data, listening on loopback.
func DefaultConfig() Config {
	return Config{
		DataDir:             "./foyer-data",
		Listen:              "127.0.0.1:9011",
		AdminSessionTTL:     admin.DefaultSessionTTL,
		BillingRule:         admin.BillingActive,
		SigningAlgorithm:    "ES256",
		MaxConcurrentHashes: 2,
		AnonymousTTL:        365 * 24 * time.Hour,
		AnonymousRenewAfter: 24 * time.Hour,
		AnonymousRateLimit:  30,
		MaxBodyBytes:        foyer.MaxDataSize,
		AccessTTL:           15 * time.Minute,
		SessionTTL:          30 * 24 * time.Hour,
		ConversionTTL:       time.Hour,
		ResetTTL:            time.Hour,
		MergePolicy:         foyer.MergeRegisteredWins,
		ReaperGrace:         30 * 24 * time.Hour,
		ReaperInterval:      time.Hour,
		EventRetention:      400 * 24 * time.Hour,
		Dev:                 true,
		SMTPTLS:             "starttls",
		MailFrom:            "Foyer <no-reply@localhost>",
		LogLevel:            "info",
	}
}

// Validate reports the first setting that Foyer cannot run with, naming
// the flag and its environment variable so the message says what to fix.
// It expects derived values (PublicURL, ReaperRetention) to be resolved,
// as Main does after reading flags, but accepts them empty.
func (c Config) Validate() error {
	if c.DataDir == "" {
		return errors.New("--data-dir (FOYER_DATA_DIR) must not be empty")
	}
	if _, err := storeKind(c.DatabaseURL); err != nil {
		return err
	}
	if _, _, err := net.SplitHostPort(c.Listen); err != nil {
		return fmt.Errorf("--listen (FOYER_LISTEN) %q is not a host:port address: %v", c.Listen, err)
	}
	if c.PublicURL != "" {
		if err := validatePublicURL(c.PublicURL); err != nil {
			return err
		}
	}
	if !contains(signingAlgorithms, c.SigningAlgorithm) {
		return fmt.Errorf("--signing-algorithm (FOYER_SIGNING_ALGORITHM) %q is not one of %s", c.SigningAlgorithm, strings.Join(signingAlgorithms, ", "))
	}
	if c.KeyEncryptionKey != "" {
		if _, err := decodeKeyEncryptionKey(c.KeyEncryptionKey); err != nil {
			return err
		}
	}
	if c.AdminAPIKey != "" && (!strings.HasPrefix(c.AdminAPIKey, foyerhttp.APIKeyPrefix) || len(c.AdminAPIKey) < len(foyerhttp.APIKeyPrefix)+minAPIKeySecret) {
		return fmt.Errorf("--admin-api-key (FOYER_ADMIN_API_KEY) must be %s followed by at least %d random characters, for example %s$(openssl rand -hex 24)", foyerhttp.APIKeyPrefix, minAPIKeySecret, foyerhttp.APIKeyPrefix)
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{
		{"anonymous-ttl", c.AnonymousTTL},
		{"anonymous-renew-after", c.AnonymousRenewAfter},
		{"access-ttl", c.AccessTTL},
		{"session-ttl", c.SessionTTL},
		{"conversion-ttl", c.ConversionTTL},
		{"reset-ttl", c.ResetTTL},
		{"reaper-grace", c.ReaperGrace},
		{"reaper-interval", c.ReaperInterval},
		{"event-retention", c.EventRetention},
		{"admin-session-ttl", c.AdminSessionTTL},
	} {
		if d.v <= 0 {
			return fmt.Errorf("--%s (%s) must be a positive duration, got %s", d.name, envName(d.name), d.v)
		}
	}
	if c.AnonymousRenewAfter >= c.AnonymousTTL {
		return fmt.Errorf("--anonymous-renew-after (FOYER_ANONYMOUS_RENEW_AFTER) %s must be shorter than --anonymous-ttl (FOYER_ANONYMOUS_TTL) %s, or anonymous tokens would never renew", c.AnonymousRenewAfter, c.AnonymousTTL)
	}
	if c.ReaperRetention < 0 {
		return fmt.Errorf("--reaper-retention (FOYER_REAPER_RETENTION) must be a positive duration, got %s", c.ReaperRetention)
	}
	if minimum := c.AnonymousTTL + activityGranularity; c.ReaperRetention != 0 && c.ReaperRetention < minimum {
		return fmt.Errorf("--reaper-retention (FOYER_REAPER_RETENTION) %s is shorter than the anonymous token lifetime --anonymous-ttl (FOYER_ANONYMOUS_TTL) %s plus the %s granularity of activity records: the reaper would delete accounts whose tokens are still valid; use at least %s (the default is the lifetime plus --reaper-grace)", c.ReaperRetention, c.AnonymousTTL, activityGranularity, minimum)
	}
	if !contains(billingRules, c.BillingRule) {
		return fmt.Errorf("--billing-rule (FOYER_BILLING_RULE) %q is not one of %s", c.BillingRule, strings.Join(billingRules, ", "))
	}
	if c.AnonymousRateLimit < 0 {
		return fmt.Errorf("--anonymous-rate-limit (FOYER_ANONYMOUS_RATE_LIMIT) must be N/hour or off, got %d", c.AnonymousRateLimit)
	}
	if c.MaxBodyBytes < 1024 {
		return fmt.Errorf("--max-body-bytes (FOYER_MAX_BODY_BYTES) must be at least 1024, got %d", c.MaxBodyBytes)
	}
	if !c.MergePolicy.Valid() {
		return fmt.Errorf("--merge-policy (FOYER_MERGE_POLICY) %q is not one of %s, %s, %s", c.MergePolicy, foyer.MergeRegisteredWins, foyer.MergeAnonymousWins, foyer.MergeKeepRegistered)
	}
	if !c.Dev && c.SMTPHost == "" {
		return errors.New("--dev=false (FOYER_DEV) needs --smtp-host (FOYER_SMTP_HOST): without development mode mail is sent over SMTP")
	}
	if c.SMTPPort < 0 || c.SMTPPort > 65535 {
		return fmt.Errorf("--smtp-port (FOYER_SMTP_PORT) %d is not a TCP port", c.SMTPPort)
	}
	if !contains(smtpTLSModes, c.SMTPTLS) {
		return fmt.Errorf("--smtp-tls (FOYER_SMTP_TLS) %q is not one of %s", c.SMTPTLS, strings.Join(smtpTLSModes, ", "))
	}
	if (c.SMTPUsername == "") != (c.SMTPPassword == "") {
		return errors.New("--smtp-username (FOYER_SMTP_USERNAME) and --smtp-password (FOYER_SMTP_PASSWORD) must be set together")
	}
	if c.SMTPTLS == "none" && c.SMTPUsername != "" {
		return errors.New("--smtp-username (FOYER_SMTP_USERNAME) needs TLS: a password is never sent with --smtp-tls none")
	}
	if a, err := netmail.ParseAddress(c.MailFrom); err != nil || !strings.Contains(a.Address, "@") || strings.HasSuffix(a.Address, "@") {
		return fmt.Errorf("--mail-from (FOYER_MAIL_FROM) %q is not an address such as \"Foyer <no-reply@example.com>\"", c.MailFrom)
	}
	if c.MailTemplateDir != "" {
		fi, err := os.Stat(c.MailTemplateDir)
		if err != nil || !fi.IsDir() {
			return fmt.Errorf("--mail-template-dir (FOYER_MAIL_TEMPLATE_DIR) %q is not a readable directory", c.MailTemplateDir)
		}
	}
	if err := (foyerhttp.Config{PagesDir: c.PagesDir, RedirectAllowlist: c.redirectAllowlist()}).CheckPages(); err != nil {
		return fmt.Errorf("--pages-dir (FOYER_PAGES_DIR) or --redirect-allowlist (FOYER_REDIRECT_ALLOWLIST): %v", err)
	}
	if c.MaxConcurrentHashes < 1 {
		return fmt.Errorf("--max-concurrent-hashes (FOYER_MAX_CONCURRENT_HASHES) must be at least 1, got %d", c.MaxConcurrentHashes)
	}
	if !contains(logLevels, c.LogLevel) {
		return fmt.Errorf("--log-level (FOYER_LOG_LEVEL) %q is not one of %s", c.LogLevel, strings.Join(logLevels, ", "))
	}
	return nil
}

// resolve fills the settings whose default depends on others.
func (c *Config) resolve(devSet bool) {
	if !devSet {
		// Development mode is only assumed for a server people reach on
		// this machine over plain http: anywhere else, mail that is kept
		// instead of sent would be lost, so a missing SMTP host is an
		// error rather than a silent switch (see Validate).
		c.Dev = c.SMTPHost == "" && c.localOnly()
	}
	if c.ReaperRetention == 0 {
		c.ReaperRetention = c.AnonymousTTL + c.ReaperGrace
	}
	c.PublicURL = strings.TrimRight(c.PublicURL, "/")
}

// publicURL returns the configured public URL, or http://<addr> when none
// is set (addr is the address actually listened on).
func (c Config) publicURL(addr string) string {
	if c.PublicURL != "" {
		return c.PublicURL
	}
	return "http://" + addr
}

// redirectAllowlist returns the entries of RedirectAllowlist.
func (c Config) redirectAllowlist() []string {
	var out []string
	for _, u := range strings.Split(c.RedirectAllowlist, ",") {
		if u = strings.TrimSpace(u); u != "" {
			out = append(out, u)
		}
	}
	return out
}

// localOnly reports whether the public URL (or, without one, the listen
// address) is plain http on a loopback host.
func (c Config) localOnly() bool {
	raw := c.publicURL(c.Listen)
	u, err := url.Parse(raw)
	if err != nil || u.Scheme != "http" {
		return false
	}
	switch u.Hostname() {
	case "localhost", "127.0.0.1", "::1":
		return true
	}
	return false
}

// audience returns the configured audience, or the public URL.
func (c Config) audience(addr string) string {
	if c.Audience != "" {
		return c.Audience
	}
	return c.publicURL(addr)
}

// maxTokenTTL is the longest lifetime of any token Foyer signs, vended
// tokens included, which is how long a retired signing key must keep
// verifying.
func (c Config) maxTokenTTL() time.Duration {
	return max(c.AnonymousTTL, c.AccessTTL, c.SessionTTL, foyerhttp.MaxVendedTTL)
}

// databasePath is the SQLite file used when no database URL is set.
func (c Config) databasePath() string {
	return filepath.Join(c.DataDir, "foyer.db")
}

func validatePublicURL(s string) error {
	u, err := url.Parse(s)
	if err != nil {
		return fmt.Errorf("--public-url (FOYER_PUBLIC_URL) %q is not a URL: %v", s, err)
	}
	switch {
	case u.Scheme != "http" && u.Scheme != "https":
		return fmt.Errorf("--public-url (FOYER_PUBLIC_URL) %q must be an absolute http:// or https:// URL", s)
	case u.Host == "" || u.Hostname() == "":
		return fmt.Errorf("--public-url (FOYER_PUBLIC_URL) %q has no host", s)
	case u.User != nil:
		return fmt.Errorf("--public-url (FOYER_PUBLIC_URL) %q must not contain user information", s)
	case u.RawQuery != "" || u.ForceQuery || u.Fragment != "" || strings.Contains(s, "#"):
		return fmt.Errorf("--public-url (FOYER_PUBLIC_URL) %q must not have a query or a fragment", s)
	}
	return nil
}

// storeKind tells which store a database URL selects: "sqlite" for an
// empty URL, "postgres" for a postgres:// or postgresql:// URL.
func storeKind(dsn string) (string, error) {
	switch {
	case dsn == "":
		return "sqlite", nil
	case strings.HasPrefix(dsn, "postgres://"), strings.HasPrefix(dsn, "postgresql://"):
		if _, err := url.Parse(dsn); err != nil {
			return "", errors.New("--database-url (FOYER_DATABASE_URL) is not a valid URL")
		}
		return "postgres", nil
	}
	return "", errors.New("--database-url (FOYER_DATABASE_URL) must be empty (SQLite in the data directory) or a postgres:// or postgresql:// URL")
}

// decodeKeyEncryptionKey decodes the base64 (standard or URL alphabet,
// padded or not) of a 32-byte key.
func decodeKeyEncryptionKey(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		b, err := enc.DecodeString(s)
		if err != nil {
			continue
		}
		if len(b) != 32 {
			return nil, fmt.Errorf("--key-encryption-key (FOYER_KEY_ENCRYPTION_KEY) must be the base64 of 32 bytes, got %d bytes", len(b))
		}
		return b, nil
	}
	return nil, errors.New("--key-encryption-key (FOYER_KEY_ENCRYPTION_KEY) is not valid base64")
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// ParseRateLimit reads an hourly limit: "N/hour" (or "N/h", or just N).
// "off" and 0 disable the limit and return 0.
func ParseRateLimit(s string) (int, error) {
	s = strings.TrimSpace(s)
	if s == "off" {
		return 0, nil
	}
	n, unit, hasUnit := strings.Cut(s, "/")
	if hasUnit && unit != "hour" && unit != "h" {
		return 0, fmt.Errorf("%q: the limit is counted per hour, write N/hour (for example 30/hour) or off", s)
	}
	count, err := strconv.Atoi(n)
	if err != nil || count < 0 {
		return 0, fmt.Errorf("%q is not N/hour (for example 30/hour) or off", s)
	}
	return count, nil
}

// formatRateLimit formats an hourly limit as ParseRateLimit reads it.
func formatRateLimit(n int) string {
	if n == 0 {
		return "off"
	}
	return strconv.Itoa(n) + "/hour"
}

// rateLimitValue adapts an hourly limit to flag.Value.
type rateLimitValue struct{ n *int }

func (v rateLimitValue) String() string {
	if v.n == nil {
		return ""
	}
	return formatRateLimit(*v.n)
}

func (v rateLimitValue) Set(s string) error {
	n, err := ParseRateLimit(s)
	if err != nil {
		return err
	}
	*v.n = n
	return nil
}

// policyValue adapts a *foyer.MergePolicy to flag.Value.
type policyValue struct{ p *foyer.MergePolicy }

func (v policyValue) String() string {
	if v.p == nil {
		return ""
	}
	return string(*v.p)
}

func (v policyValue) Set(s string) error { *v.p = foyer.MergePolicy(s); return nil }

// Flag groups: each subcommand registers the groups it uses, so its
// --help lists exactly the settings it reads.
const (
	groupStore        = 1 << iota // data directory, database, logging
	groupKeys                     // signing keys and the registered users' token lifetimes
	groupAnonymousTTL             // the anonymous token lifetime, which keys and the reaper both need
	groupServer                   // HTTP server, tokens, rate limits, merges
	groupReaper                   // which anonymous accounts are stale
	groupBackground               // the server's periodic work and webhook deliveries
	groupMail                     // outgoing mail
	groupAll          = groupStore | groupKeys | groupAnonymousTTL | groupServer | groupReaper | groupBackground | groupMail
)

// registerFlags defines the flags of the given groups on fs, bound to c.
func registerFlags(fs *flag.FlagSet, c *Config, groups int) {
	if groups&groupStore != 0 {
		fs.StringVar(&c.DataDir, "data-dir", c.DataDir, "directory for the SQLite database and master.key (created 0700 on first start)")
		fs.StringVar(&c.DatabaseURL, "database-url", c.DatabaseURL, "postgres:// or postgresql:// URL for PostgreSQL; empty means SQLite at <data-dir>/foyer.db")
		fs.StringVar(&c.LogLevel, "log-level", c.LogLevel, "log level: debug, info, warn or error")
	}
	if groups&groupKeys != 0 {
		fs.StringVar(&c.SigningAlgorithm, "signing-algorithm", c.SigningAlgorithm, "algorithm of new token signing keys: ES256, EdDSA or RS256")
		fs.StringVar(&c.KeyEncryptionKey, "key-encryption-key", c.KeyEncryptionKey, "base64 of 32 bytes encrypting private signing keys at rest; empty means <data-dir>/master.key, created once")
		fs.DurationVar(&c.AccessTTL, "access-ttl", c.AccessTTL, "lifetime of a registered user's access token")
		fs.DurationVar(&c.SessionTTL, "session-ttl", c.SessionTTL, "lifetime of a registered user's session (its refresh token)")
	}
	if groups&groupAnonymousTTL != 0 {
		fs.DurationVar(&c.AnonymousTTL, "anonymous-ttl", c.AnonymousTTL, "lifetime of an anonymous token; activity renews it, so only this much inactivity ends it")
	}
	if groups&groupServer != 0 {
		fs.StringVar(&c.Listen, "listen", c.Listen, "TCP address to listen on")
		fs.StringVar(&c.PublicURL, "public-url", c.PublicURL, "absolute http(s) base URL people reach Foyer at: token issuer and base of mail links (default http://<listen>)")
		fs.StringVar(&c.Audience, "audience", c.Audience, `"aud" claim of issued tokens (default the public URL)`)
		fs.StringVar(&c.AdminAPIKey, "admin-api-key", c.AdminAPIKey, "server API key stored (hashed) on start; when unset and no key exists, one is generated and shown once")
		fs.DurationVar(&c.AnonymousRenewAfter, "anonymous-renew-after", c.AnonymousRenewAfter, "age after which an anonymous token is renewed on its next request; shorter than --anonymous-ttl")
		fs.Var(rateLimitValue{&c.AnonymousRateLimit}, "anonymous-rate-limit", "anonymous sign-ups allowed per client IP (per /64 for IPv6), as N/hour; off disables")
		fs.BoolVar(&c.TrustForwardedFor, "trust-forwarded-for", c.TrustForwardedFor, "take the client IP from X-Forwarded-For (only behind a proxy that sets it)")
		fs.Int64Var(&c.MaxBodyBytes, "max-body-bytes", c.MaxBodyBytes, "largest request body accepted; larger bodies get 413")
		fs.DurationVar(&c.ConversionTTL, "conversion-ttl", c.ConversionTTL, "lifetime of a conversion (save your progress) link")
		fs.DurationVar(&c.ResetTTL, "reset-ttl", c.ResetTTL, "lifetime of a password reset link")
		fs.Var(policyValue{&c.MergePolicy}, "merge-policy", "which data wins when an anonymous account merges into a registered one: registered_wins, anonymous_wins or keep_registered")
		fs.DurationVar(&c.AdminSessionTTL, "admin-session-ttl", c.AdminSessionTTL, "lifetime of an admin console session")
		fs.StringVar(&c.BillingRule, "billing-rule", c.BillingRule, "how anonymous users count in the monthly active users report: active (in every month they were active) or created_month (once, in the month they were created)")
	}
	if groups&groupReaper != 0 {
		fs.DurationVar(&c.ReaperRetention, "reaper-retention", c.ReaperRetention, "delete anonymous users inactive for longer than this; at least --anonymous-ttl (default --anonymous-ttl + --reaper-grace)")
		fs.DurationVar(&c.ReaperGrace, "reaper-grace", c.ReaperGrace, "margin added to --anonymous-ttl for the default retention")
	}
	if groups&groupBackground != 0 {
		fs.DurationVar(&c.ReaperInterval, "reaper-interval", c.ReaperInterval, "how often the reaper, the event-log retention and the pruning of expired signing keys run")
		fs.DurationVar(&c.EventRetention, "event-retention", c.EventRetention, "delete events older than this from the event log, once their webhook deliveries have finished")
		fs.BoolVar(&c.WebhookAllowPrivate, "webhook-allow-private", c.WebhookAllowPrivate, "allow webhook endpoints on loopback and private addresses; for development only, never in production")
	}
	if groups&groupMail != 0 {
		fs.BoolVar(&c.Dev, "dev", c.Dev, "development mode: keep mail in the development mailbox instead of sending it (default true when --smtp-host is empty and the public URL is plain http on this machine)")
		fs.StringVar(&c.SMTPHost, "smtp-host", c.SMTPHost, "SMTP server host")
		fs.IntVar(&c.SMTPPort, "smtp-port", c.SMTPPort, "SMTP server port (default 587 for starttls, 465 for tls, 25 for none)")
		fs.StringVar(&c.SMTPUsername, "smtp-username", c.SMTPUsername, "SMTP user name (PLAIN authentication)")
		fs.StringVar(&c.SMTPPassword, "smtp-password", c.SMTPPassword, "SMTP password")
		fs.StringVar(&c.SMTPTLS, "smtp-tls", c.SMTPTLS, "SMTP connection security: starttls, tls or none")
		fs.StringVar(&c.MailFrom, "mail-from", c.MailFrom, "From: address of outgoing mail")
		fs.StringVar(&c.MailTemplateDir, "mail-template-dir", c.MailTemplateDir, "directory of mail templates overriding the embedded ones")
		fs.StringVar(&c.PagesDir, "pages-dir", c.PagesDir, "directory of hosted page templates and CSS overriding the embedded ones")
		fs.StringVar(&c.RedirectAllowlist, "redirect-allowlist", c.RedirectAllowlist, "comma-separated absolute URLs the hosted pages may redirect to after sign-in")
		fs.IntVar(&c.MaxConcurrentHashes, "max-concurrent-hashes", c.MaxConcurrentHashes, "how many argon2id password hashes may run at once (64 MiB each)")
	}
}

// envName is the environment variable of a flag: FOYER_ and the flag name
// upper-cased with dashes turned into underscores.
func envName(flagName string) string {
	return "FOYER_" + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

// applyEnv sets every flag of fs that was not given on the command line
// from its FOYER_* environment variable (named by env), if that is set, so precedence is
// flag, then environment, then default; an empty variable counts as
// unset. It returns the names of the flags that were set either way.
func applyEnv(fs *flag.FlagSet, env func(flagName string) string, getenv func(string) (string, bool)) (map[string]bool, error) {
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	var err error
	fs.VisitAll(func(f *flag.Flag) {
		if err != nil || set[f.Name] {
			return
		}
		v, ok := getenv(env(f.Name))
		if !ok || v == "" {
			return
		}
		if e := fs.Set(f.Name, v); e != nil {
			err = fmt.Errorf("%s: invalid value %q: %v", env(f.Name), v, e)
			return
		}
		set[f.Name] = true
	})
	return set, err
}
