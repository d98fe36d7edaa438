package webhook_test

import (
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/foyerhq/foyer"
	"github.com/foyerhq/foyer/webhook"
)

func TestPublicAddr(t *testing.T) {
	tests := []struct {
		addr string
		want bool
	}{
		{"8.8.8.8", true},
		{"1.1.1.1", true},
		{"93.184.215.14", true},
		{"100.63.255.255", true},
		{"100.128.0.0", true},
		{"172.32.0.1", true},
		{"192.0.1.1", true},
		{"223.255.255.255", true},
		{"2606:4700:4700::1111", true},
		{"2001:4860:4860::8888", true},
		{"2a00:1450:4001:80b::200e", true},
		{"64:ff9b::808:808", true}, // NAT64 of 8.8.8.8

		{"127.0.0.1", false},
		{"127.1.2.3", false},
		{"0.0.0.0", false},
		{"0.1.2.3", false},
		{"10.0.0.1", false},
		{"172.16.0.1", false},
		{"172.31.255.255", false},
		{"192.168.1.1", false},
		{"100.64.0.1", false},
		{"100.127.255.254", false},
		{"169.254.169.254", false}, // cloud metadata
		{"192.0.0.8", false},
		{"192.0.2.1", false},
		{"198.18.0.1", false},
		{"198.51.100.7", false},
		{"203.0.113.9", false},
		{"224.0.0.1", false},
		{"239.255.255.250", false},
		{"240.0.0.1", false},
		{"255.255.255.255", false},
		{"::", false},
		{"::1", false},
		{"::ffff:127.0.0.1", false},
		{"::ffff:10.1.2.3", false},
		{"::ffff:8.8.8.8", true},
		{"::127.0.0.1", false},        // IPv4-compatible, deprecated
		{"64:ff9b::7f00:1", false},    // NAT64 of 127.0.0.1
		{"64:ff9b::a9fe:a9fe", false}, // NAT64 of 169.254.169.254
		{"64:ff9b:1::1", false},
		{"100::1", false},
		{"2001::1", false},        // Teredo
		{"2001:db8::1", false},    // documentation
		{"2002:7f00:1::1", false}, // 6to4 of 127.0.0.1
		{"3fff::1", false},
		{"fc00::1", false},
		{"fd12:3456::1", false},
		{"fe80::1", false},
		{"fe80::1%eth0", false},
		{"fec0::1", false},
		{"ff02::1", false},
		{"4000::1", false}, // outside 2000::/3, unallocated
	}
	for _, tt := range tests {
		t.Run(tt.addr, func(t *testing.T) {
			if got := webhook.PublicAddr(netip.MustParseAddr(tt.addr)); got != tt.want {
				t.Fatalf("PublicAddr(%s) = %v, want %v", tt.addr, got, tt.want)
			}
		})
	}
	t.Run("Zero", func(t *testing.T) {
		if webhook.PublicAddr(netip.Addr{}) {
			t.Fatal("the zero Addr is public")
		}
	})
}

func TestValidateURL(t *testing.T) {
	tests := []struct {
		name         string
		url          string
		allowPrivate bool
		wantCode     string
	}{
		{"OK", "https://hooks.example.com/foyer", false, ""},
		{"OKHTTP", "http://hooks.example.com:8080/foyer?x=1", false, ""},
		{"OKUpperScheme", "HTTPS://hooks.example.com/", false, ""},
		{"OKPublicIP", "https://93.184.215.14/hook", false, ""},
		{"OKPublicIPv6", "https://[2606:4700:4700::1111]/hook", false, ""},
		{"OKLoopbackAllowed", "http://127.0.0.1:9000/hook", true, ""},
		{"OKLocalhostAllowed", "http://localhost:9000/hook", true, ""},
		{"ErrEmpty", "", false, foyer.EInvalid},
		{"ErrTooLong", "https://hooks.example.com/" + strings.Repeat("a", webhook.MaxURLLength), false, foyer.EInvalid},
		{"ErrNotAURL", "https://exa mple.com/%zz", false, foyer.EInvalid},
		{"ErrRelative", "/hook", false, foyer.EInvalid},
		{"ErrNoScheme", "hooks.example.com/hook", false, foyer.EInvalid},
		{"ErrFTP", "ftp://hooks.example.com/", false, foyer.EInvalid},
		{"ErrFile", "file:///etc/passwd", true, foyer.EInvalid},
		{"ErrJavaScript", "javascript:alert(1)", true, foyer.EInvalid},
		{"ErrOpaque", "https:hooks.example.com", false, foyer.EInvalid},
		{"ErrNoHost", "https:///hook", false, foyer.EInvalid},
		{"ErrFragment", "https://hooks.example.com/#x", false, foyer.EInvalid},
		{"ErrPort", "https://hooks.example.com:99999/", false, foyer.EInvalid},
		{"ErrPortZero", "https://hooks.example.com:0/", false, foyer.EInvalid},
		{"ErrLoopback", "http://127.0.0.1:9000/hook", false, foyer.EInvalid},
		{"ErrLoopbackIPv6", "http://[::1]:9000/hook", false, foyer.EInvalid},
		{"ErrMappedLoopback", "http://[::ffff:127.0.0.1]/hook", false, foyer.EInvalid},
		{"ErrLocalhost", "http://localhost:9000/hook", false, foyer.EInvalid},
		{"ErrLocalhostUpper", "http://LocalHost./hook", false, foyer.EInvalid},
		{"ErrSubLocalhost", "http://api.localhost/hook", false, foyer.EInvalid},
		{"ErrPrivate", "https://10.0.0.5/hook", false, foyer.EInvalid},
		{"ErrMetadata", "http://169.254.169.254/latest/meta-data/", false, foyer.EInvalid},
		{"ErrCGNAT", "http://100.64.1.1/", false, foyer.EInvalid},
		{"ErrULA", "http://[fd00::1]/", false, foyer.EInvalid},
		{"ErrUnspecified", "http://0.0.0.0:8080/", false, foyer.EInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := webhook.ValidateURL(tt.url, tt.allowPrivate)
			if got := foyer.ErrorCode(err); got != tt.wantCode {
				t.Fatalf("ValidateURL(%q) code = %q (%v), want %q", tt.url, got, err, tt.wantCode)
			}
			if err != nil {
				if _, ok := errors.AsType[*foyer.Error](err); !ok {
					t.Fatalf("error %v is not a *foyer.Error", err)
				}
			}
		})
	}
}

