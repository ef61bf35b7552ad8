package proxy

import (
	"net"
	"net/netip"
	"sync"
)

// Relay policy: which peers a TURN client may get a permission for (RFC 8656 §9,
// https://datatracker.ietf.org/doc/html/rfc8656#section-9 and its security considerations,
// §21.3). A relay that reaches everything is an open door into the proxy's own network, so
// everything that is not a public unicast address is refused, except the routers the manager
// names: media to them is the whole point of the relay.

// alwaysDenied is refused even when a router claims it: no router lives there.
var alwaysDenied = prefixes(
	"0.0.0.0/8",          // "this network", includes the unspecified address (RFC 791)
	"255.255.255.255/32", // limited broadcast (RFC 919)
	"224.0.0.0/4",        // IPv4 multicast (RFC 5771)
	"240.0.0.0/4",        // reserved (RFC 1112)
	"169.254.169.254/32", // cloud instance metadata
	"::/128",             // IPv6 unspecified (RFC 4291)
	"ff00::/8",           // IPv6 multicast (RFC 4291)
	"fd00:ec2::254/128",  // AWS instance metadata over IPv6
)

// deniedUnlessRouter is refused unless the address is a registered router's.
var deniedUnlessRouter = prefixes(
	"127.0.0.0/8",    // loopback (RFC 1122)
	"::1/128",        // IPv6 loopback
	"10.0.0.0/8",     // private (RFC 1918)
	"172.16.0.0/12",  // private (RFC 1918)
	"192.168.0.0/16", // private (RFC 1918)
	"100.64.0.0/10",  // carrier-grade NAT shared space (RFC 6598)
	"169.254.0.0/16", // IPv4 link-local (RFC 3927)
	"fe80::/10",      // IPv6 link-local (RFC 4291)
	"fc00::/7",       // IPv6 unique local (RFC 4193)
)

// Prefixes whose addresses embed an IPv4 address that reaches the same host: the embedded one
// is judged instead (NAT64 RFC 6052, 6to4 RFC 3056).
var (
	nat64   = netip.MustParsePrefix("64:ff9b::/96")
	sixTo4  = netip.MustParsePrefix("2002::/16")
	v4compa = netip.MustParsePrefix("::/96") // deprecated IPv4-compatible (RFC 4291 §2.5.5.1)
)

func prefixes(s ...string) []netip.Prefix {
	out := make([]netip.Prefix, len(s))
	for i, p := range s {
		out[i] = netip.MustParsePrefix(p)
	}
	return out
}

// Policy decides relay permissions. The zero value has no routers. Safe for concurrent use.
type Policy struct {
	mu      sync.RWMutex
	routers map[netip.Addr]bool
}

// SetRouters replaces the set of router addresses that are allowed despite being loopback or
// private.
func (p *Policy) SetRouters(addrs []netip.Addr) {
	m := make(map[netip.Addr]bool, len(addrs))
	for _, a := range addrs {
		m[a.Unmap()] = true
	}
	p.mu.Lock()
	p.routers = m
	p.mu.Unlock()
}

// Routers returns the current router addresses (for the console and tests).
func (p *Policy) Routers() []netip.Addr {
	p.mu.RLock()
	defer p.mu.RUnlock()
	out := make([]netip.Addr, 0, len(p.routers))
	for a := range p.routers {
		out = append(out, a)
	}
	return out
}

// Allow reports whether a client may relay to peer, and if not, why (a short reason for logs
// and the refusal metric).
func (p *Policy) Allow(peer net.IP) (ok bool, reason string) {
	a, valid := netip.AddrFromSlice(peer)
	if !valid {
		return false, "invalid"
	}
	a = a.Unmap().WithZone("")
	if a.Is6() {
		switch {
		case nat64.Contains(a), v4compa.Contains(a) && a != netip.IPv6Unspecified() && a != netip.IPv6Loopback():
			b := a.As16()
			a = netip.AddrFrom4([4]byte(b[12:16]))
		case sixTo4.Contains(a):
			b := a.As16()
			a = netip.AddrFrom4([4]byte(b[2:6]))
		}
	}
	for _, pre := range alwaysDenied {
		if pre.Contains(a) {
			return false, "reserved"
		}
	}
	p.mu.RLock()
	router := p.routers[a]
	p.mu.RUnlock()
	if router {
		return true, ""
	}
	for _, pre := range deniedUnlessRouter {
		if pre.Contains(a) {
			return false, "private"
		}
	}
	return true, ""
}
