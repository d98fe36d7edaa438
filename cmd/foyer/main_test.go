package main

import (
	"bytes"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/foyerhq/foyer"
)

// validConfig is DefaultConfig with its derived values resolved, as Main
// validates it.
func validConfig() Config {
	c := DefaultConfig()
	c.resolve(false)
	return c
}

func TestConfigValidate(t *testing.T) {
	key := "foyer_sk_" + strings.Repeat("k", 40)
	tests := []struct {
		name    string
		change  func(c *Config)
		wantErr string // a substring of the message; "" means valid
	}{
		{"OK", func(c *Config) {}, ""},
		{"OK/PostgreSQL", func(c *Config) { c.DatabaseURL = "postgres://u@127.0.0.1:5432/db?sslmode=disable" }, ""},
		{"OK/PostgreSQLScheme", func(c *Config) { c.DatabaseURL = "postgresql://u@db/foyer" }, ""},
		{"OK/PublicURLWithPath", func(c *Config) { c.PublicURL = "https://id.example.com/auth" }, ""},
		{"OK/EdDSA", func(c *Config) { c.SigningAlgorithm = "EdDSA" }, ""},
		{"OK/RS256", func(c *Config) { c.SigningAlgorithm = "RS256" }, ""},
		{"OK/KeyEncryptionKey", func(c *Config) { c.KeyEncryptionKey = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=" }, ""},
		{"OK/AdminAPIKey", func(c *Config) { c.AdminAPIKey = key }, ""},
		{"OK/RateLimitOff", func(c *Config) { c.AnonymousRateLimit = 0 }, ""},
		{"OK/RetentionAtMinimum", func(c *Config) { c.ReaperRetention = c.AnonymousTTL + time.Hour }, ""},
		{"OK/SMTP", func(c *Config) {
			c.Dev, c.SMTPHost, c.SMTPUsername, c.SMTPPassword = false, "smtp.example.com", "u", "p"
		}, ""},
		{"OK/MergePolicy", func(c *Config) { c.MergePolicy = foyer.MergeKeepRegistered }, ""},
		{"OK/WebhookAllowPrivate", func(c *Config) { c.WebhookAllowPrivate = true }, ""},
		{"OK/EventRetentionShort", func(c *Config) { c.EventRetention = 24 * time.Hour }, ""},
		{"OK/BillingCreatedMonth", func(c *Config) { c.BillingRule = "created_month" }, ""},
		{"OK/AdminSessionTTL", func(c *Config) { c.AdminSessionTTL = time.Hour }, ""},

		{"ErrDataDir", func(c *Config) { c.DataDir = "" }, "--data-dir (FOYER_DATA_DIR) must not be empty"},
		{"ErrDatabaseURL", func(c *Config) { c.DatabaseURL = "mysql://db/foyer" }, "--database-url (FOYER_DATABASE_URL) must be empty (SQLite in the data directory) or a postgres:// or postgresql:// URL"},
		{"ErrDatabaseURLPath", func(c *Config) { c.DatabaseURL = "/tmp/foyer.db" }, "--database-url (FOYER_DATABASE_URL) must be empty"},
		{"ErrListen", func(c *Config) { c.Listen = "9011" }, "--listen (FOYER_LISTEN) \"9011\" is not a host:port address"},
		{"ErrPublicURLRelative", func(c *Config) { c.PublicURL = "/foyer" }, "must be an absolute http:// or https:// URL"},
		{"ErrPublicURLScheme", func(c *Config) { c.PublicURL = "ftp://example.com" }, "must be an absolute http:// or https:// URL"},
		{"ErrPublicURLQuery", func(c *Config) { c.PublicURL = "https://example.com/?a=b" }, "must not have a query or a fragment"},
		{"ErrPublicURLFragment", func(c *Config) { c.PublicURL = "https://example.com/#x" }, "must not have a query or a fragment"},
		{"ErrPublicURLUser", func(c *Config) { c.PublicURL = "https://u:p@example.com" }, "must not contain user information"},
		{"ErrPublicURLNoHost", func(c *Config) { c.PublicURL = "https://" }, "has no host"},
		{"ErrAlgorithm", func(c *Config) { c.SigningAlgorithm = "HS256" }, `--signing-algorithm (FOYER_SIGNING_ALGORITHM) "HS256" is not one of ES256, EdDSA, RS256`},
		{"ErrKeyEncryptionKeyLength", func(c *Config) { c.KeyEncryptionKey = "AAECAwQFBgcICQoLDA0ODw==" }, "--key-encryption-key (FOYER_KEY_ENCRYPTION_KEY) must be the base64 of 32 bytes, got 16 bytes"},
		{"ErrKeyEncryptionKeyBase64", func(c *Config) { c.KeyEncryptionKey = "not base64!" }, "--key-encryption-key (FOYER_KEY_ENCRYPTION_KEY) is not valid base64"},
		{"ErrAdminAPIKeyPrefix", func(c *Config) { c.AdminAPIKey = strings.Repeat("k", 50) }, "--admin-api-key (FOYER_ADMIN_API_KEY) must be foyer_sk_ followed by at least 32 random characters"},
		{"ErrAdminAPIKeyShort", func(c *Config) { c.AdminAPIKey = "foyer_sk_short" }, "--admin-api-key (FOYER_ADMIN_API_KEY) must be foyer_sk_"},
		{"ErrAnonymousTTL", func(c *Config) { c.AnonymousTTL = 0 }, "--anonymous-ttl (FOYER_ANONYMOUS_TTL) must be a positive duration, got 0s"},
		{"ErrAccessTTL", func(c *Config) { c.AccessTTL = -time.Minute }, "--access-ttl (FOYER_ACCESS_TTL) must be a positive duration, got -1m0s"},
		{"ErrSessionTTL", func(c *Config) { c.SessionTTL = 0 }, "--session-ttl (FOYER_SESSION_TTL) must be a positive duration"},
		{"ErrConversionTTL", func(c *Config) { c.ConversionTTL = 0 }, "--conversion-ttl (FOYER_CONVERSION_TTL) must be a positive duration"},
		{"ErrResetTTL", func(c *Config) { c.ResetTTL = 0 }, "--reset-ttl (FOYER_RESET_TTL) must be a positive duration"},
		{"ErrRenewAfterNonPositive", func(c *Config) { c.AnonymousRenewAfter = 0 }, "--anonymous-renew-after (FOYER_ANONYMOUS_RENEW_AFTER) must be a positive duration"},
		{"ErrReaperGrace", func(c *Config) { c.ReaperGrace = 0 }, "--reaper-grace (FOYER_REAPER_GRACE) must be a positive duration"},
		{"ErrReaperInterval", func(c *Config) { c.ReaperInterval = 0 }, "--reaper-interval (FOYER_REAPER_INTERVAL) must be a positive duration"},
		{"ErrEventRetention", func(c *Config) { c.EventRetention = 0 }, "--event-retention (FOYER_EVENT_RETENTION) must be a positive duration, got 0s"},
		{"ErrAdminSessionTTL", func(c *Config) { c.AdminSessionTTL = 0 }, "--admin-session-ttl (FOYER_ADMIN_SESSION_TTL) must be a positive duration, got 0s"},
		{"ErrBillingRule", func(c *Config) { c.BillingRule = "monthly" }, `--billing-rule (FOYER_BILLING_RULE) "monthly" is not one of active, created_month`},
		{"ErrRenewAfterTTL", func(c *Config) { c.AnonymousRenewAfter = c.AnonymousTTL }, "--anonymous-renew-after (FOYER_ANONYMOUS_RENEW_AFTER) 8760h0m0s must be shorter than --anonymous-ttl (FOYER_ANONYMOUS_TTL) 8760h0m0s"},
		{"ErrReaperRetentionShort", func(c *Config) { c.ReaperRetention = 30 * 24 * time.Hour }, "--reaper-retention (FOYER_REAPER_RETENTION) 720h0m0s is shorter than the anonymous token lifetime --anonymous-ttl (FOYER_ANONYMOUS_TTL) 8760h0m0s plus the 1h0m0s granularity of activity records: the reaper would delete accounts whose tokens are still valid"},
		{"ErrReaperRetentionEqualTTL", func(c *Config) { c.ReaperRetention = c.AnonymousTTL }, "the reaper would delete accounts whose tokens are still valid"},
		{"ErrReaperRetentionNegative", func(c *Config) { c.ReaperRetention = -time.Hour }, "--reaper-retention (FOYER_REAPER_RETENTION) must be a positive duration"},
		{"ErrRateLimit", func(c *Config) { c.AnonymousRateLimit = -1 }, "--anonymous-rate-limit (FOYER_ANONYMOUS_RATE_LIMIT) must be N/hour or off"},
		{"ErrMaxBodyBytes", func(c *Config) { c.MaxBodyBytes = 10 }, "--max-body-bytes (FOYER_MAX_BODY_BYTES) must be at least 1024, got 10"},
		{"ErrMergePolicy", func(c *Config) { c.MergePolicy = "newest_wins" }, `--merge-policy (FOYER_MERGE_POLICY) "newest_wins" is not one of registered_wins, anonymous_wins, keep_registered`},
		{"ErrNoDevNoSMTP", func(c *Config) { c.Dev = false }, "--dev=false (FOYER_DEV) needs --smtp-host (FOYER_SMTP_HOST)"},
		{"ErrSMTPPort", func(c *Config) { c.SMTPPort = 70000 }, "--smtp-port (FOYER_SMTP_PORT) 70000 is not a TCP port"},
		{"ErrSMTPTLS", func(c *Config) { c.SMTPTLS = "ssl" }, `--smtp-tls (FOYER_SMTP_TLS) "ssl" is not one of starttls, tls, none`},
		{"ErrSMTPAuthHalf", func(c *Config) { c.SMTPUsername = "u" }, "--smtp-username (FOYER_SMTP_USERNAME) and --smtp-password (FOYER_SMTP_PASSWORD) must be set together"},
		{"ErrSMTPAuthClearText", func(c *Config) { c.SMTPTLS, c.SMTPUsername, c.SMTPPassword = "none", "u", "p" }, "a password is never sent with --smtp-tls none"},
		{"ErrMailFrom", func(c *Config) { c.MailFrom = "Foyer" }, `--mail-from (FOYER_MAIL_FROM) "Foyer" is not an address`},
		{"ErrMailTemplateDir", func(c *Config) { c.MailTemplateDir = "/nonexistent/templates" }, `--mail-template-dir (FOYER_MAIL_TEMPLATE_DIR) "/nonexistent/templates" is not a readable directory`},
		{"ErrRedirectAllowlist", func(c *Config) { c.RedirectAllowlist = "https://app.example.com, javascript:alert(1)" }, "--redirect-allowlist (FOYER_REDIRECT_ALLOWLIST)"},
		{"ErrPagesDir", func(c *Config) { c.PagesDir = "/nonexistent/pages" }, "--pages-dir (FOYER_PAGES_DIR)"},
		{"ErrMaxConcurrentHashes", func(c *Config) { c.MaxConcurrentHashes = 0 }, "--max-concurrent-hashes (FOYER_MAX_CONCURRENT_HASHES) must be at least 1"},
		{"ErrLogLevel", func(c *Config) { c.LogLevel = "verbose" }, `--log-level (FOYER_LOG_LEVEL) "verbose" is not one of debug, info, warn, error`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := validConfig()
			tt.change(&c)
			err := c.Validate()
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("Validate() = %v, want nil", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("Validate() = nil, want an error containing %q", tt.wantErr)
			}
			if !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("Validate() = %q, want it to contain %q", err, tt.wantErr)
			}
		})
	}
}

