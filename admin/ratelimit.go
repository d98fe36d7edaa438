package admin

import (
	"net/http"
	"net/netip"
	"time"

	"github.com/foyerhq/foyer/ratelimit"
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

// limits holds the console's limiters.
type limits struct {
	email *ratelimit.Limiter[string]
	ip    *ratelimit.Limiter[netip.Addr]
}

func newLimits() *limits {
	return &limits{
		email: ratelimit.New[string](SignInFailuresPerEmail, SignInFailureWindow),
		ip:    ratelimit.New[netip.Addr](SignInFailuresPerIP, SignInFailureWindow),
	}
}

// allowed reports whether a sign-in from ip for email may be tried, and
// if not, how long until it may. An empty email checks the IP only.
func (l *limits) allowed(ip netip.Addr, email string, now time.Time) (bool, time.Duration) {
	if ok, wait := l.ip.Check(ip, now); !ok {
		return false, wait
	}
	if email != "" {
		return l.email.Check(email, now)
	}
	return true, 0
}

// failed counts a failed attempt against ip and email.
func (l *limits) failed(ip netip.Addr, email string, now time.Time) {
	l.ip.Allow(ip, now)
	if email != "" {
		l.email.Allow(email, now)
	}
}

// clientIP returns the client's address: the peer, or the right-most
// X-Forwarded-For entry when TrustForwardedFor is set. IPv6 addresses are
// cut to their /64 by clientKey, not here, so the audit log keeps the
// whole address.
func (h *Handler) clientIP(r *http.Request) netip.Addr {
	return ratelimit.ClientIP(r, h.cfg.TrustForwardedFor)
}

// clientKey returns the address a limit applies to (see
// ratelimit.ClientKey).
func (h *Handler) clientKey(r *http.Request) netip.Addr {
	return ratelimit.ClientKey(h.clientIP(r))
}
