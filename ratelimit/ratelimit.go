// Package ratelimit holds the in-memory rate limits of Foyer's HTTP
// handlers: who the client is (ClientIP, ClientKey) and a token bucket
// per key (Limiter). The JSON API and hosted pages (http) and the admin
// console (admin) both limit per client address with the same rules, so
// both import this package; it imports only the standard library and
// nothing of the module.
//
// Limits are held in the memory of each instance: behind a load balancer
// of n instances a client may get up to n times as much, and a restart
// forgets them.
package ratelimit

import (
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"time"
)

// Limiter is a token bucket per key (a client address, a user id, a
// normalised email address): each key may spend burst tokens at once and
// gets them back at burst per period. Buckets that have refilled are
// swept once a minute; should more than maxBuckets keys be tracked at
// once (a spread-out flood), the table is reset, failing open rather than
// growing without bound. A nil *Limiter allows everything.
type Limiter[K comparable] struct {
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

// New allows n events per period per key; n < 0 returns nil, which
// allows everything, and n == 0 allows nothing.
func New[K comparable](n int, period time.Duration) *Limiter[K] {
	if n < 0 {
		return nil
	}
	return &Limiter[K]{
		burst:     float64(n),
		perSecond: float64(n) / period.Seconds(),
		buckets:   make(map[K]*bucket),
	}
}

// Allow takes a token for key at now. When none is left it reports how
// long until one is.
func (l *Limiter[K]) Allow(key K, now time.Time) (bool, time.Duration) {
	return l.take(key, now, true)
}

// Check reports whether key has a token left at now without taking it,
// and if not, how long until it has. Limits that count failures only
// check before the attempt and Allow (take a token) when it fails.
func (l *Limiter[K]) Check(key K, now time.Time) (bool, time.Duration) {
	return l.take(key, now, false)
}

func (l *Limiter[K]) take(key K, now time.Time, spend bool) (bool, time.Duration) {
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
		return false, time.Duration((1 - b.tokens) / l.perSecond * float64(time.Second))
	}
	if spend {
		b.tokens--
	}
	return true, 0
}

// sweep forgets buckets that are full again. l.mu must be held.
func (l *Limiter[K]) sweep(now time.Time) {
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

// ClientIP returns the client's address: the peer, or the right-most
// X-Forwarded-For entry (the one the trusted proxy in front added) when
// trustForwardedFor is set. It is the invalid Addr when neither can be
// read. The whole address is kept, for logs; limits use ClientKey.
func ClientIP(r *http.Request, trustForwardedFor bool) netip.Addr {
	var a netip.Addr
	if trustForwardedFor {
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

// ClientKey returns the address a per-client limit applies to: a, with
// IPv6 addresses cut to their /64, which one client usually holds whole.
func ClientKey(a netip.Addr) netip.Addr {
	if a.Is6() {
		if p, err := a.Prefix(64); err == nil {
			return p.Addr()
		}
	}
	return a
}