func TestConfigResolve(t *testing.T) {
	t.Run("OK/Defaults", func(t *testing.T) {
		c := validConfig()
		if got, want := c.ReaperRetention, c.AnonymousTTL+c.ReaperGrace; got != want {
			t.Fatalf("ReaperRetention = %s, want anonymous-ttl + reaper-grace = %s", got, want)
		}
		if !c.Dev {
			t.Fatal("Dev = false without an SMTP host, want true")
		}
		if got, want := c.publicURL("127.0.0.1:9011"), "http://127.0.0.1:9011"; got != want {
			t.Fatalf("publicURL = %q, want %q", got, want)
		}
		if got, want := c.audience("127.0.0.1:9011"), "http://127.0.0.1:9011"; got != want {
			t.Fatalf("audience = %q, want %q", got, want)
		}
	})
	t.Run("OK/SMTPHostTurnsDevOff", func(t *testing.T) {
		c := DefaultConfig()
		c.SMTPHost = "smtp.example.com"
		c.resolve(false)
		if c.Dev {
			t.Fatal("Dev = true with an SMTP host and no --dev, want false")
		}
	})
	t.Run("OK/PublicHostNeedsSMTP", func(t *testing.T) {
		c := DefaultConfig()
		c.PublicURL = "https://id.example.com"
		c.resolve(false)
		if c.Dev {
			t.Fatal("Dev = true for a public https URL without SMTP, want false")
		}
		if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "--smtp-host") {
			t.Fatalf("Validate() = %v, want the missing SMTP host refused", err)
		}
	})
	t.Run("OK/LocalDefaultsToDev", func(t *testing.T) {
		c := DefaultConfig()
		c.resolve(false)
		if !c.Dev {
			t.Fatal("Dev = false on the default loopback address without SMTP, want true")
		}
	})
	t.Run("OK/ExplicitDevKept", func(t *testing.T) {
		c := DefaultConfig()
		c.SMTPHost = "smtp.example.com"
		c.Dev = true
		c.resolve(true)
		if !c.Dev {
			t.Fatal("Dev = false after --dev=true, want true")
		}
	})
	t.Run("OK/TrailingSlash", func(t *testing.T) {
		c := DefaultConfig()
		c.PublicURL = "https://id.example.com/"
		c.resolve(false)
		if got, want := c.PublicURL, "https://id.example.com"; got != want {
			t.Fatalf("PublicURL = %q, want %q", got, want)
		}
	})
}

