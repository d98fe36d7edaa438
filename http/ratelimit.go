package http

import (
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"time"

	foyer "github.com/foyerhq/foyer"
)

// rateLimiter is a token bucket per key (a client address, a user id, a
// normalised email address), in the memory of one instance: each key may
// spend burst tokens at once and gets them back at burst per period.
// Buckets that have refilled are swept once a minute; should more than
// maxBuckets keys be tracked at once (a spread-out flood), the table is
// reset, failing open rather than growing without bound.
type rateLimiter[K comparable] struct {
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

// newRateLimiter allows n events per period per key; n < 0 disables it.
func newRateLimiter[K comparable](n int, period time.Duration) *rateLimiter[K] {
	if n < 0 {
		return nil
	}
	return &rateLimiter[K]{
		burst:     float64(n),
		perSecond: float64(n) / period.Seconds(),
		buckets:   make(map[K]*bucket),
	}
}

// allow takes a token for key at now. When none is left it reports how
// long until one is.
func (l *rateLimiter[K]) allow(key K, now time.Time) (bool, time.Duration) {
	return l.take(key, now, true)
}

// check reports whether key has a token left at now without taking it,
// and if not, how long until it has. Limits that count failures only
// check before the attempt and take a token when it fails.
func (l *rateLimiter[K]) check(key K, now time.Time) (bool, time.Duration) {
	return l.take(key, now, false)
}

func (l *rateLimiter[K]) take(key K, now time.Time, spend bool) (bool, time.Duration) {
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
		wait := time.Duration((1 - b.tokens) / l.perSecond * float64(time.Second))
		return false, wait
	}
	if spend {
		b.tokens--
	}
	return true, 0
}

// sweep forgets buckets that are full again. l.mu must be held.
func (l *rateLimiter[K]) sweep(now time.Time) {
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
	a := s.clientIP(r)
	if a.Is6() {
		if p, err := a.Prefix(64); err == nil {
			a = p.Addr()
		}
	}
	return a
}

// clientIP returns the client's address: the peer, or the right-most
// X-Forwarded-For entry when TrustForwardedFor is set. It is the invalid
// Addr when neither can be read.
func (s *Server) clientIP(r *http.Request) netip.Addr {
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
	return a.Unmap().WithZone("")
}

// Limits of the registration, sign-in and password routes. Like the limit
// of anonymous sign-ups they are token buckets held in each instance's
// memory, keyed so that they never depend on whether an address has an
// account: a limited request says nothing about who exists.
const (
	// ConversionsPerUser is how many conversion requests one user may
	// make per hour.
	ConversionsPerUser = 5
	// ConversionsPerAddress is how many conversion requests may name one
	// address per hour, so nobody can flood a mailbox.
	ConversionsPerAddress = 5
	// ConversionsPerIP is how many conversion requests one client IP may
	// make per hour on the visitor API. The server API is not limited per
	// IP: every request of an app comes from its own servers.
	ConversionsPerIP = 20
	// ResetsPerAddress and ResetsPerIP limit password reset requests per
	// hour.
	ResetsPerAddress = 5
	ResetsPerIP      = 20
	// LoginFailuresPerAccount failed sign-ins for one address, or
	// LoginFailuresPerIP from one client IP, within LoginFailureWindow
	// make further sign-ins wait (429 with Retry-After); the allowance
	// comes back over the window, so there is no permanent lockout.
	LoginFailuresPerAccount = 10
	LoginFailuresPerIP      = 100
	LoginFailureWindow      = 15 * time.Minute
	// RedeemFailuresPerIP is how many conversion or reset links one client
	// IP may fail to redeem per hour before it must wait. Links cannot be
	// guessed; the limit bounds the password hashing a client can cause.
	RedeemFailuresPerIP = 20
)

// limits holds the server's rate limiters.
type limits struct {
	anonymous      *rateLimiter[netip.Addr]
	convertUser    *rateLimiter[string]
	convertAddress *rateLimiter[string]
	convertIP      *rateLimiter[netip.Addr]
	resetAddress   *rateLimiter[string]
	resetIP        *rateLimiter[netip.Addr]
	loginAccount   *rateLimiter[string]
	loginIP        *rateLimiter[netip.Addr]
	redeemIP       *rateLimiter[netip.Addr]
	authorize      *rateLimiter[netip.Addr]
}

// newLimits returns the limiters, with anonymous sign-ups limited to
// anonymousPerHour per IP and OpenID Connect authorization requests to
// authorizePerMinute per IP (negative: unlimited).
func newLimits(anonymousPerHour, authorizePerMinute int) *limits {
	return &limits{
		anonymous:      newRateLimiter[netip.Addr](anonymousPerHour, time.Hour),
		authorize:      newRateLimiter[netip.Addr](authorizePerMinute, time.Minute),
		convertUser:    newRateLimiter[string](ConversionsPerUser, time.Hour),
		convertAddress: newRateLimiter[string](ConversionsPerAddress, time.Hour),
		convertIP:      newRateLimiter[netip.Addr](ConversionsPerIP, time.Hour),
		resetAddress:   newRateLimiter[string](ResetsPerAddress, time.Hour),
		resetIP:        newRateLimiter[netip.Addr](ResetsPerIP, time.Hour),
		loginAccount:   newRateLimiter[string](LoginFailuresPerAccount, LoginFailureWindow),
		loginIP:        newRateLimiter[netip.Addr](LoginFailuresPerIP, LoginFailureWindow),
		redeemIP:       newRateLimiter[netip.Addr](RedeemFailuresPerIP, time.Hour),
	}
}

// rateLimited sets Retry-After to wait and returns ERateLimited with msg.
func rateLimited(w http.ResponseWriter, wait time.Duration, msg string) error {
	w.Header().Set("Retry-After", retryAfter(wait))
	return foyer.Errorf(foyer.ERateLimited, "%s", msg)
}
