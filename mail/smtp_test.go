package mail_test

import (
	"context"
	"crypto/tls"
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/foyerhq/foyer/mail"
)

const testMessage = "From: no-reply@example.org\r\nTo: ann@example.org\r\nSubject: hi\r\n\r\nhello\r\n"

func newSender(t *testing.T, cfg mail.SMTPConfig) *mail.SMTPSender {
	t.Helper()
	s, err := mail.NewSMTPSender(cfg)
	if err != nil {
		t.Fatalf("NewSMTPSender: %v", err)
	}
	return s
}

// wantDelivered checks that srv got exactly one message, from the
// envelope sender to exactly to.
func wantDelivered(t *testing.T, srv *testServer, to string) {
	t.Helper()
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
	if string(msgs[0].Data) != testMessage {
		t.Errorf("data=%q, want %q", msgs[0].Data, testMessage)
	}
}

func TestSMTPSender(t *testing.T) {
	t.Run("OK", func(t *testing.T) {
		// STARTTLS, the default mode, with AUTH PLAIN once encrypted.
		serverTLS, clientTLS := testCerts(t)
		srv := startServer(t, serverOptions{TLS: serverTLS, Username: "foyer", Password: "s3cret"})
		s := newSender(t, mail.SMTPConfig{Host: "127.0.0.1", Port: srv.Port, Username: "foyer", Password: "s3cret", TLSConfig: clientTLS})
		if err := s.Send(t.Context(), "no-reply@example.org", "ann@example.org", []byte(testMessage)); err != nil {
			t.Fatalf("Send: %v", err)
		}
		wantDelivered(t, srv, "ann@example.org")
	})

	t.Run("ImplicitTLS", func(t *testing.T) {
		serverTLS, clientTLS := testCerts(t)
		srv := startServer(t, serverOptions{TLS: serverTLS, Implicit: true, Username: "foyer", Password: "s3cret"})
		s := newSender(t, mail.SMTPConfig{Host: "127.0.0.1", Port: srv.Port, TLS: mail.TLSImplicit, Username: "foyer", Password: "s3cret", TLSConfig: clientTLS})
		if err := s.Send(t.Context(), "no-reply@example.org", "ann@example.org", []byte(testMessage)); err != nil {
			t.Fatalf("Send: %v", err)
		}
		wantDelivered(t, srv, "ann@example.org")
	})

	t.Run("InsecureNone", func(t *testing.T) {
		srv := startServer(t, serverOptions{})
		s := newSender(t, mail.SMTPConfig{Host: "127.0.0.1", Port: srv.Port, TLS: mail.TLSNone, Insecure: true})
		if err := s.Send(t.Context(), "no-reply@example.org", "zoë@example.org", []byte(testMessage)); err != nil {
			t.Fatalf("Send: %v", err)
		}
		wantDelivered(t, srv, "zoë@example.org")
	})

	t.Run("ErrStartTLSMissing", func(t *testing.T) {
		// A server that does not offer STARTTLS gets nothing, not even in
		// clear text.
		srv := startServer(t, serverOptions{})
		s := newSender(t, mail.SMTPConfig{Host: "127.0.0.1", Port: srv.Port})
		if err := s.Send(t.Context(), "no-reply@example.org", "ann@example.org", []byte(testMessage)); err == nil {
			t.Fatal("Send succeeded without TLS")
		}
		if n := len(srv.Messages()); n != 0 {
			t.Fatalf("server got %d messages", n)
		}
	})

	t.Run("ErrUntrustedCertificate", func(t *testing.T) {
		serverTLS, _ := testCerts(t)
		srv := startServer(t, serverOptions{TLS: serverTLS})
		s := newSender(t, mail.SMTPConfig{Host: "127.0.0.1", Port: srv.Port})
		if err := s.Send(t.Context(), "no-reply@example.org", "ann@example.org", []byte(testMessage)); err == nil {
			t.Fatal("Send trusted an unknown certificate")
		}
		if n := len(srv.Messages()); n != 0 {
			t.Fatalf("server got %d messages", n)
		}
	})

	t.Run("ErrBadCredentials", func(t *testing.T) {
		serverTLS, clientTLS := testCerts(t)
		srv := startServer(t, serverOptions{TLS: serverTLS, Username: "foyer", Password: "s3cret"})
		s := newSender(t, mail.SMTPConfig{Host: "127.0.0.1", Port: srv.Port, Username: "foyer", Password: "wrong", TLSConfig: clientTLS})
		err := s.Send(t.Context(), "no-reply@example.org", "ann@example.org", []byte(testMessage))
		if err == nil {
			t.Fatal("Send succeeded with a wrong password")
		}
		// A configuration problem is not the message's fault: it must be
		// retried once fixed, not given up.
		if _, ok := errors.AsType[*mail.PermanentError](err); ok {
			t.Errorf("auth failure %v is permanent", err)
		}
	})

	t.Run("ErrRecipientRefused", func(t *testing.T) {
		srv := startServer(t, serverOptions{RejectRcpt: true})
		s := newSender(t, mail.SMTPConfig{Host: "127.0.0.1", Port: srv.Port, TLS: mail.TLSNone, Insecure: true})
		err := s.Send(t.Context(), "no-reply@example.org", "ann@example.org", []byte(testMessage))
		if _, ok := errors.AsType[*mail.PermanentError](err); !ok {
			t.Fatalf("err=%v, want a *PermanentError", err)
		}
	})

	t.Run("ErrConnectionRefused", func(t *testing.T) {
		_, port := freeAddr(t)
		s := newSender(t, mail.SMTPConfig{Host: "127.0.0.1", Port: port, TLS: mail.TLSNone, Insecure: true})
		err := s.Send(t.Context(), "no-reply@example.org", "ann@example.org", []byte(testMessage))
		if err == nil {
			t.Fatal("Send succeeded with no server")
		}
		if _, ok := errors.AsType[*mail.PermanentError](err); ok {
			t.Errorf("connection refused %v is permanent", err)
		}
	})

	t.Run("ErrSlowServer", func(t *testing.T) {
		// The server takes the data and never answers: the command
		// timeout ends the attempt instead of hanging the caller.
		srv := startServer(t, serverOptions{StallData: 1})
		s := newSender(t, mail.SMTPConfig{Host: "127.0.0.1", Port: srv.Port, TLS: mail.TLSNone, Insecure: true, CommandTimeout: 200 * time.Millisecond})
		if err := s.Send(t.Context(), "no-reply@example.org", "ann@example.org", []byte(testMessage)); err == nil {
			t.Fatal("Send succeeded against a stalled server")
		}
	})

	t.Run("ErrContextCanceled", func(t *testing.T) {
		srv := startServer(t, serverOptions{StallData: 1})
		s := newSender(t, mail.SMTPConfig{Host: "127.0.0.1", Port: srv.Port, TLS: mail.TLSNone, Insecure: true})
		ctx, cancel := context.WithCancel(t.Context())
		go func() {
			<-srv.stalled
			cancel()
		}()
		err := s.Send(ctx, "no-reply@example.org", "ann@example.org", []byte(testMessage))
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("err=%v, want context.Canceled", err)
		}
	})
}