func TestParseRateLimit(t *testing.T) {
	tests := []struct {
		in      string
		want    int
		wantErr bool
	}{
		{"30/hour", 30, false},
		{"30/h", 30, false},
		{"120", 120, false},
		{"off", 0, false},
		{"0", 0, false},
		{"0/hour", 0, false},
		{"30/minute", 0, true},
		{"-1/hour", 0, true},
		{"lots", 0, true},
		{"", 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseRateLimit(tt.in)
			if (err != nil) != tt.wantErr {
				t.Fatalf("ParseRateLimit(%q) error = %v, want error %v", tt.in, err, tt.wantErr)
			}
			if got != tt.want {
				t.Fatalf("ParseRateLimit(%q) = %d, want %d", tt.in, got, tt.want)
			}
			if err == nil && tt.want > 0 {
				if back, _ := ParseRateLimit(formatRateLimit(got)); back != got {
					t.Fatalf("round trip of %d gave %d", got, back)
				}
			}
		})
	}
}

// FuzzParseRateLimit checks that every accepted limit is non-negative and
// survives formatting and parsing again.
func FuzzParseRateLimit(f *testing.F) {
	for _, s := range []string{"30/hour", "off", "0", "5/h", "7/day", "/", "1e3/hour"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := ParseRateLimit(s)
		if err != nil {
			return
		}
		if n < 0 {
			t.Fatalf("ParseRateLimit(%q) = %d, want >= 0", s, n)
		}
		back, err := ParseRateLimit(formatRateLimit(n))
		if err != nil || back != n {
			t.Fatalf("round trip of %d from %q gave %d, %v", n, s, back, err)
		}
	})
}

