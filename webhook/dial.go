package webhook

import (
	"cmp"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"syscall"
	"time"

	"github.com/foyerhq/foyer"
)

// DefaultTimeout bounds one delivery attempt, from dialling to the end of
// the response headers and the snippet of the body that is kept.
const DefaultTimeout = 15 * time.Second

// MaxURLLength is the longest endpoint URL ValidateURL accepts.
const MaxURLLength = 2048

// ErrPrivateAddress is returned when a delivery would connect to an
// address that is not on the public internet.
var ErrPrivateAddress = errors.New("webhook: refusing to connect to a non-public address")

// ClientConfig configures the HTTP client of NewClient.
type ClientConfig struct {
	// AllowPrivate permits connections to loopback, private and other
	// non-public addresses. It is for development and tests only: in
	// production it lets anyone who can create an endpoint make Foyer
	// send requests into its own network.
	AllowPrivate bool
	// Timeout bounds one attempt, DefaultTimeout when zero.
	Timeout time.Duration
}

// NewClient returns the HTTP client deliveries are sent with. Unless
// AllowPrivate is set, it refuses to connect to any address that is not a
// public unicast address. The check runs when the connection is made,
// on the address actually dialled, so a host name that resolves to a
// private address (DNS rebinding included) cannot get around it. The
// client follows no redirects, as a redirect could lead anywhere, and uses
// no proxy, as a proxy would hide the address the check must see.
func NewClient(c ClientConfig) *http.Client {
	dialer := &net.Dialer{
		Timeout:   10 * time.Second,
		KeepAlive: 30 * time.Second,
	}
	if !c.AllowPrivate {
		dialer.Control = refusePrivate
	}
	return &http.Client{
		Transport: &http.Transport{
			Proxy:                  nil,
			DialContext:            dialer.DialContext,
			ForceAttemptHTTP2:      true,
			MaxIdleConns:           100,
			MaxIdleConnsPerHost:    4,
			IdleConnTimeout:        90 * time.Second,
			TLSHandshakeTimeout:    10 * time.Second,
			ExpectContinueTimeout:  time.Second,
			MaxResponseHeaderBytes: 64 << 10,
		},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		Timeout:       cmp.Or(c.Timeout, DefaultTimeout),
	}
}

// refusePrivate is the net.Dialer Control function of NewClient: it runs
// after name resolution, just before each connect, with the address about
// to be dialled.
func refusePrivate(network, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("%w: %s", ErrPrivateAddress, address)
	}
	if !publicAddr(ap.Addr()) {
		return fmt.Errorf("%w: %s", ErrPrivateAddress, ap.Addr())
	}
	return nil
}

// nonPublic lists the ranges of the IANA special-purpose address registries
// (RFC 6890 and its updates) that do not reach the public internet, beyond
// those netip.Addr already names (loopback, private, link-local,
// multicast, unspecified). Writing the list as literals in a function
// keeps it immutable.
func nonPublic() [17]netip.Prefix {
	return [...]netip.Prefix{
		netip.MustParsePrefix("0.0.0.0/8"),       // "this network"
		netip.MustParsePrefix("100.64.0.0/10"),   // shared address space (CGNAT)
		netip.MustParsePrefix("192.0.0.0/24"),    // IETF protocol assignments
		netip.MustParsePrefix("192.0.2.0/24"),    // documentation (TEST-NET-1)
		netip.MustParsePrefix("192.88.99.0/24"),  // deprecated 6to4 relay anycast
		netip.MustParsePrefix("198.18.0.0/15"),   // benchmarking
		netip.MustParsePrefix("198.51.100.0/24"), // documentation (TEST-NET-2)
		netip.MustParsePrefix("203.0.113.0/24"),  // documentation (TEST-NET-3)
		netip.MustParsePrefix("240.0.0.0/4"),     // reserved, and the broadcast address
		netip.MustParsePrefix("64:ff9b:1::/48"),  // local-use IPv4/IPv6 translation
		netip.MustParsePrefix("100::/64"),        // discard-only
		netip.MustParsePrefix("2001::/23"),       // IETF protocol assignments (Teredo included)
		netip.MustParsePrefix("2001:db8::/32"),   // documentation
		netip.MustParsePrefix("2002::/16"),       // 6to4, which embeds an IPv4 address
		netip.MustParsePrefix("3fff::/20"),       // documentation
		netip.MustParsePrefix("5f00::/16"),       // segment routing SIDs
		netip.MustParsePrefix("fec0::/10"),       // deprecated site-local
	}
}

