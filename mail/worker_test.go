package mail_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"log/slog"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/foyerhq/foyer"
	"github.com/foyerhq/foyer/mail"
	"github.com/foyerhq/foyer/sqlite"
)

// bundle is a real SQLite store in t.TempDir() with the services the
// worker tests queue mail through.
type bundle struct {
	clock       *clock // nil when the bundle runs on time.Now
	now         func() time.Time
	path        string
	db          *sqlite.DB
	store       *sqlite.MailService
	users       *sqlite.UserService
	conversions *sqlite.ConversionService
	credentials *sqlite.CredentialService
}

// setup opens a fresh store on a settable clock.
func setup(t *testing.T) *bundle {
	t.Helper()
	clk := newClock()
	b := &bundle{clock: clk, now: clk.Now, path: filepath.Join(t.TempDir(), "foyer.db")}
	b.open(t)
	return b
}

// setupNow opens a fresh store on time.Now, the clock of a synctest bubble.
func setupNow(t *testing.T) *bundle {
	t.Helper()
	b := &bundle{now: time.Now, path: filepath.Join(t.TempDir(), "foyer.db")}
	b.open(t)
	return b
}

// restart closes the store and opens its file again, as a new process.
func (b *bundle) restart(t *testing.T) {
	t.Helper()
	if err := b.db.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}
	b.open(t)
}