// FuzzDecodeKeyEncryptionKey checks that an accepted key is always 32
// bytes.
func FuzzDecodeKeyEncryptionKey(f *testing.F) {
	f.Add("AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=")
	f.Add("AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8")
	f.Add("AAECAwQFBgcICQoLDA0ODw==")
	f.Add("")
	f.Fuzz(func(t *testing.T, s string) {
		b, err := decodeKeyEncryptionKey(s)
		if err == nil && len(b) != 32 {
			t.Fatalf("decodeKeyEncryptionKey(%q) accepted %d bytes", s, len(b))
		}
	})
}

// loadServeConfig reads the serve flags from args with env as the
// environment, as `foyer serve` does.
func loadServeConfig(t *testing.T, args []string, env map[string]string) (Config, error) {
	t.Helper()
	var out, errOut bytes.Buffer
	m := &Main{Stdout: &out, Stderr: &errOut, Getenv: func(k string) (string, bool) {
		v, ok := env[k]
		return v, ok
	}}
	return m.loadConfig(newFlagSet("serve", serveSynopsis), groupAll, args)
}

func TestConfigPrecedence(t *testing.T) {
	t.Run("OK/Default", func(t *testing.T) {
		c, err := loadServeConfig(t, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(validConfig(), c); diff != "" {
			t.Fatalf("config without flags or environment differs from the default (-want +got):\n%s", diff)
		}
	})
	t.Run("OK/EnvOverDefault", func(t *testing.T) {
		c, err := loadServeConfig(t, nil, map[string]string{
			"FOYER_LISTEN":               "127.0.0.1:9999",
			"FOYER_ANONYMOUS_TTL":        "48h",
			"FOYER_ANONYMOUS_RATE_LIMIT": "off",
			"FOYER_TRUST_FORWARDED_FOR":  "true",
			"FOYER_MERGE_POLICY":         "anonymous_wins",
			"FOYER_BILLING_RULE":         "created_month",
			"FOYER_ADMIN_SESSION_TTL":    "2h",
			"FOYER_DATA_DIR":             "",
		})
		if err != nil {
			t.Fatal(err)
		}
		want := validConfig()
		want.Listen = "127.0.0.1:9999"
		want.AnonymousTTL = 48 * time.Hour
		want.ReaperRetention = 48*time.Hour + want.ReaperGrace
		want.AnonymousRateLimit = 0
		want.TrustForwardedFor = true
		want.MergePolicy = foyer.MergeAnonymousWins
		want.BillingRule = "created_month"
		want.AdminSessionTTL = 2 * time.Hour
		if diff := cmp.Diff(want, c); diff != "" {
			t.Fatalf("config (-want +got):\n%s", diff)
		}
	})
	t.Run("OK/FlagOverEnv", func(t *testing.T) {
		c, err := loadServeConfig(t, []string{"--listen", "127.0.0.1:7000", "--anonymous-rate-limit=5/hour", "--dev=true"},
			map[string]string{"FOYER_LISTEN": "127.0.0.1:9999", "FOYER_ANONYMOUS_RATE_LIMIT": "off", "FOYER_SMTP_HOST": "smtp.example.com"})
		if err != nil {
			t.Fatal(err)
		}
		if c.Listen != "127.0.0.1:7000" || c.AnonymousRateLimit != 5 || c.SMTPHost != "smtp.example.com" || !c.Dev {
			t.Fatalf("Listen=%q AnonymousRateLimit=%d SMTPHost=%q Dev=%v, want the flags to win and the environment to fill the rest",
				c.Listen, c.AnonymousRateLimit, c.SMTPHost, c.Dev)
		}
	})
	t.Run("OK/DevFromEnv", func(t *testing.T) {
		c, err := loadServeConfig(t, nil, map[string]string{"FOYER_SMTP_HOST": "smtp.example.com", "FOYER_DEV": "true"})
		if err != nil {
			t.Fatal(err)
		}
		if !c.Dev {
			t.Fatal("Dev = false with FOYER_DEV=true, want true")
		}
	})
	t.Run("ErrInvalidEnv", func(t *testing.T) {
		_, err := loadServeConfig(t, nil, map[string]string{"FOYER_ANONYMOUS_TTL": "a year"})
		if err == nil || !strings.Contains(err.Error(), `FOYER_ANONYMOUS_TTL: invalid value "a year"`) {
			t.Fatalf("err = %v, want it to name FOYER_ANONYMOUS_TTL", err)
		}
		if !errors.As(err, new(usageError)) {
			t.Fatalf("err = %T, want a usage error", err)
		}
	})
	t.Run("ErrInvalidFlag", func(t *testing.T) {
		_, err := loadServeConfig(t, []string{"--anonymous-rate-limit", "3/minute"}, nil)
		if err == nil || !strings.Contains(err.Error(), "counted per hour") {
			t.Fatalf("err = %v, want a per-hour rate limit message", err)
		}
	})
	t.Run("ErrValidate", func(t *testing.T) {
		_, err := loadServeConfig(t, []string{"--reaper-retention", "24h"}, nil)
		if err == nil || !strings.Contains(err.Error(), "the reaper would delete accounts whose tokens are still valid") {
			t.Fatalf("err = %v, want the reaper retention refusal", err)
		}
	})
	t.Run("ErrUnknownFlag", func(t *testing.T) {
		_, err := loadServeConfig(t, []string{"--no-such-flag"}, nil)
		if !errors.As(err, new(usageError)) {
			t.Fatalf("err = %v, want a usage error", err)
		}
	})
}

func TestHelp(t *testing.T) {
	serveFlags := []string{
		"data-dir", "database-url", "listen", "public-url", "audience", "signing-algorithm",
		"key-encryption-key", "admin-api-key", "anonymous-ttl", "anonymous-renew-after",
		"anonymous-rate-limit", "trust-forwarded-for", "max-body-bytes", "access-ttl",
		"session-ttl", "conversion-ttl", "reset-ttl", "merge-policy", "reaper-retention",
		"reaper-grace", "reaper-interval", "event-retention", "webhook-allow-private", "dev",
		"smtp-host", "smtp-port", "smtp-username", "smtp-password", "smtp-tls", "mail-from",
		"mail-template-dir", "log-level", "admin-session-ttl", "billing-rule",
	}
	tests := []struct {
		name  string
		args  []string
		flags []string // flag names; each must be listed with its FOYER_* variable
		env   map[string]string
	}{
		{"serve", []string{"serve", "--help"}, serveFlags, nil},
		{"migrate", []string{"migrate", "--help"}, []string{"data-dir", "database-url", "log-level"}, nil},
		{"keys rotate", []string{"keys", "rotate", "--help"}, []string{"data-dir", "database-url", "signing-algorithm", "key-encryption-key", "anonymous-ttl", "access-ttl", "session-ttl"}, nil},
		{"keys list", []string{"keys", "list", "-h"}, []string{"data-dir", "database-url", "signing-algorithm", "key-encryption-key"}, nil},
		{"api-keys create", []string{"api-keys", "create", "--help"}, []string{"name", "data-dir", "database-url"}, map[string]string{"name": "FOYER_API_KEY_NAME"}},
		{"bench", []string{"bench", "--help"}, []string{"url", "api-key", "scenarios", "concurrency", "duration", "warmup", "runs", "users", "database-url", "admin-users", "admin-requests"},
			map[string]string{"url": "FOYER_BENCH_URL", "api-key": "FOYER_BENCH_API_KEY", "scenarios": "FOYER_BENCH_SCENARIOS", "concurrency": "FOYER_BENCH_CONCURRENCY", "duration": "FOYER_BENCH_DURATION", "warmup": "FOYER_BENCH_WARMUP", "runs": "FOYER_BENCH_RUNS", "users": "FOYER_BENCH_USERS",
				"admin-users": "FOYER_BENCH_ADMIN_USERS", "admin-requests": "FOYER_BENCH_ADMIN_REQUESTS"}},
		{"admin create", []string{"admin", "create", "--help"}, []string{"email", "data-dir", "database-url"}, map[string]string{"email": "FOYER_ADMIN_EMAIL"}},
		{"admin list", []string{"admin", "list", "--help"}, []string{"data-dir", "database-url"}, nil},
		{"reap", []string{"reap", "--help"}, []string{"dry-run", "data-dir", "database-url", "anonymous-ttl", "reaper-retention", "reaper-grace"}, map[string]string{"dry-run": "FOYER_REAP_DRY_RUN"}},
		{"help serve", []string{"help", "serve"}, serveFlags, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			m := &Main{Stdout: &out, Stderr: &errOut, Getenv: func(string) (string, bool) { return "", false }}
			err := m.Run(t.Context(), tt.args)
			if !errors.Is(err, flag.ErrHelp) {
				t.Fatalf("Run(%q) = %v, want flag.ErrHelp", tt.args, err)
			}
			if exitCode(err) != 0 {
				t.Fatalf("exit code %d for --help, want 0", exitCode(err))
			}
			text := out.String()
			if !strings.HasPrefix(text, "Usage: foyer ") {
				t.Fatalf("help does not start with a usage line:\n%s", text)
			}
			for _, f := range tt.flags {
				env := envName(f)
				if e, ok := tt.env[f]; ok {
					env = e
				}
				if want := "--" + f + " [" + env + "]"; !strings.Contains(text, want) {
					t.Errorf("help lacks %q:\n%s", want, text)
				}
			}
		})
	}
	t.Run("OK/ReapOnlyItsSettings", func(t *testing.T) {
		// foyer reap reads the store and the retention, nothing that only
		// the running server uses.
		var out bytes.Buffer
		m := &Main{Stdout: &out, Stderr: &out, Getenv: func(string) (string, bool) { return "", false }}
		if err := m.Run(t.Context(), []string{"reap", "--help"}); !errors.Is(err, flag.ErrHelp) {
			t.Fatalf("reap --help = %v", err)
		}
		for _, f := range []string{"reaper-interval", "listen", "signing-algorithm", "event-retention", "smtp-host"} {
			if strings.Contains(out.String(), "--"+f+" ") {
				t.Errorf("reap --help lists --%s:\n%s", f, out.String())
			}
		}
	})
	t.Run("OK/TopLevel", func(t *testing.T) {
		var out bytes.Buffer
		m := &Main{Stdout: &out, Stderr: &out}
		if err := m.Run(t.Context(), []string{"help"}); err != nil {
			t.Fatal(err)
		}
		for _, c := range commands {
			if !strings.Contains(out.String(), c.name) {
				t.Errorf("help lacks command %q:\n%s", c.name, out.String())
			}
		}
	})
	t.Run("ErrUnknownCommand", func(t *testing.T) {
		var out bytes.Buffer
		m := &Main{Stdout: &out, Stderr: &out}
		err := m.Run(t.Context(), []string{"frobnicate"})
		if err == nil || exitCode(err) != 2 || !strings.Contains(err.Error(), `unknown command "frobnicate"`) {
			t.Fatalf("Run = %v (exit %d), want an unknown command usage error", err, exitCode(err))
		}
	})
}

