package http

import (
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"time"
)

// rateLimiter is a token bucket per client address, in the memory of one
// instance: each address may spend burst tokens at once and gets them back
// at burst per period. It limits anonymous sign-ups only. Buckets that
// have refilled are swept once a minute; should more than maxBuckets
// addresses be tracked at once (a spread-out flood), the table is reset,
// failing open rather than growing without bound.
type rateLimiter struct {
	mu        sync.Mutex
	burst     float64
	perSecond float64
	buckets   map[netip.Addr]*bucket
	lastSweep time.Time
}

type bucket struct {
	tokens float64
	last   time.Time
}

const maxBuckets = 100_000

// newRateLimiter allows n events per period per address; n < 0 disables it.
func newRateLimiter(n int, period time.Duration) *rateLimiter {
	if n < 0 {
		return nil
	}
	return &rateLimiter{
		burst:     float64(n),
		perSecond: float64(n) / period.Seconds(),
		buckets:   make(map[netip.Addr]*bucket),
	}
}

// allow takes a token for addr at now. When none is left it reports how
// long until one is.
func (l *rateLimiter) allow(addr netip.Addr, now time.Time) (bool, time.Duration) {
	if l == nil {
		return true, 0
	}
	if l.burst == 0 {
		return false, time.Hour
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if now.Sub(l.lastSweep) >= time.Minute || len(l.buckets) >= maxBuckets {
		l.sweep(now)
	}
	b := l.buckets[addr]
	if b == nil {
		b = &bucket{tokens: l.burst, last: now}
		l.buckets[addr] = b
	}
	if d := now.Sub(b.last); d > 0 {
		b.tokens = min(l.burst, b.tokens+d.Seconds()*l.perSecond)
		b.last = now
	}
	if b.tokens < 1 {
		wait := time.Duration((1 - b.tokens) / l.perSecond * float64(time.Second))
		return false, wait
	}
	b.tokens--
	return true, 0
}

// sweep forgets buckets that are full again. l.mu must be held.
func (l *rateLimiter) sweep(now time.Time) {
	l.lastSweep = now
	for a, b := range l.buckets {
		if b.tokens+now.Sub(b.last).Seconds()*l.perSecond >= l.burst {
			delete(l.buckets, a)
		}
	}
	if len(l.buckets) >= maxBuckets {
		clear(l.buckets)
	}
}

// clientAddr returns the address a rate limit applies to: the peer, or the
// right-most X-Forwarded-For entry when TrustForwardedFor is set. IPv6
// addresses are cut to their /64, which one client usually holds whole.
func (s *Server) clientAddr(r *http.Request) netip.Addr {
	var a netip.Addr
	if s.cfg.TrustForwardedFor {
		if vs := r.Header.Values("X-Forwarded-For"); len(vs) > 0 {
			last := vs[len(vs)-1]
			if i := strings.LastIndexByte(last, ','); i >= 0 {
				last = last[i+1:]
			}
			a, _ = netip.ParseAddr(strings.TrimSpace(last))
		}
	}
	if !a.IsValid() {
		if ap, err := netip.ParseAddrPort(r.RemoteAddr); err == nil {
			a = ap.Addr()
		} else {
			a, _ = netip.ParseAddr(r.RemoteAddr)
		}
	}
	a = a.Unmap().WithZone("")
	if a.Is6() {
		if p, err := a.Prefix(64); err == nil {
			a = p.Addr()
		}
	}
	return a
}
