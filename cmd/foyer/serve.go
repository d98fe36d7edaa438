package main

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/foyerhq/foyer"
	"github.com/foyerhq/foyer/admin"
	"github.com/foyerhq/foyer/argon2"
	foyerhttp "github.com/foyerhq/foyer/http"
	"github.com/foyerhq/foyer/mail"
	"github.com/foyerhq/foyer/oidc"
	"github.com/foyerhq/foyer/reaper"
	"github.com/foyerhq/foyer/token"
	"github.com/foyerhq/foyer/webhook"
)

// Timeouts of the HTTP server. Requests are small JSON documents, so these
// bound slow clients without limiting real ones.
const (
	readHeaderTimeout = 5 * time.Second
	readTimeout       = 15 * time.Second
	writeTimeout      = 30 * time.Second
	idleTimeout       = 2 * time.Minute
	// shutdownTimeout is how long in-flight requests get to finish after
	// SIGTERM before their connections are closed.
	shutdownTimeout = 20 * time.Second
	// keyRefreshInterval is how often the keyring learns of keys other
	// instances created; much shorter than any token lifetime.
	keyRefreshInterval = time.Minute
	// reaperRunTimeout bounds an on-demand run of the reaper (POST
	// /v1/reaper/runs), which deletes every stale user in batches and so
	// may take longer than writeTimeout allows other routes. Five minutes
	// of batches of a thousand users is millions of users; a run cut short
	// has committed the batches it finished, and the scheduled runs go on.
	reaperRunTimeout = 5 * time.Minute
	// retentionBatch is how many events one deleting transaction of the
	// event-log retention removes.
	retentionBatch = 1000
)

const serveSynopsis = `foyer serve [flags]

Runs the Foyer HTTP server. With no flags it keeps everything in SQLite under
./foyer-data (created on first start), creates a signing key and a key
encryption key there, prints a one-time admin API key, and listens on
127.0.0.1:9011. Stops gracefully on SIGTERM or SIGINT.`

func (m *Main) runServe(ctx context.Context, args []string) error {
	fs := newFlagSet("serve", serveSynopsis)
	c, err := m.loadConfig(fs, groupAll, args)
	if err != nil {
		return err
	}
	logger := m.newLogger(c.LogLevel)

	a, err := m.openApp(ctx, c, logger)
	if err != nil {
		return err
	}
	if err := m.bootstrapAPIKey(ctx, a); err != nil {
		a.abort()
		return err
	}
	a.start()
	logger.InfoContext(ctx, "foyer started", slog.String("url", a.url), slog.String("store", a.store.kind), slog.String("database", a.store.location), slog.Bool("dev", c.Dev))
	if c.WebhookAllowPrivate {
		logger.WarnContext(ctx, "webhook endpoints may be on loopback and private addresses (--webhook-allow-private): use this for development only")
	}
	listen := "http://" + a.ln.Addr().String()
	if listen == a.url {
		fmt.Fprintf(m.Stdout, "Foyer is listening on %s (%s: %s)\n", listen, a.store.kind, a.store.location)
	} else {
		fmt.Fprintf(m.Stdout, "Foyer is listening on %s, public URL %s (%s: %s)\n", listen, a.url, a.store.kind, a.store.location)
	}

	select {
	case <-ctx.Done():
		logger.Info("shutting down")
	case err := <-a.serveErr:
		a.shutdown(context.WithoutCancel(ctx))
		return fmt.Errorf("serve: %w", err)
	}
	return a.shutdown(context.WithoutCancel(ctx))
}

// app is a running Foyer: store, keys, HTTP server and background loops.
type app struct {
	cfg      Config
	logger   *slog.Logger
	store    *store
	keyring  *token.Keyring
	mail     *mail.Worker
	webhooks *webhook.Dispatcher
	reaper   *reaper.Reaper
	url      string

	ln       net.Listener
	srv      *http.Server
	serveErr chan error

	// stop ends the background loops; wg waits for them.
	stop context.CancelFunc
	bg   context.Context
	wg   sync.WaitGroup
}

