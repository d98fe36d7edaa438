package http

import (
	"net/http"
	"net/netip"
	"time"

	foyer "github.com/foyerhq/foyer"
	"github.com/foyerhq/foyer/ratelimit"
)

// clientAddr returns the address a rate limit applies to (see
// ratelimit.ClientKey).
func (s *Server) clientAddr(r *http.Request) netip.Addr {
	return ratelimit.ClientKey(s.clientIP(r))
}

// clientIP returns the client's address: the peer, or the right-most
// X-Forwarded-For entry when TrustForwardedFor is set. It is the invalid
// Addr when neither can be read.
func (s *Server) clientIP(r *http.Request) netip.Addr {
	return ratelimit.ClientIP(r, s.cfg.TrustForwardedFor)
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
	anonymous      *ratelimit.Limiter[netip.Addr]
	convertUser    *ratelimit.Limiter[string]
	convertAddress *ratelimit.Limiter[string]
	convertIP      *ratelimit.Limiter[netip.Addr]
	resetAddress   *ratelimit.Limiter[string]
	resetIP        *ratelimit.Limiter[netip.Addr]
	loginAccount   *ratelimit.Limiter[string]
	loginIP        *ratelimit.Limiter[netip.Addr]
	redeemIP       *ratelimit.Limiter[netip.Addr]
	authorize      *ratelimit.Limiter[netip.Addr]
}

// newLimits returns the limiters, with anonymous sign-ups limited to
// anonymousPerHour per IP and OpenID Connect authorization requests to
// authorizePerMinute per IP (negative: unlimited).
func newLimits(anonymousPerHour, authorizePerMinute int) *limits {
	return &limits{
		anonymous:      ratelimit.New[netip.Addr](anonymousPerHour, time.Hour),
		authorize:      ratelimit.New[netip.Addr](authorizePerMinute, time.Minute),
		convertUser:    ratelimit.New[string](ConversionsPerUser, time.Hour),
		convertAddress: ratelimit.New[string](ConversionsPerAddress, time.Hour),
		convertIP:      ratelimit.New[netip.Addr](ConversionsPerIP, time.Hour),
		resetAddress:   ratelimit.New[string](ResetsPerAddress, time.Hour),
		resetIP:        ratelimit.New[netip.Addr](ResetsPerIP, time.Hour),
		loginAccount:   ratelimit.New[string](LoginFailuresPerAccount, LoginFailureWindow),
		loginIP:        ratelimit.New[netip.Addr](LoginFailuresPerIP, LoginFailureWindow),
		redeemIP:       ratelimit.New[netip.Addr](RedeemFailuresPerIP, time.Hour),
	}
}

// rateLimited sets Retry-After to wait and returns ERateLimited with msg.
func rateLimited(w http.ResponseWriter, wait time.Duration, msg string) error {
	w.Header().Set("Retry-After", retryAfter(wait))
	return foyer.Errorf(foyer.ERateLimited, "%s", msg)
}
