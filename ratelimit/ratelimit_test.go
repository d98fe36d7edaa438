package ratelimit_test

import (
	"net/http/httptest"
	"net/netip"
	"testing"
	"time"

	"github.com/foyerhq/foyer/ratelimit"
)

func TestLimiter(t *testing.T) {
	now := time.Date(2026, 3, 4, 0, 0, 0, 0, time.UTC)
	l := ratelimit.New[string](3, time.Hour)
	for i := range 3 {
		if ok, _ := l.Check("a", now); !ok {
			t.Fatalf("check %d refused", i)
		}
		if ok, _ := l.Allow("a", now); !ok {
			t.Fatalf("allow %d refused", i)
		}
	}
	ok, wait := l.Allow("a", now)
	if ok || wait != 20*time.Minute {
		t.Fatalf("fourth = %v, %v; want refused for 20m (one token of 3 per hour)", ok, wait)
	}
	if ok, _ := l.Check("a", now); ok {
		t.Fatal("check after the bucket emptied was allowed")
	}
	if ok, _ := l.Allow("b", now); !ok {
		t.Fatal("another key was limited")
	}
	if ok, _ := l.Allow("a", now.Add(20*time.Minute)); !ok {
		t.Fatal("no token back after its refill time")
	}
	if ok, _ := ratelimit.New[string](-1, time.Hour).Allow("a", now); !ok {
		t.Fatal("a disabled (nil) limiter refused")
	}
	if ok, wait := ratelimit.New[string](0, time.Hour).Allow("a", now); ok || wait <= 0 {
		t.Fatalf("a zero limit = %v, %v; want refused", ok, wait)
	}
}

func TestClientIP(t *testing.T) {
	tests := []struct {
		name, remote, xff string
		trust             bool
		ip, key           string
	}{
		{"Peer", "192.0.2.1:4321", "198.51.100.7", false, "192.0.2.1", "192.0.2.1"},
		{"TrustedRightmost", "192.0.2.1:4321", "203.0.113.9, 198.51.100.7", true, "198.51.100.7", "198.51.100.7"},
		{"TrustedGarbageFallsBack", "192.0.2.1:4321", "nonsense", true, "192.0.2.1", "192.0.2.1"},
		{"Mapped", "[::ffff:192.0.2.1]:80", "", false, "192.0.2.1", "192.0.2.1"},
		{"IPv6Slash64", "[2001:db8:1:2:3:4:5:6]:80", "", false, "2001:db8:1:2:3:4:5:6", "2001:db8:1:2::"},
	}
	for _, tt := range tests {
		r := httptest.NewRequest("GET", "/", nil)
		r.RemoteAddr = tt.remote
		if tt.xff != "" {
			r.Header.Set("X-Forwarded-For", tt.xff)
		}
		ip := ratelimit.ClientIP(r, tt.trust)
		if ip != netip.MustParseAddr(tt.ip) || ratelimit.ClientKey(ip) != netip.MustParseAddr(tt.key) {
			t.Errorf("%s: ClientIP = %v, key %v; want %s, %s", tt.name, ip, ratelimit.ClientKey(ip), tt.ip, tt.key)
		}
	}
}