// openApp opens and migrates the store, loads the signing keys, listens
// and builds the HTTP server, but serves nothing until start.
func (m *Main) openApp(ctx context.Context, c Config, logger *slog.Logger) (*app, error) {
	kek, err := keyEncryptionKey(c)
	if err != nil {
		return nil, err
	}
	s, err := openMigratedStore(ctx, c)
	if err != nil {
		return nil, err
	}
	a := &app{cfg: c, logger: logger, store: s, serveErr: make(chan error, 1)}
	a.ln, err = net.Listen("tcp", c.Listen)
	if err != nil {
		s.Close()
		return nil, fmt.Errorf("listen on %s: %w", c.Listen, err)
	}
	addr := a.ln.Addr().String()
	a.url = c.publicURL(addr)

	a.keyring = token.NewKeyring(s.SigningKeys, token.Config{
		Issuer:        a.url,
		Audience:      c.audience(addr),
		Algorithm:     c.SigningAlgorithm,
		EncryptionKey: kek,
		MaxTokenTTL:   c.maxTokenTTL(),
	})
	if err := a.keyring.Load(ctx); err != nil {
		a.abort()
		return nil, fmt.Errorf("load signing keys: %w", err)
	}

	worker, err := newMailWorker(c, a.url, s.Mail, logger)
	if err != nil {
		a.abort()
		return nil, err
	}
	a.mail = worker
	pub, err := url.Parse(a.url)
	if err != nil {
		a.abort()
		return nil, fmt.Errorf("public URL: %w", err)
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))

	a.reaper = reaper.New(s.Reaps, logger)
	a.reaper.Retention = c.ReaperRetention
	a.reaper.Interval = c.ReaperInterval
	a.reaper.OnRun = reaperMetrics(reg)
	// The dispatcher's default Interval of a second is what brings an
	// event to its endpoints about a second after the change at most.
	a.webhooks = &webhook.Dispatcher{
		Deliveries: s.Deliveries,
		Client:     webhook.NewClient(webhook.ClientConfig{AllowPrivate: c.WebhookAllowPrivate}),
		Logger:     logger,
	}
	// The provider asks the HTTP server who is signed in, and the server
	// serves the provider: hs is set before anything is served.
	var hs *foyerhttp.Server
	provider, err := oidc.New(oidc.Config{
		Issuer:     a.url,
		Audience:   c.audience(addr),
		AccessTTL:  c.AccessTTL,
		SessionTTL: c.SessionTTL,
		CryptoKey:  sha256.Sum256(append([]byte("foyer oidc op crypto key\x00"), kek...)),
		Insecure:   pub.Scheme == "http",
		SignedIn: func(r *http.Request) (string, time.Time, error) {
			return hs.SignedIn(r)
		},
		Logger: logger,
	}, oidc.Deps{Apps: s.Apps, AuthRequests: s.AuthRequests, Sessions: s.Sessions, Users: s.Users, Keys: a.keyring})
	if err != nil {
		a.abort()
		return nil, fmt.Errorf("openid connect provider: %w", err)
	}
	hs = foyerhttp.NewServer(httpConfig(c, pub, c.audience(addr)), foyerhttp.Deps{
		Users:       s.Users,
		Conversions: s.Conversions,
		Credentials: s.Credentials,
		Merges:      s.Merges,
		Sessions:    s.Sessions,
		Mail:        s.Mail,
		Events:      s.Events,
		APIKeys:     s.APIKeys,
		Keys:        a.keyring,
		Ping:        s.db.Ping,
		UserCounts:  s.db.UserCounts,
		MailNotify:  worker.Notify,
		Render:      worker.Render,
		Gatherer:    reg,

		Webhooks: s.Webhooks,
		ValidateWebhookURL: func(raw string) error {
			return webhook.ValidateURL(raw, c.WebhookAllowPrivate)
		},
		NewWebhookSecret: webhook.NewSecret,
		Deliveries:       s.Deliveries,
		WebhookNotify:    a.webhooks.Notify,
		Audit:            s.Audit,
		Exports:          s.Exports,
		Reap:             a.reapNow,
		Reports:          admin.ReportsAPIHandler(admin.NewReports(s.Reports, c.BillingRule, nil)),
		Apps:             s.Apps,

		OIDC:              provider,
		OIDCPaths:         oidc.Paths(),
		OIDCBrowserPaths:  oidc.BrowserPaths(),
		OIDCAuthorizePath: oidc.PathAuthorize,
		OIDCContinuePath:  oidc.PathContinue,
		AuthRequests:      s.AuthRequests,
	}, logger, reg)
	console := admin.NewHandler(admin.Config{
		PublicURL:         pub,
		TrustForwardedFor: c.TrustForwardedFor,
		BillingRule:       c.BillingRule,
		SessionTTL:        c.AdminSessionTTL,
		DevMode:           c.Dev,
	}, a.adminDeps(worker), logger)
	// The console serves everything under /admin/, the API (with the
	// OpenID Connect provider) the rest.
	mux := http.NewServeMux()
	mux.Handle("/admin/", console)
	mux.Handle("/", hs.Handler())
	a.srv = &http.Server{
		Handler:           longReaperRuns(mux),
		ReadHeaderTimeout: readHeaderTimeout,
		ReadTimeout:       readTimeout,
		WriteTimeout:      writeTimeout,
		IdleTimeout:       idleTimeout,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
	a.bg, a.stop = context.WithCancel(context.WithoutCancel(ctx))
	return a, nil
}