// open opens the store's file, as a restarted process would.
func (b *bundle) open(t *testing.T) {
	t.Helper()
	db := sqlite.NewDB(b.path)
	db.Now = b.now
	if err := db.Open(t.Context()); err != nil {
		t.Fatalf("open: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	if err := db.Migrate(t.Context()); err != nil {
		t.Fatalf("migrate: %v", err)
	}
	b.db = db
	b.store = sqlite.NewMailService(db)
	b.users = sqlite.NewUserService(db)
	b.conversions = sqlite.NewConversionService(db)
	b.credentials = sqlite.NewCredentialService(db)
}

func (b *bundle) anonymous(t *testing.T) *foyer.User {
	t.Helper()
	u := &foyer.User{Anonymous: true}
	if err := b.users.CreateUser(t.Context(), u); err != nil {
		t.Fatalf("CreateUser: %v", err)
	}
	return u
}

// registered returns a registered user with the verified address email.
func (b *bundle) registered(t *testing.T, email string) *foyer.User {
	t.Helper()
	u, err := b.conversions.ConvertUser(t.Context(), b.anonymous(t).ID, email, "api_key:test")
	if err != nil {
		t.Fatalf("ConvertUser: %v", err)
	}
	return u
}

// queue makes the store queue one message of kind to the address to,
// through the service method that does so in production, and returns the
// message's id.
func (b *bundle) queue(t *testing.T, kind, to, token string) string {
	t.Helper()
	hash := sha256.Sum256([]byte(token))
	requestConversion := func() {
		err := b.conversions.RequestConversion(t.Context(), foyer.ConversionRequest{
			UserID: b.anonymous(t).ID, Email: to, TokenHash: hash[:], Token: token, ExpiresAt: b.now().Add(time.Hour),
		})
		if err != nil {
			t.Fatalf("RequestConversion: %v", err)
		}
	}
	switch kind {
	case foyer.MailConversion:
		requestConversion()
	case foyer.MailConversionExisting:
		b.registered(t, to)
		requestConversion()
	case foyer.MailPasswordReset:
		b.registered(t, to)
		err := b.credentials.RequestPasswordReset(t.Context(), foyer.PasswordResetRequest{
			Email: to, TokenHash: hash[:], Token: token, ExpiresAt: b.now().Add(time.Hour),
		})
		if err != nil {
			t.Fatalf("RequestPasswordReset: %v", err)
		}
	default:
		t.Fatalf("no way to queue %q", kind)
	}
	ms, err := b.store.FindMail(t.Context(), &to, 1)
	if err != nil {
		t.Fatalf("FindMail: %v", err)
	}
	if len(ms) != 1 || ms[0].Kind != kind {
		t.Fatalf("queued %+v, want one %s message", ms, kind)
	}
	return ms[0].ID
}

// findMail returns the stored message with id.
func (b *bundle) findMail(t *testing.T, id string) *foyer.Mail {
	t.Helper()
	ms, err := b.store.FindMail(t.Context(), nil, 100)
	if err != nil {
		t.Fatalf("FindMail: %v", err)
	}
	for _, m := range ms {
		if m.ID == id {
			return m
		}
	}
	t.Fatalf("mail %s not found", id)
	return nil
}

func (b *bundle) worker(t *testing.T, sender mail.Sender) *mail.Worker {
	t.Helper()
	return &mail.Worker{
		Store:       b.store,
		Sender:      sender,
		Templates:   newTemplates(t, testConfig()),
		Now:         b.clock.Now,
		MaxAttempts: 5,
	}
}

func plainSender(t *testing.T, port int, timeout time.Duration) *mail.SMTPSender {
	t.Helper()
	return newSender(t, mail.SMTPConfig{Host: "127.0.0.1", Port: port, TLS: mail.TLSNone, Insecure: true, CommandTimeout: timeout})
}

func runOnce(t *testing.T, w *mail.Worker, wantSent int) {
	t.Helper()
	sent, err := w.RunOnce(t.Context())
	if err != nil {
		t.Fatalf("RunOnce: %v", err)
	}
	if sent != wantSent {
		t.Fatalf("RunOnce sent %d, want %d", sent, wantSent)
	}
}

func TestWorker(t *testing.T) {
	t.Run("OK", func(t *testing.T) {
		for _, to := range []string{"ann@example.org", "ann.o'neil+saves@example.org", "zoë@exämple.org"} {
			t.Run(to, func(t *testing.T) {
				b := setup(t)
				srv := startServer(t, serverOptions{})
				const token = "tok/+=é"
				id := b.queue(t, foyer.MailConversion, to, token)
				w := b.worker(t, plainSender(t, srv.Port, 0))
				runOnce(t, w, 1)

				msgs := srv.Messages()
				if len(msgs) != 1 {
					t.Fatalf("server got %d messages, want 1", len(msgs))
				}
				if msgs[0].From != "no-reply@example.org" {
					t.Errorf("MAIL FROM %q", msgs[0].From)
				}
				if diff := cmp.Diff([]string{to}, msgs[0].To); diff != "" {
					t.Errorf("RCPT TO (-want +got):\n%s", diff)
				}
				p := parseMessage(t, msgs[0].Data)
				if got := p.Header.Get("To"); got != to {
					t.Errorf("To=%q, want exactly %q", got, to)
				}
				if p.Subject != "Save your progress on Example" {
					t.Errorf("Subject=%q", p.Subject)
				}
				ls := links(p.Text)
				if len(ls) != 1 {
					t.Fatalf("links %q, want one", ls)
				}
				u, err := url.Parse(ls[0])
				if err != nil {
					t.Fatal(err)
				}
				if u.Scheme != "https" || u.Host != "id.example.org" || u.Path != "/convert/complete" || u.Query().Get("token") != token {
					t.Errorf("link %q, want the public URL's /convert/complete with token %q", ls[0], token)
				}

				m := b.findMail(t, id)
				if m.SentAt == nil || m.Attempts != 1 || m.LastError != "" {
					t.Errorf("stored mail %+v, want sent at the first attempt", m)
				}
				// Nothing is sent twice.
				runOnce(t, w, 0)
				if n := len(srv.Messages()); n != 1 {
					t.Errorf("server got %d messages, want 1", n)
				}
			})
		}
	})

	t.Run("ServerDown", func(t *testing.T) {
		b := setup(t)
		addr, port := freeAddr(t)
		id := b.queue(t, foyer.MailConversion, "ann@example.org", "t1")
		w := b.worker(t, plainSender(t, port, 0))
		runOnce(t, w, 0)

		m := b.findMail(t, id)
		if m.SentAt != nil || m.Attempts != 1 || m.LastError == "" {
			t.Fatalf("stored mail %+v, want one failed attempt with its error", m)
		}
		// Backoff: the first retry waits at least half of RetryBase and at
		// most RetryBase (30 seconds by default).
		if wait := m.NextAttemptAt.Sub(b.clock.Now()); wait < 15*time.Second || wait > 30*time.Second {
			t.Errorf("next attempt in %v, want 15s to 30s", wait)
		}
		// Not due yet: a round now leaves it alone.
		runOnce(t, w, 0)
		if got := b.findMail(t, id).Attempts; got != 1 {
			t.Errorf("attempts=%d after a round before it was due", got)
		}

		srv := startServer(t, serverOptions{Addr: addr})
		b.clock.Add(30 * time.Second)
		runOnce(t, w, 1)
		if n := len(srv.Messages()); n != 1 {
			t.Fatalf("server got %d messages, want 1", n)
		}
		if m := b.findMail(t, id); m.SentAt == nil || m.Attempts != 2 {
			t.Errorf("stored mail %+v, want sent at the second attempt", m)
		}
	})

	t.Run("BackoffGrowsAndIsCapped", func(t *testing.T) {
		b := setup(t)
		_, port := freeAddr(t)
		id := b.queue(t, foyer.MailConversion, "ann@example.org", "t1")
		w := b.worker(t, plainSender(t, port, 0))
		w.MaxAttempts = 20
		w.RetryBase = time.Minute
		w.RetryMax = 10 * time.Minute
		for attempt := 1; attempt <= 8; attempt++ {
			runOnce(t, w, 0)
			m := b.findMail(t, id)
			want := min(time.Minute<<(attempt-1), 10*time.Minute)
			if wait := m.NextAttemptAt.Sub(b.clock.Now()); wait < want/2 || wait > want {
				t.Errorf("attempt %d: next in %v, want %v to %v", attempt, wait, want/2, want)
			}
			b.clock.Add(m.NextAttemptAt.Sub(b.clock.Now()))
		}
	})

	t.Run("SlowServer", func(t *testing.T) {
		b := setup(t)
		srv := startServer(t, serverOptions{StallData: 1})
		id := b.queue(t, foyer.MailPasswordReset, "ann@example.org", "r1")
		w := b.worker(t, plainSender(t, srv.Port, 200*time.Millisecond))
		runOnce(t, w, 0)
		if m := b.findMail(t, id); m.SentAt != nil || m.LastError == "" {
			t.Fatalf("stored mail %+v, want a failed attempt", m)
		}
		srv.Release()

		b.clock.Add(time.Hour)
		runOnce(t, w, 1)
		msgs := srv.Messages()
		if len(msgs) != 1 {
			t.Fatalf("server got %d messages, want 1", len(msgs))
		}
		if ls := links(parseMessage(t, msgs[0].Data).Text); len(ls) != 1 || ls[0] != "https://id.example.org/password/reset?token=r1" {
			t.Errorf("links %q", ls)
		}
	})

	t.Run("Restart", func(t *testing.T) {
		b := setup(t)
		srv := startServer(t, serverOptions{})
		id := b.queue(t, foyer.MailConversion, "ann@example.org", "t1")
		// A worker claims the message, and its process dies before sending.
		if _, err := b.store.ClaimMail(t.Context(), b.clock.Now(), 5*time.Minute, 10); err != nil {
			t.Fatal(err)
		}
		b.restart(t)
		w := b.worker(t, plainSender(t, srv.Port, 0))
		runOnce(t, w, 0) // the dead worker's claim still holds
		b.clock.Add(5 * time.Minute)
		runOnce(t, w, 1)
		if n := len(srv.Messages()); n != 1 {
			t.Fatalf("server got %d messages, want 1", n)
		}
		if m := b.findMail(t, id); m.SentAt == nil || m.Attempts != 2 {
			t.Errorf("stored mail %+v", m)
		}
	})

	t.Run("RestartAfterFailure", func(t *testing.T) {
		b := setup(t)
		addr, port := freeAddr(t)
		id := b.queue(t, foyer.MailPasswordReset, "ann@example.org", "r1")
		runOnce(t, b.worker(t, plainSender(t, port, 0)), 0)
		b.restart(t)
		srv := startServer(t, serverOptions{Addr: addr})
		b.clock.Add(time.Hour)
		runOnce(t, b.worker(t, plainSender(t, port, 0)), 1)
		if n := len(srv.Messages()); n != 1 {
			t.Fatalf("server got %d messages, want 1", n)
		}
		if m := b.findMail(t, id); m.SentAt == nil || m.Attempts != 2 {
			t.Errorf("stored mail %+v", m)
		}
	})

	t.Run("EachKind", func(t *testing.T) {
		b := setup(t)
		srv := startServer(t, serverOptions{})
		b.queue(t, foyer.MailConversion, "new@example.org", "c1")
		b.queue(t, foyer.MailConversionExisting, "owner@example.org", "c2")
		b.queue(t, foyer.MailPasswordReset, "reset@example.org", "r1")
		runOnce(t, b.worker(t, plainSender(t, srv.Port, 0)), 3)
		got := map[string][]string{}
		for _, m := range srv.Messages() {
			p := parseMessage(t, m.Data)
			if diff := cmp.Diff([]string{p.Header.Get("To")}, m.To); diff != "" {
				t.Errorf("envelope and header recipients differ:\n%s", diff)
			}
			got[p.Header.Get("To")] = append(links(p.Text), p.Subject)
		}
		want := map[string][]string{
			"new@example.org":   {"https://id.example.org/convert/complete?token=c1", "Save your progress on Example"},
			"owner@example.org": {"https://id.example.org/login", "Someone tried to save progress on Example with your address"},
			"reset@example.org": {"https://id.example.org/password/reset?token=r1", "Reset your Example password"},
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("delivered (-want +got):\n%s", diff)
		}
	})

	t.Run("GiveUp", func(t *testing.T) {
		b := setup(t)
		addr, port := freeAddr(t)
		id := b.queue(t, foyer.MailConversion, "ann@example.org", "t1")
		w := b.worker(t, plainSender(t, port, 0))
		w.MaxAttempts = 3
		for range 3 {
			runOnce(t, w, 0)
			b.clock.Add(time.Hour)
		}
		m := b.findMail(t, id)
		if m.SentAt != nil || m.Attempts != 3 || !strings.Contains(m.LastError, "gave up after 3 attempts") || !m.NextAttemptAt.Equal(mail.Never) {
			t.Fatalf("stored mail %+v, want given up after 3 attempts", m)
		}
		// Given up means never tried again, even once the server is back.
		srv := startServer(t, serverOptions{Addr: addr})
		b.clock.Add(24 * 365 * time.Hour)
		runOnce(t, w, 0)
		if n := len(srv.Messages()); n != 0 {
			t.Errorf("server got %d messages after giving up", n)
		}
	})

	t.Run("RecipientRefused", func(t *testing.T) {
		b := setup(t)
		srv := startServer(t, serverOptions{RejectRcpt: true})
		id := b.queue(t, foyer.MailConversion, "ann@example.org", "t1")
		w := b.worker(t, plainSender(t, srv.Port, 0))
		runOnce(t, w, 0)
		if m := b.findMail(t, id); m.Attempts != 1 || !m.NextAttemptAt.Equal(mail.Never) || !strings.Contains(m.LastError, "550") {
			t.Fatalf("stored mail %+v, want given up at once with the 550 reply", m)
		}
	})

	t.Run("DevelopmentMode", func(t *testing.T) {
		b := setup(t)
		id := b.queue(t, foyer.MailConversion, "ann@example.org", "dev-token")
		var logs bytes.Buffer
		w := b.worker(t, nil)
		w.Logger = slog.New(slog.NewTextHandler(&logs, nil))
		runOnce(t, w, 1)
		if m := b.findMail(t, id); m.SentAt == nil {
			t.Errorf("stored mail %+v, want marked sent", m)
		}
		if !strings.Contains(logs.String(), "https://id.example.org/convert/complete?token=dev-token") {
			t.Errorf("log lacks the link:\n%s", logs.String())
		}
	})
}

func TestWorkerRun(t *testing.T) {
	// run starts Run in the synctest bubble of t over a fresh store, in
	// development mode, and stops it when the test ends.
	run := func(t *testing.T) (*mail.Worker, *bundle) {
		b := setupNow(t)
		w := &mail.Worker{
			Store:     b.store,
			Templates: newTemplates(t, testConfig()),
			Interval:  time.Minute,
		}
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan error, 1)
		go func() { done <- w.Run(ctx) }()
		t.Cleanup(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("Run returned %v, want nil", err)
			}
		})
		synctest.Wait()
		return w, b
	}

	t.Run("Notify", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			w, b := run(t)
			id := b.queue(t, foyer.MailConversion, "ann@example.org", "t1")
			start := time.Now()
			w.Notify()
			synctest.Wait()
			if got := b.findMail(t, id).SentAt; got == nil || !got.Equal(start) {
				t.Errorf("sent at %v, want at once (%v)", got, start)
			}
		})
	})

	t.Run("Tick", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			_, b := run(t)
			id := b.queue(t, foyer.MailPasswordReset, "ann@example.org", "t2")
			time.Sleep(30 * time.Second)
			synctest.Wait()
			if got := b.findMail(t, id).SentAt; got != nil {
				t.Fatalf("sent at %v, before the tick", got)
			}
			time.Sleep(30 * time.Second)
			synctest.Wait()
			if got := b.findMail(t, id).SentAt; got == nil {
				t.Fatal("not sent at the tick")
			}
		})
	})

	t.Run("Stop", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			b := setupNow(t)
			w := &mail.Worker{Store: b.store, Templates: newTemplates(t, testConfig())}
			ctx, cancel := context.WithCancel(t.Context())
			done := make(chan error, 1)
			go func() { done <- w.Run(ctx) }()
			synctest.Wait()
			select {
			case err := <-done:
				t.Fatalf("Run returned %v before ctx ended", err)
			default:
			}
			cancel()
			synctest.Wait()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("Run returned %v, want nil", err)
				}
			default:
				t.Fatal("Run did not return when ctx ended")
			}
		})
	})
}