// publicAddr reports whether a is a unicast address on the public
// internet. IPv4-mapped IPv6 addresses are judged as the IPv4 address they
// carry, and IPv6 outside the global unicast space 2000::/3 is refused.
func publicAddr(a netip.Addr) bool {
	a = a.Unmap()
	if !a.IsValid() || a.Zone() != "" {
		return false
	}
	// The well-known prefix of IPv4/IPv6 translation: its addresses stand
	// for the IPv4 address in their last 32 bits, which is judged instead.
	if a.Is6() && netip.MustParsePrefix("64:ff9b::/96").Contains(a) {
		b := a.As16()
		return publicAddr(netip.AddrFrom4([4]byte(b[12:16])))
	}
	if !a.IsGlobalUnicast() || a.IsPrivate() || a.IsLoopback() || a.IsUnspecified() ||
		a.IsMulticast() || a.IsLinkLocalUnicast() {
		return false
	}
	if a.Is6() && a.As16()[0]&0xe0 != 0x20 { // not in 2000::/3
		return false
	}
	for _, p := range nonPublic() {
		if p.Contains(a) {
			return false
		}
	}
	return true
}

// ValidateURL checks an endpoint URL when it is created or changed: it
// must be an absolute http or https URL with a host and no fragment, at
// most MaxURLLength bytes. Unless allowPrivate is set, a host that is an
// IP address must be a public one, and "localhost" names are refused.
// Names that resolve to private addresses can only be caught when the
// connection is made, which NewClient's client does. It returns a
// *foyer.Error with code EInvalid.
func ValidateURL(raw string, allowPrivate bool) error {
	if raw == "" {
		return foyer.Errorf(foyer.EInvalid, "The webhook URL is required.")
	}
	if len(raw) > MaxURLLength {
		return foyer.Errorf(foyer.EInvalid, "The webhook URL must be at most %d bytes.", MaxURLLength)
	}
	u, err := url.Parse(raw)
	if err != nil {
		return foyer.Errorf(foyer.EInvalid, "The webhook URL is not a valid URL.")
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return foyer.Errorf(foyer.EInvalid, "The webhook URL must start with http:// or https://.")
	}
	if u.Opaque != "" || u.Hostname() == "" {
		return foyer.Errorf(foyer.EInvalid, "The webhook URL must have a host.")
	}
	if u.Fragment != "" || strings.Contains(raw, "#") {
		return foyer.Errorf(foyer.EInvalid, "The webhook URL must not have a fragment.")
	}
	if port := u.Port(); port != "" {
		if n, err := netip.ParseAddrPort("0.0.0.0:" + port); err != nil || n.Port() == 0 {
			return foyer.Errorf(foyer.EInvalid, "The webhook URL has an invalid port.")
		}
	}
	if allowPrivate {
		return nil
	}
	host := strings.ToLower(strings.TrimSuffix(u.Hostname(), "."))
	if host == "localhost" || strings.HasSuffix(host, ".localhost") {
		return foyer.Errorf(foyer.EInvalid, "The webhook URL must not point to this machine.")
	}
	if a, err := netip.ParseAddr(host); err == nil && !publicAddr(a) {
		return foyer.Errorf(foyer.EInvalid, "The webhook URL must point to a public address.")
	}
	return nil
}