// adminDeps are what the admin console calls: the store's services, and
// the keyring, mail templates, reaper and webhook dispatcher of the app.
func (a *app) adminDeps(worker *mail.Worker) admin.Deps {
	s := a.store
	return admin.Deps{
		Admins:            s.Admins,
		Audit:             s.Audit,
		Users:             s.Users,
		Events:            s.Events,
		Sessions:          s.Sessions,
		Conversions:       s.Conversions,
		Exports:           s.Exports,
		Reports:           s.Reports,
		Webhooks:          s.Webhooks,
		Deliveries:        s.Deliveries,
		APIKeys:           s.APIKeys,
		Mail:              s.Mail,
		HashPassword:      argon2.Hash,
		VerifyPassword:    argon2.Verify,
		CheckBootstrapKey: a.checkBootstrapKey,
		NewAPIKey:         foyerhttp.NewAPIKey,
		Apps:              s.Apps,
		NewAppSecret:      foyerhttp.NewAppSecret,
		ListKeys: func() []admin.KeyInfo {
			keys := a.keyring.Keys()
			out := make([]admin.KeyInfo, len(keys))
			for i, k := range keys {
				out[i] = admin.KeyInfo{ID: k.ID, Algorithm: k.Algorithm, CreatedAt: k.CreatedAt, RetiredAt: k.RetiredAt}
			}
			return out
		},
		RotateKeys: func(ctx context.Context) error {
			_, err := a.keyring.Rotate(ctx)
			return err
		},
		RenderMail:    worker.Render,
		Reap:          a.reapNow,
		UserCounts:    s.db.UserCounts,
		WebhookNotify: a.webhooks.Notify,
	}
}

// bootstrapKeyLookup bounds the store lookup of checkBootstrapKey.
const bootstrapKeyLookup = 10 * time.Second

// checkBootstrapKey reports whether key is the bootstrap API key that the
// console's first-run setup asks for: the key foyer serve created and
// printed on first start, or the configured --admin-api-key. It compares
// the SHA-256 of key with the stored hash of each in constant time, so
// that timing tells nothing about how close a guess was; a revoked key no
// longer opens the setup.
func (a *app) checkBootstrapKey(key string) bool {
	ctx, cancel := context.WithTimeout(context.Background(), bootstrapKeyLookup)
	defer cancel()
	keys, err := a.store.APIKeys.FindAPIKeys(ctx)
	if err != nil {
		a.logger.ErrorContext(ctx, "check bootstrap API key", slog.Any("err", err))
		return false
	}
	sum := sha256.Sum256([]byte(key))
	match := 0
	for _, k := range keys {
		if k.Name == bootstrapKeyName || k.Name == adminKeyName {
			match |= subtle.ConstantTimeCompare(sum[:], k.Hash)
		}
	}
	return match == 1
}

