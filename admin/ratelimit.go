package admin

import (
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"time"
)

// Sign-in throttling. Failed sign-ins (and failed bootstrap keys on the
// setup page) are counted per client IP and per email address, in the
// memory of each instance; the allowance comes back over the window, so
// there is no permanent lockout that an attacker could trigger.
const (
	SignInFailuresPerEmail = 10
	SignInFailuresPerIP    = 50
	SignInFailureWindow    = 15 * time.Minute
)

// limiter is a token bucket per key: each key may spend burst tokens at
// once and gets them back at burst per period. Buckets that have refilled
// are swept once a minute; should more than maxBuckets keys be tracked at
// once, the table is reset, failing open rather than growing without
// bound.
type limiter[K comparable] struct {
	mu        sync.Mutex
	burst     float64
	perSecond float64
	buckets   map[K]*bucket
	lastSweep time.Time
}

type bucket struct {
	tokens float64
	last   time.Time
}

const maxBuckets = 100_000

// newLimiter allows n events per period per key.
func newLimiter[K comparable](n int, period time.Duration) *limiter[K] {
	return &limiter[K]{
		burst:     float64(n),
		perSecond: float64(n) / period.Seconds(),
		buckets:   make(map[K]*bucket),
	}
}

// check reports whether key has a token left at now, and if not, how long
// until it has one. With spend it takes the token.
func (l *limiter[K]) check(key K, now time.Time, spend bool) (bool, time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if now.Sub(l.lastSweep) >= time.Minute || len(l.buckets) >= maxBuckets {
		l.sweep(now)
	}
	b := l.buckets[key]
	if b == nil {
		b = &bucket{tokens: l.burst, last: now}
		l.buckets[key] = b
	}
	if d := now.Sub(b.last); d > 0 {
		b.tokens = min(l.burst, b.tokens+d.Seconds()*l.perSecond)
		b.last = now
	}
	if b.tokens < 1 {
		return false, time.Duration((1 - b.tokens) / l.perSecond * float64(time.Second))
	}
	if spend {
		b.tokens--
	}
	return true, 0
}

// sweep forgets buckets that are full again. l.mu must be held.
func (l *limiter[K]) sweep(now time.Time) {
	l.lastSweep = now
	for k, b := range l.buckets {
		if b.tokens+now.Sub(b.last).Seconds()*l.perSecond >= l.burst {
			delete(l.buckets, k)
		}
	}
	if len(l.buckets) >= maxBuckets {
		clear(l.buckets)
	}
}

// limits holds the console's limiters.
type limits struct {
	email *limiter[string]
	ip    *limiter[netip.Addr]
}

func newLimits() *limits {
	return &limits{
		email: newLimiter[string](SignInFailuresPerEmail, SignInFailureWindow),
		ip:    newLimiter[netip.Addr](SignInFailuresPerIP, SignInFailureWindow),
	}
}

// allowed reports whether a sign-in from ip for email may be tried, and
// if not, how long until it may. An empty email checks the IP only.
func (l *limits) allowed(ip netip.Addr, email string, now time.Time) (bool, time.Duration) {
	if ok, wait := l.ip.check(ip, now, false); !ok {
		return false, wait
	}
	if email != "" {
		return l.email.check(email, now, false)
	}
	return true, 0
}

// failed counts a failed attempt against ip and email.
func (l *limits) failed(ip netip.Addr, email string, now time.Time) {
	l.ip.check(ip, now, true)
	if email != "" {
		l.email.check(email, now, true)
	}
}

// clientIP returns the client's address: the peer, or the right-most
// X-Forwarded-For entry when TrustForwardedFor is set. IPv6 addresses are
// cut to their /64 by clientKey, not here, so the audit log keeps the
// whole address.
func (h *Handler) clientIP(r *http.Request) netip.Addr {
	var a netip.Addr
	if h.cfg.TrustForwardedFor {
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
	return a.Unmap().WithZone("")
}

// clientKey returns the address a limit applies to: IPv6 clients are
// counted by /64, which one client usually holds whole.
func (h *Handler) clientKey(r *http.Request) netip.Addr {
	a := h.clientIP(r)
	if a.Is6() {
		if p, err := a.Prefix(64); err == nil {
			a = p.Addr()
		}
	}
	return a
}
