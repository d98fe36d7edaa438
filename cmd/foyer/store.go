package main

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"time"

	"github.com/foyerhq/foyer"
	"github.com/foyerhq/foyer/postgres"
	"github.com/foyerhq/foyer/sqlite"
)

// database is what the sqlite and postgres DB types have in common.
type database interface {
	Open(ctx context.Context) error
	Migrate(ctx context.Context) error
	Ping(ctx context.Context) error
	Close() error
	UserCounts(ctx context.Context) (anonymous, registered int64, err error)
}

// store is an open database, SQLite or PostgreSQL, with every service.
type store struct {
	// kind is "sqlite" or "postgres".
	kind string
	// location names the database for people: the SQLite file, or the
	// PostgreSQL URL without its password.
	location string
	db       database

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
	// Apps and AuthRequests are the OpenID Connect applications and
	// their pending authorization requests.
	Apps         foyer.AppService
	AuthRequests foyer.AuthRequestService
}

// openStore opens the database c selects, creating the data directory for
// SQLite. It does not migrate.
func openStore(ctx context.Context, c Config) (*store, error) {
	return openStoreWithClock(ctx, c, nil)
}

// openStoreWithClock is openStore with the store's clock set to now (nil
// keeps time.Now), as foyer bench needs to seed a history of users.
func openStoreWithClock(ctx context.Context, c Config, now func() time.Time) (*store, error) {
	kind, err := storeKind(c.DatabaseURL)
	if err != nil {
		return nil, err
	}
	s := &store{kind: kind}
	switch kind {
	case "sqlite":
		if err := ensureDataDir(c.DataDir); err != nil {
			return nil, err
		}
		db := sqlite.NewDB(c.databasePath())
		if now != nil {
			db.Now = now
		}
		if err := db.Open(ctx); err != nil {
			return nil, fmt.Errorf("open SQLite database %s: %w", c.databasePath(), err)
		}
		s.location, s.db = c.databasePath(), db
		s.Users, s.Conversions, s.Credentials = sqlite.NewUserService(db), sqlite.NewConversionService(db), sqlite.NewCredentialService(db)
		s.Merges, s.Sessions, s.Mail = sqlite.NewMergeService(db), sqlite.NewSessionService(db), sqlite.NewMailService(db)
		s.Events, s.APIKeys, s.SigningKeys = sqlite.NewEventService(db), sqlite.NewAPIKeyService(db), sqlite.NewSigningKeyService(db)
		s.Reaps, s.Webhooks, s.Deliveries = sqlite.NewReapService(db), sqlite.NewWebhookService(db), sqlite.NewDeliveryService(db)
		s.Audit, s.Exports, s.Retention = sqlite.NewAuditService(db), sqlite.NewExportService(db), sqlite.NewEventRetentionService(db)
		s.Admins, s.Reports = sqlite.NewAdminService(db), sqlite.NewReportService(db)
		s.Expiry = sqlite.NewExpiryService(db)
		s.Apps, s.AuthRequests = sqlite.NewAppService(db), sqlite.NewAuthRequestService(db)
	case "postgres":
		db := postgres.NewDB(c.DatabaseURL)
		if now != nil {
			db.Now = now
		}
		s.location = redactURL(c.DatabaseURL)
		if err := db.Open(ctx); err != nil {
			return nil, fmt.Errorf("open PostgreSQL database %s: %w", s.location, err)
		}
		s.db = db
		s.Users, s.Conversions, s.Credentials = postgres.NewUserService(db), postgres.NewConversionService(db), postgres.NewCredentialService(db)
		s.Merges, s.Sessions, s.Mail = postgres.NewMergeService(db), postgres.NewSessionService(db), postgres.NewMailService(db)
		s.Events, s.APIKeys, s.SigningKeys = postgres.NewEventService(db), postgres.NewAPIKeyService(db), postgres.NewSigningKeyService(db)
		s.Reaps, s.Webhooks, s.Deliveries = postgres.NewReapService(db), postgres.NewWebhookService(db), postgres.NewDeliveryService(db)
		s.Audit, s.Exports, s.Retention = postgres.NewAuditService(db), postgres.NewExportService(db), postgres.NewEventRetentionService(db)
		s.Admins, s.Reports = postgres.NewAdminService(db), postgres.NewReportService(db)
		s.Expiry = postgres.NewExpiryService(db)
		s.Apps, s.AuthRequests = postgres.NewAppService(db), postgres.NewAuthRequestService(db)
	}
	return s, nil
}

// openMigratedStore opens the database and applies pending migrations.
func openMigratedStore(ctx context.Context, c Config) (*store, error) {
	s, err := openStore(ctx, c)
	if err != nil {
		return nil, err
	}
	if err := s.db.Migrate(ctx); err != nil {
		s.Close()
		return nil, fmt.Errorf("migrate %s: %w", s.location, err)
	}
	return s, nil
}

// Close closes the database.
func (s *store) Close() error { return s.db.Close() }

// ensureDataDir creates the data directory, readable only by its owner,
// if it does not exist.
func ensureDataDir(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("create data directory: %w", err)
	}
	return nil
}

// masterKeyFile is the name of the key encryption key file in the data
// directory.
const masterKeyFile = "master.key"

// keyEncryptionKey returns the 32-byte key that encrypts private signing
// keys at rest: the configured one, or the content of <data-dir>/master.key,
// which is created with 32 random bytes (mode 0600) the first time. A file
// of any other length is refused rather than replaced, since replacing it
// would lose every stored signing key.
func keyEncryptionKey(c Config) ([]byte, error) {
	if c.KeyEncryptionKey != "" {
		return decodeKeyEncryptionKey(c.KeyEncryptionKey)
	}
	if err := ensureDataDir(c.DataDir); err != nil {
		return nil, err
	}
	path := filepath.Join(c.DataDir, masterKeyFile)
	for range 2 {
		b, err := os.ReadFile(path)
		if err == nil {
			if len(b) != 32 {
				return nil, fmt.Errorf("key encryption key file %s holds %d bytes, want 32: restore the original file or set --key-encryption-key (FOYER_KEY_ENCRYPTION_KEY)", path, len(b))
			}
			return b, nil
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("read key encryption key: %w", err)
		}
		key := make([]byte, 32)
		rand.Read(key)
		if err := writeNewFile(path, key, 0o600); err != nil {
			if errors.Is(err, fs.ErrExist) {
				continue // another process created it first: read theirs
			}
			return nil, fmt.Errorf("create key encryption key: %w", err)
		}
		return key, nil
	}
	return nil, fmt.Errorf("key encryption key file %s keeps changing", path)
}

// writeNewFile creates path with data and mode, failing if it exists, and
// syncs it so the key survives a crash right after start.
func writeNewFile(path string, data []byte, mode os.FileMode) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		os.Remove(path)
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		os.Remove(path)
		return err
	}
	return f.Close()
}

// redactURL returns u with its password replaced, for messages and logs.
func redactURL(u string) string {
	p, err := url.Parse(u)
	if err != nil {
		return "(unparsable URL)"
	}
	return p.Redacted()
}