// httpConfig copies the settings the HTTP server needs.
func httpConfig(c Config, publicURL *url.URL, audience string) foyerhttp.Config {
	rate := c.AnonymousRateLimit
	if rate == 0 {
		rate = -1 // foyerhttp reads 0 as "the default" and a negative limit as none
	}
	return foyerhttp.Config{
		PublicURL:           publicURL,
		Audience:            audience,
		AnonymousTTL:        c.AnonymousTTL,
		RenewAfter:          c.AnonymousRenewAfter,
		ActivityGranularity: activityGranularity,
		AccessTTL:           c.AccessTTL,
		SessionTTL:          c.SessionTTL,
		AnonymousRateLimit:  rate,
		TrustForwardedFor:   c.TrustForwardedFor,
		MaxBodyBytes:        c.MaxBodyBytes,
		ConversionTTL:       c.ConversionTTL,
		ResetTTL:            c.ResetTTL,
		MergePolicy:         c.MergePolicy,
		DevMode:             c.Dev,
		PagesDir:            c.PagesDir,
		RedirectAllowlist:   c.redirectAllowlist(),
		MaxConcurrentHashes: c.MaxConcurrentHashes,
	}
}

// reaperMetrics registers the reaper's metrics on reg and returns the
// reaper's OnRun, which updates them after every completed run that was
// not a dry run, scheduled or on request.
func reaperMetrics(reg prometheus.Registerer) func(reaper.Result) {
	deleted := prometheus.NewCounter(prometheus.CounterOpts{
		Name: "foyer_reaper_deleted_total",
		Help: "Anonymous users deleted by the reaper.",
	})
	duration := prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:    "foyer_reaper_run_duration_seconds",
		Help:    "How long reaper runs took.",
		Buckets: prometheus.ExponentialBuckets(0.005, 4, 10),
	})
	reg.MustRegister(deleted, duration)
	return func(r reaper.Result) {
		deleted.Add(float64(r.Deleted))
		duration.Observe(r.Duration.Seconds())
	}
}

// reapNow runs the reaper once for POST /v1/reaper/runs, for at most
// reaperRunTimeout.
func (a *app) reapNow(ctx context.Context, dryRun bool) (int, time.Time, error) {
	ctx, cancel := context.WithTimeout(ctx, reaperRunTimeout)
	defer cancel()
	res, err := a.reaper.RunOnce(ctx, dryRun)
	if err != nil && errors.Is(ctx.Err(), context.DeadlineExceeded) {
		msg := fmt.Sprintf("The reaper run took longer than %s and stopped after deleting %d users; the scheduled runs delete the rest.", reaperRunTimeout, res.Deleted)
		if dryRun {
			msg = fmt.Sprintf("Counting the stale users took longer than %s.", reaperRunTimeout)
		}
		return 0, time.Time{}, &foyer.Error{Code: foyer.EUnavailable, Message: msg, Err: err}
	}
	if err == nil && !dryRun && res.Deleted > 0 {
		a.logger.InfoContext(ctx, "reaped anonymous users on request", slog.Int("deleted", res.Deleted), slog.Time("cutoff", res.Cutoff))
	}
	return res.Deleted, res.Cutoff, err
}

// reaperRunsPath is the route whose requests may write their answer later
// than writeTimeout allows.
const reaperRunsPath = "/v1/reaper/runs"

// longReaperRuns gives POST /v1/reaper/runs until reaperRunTimeout (and a
// margin to write the answer) to respond; every other request keeps the
// server's writeTimeout, which bounds slow clients.
func longReaperRuns(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost && r.URL.Path == reaperRunsPath {
			// An error means the connection cannot take a deadline; the
			// server's own timeout then applies.
			_ = http.NewResponseController(w).SetWriteDeadline(time.Now().Add(reaperRunTimeout + writeTimeout))
		}
		h.ServeHTTP(w, r)
	})
}