func TestNewSMTPSender(t *testing.T) {
	t.Run("ErrInvalid", func(t *testing.T) {
		tests := []struct {
			name string
			cfg  mail.SMTPConfig
		}{
			{"NoHost", mail.SMTPConfig{}},
			{"UnknownTLSMode", mail.SMTPConfig{Host: "smtp.example.org", TLS: "ssl"}},
			{"NoneWithoutInsecure", mail.SMTPConfig{Host: "smtp.example.org", TLS: mail.TLSNone}},
			{"PasswordInClearText", mail.SMTPConfig{Host: "localhost", TLS: mail.TLSNone, Insecure: true, Username: "u", Password: "p"}},
			{"BadPort", mail.SMTPConfig{Host: "smtp.example.org", Port: 70000}},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				if _, err := mail.NewSMTPSender(tt.cfg); err == nil {
					t.Fatal("NewSMTPSender succeeded, want an error")
				}
			})
		}
	})
	t.Run("OK", func(t *testing.T) {
		for _, cfg := range []mail.SMTPConfig{
			{Host: "smtp.example.org"},
			{Host: "smtp.example.org", TLS: mail.TLSImplicit, Username: "u", Password: "p"},
			{Host: "localhost", TLS: mail.TLSNone, Insecure: true},
			{Host: "smtp.example.org", TLSConfig: &tls.Config{MinVersion: tls.VersionTLS13}},
		} {
			if _, err := mail.NewSMTPSender(cfg); err != nil {
				t.Errorf("NewSMTPSender(%+v): %v", cfg, err)
			}
		}
	})
}