func TestKeyEncryptionKey(t *testing.T) {
	t.Run("OK/CreatedOnceAndReused", func(t *testing.T) {
		c := validConfig()
		c.DataDir = filepath.Join(t.TempDir(), "data")
		k1, err := keyEncryptionKey(c)
		if err != nil {
			t.Fatal(err)
		}
		if len(k1) != 32 {
			t.Fatalf("key is %d bytes, want 32", len(k1))
		}
		fi, err := os.Stat(filepath.Join(c.DataDir, masterKeyFile))
		if err != nil {
			t.Fatal(err)
		}
		if got := fi.Mode().Perm(); got != 0o600 {
			t.Fatalf("master.key mode %o, want 600", got)
		}
		di, err := os.Stat(c.DataDir)
		if err != nil {
			t.Fatal(err)
		}
		if got := di.Mode().Perm(); got != 0o700 {
			t.Fatalf("data directory mode %o, want 700", got)
		}
		k2, err := keyEncryptionKey(c)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(k1, k2) {
			t.Fatal("second start made a new key, want the stored one")
		}
	})
	t.Run("OK/Configured", func(t *testing.T) {
		c := validConfig()
		c.DataDir = filepath.Join(t.TempDir(), "data")
		c.KeyEncryptionKey = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="
		k, err := keyEncryptionKey(c)
		if err != nil {
			t.Fatal(err)
		}
		if k[0] != 0 || k[31] != 31 {
			t.Fatalf("key = %x, want 000102…1f", k)
		}
		if _, err := os.Stat(filepath.Join(c.DataDir, masterKeyFile)); !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("master.key written although a key is configured: %v", err)
		}
	})
	t.Run("ErrWrongLength", func(t *testing.T) {
		c := validConfig()
		c.DataDir = t.TempDir()
		path := filepath.Join(c.DataDir, masterKeyFile)
		if err := os.WriteFile(path, []byte("short"), 0o600); err != nil {
			t.Fatal(err)
		}
		_, err := keyEncryptionKey(c)
		if err == nil || !strings.Contains(err.Error(), "holds 5 bytes, want 32") {
			t.Fatalf("err = %v, want a refusal of the 5-byte key file", err)
		}
		b, _ := os.ReadFile(path)
		if string(b) != "short" {
			t.Fatal("the wrong key file was replaced, want it kept")
		}
	})
}