// start serves HTTP and starts the background loops: the keyring
// refresh, the reaper, the event-log retention with the pruning of expired
// signing keys, the mail worker and the webhook dispatcher. All of them
// stop on shutdown, before the store closes.
func (a *app) start() {
	go func() {
		if err := a.srv.Serve(a.ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			a.serveErr <- err
		}
	}()
	a.wg.Go(func() {
		t := time.NewTicker(keyRefreshInterval)
		defer t.Stop()
		for {
			select {
			case <-a.bg.Done():
				return
			case <-t.C:
			}
			if err := a.keyring.Refresh(a.bg); err != nil && !errors.Is(err, context.Canceled) {
				a.logger.Error("refresh signing keys", slog.Any("err", err))
			}
		}
	})
	a.wg.Go(func() {
		// Reap once at start too, to catch up after downtime.
		res, err := a.reaper.RunOnce(a.bg, false)
		if err != nil && !errors.Is(err, context.Canceled) {
			a.logger.Error("reap anonymous users", slog.Any("err", err))
		} else if res.Deleted > 0 {
			a.logger.Info("reaped anonymous users", slog.Int("deleted", res.Deleted), slog.Time("cutoff", res.Cutoff))
		}
		a.reaper.Run(a.bg)
	})
	a.wg.Go(func() {
		t := time.NewTicker(a.cfg.ReaperInterval)
		defer t.Stop()
		for {
			a.prune(a.bg)
			select {
			case <-a.bg.Done():
				return
			case <-t.C:
			}
		}
	})
	a.wg.Go(func() {
		if err := a.mail.Run(a.bg); err != nil {
			a.logger.Error("mail worker stopped", slog.Any("err", err))
		}
	})
	a.wg.Go(func() {
		if err := a.webhooks.Run(a.bg); err != nil {
			a.logger.Error("webhook dispatcher stopped", slog.Any("err", err))
		}
	})
}

// prune deletes events older than the event retention, in batches until a
// batch comes back short, expired sessions and authorization requests,
// likewise, and signing keys retired so long ago that every token they
// signed has expired. Failures are logged; the next round tries again.
func (a *app) prune(ctx context.Context) {
	now := time.Now()
	deleted, err := deleteEventsBefore(ctx, a.store.Retention, now.Add(-a.cfg.EventRetention), retentionBatch)
	if err != nil && ctx.Err() == nil {
		a.logger.ErrorContext(ctx, "delete old events", slog.Any("err", err))
	} else if deleted > 0 {
		a.logger.InfoContext(ctx, "deleted old events", slog.Int("deleted", deleted), slog.Duration("retention", a.cfg.EventRetention))
	}
	expired, err := deleteExpired(ctx, a.store.Expiry, expiryBatch)
	if err != nil && ctx.Err() == nil {
		a.logger.ErrorContext(ctx, "delete expired sessions and authorization requests", slog.Any("err", err))
	} else if expired > 0 {
		a.logger.InfoContext(ctx, "deleted expired sessions and authorization requests", slog.Int("deleted", expired))
	}
	keys, err := a.store.SigningKeys.DeleteSigningKeysRetiredBefore(ctx, now.Add(-a.cfg.maxTokenTTL()))
	if err != nil && ctx.Err() == nil {
		a.logger.ErrorContext(ctx, "delete expired signing keys", slog.Any("err", err))
	} else if keys > 0 {
		a.logger.InfoContext(ctx, "deleted expired signing keys", slog.Int("deleted", keys))
	}
}

// deleteEventsBefore deletes the events created before cutoff whose
// deliveries have finished, batch at a time until a batch comes back
// short, and reports how many it deleted.
func deleteEventsBefore(ctx context.Context, store foyer.EventRetentionService, cutoff time.Time, batch int) (int, error) {
	total := 0
	for {
		n, err := store.DeleteEventsBefore(ctx, cutoff, batch)
		total += n
		if err != nil || n < batch {
			return total, err
		}
	}
}

