package mail_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"io"
	"log"
	"math/big"
	"net"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// received is one message as the test SMTP server got it.
type received struct {
	From string
	To   []string
	Data []byte
}

// serverOptions shape the test SMTP server's behaviour.
type serverOptions struct {
	// Addr is the address to listen on; "" picks a free loopback port.
	Addr string
	// TLS, when set, offers STARTTLS with this configuration, or serves
	// implicit TLS when Implicit is also set.
	TLS      *tls.Config
	Implicit bool
	// Username and Password, when set, are required through AUTH PLAIN
	// before MAIL.
	Username, Password string
	// RejectRcpt refuses every recipient with a 550 reply.
	RejectRcpt bool
	// StallData is how many messages to stall: the server reads the data,
	// then waits for Release before refusing the message, so the client
	// times out and the message is not collected.
	StallData int
}

// testServer is a real SMTP server (go-smtp) on the loopback interface
// that collects every message it accepts.
type testServer struct {
	Addr string
	Port int

	opts    serverOptions
	release chan struct{}
	relOnce sync.Once
	stalled chan struct{} // receives once per stalled message

	mu     sync.Mutex
	msgs   []received
	stalls int
}

// startServer starts a test SMTP server, stopped when the test ends.
func startServer(t *testing.T, opts serverOptions) *testServer {
	t.Helper()
	addr := opts.Addr
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	s := &testServer{
		Addr:    l.Addr().String(),
		Port:    l.Addr().(*net.TCPAddr).Port,
		opts:    opts,
		release: make(chan struct{}),
		stalled: make(chan struct{}, 16),
	}
	srv := smtp.NewServer(smtp.BackendFunc(func(c *smtp.Conn) (smtp.Session, error) {
		return &session{s: s}, nil
	}))
	srv.Domain = "mx.example.org"
	srv.EnableSMTPUTF8 = true
	srv.ErrorLog = log.New(io.Discard, "", 0)
	srv.ReadTimeout = time.Minute
	srv.WriteTimeout = time.Minute
	if opts.TLS != nil {
		srv.TLSConfig = opts.TLS
		if opts.Implicit {
			l = tls.NewListener(l, opts.TLS)
		}
	}
	go srv.Serve(l)
	t.Cleanup(func() {
		s.Release()
		srv.Close()
	})
	return s
}

// Messages returns the messages accepted so far.
func (s *testServer) Messages() []received {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]received(nil), s.msgs...)
}

// Release lets stalled messages finish (refused).
func (s *testServer) Release() { s.relOnce.Do(func() { close(s.release) }) }

type session struct {
	s    *testServer
	auth bool
	from string
	to   []string
}

func (ss *session) AuthMechanisms() []string { return []string{sasl.Plain} }

func (ss *session) Auth(mech string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(identity, username, password string) error {
		if username != ss.s.opts.Username || password != ss.s.opts.Password {
			return &smtp.SMTPError{Code: 535, EnhancedCode: smtp.EnhancedCode{5, 7, 8}, Message: "bad credentials"}
		}
		ss.auth = true
		return nil
	}), nil
}

func (ss *session) Mail(from string, opts *smtp.MailOptions) error {
	if ss.s.opts.Username != "" && !ss.auth {
		return smtp.ErrAuthRequired
	}
	ss.from = from
	return nil
}

func (ss *session) Rcpt(to string, opts *smtp.RcptOptions) error {
	if ss.s.opts.RejectRcpt {
		return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "no such mailbox"}
	}
	ss.to = append(ss.to, to)
	return nil
}

func (ss *session) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	ss.s.mu.Lock()
	stall := ss.s.stalls < ss.s.opts.StallData
	if stall {
		ss.s.stalls++
	}
	ss.s.mu.Unlock()
	if stall {
		ss.s.stalled <- struct{}{}
		<-ss.s.release
		return errors.New("stalled message dropped")
	}
	ss.s.mu.Lock()
	ss.s.msgs = append(ss.s.msgs, received{From: ss.from, To: ss.to, Data: b})
	ss.s.mu.Unlock()
	return nil
}

func (ss *session) Reset()        { ss.from, ss.to = "", nil }
func (ss *session) Logout() error { return nil }

// freeAddr returns a loopback address nothing listens on, so connecting
// to it is refused.
func freeAddr(t *testing.T) (addr string, port int) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	addr = l.Addr().String()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	_, p, _ := net.SplitHostPort(addr)
	port, _ = strconv.Atoi(p)
	return addr, port
}

// testCerts returns a server TLS configuration with a fresh self-signed
// certificate for 127.0.0.1 and "mx.example.org", and a client
// configuration that trusts it.
func testCerts(t *testing.T) (server, client *tls.Config) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "mx.example.org"},
		DNSNames:              []string{"mx.example.org"},
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	server = &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key, Leaf: cert}}}
	client = &tls.Config{RootCAs: pool}
	return server, client
}

// clock is a settable clock shared by a store and a worker.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func newClock() *clock {
	return &clock{now: time.Date(2026, time.March, 1, 12, 0, 0, 0, time.UTC)}
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}