// receiverPort returns the port of an httptest server.
func receiverPort(t *testing.T, srv *httptest.Server) string {
	t.Helper()
	_, port, err := net.SplitHostPort(srv.Listener.Addr().String())
	if err != nil {
		t.Fatalf("split %s: %v", srv.Listener.Addr(), err)
	}
	return port
}

func TestClient(t *testing.T) {
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		if r.URL.Path == "/redirect" {
			http.Redirect(w, r, "/target", http.StatusFound)
			return
		}
		io.WriteString(w, "reached")
	}))
	t.Cleanup(srv.Close)
	port := receiverPort(t, srv)

	t.Run("OK", func(t *testing.T) {
		c := webhook.NewClient(webhook.ClientConfig{AllowPrivate: true})
		resp, err := c.Get(srv.URL + "/")
		if err != nil {
			t.Fatalf("Get: %v", err)
		}
		defer resp.Body.Close()
		if b, _ := io.ReadAll(resp.Body); string(b) != "reached" {
			t.Fatalf("body %q", b)
		}
	})

	t.Run("NoRedirects", func(t *testing.T) {
		c := webhook.NewClient(webhook.ClientConfig{AllowPrivate: true})
		before := hits.Load()
		resp, err := c.Get(srv.URL + "/redirect")
		if err != nil {
			t.Fatalf("Get: %v", err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusFound {
			t.Fatalf("status %d, want the 302 itself", resp.StatusCode)
		}
		if got := hits.Load() - before; got != 1 {
			t.Fatalf("server got %d requests, want 1 (the redirect not followed)", got)
		}
	})

	t.Run("Timeout", func(t *testing.T) {
		release := make(chan struct{})
		slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			select {
			case <-release:
			case <-r.Context().Done():
			}
		}))
		t.Cleanup(slow.Close)
		t.Cleanup(func() { close(release) })
		c := webhook.NewClient(webhook.ClientConfig{AllowPrivate: true, Timeout: 50 * time.Millisecond})
		_, err := c.Get(slow.URL)
		if err == nil {
			t.Fatal("a server that never answers did not time out")
		}
		if ne, ok := errors.AsType[net.Error](err); !ok || !ne.Timeout() {
			t.Fatalf("err %v, want a time-out", err)
		}
	})

	t.Run("ErrPrivateAddress", func(t *testing.T) {
		c := webhook.NewClient(webhook.ClientConfig{})
		// "localhost" resolves to a loopback address only when the
		// connection is made: the name passes no IP-literal check, so
		// this is refused by the dialer, as a DNS-rebound name would be.
		for _, u := range []string{
			srv.URL + "/",
			"http://localhost:" + port + "/",
			"http://[::ffff:127.0.0.1]:" + port + "/",
		} {
			before := hits.Load()
			resp, err := c.Get(u)
			if err == nil {
				resp.Body.Close()
				t.Fatalf("Get %s: connected", u)
			}
			if !errors.Is(err, webhook.ErrPrivateAddress) {
				t.Fatalf("Get %s: err %v, want ErrPrivateAddress", u, err)
			}
			if got := hits.Load() - before; got != 0 {
				t.Fatalf("Get %s: the server got %d requests", u, got)
			}
		}
	})
}
