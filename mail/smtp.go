package mail

import (
	"cmp"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// Sender delivers one rendered message. from and to are bare addresses
// (the SMTP envelope); msg is the complete message with CRLF line ends.
//
// Send returns an error wrapping *PermanentError when retrying the same
// message cannot help, such as a recipient the server refuses; the Worker
// then gives up at once instead of retrying.
type Sender interface {
	Send(ctx context.Context, from, to string, msg []byte) error
}

// PermanentError marks a delivery failure that retrying cannot fix.
type PermanentError struct {
	Err error
}

func (e *PermanentError) Error() string { return "permanent failure: " + e.Err.Error() }
func (e *PermanentError) Unwrap() error { return e.Err }

// TLS modes of SMTPConfig.TLS.
const (
	// TLSStartTLS connects in clear text and upgrades with STARTTLS, which
	// is then required: a server that does not offer it is an error.
	TLSStartTLS = "starttls"
	// TLSImplicit connects with TLS from the first byte (port 465).
	TLSImplicit = "tls"
	// TLSNone never encrypts. It is refused unless SMTPConfig.Insecure is
	// set, and never carries a password.
	TLSNone = "none"
)

// SMTPConfig configures an SMTPSender.
type SMTPConfig struct {
	// Host is the SMTP server's host name, also the name its certificate
	// must carry.
	Host string
	// Port defaults to 587 for TLSStartTLS, 465 for TLSImplicit and 25 for
	// TLSNone.
	Port int
	// Username and Password, when Username is set, authenticate with
	// AUTH PLAIN, and only over TLS.
	Username string
	Password string
	// TLS is TLSStartTLS (the default), TLSImplicit or TLSNone.
	TLS string
	// Insecure permits TLS = TLSNone, for a development server on the
	// local machine such as Mailpit. It never disables certificate
	// verification.
	Insecure bool
	// TLSConfig, when set, is used for the TLS connection (for example to
	// trust a private CA). ServerName defaults to Host.
	TLSConfig *tls.Config
	// LocalName is the name given in EHLO; it defaults to "localhost".
	LocalName string
	// DialTimeout bounds connecting, 10 seconds by default.
	DialTimeout time.Duration
	// CommandTimeout bounds the wait for each reply of the server,
	// including the one after the message data, 30 seconds by default.
	CommandTimeout time.Duration
	// Timeout bounds a whole delivery, 2 minutes by default, so a server
	// that trickles replies cannot hold the worker either.
	Timeout time.Duration
}

// SMTPSender is a Sender that delivers each message over its own SMTP
// connection. It is safe for concurrent use.
type SMTPSender struct {
	cfg  SMTPConfig
	addr string
	tls  *tls.Config
}

var _ Sender = (*SMTPSender)(nil)

// NewSMTPSender validates cfg and returns a sender. It does not connect.
func NewSMTPSender(cfg SMTPConfig) (*SMTPSender, error) {
	cfg.TLS = cmp.Or(cfg.TLS, TLSStartTLS)
	if cfg.Host == "" {
		return nil, errors.New("mail: SMTP host is required")
	}
	defaultPort := 0
	switch cfg.TLS {
	case TLSStartTLS:
		defaultPort = 587
	case TLSImplicit:
		defaultPort = 465
	case TLSNone:
		if !cfg.Insecure {
			return nil, errors.New(`mail: SMTP TLS mode "none" sends mail in clear text and is only allowed with Insecure, for local development`)
		}
		if cfg.Username != "" {
			return nil, errors.New(`mail: SMTP authentication needs TLS; it is never sent with TLS mode "none"`)
		}
		defaultPort = 25
	default:
		return nil, fmt.Errorf(`mail: unknown SMTP TLS mode %q (want "starttls", "tls" or "none")`, cfg.TLS)
	}
	cfg.Port = cmp.Or(cfg.Port, defaultPort)
	if cfg.Port < 1 || cfg.Port > 65535 {
		return nil, fmt.Errorf("mail: SMTP port %d is out of range", cfg.Port)
	}
	cfg.LocalName = cmp.Or(cfg.LocalName, "localhost")
	cfg.DialTimeout = cmp.Or(cfg.DialTimeout, 10*time.Second)
	cfg.CommandTimeout = cmp.Or(cfg.CommandTimeout, 30*time.Second)
	cfg.Timeout = cmp.Or(cfg.Timeout, 2*time.Minute)

	tc := &tls.Config{MinVersion: tls.VersionTLS12}
	if cfg.TLSConfig != nil {
		tc = cfg.TLSConfig.Clone()
	}
	if tc.ServerName == "" {
		tc.ServerName = cfg.Host
	}
	return &SMTPSender{
		cfg:  cfg,
		addr: net.JoinHostPort(cfg.Host, strconv.Itoa(cfg.Port)),
		tls:  tc,
	}, nil
}

// Send connects, secures the connection as configured, authenticates if
// configured, and delivers msg from from to the single recipient to. The
// delivery ends when ctx is done or the configured timeouts pass; then the
// connection is closed and an error returned. A 5xx reply to the
// recipient or to the message is a *PermanentError.
func (s *SMTPSender) Send(ctx context.Context, from, to string, msg []byte) (err error) {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
	defer cancel()
	defer func() {
		// An error caused by the deadline or cancellation says so.
		if err != nil && ctx.Err() != nil {
			err = fmt.Errorf("%w: %w", context.Cause(ctx), err)
		}
	}()

	raw, err := (&net.Dialer{Timeout: s.cfg.DialTimeout}).DialContext(ctx, "tcp", s.addr)
	if err != nil {
		return fmt.Errorf("smtp dial %s: %w", s.addr, err)
	}
	// Closing the connection is what unblocks a read or write in progress
	// when ctx ends; go-smtp's own deadlines cover each reply.
	stop := context.AfterFunc(ctx, func() { raw.Close() })
	defer stop()
	var conn net.Conn = &deadlineConn{Conn: raw, max: s.cfg.CommandTimeout}
	if err := conn.SetDeadline(time.Time{}); err != nil {
		conn.Close()
		return fmt.Errorf("smtp: %w", err)
	}
	if s.cfg.TLS == TLSImplicit {
		tc := tls.Client(conn, s.tls)
		if err := tc.HandshakeContext(ctx); err != nil {
			conn.Close()
			return fmt.Errorf("smtp tls handshake with %s: %w", s.addr, err)
		}
		conn = tc
	}

	var c *smtp.Client
	if s.cfg.TLS == TLSStartTLS {
		c, err = smtp.NewClientStartTLS(conn, s.tls)
		if err != nil {
			conn.Close()
			return fmt.Errorf("smtp starttls with %s: %w", s.addr, err)
		}
	} else {
		c = smtp.NewClient(conn)
	}
	defer c.Close()
	c.CommandTimeout = s.cfg.CommandTimeout
	c.SubmissionTimeout = s.cfg.CommandTimeout
	if err := c.Hello(s.cfg.LocalName); err != nil {
		return fmt.Errorf("smtp hello: %w", err)
	}

	if s.cfg.Username != "" {
		if _, ok := c.TLSConnectionState(); !ok {
			return errors.New("smtp: refusing to authenticate over a connection without TLS")
		}
		if err := c.Auth(sasl.NewPlainClient("", s.cfg.Username, s.cfg.Password)); err != nil {
			return fmt.Errorf("smtp auth: %w", err)
		}
	}

	var opts *smtp.MailOptions
	if !isASCII(from) || !isASCII(to) {
		opts = &smtp.MailOptions{UTF8: true}
	}
	if err := c.Mail(from, opts); err != nil {
		if opts != nil && !isSMTPError(err) {
			// The server cannot take an internationalised address at all.
			return &PermanentError{Err: fmt.Errorf("smtp mail from: %w", err)}
		}
		return fmt.Errorf("smtp mail from: %w", err)
	}
	if err := c.Rcpt(to, nil); err != nil {
		return permanentIf5xx(fmt.Errorf("smtp rcpt to: %w", err))
	}
	w, err := c.Data()
	if err != nil {
		return permanentIf5xx(fmt.Errorf("smtp data: %w", err))
	}
	if _, err := w.Write(msg); err != nil {
		return fmt.Errorf("smtp data: %w", err)
	}
	if err := w.Close(); err != nil {
		return permanentIf5xx(fmt.Errorf("smtp data: %w", err))
	}
	// The server accepted the message: a failing QUIT changes nothing.
	_ = c.Quit()
	return nil
}

func isSMTPError(err error) bool {
	_, ok := errors.AsType[*smtp.SMTPError](err)
	return ok
}

func permanentIf5xx(err error) error {
	if e, ok := errors.AsType[*smtp.SMTPError](err); ok && e.Code >= 500 && e.Code < 600 {
		return &PermanentError{Err: err}
	}
	return err
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// deadlineConn caps every deadline go-smtp sets at max from now, and turns
// its "no deadline" into one, so the greeting and STARTTLS exchange (which
// run before the client's timeouts can be set) and writes of the message
// data are bounded too.
type deadlineConn struct {
	net.Conn
	max time.Duration
}

func (c *deadlineConn) SetDeadline(t time.Time) error {
	if limit := time.Now().Add(c.max); t.IsZero() || t.After(limit) {
		t = limit
	}
	return c.Conn.SetDeadline(t)
}