// newMailWorker returns the worker that sends queued mail over SMTP or,
// in development mode, logs it and keeps it in the development mailbox.
// Templates are loaded (and checked) now, so a broken override fails at
// start.
func newMailWorker(c Config, publicURL string, queue foyer.MailService, logger *slog.Logger) (*mail.Worker, error) {
	tmpl, err := mail.NewTemplates(mail.Config{
		PublicURL:   publicURL,
		From:        c.MailFrom,
		LinkTTL:     c.ConversionTTL,
		TemplateDir: c.MailTemplateDir,
	})
	if err != nil {
		return nil, err
	}
	w := &mail.Worker{Store: queue, Templates: tmpl, Logger: logger}
	if !c.Dev {
		sender, err := mail.NewSMTPSender(mail.SMTPConfig{
			Host:     c.SMTPHost,
			Port:     c.SMTPPort,
			Username: c.SMTPUsername,
			Password: c.SMTPPassword,
			TLS:      c.SMTPTLS,
			// Choosing --smtp-tls none is the explicit consent to clear text.
			Insecure: c.SMTPTLS == mail.TLSNone,
		})
		if err != nil {
			return nil, err
		}
		w.Sender = sender
	}
	return w, nil
}

// shutdown stops accepting requests, lets in-flight ones finish, stops
// the background loops and closes the store.
func (a *app) shutdown(ctx context.Context) error {
	sctx, cancel := context.WithTimeout(ctx, shutdownTimeout)
	defer cancel()
	err := a.srv.Shutdown(sctx)
	if err != nil {
		err = fmt.Errorf("shut down HTTP server: %w", err)
		a.srv.Close()
	}
	a.stop()
	a.wg.Wait()
	if cerr := a.store.Close(); cerr != nil {
		err = errors.Join(err, fmt.Errorf("close store: %w", cerr))
	}
	if err == nil {
		a.logger.Info("foyer stopped")
	}
	return err
}

// abort releases what openApp acquired when start will not be called.
func (a *app) abort() {
	if a.stop != nil {
		a.stop()
	}
	if a.ln != nil {
		a.ln.Close()
	}
	a.store.Close()
}

// Names of the API keys that foyer serve stores itself: the configured
// --admin-api-key, and the key it creates and prints on first start when
// none is configured. Either opens the admin console's first-run setup.
const (
	adminKeyName     = "admin"
	bootstrapKeyName = "bootstrap"
)

// bootstrapAPIKey makes sure the server API can be used: it stores the
// configured admin API key if it is not stored yet, or, when none is
// configured and no key exists, creates one and shows it once on Stderr.
func (m *Main) bootstrapAPIKey(ctx context.Context, a *app) error {
	keys := a.store.APIKeys
	if a.cfg.AdminAPIKey != "" {
		k := configuredAPIKey(adminKeyName, a.cfg.AdminAPIKey)
		if _, err := keys.FindAPIKeyByHash(ctx, k.Hash); err == nil {
			return nil
		} else if foyer.ErrorCode(err) != foyer.ENotFound {
			return fmt.Errorf("find admin API key: %w", err)
		}
		if err := keys.CreateAPIKey(ctx, k); err != nil && foyer.ErrorCode(err) != foyer.EConflict {
			return fmt.Errorf("store admin API key: %w", err)
		}
		a.logger.InfoContext(ctx, "stored the admin API key from configuration", slog.String("prefix", k.Prefix))
		return nil
	}
	existing, err := keys.FindAPIKeys(ctx)
	if err != nil {
		return fmt.Errorf("list API keys: %w", err)
	}
	if len(existing) > 0 {
		return nil
	}
	secret, k := foyerhttp.NewAPIKey()
	k.Name = bootstrapKeyName
	if err := keys.CreateAPIKey(ctx, k); err != nil {
		return fmt.Errorf("store bootstrap API key: %w", err)
	}
	fmt.Fprintf(m.Stderr, "\nAdmin API key (shown once, store it now): %s\n"+
		"Use it as \"Authorization: Bearer <key>\" on the server API. Create more with\n"+
		"\"foyer api-keys create --name NAME\", or set FOYER_ADMIN_API_KEY.\n\n", secret)
	return nil
}

// configuredAPIKey returns the key to store for a secret given in
// configuration, hashed as foyerhttp hashes the bearer tokens it checks:
// SHA-256 of the whole secret, with the start kept as the prefix.
func configuredAPIKey(name, secret string) *foyer.APIKey {
	sum := sha256.Sum256([]byte(secret))
	return &foyer.APIKey{Name: name, Prefix: secret[:len(foyerhttp.APIKeyPrefix)+6], Hash: sum[:]}
}
