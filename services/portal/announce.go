package portal

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/stoa-rooms/stoa/provisioning/discovery"
)

// Backoff between failed attempts to announce: the network may come up after the portal (a
// listener on 0.0.0.0 at boot, an interface that appears later).
const (
	announceRetryMin = 5 * time.Second
	announceRetryMax = 5 * time.Minute
)

// errCannotAnnounce marks a configuration that no retry will fix.
var errCannotAnnounce = errors.New("cannot announce")

// ifaceAddrs is one network interface with its addresses, as planAnnounce sees it.
type ifaceAddrs struct {
	Iface net.Interface
	Addrs []net.IP
}

// announce runs the DNS-SD announcement (provisioning/discovery) until ctx ends. Failures are
// logged, never fatal: without an announcement rooms can still be given the portal's URL.
func (s *Server) announce(ctx context.Context, l Listeners) {
	lg := s.log.With("component", "discovery")
	https, _ := l.HTTPS.Addr().(*net.TCPAddr)
	publicURL := s.URL(l)
	wait := announceRetryMin
	for {
		ifs, err := localInterfaces()
		var o discovery.AnnounceOptions
		if err == nil {
			o, err = planAnnounce(s.cfg.FQDN, publicURL, s.cfg.AnnounceInterface, https, ifs)
		}
		if errors.Is(err, errCannotAnnounce) {
			lg.Error("portal not announced by DNS-SD: rooms must be given its URL by hand", "err", err)
			return
		}
		if err == nil {
			o.Log = lg
			lg.Info("announcing the portal by DNS-SD", "url", publicURL, "ips", o.IPs, "interface", ifaceName(o.Interface))
			err = discovery.Announce(ctx, o) // blocks until ctx ends
		}
		if ctx.Err() != nil {
			if err != nil {
				lg.Error("DNS-SD announcement stopped with an error", "err", err)
			}
			return
		}
		lg.Error("DNS-SD announcement failed; retrying", "err", err, "retry_in", wait)
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
		wait = min(2*wait, announceRetryMax)
	}
}

// planAnnounce decides what to announce: the HTTPS listener's address, or, when it listens on
// every address, each non-loopback IPv4 address of the chosen interface (or of every up,
// multicast-capable interface when none is chosen).
func planAnnounce(fqdn, publicURL, ifaceName string, https *net.TCPAddr, ifs []ifaceAddrs) (discovery.AnnounceOptions, error) {
	if https == nil {
		return discovery.AnnounceOptions{}, fmt.Errorf("%w: the HTTPS listener is not TCP", errCannotAnnounce)
	}
	if https.IP.IsLoopback() {
		return discovery.AnnounceOptions{}, fmt.Errorf("%w: the HTTPS listener %s is on loopback, which rooms on the LAN cannot reach (set portal.https_addr)", errCannotAnnounce, https)
	}
	if u, err := url.Parse(publicURL); err != nil || u.Scheme != "https" || u.Hostname() == "" {
		return discovery.AnnounceOptions{}, fmt.Errorf("%w: public URL %q is not an https URL with a host", errCannotAnnounce, publicURL)
	}
	o := discovery.AnnounceOptions{
		Instance: instanceName(fqdn),
		Host:     fqdn,
		Port:     https.Port,
		TXT:      map[string]string{"url": publicURL, "v": "1"},
	}
	var chosen *ifaceAddrs
	if ifaceName != "" {
		for i := range ifs {
			if ifs[i].Iface.Name == ifaceName {
				chosen = &ifs[i]
				break
			}
		}
		if chosen == nil {
			return o, fmt.Errorf("announce interface %q not found", ifaceName)
		}
	}
	if !https.IP.IsUnspecified() {
		o.IPs = []net.IP{https.IP}
		if chosen == nil {
			// Announce where the address lives, not wherever the default multicast route goes.
			for i := range ifs {
				if containsIP(ifs[i].Addrs, https.IP) {
					chosen = &ifs[i]
					break
				}
			}
		} else if !containsIP(chosen.Addrs, https.IP) {
			return o, fmt.Errorf("announce interface %q does not hold the HTTPS listener's address %s", ifaceName, https.IP)
		}
	} else {
		candidates := ifs
		if chosen != nil {
			candidates = []ifaceAddrs{*chosen}
		}
		for _, c := range candidates {
			if chosen == nil && (c.Iface.Flags&net.FlagUp == 0 || c.Iface.Flags&net.FlagMulticast == 0 || c.Iface.Flags&net.FlagLoopback != 0) {
				continue
			}
			for _, ip := range c.Addrs {
				if ip4 := ip.To4(); ip4 != nil && !ip4.IsLoopback() && !ip4.IsUnspecified() {
					o.IPs = append(o.IPs, ip4)
				}
			}
		}
		if len(o.IPs) == 0 {
			where := "any up, multicast-capable interface"
			if chosen != nil {
				where = "interface " + chosen.Iface.Name
			}
			return o, fmt.Errorf("no non-loopback IPv4 address on %s", where)
		}
	}
	if chosen != nil {
		iface := chosen.Iface
		o.Interface = &iface
	}
	return o, nil
}

// instanceName is "Stoa portal <fqdn>" made a single DNS-SD label: the discovery library puts
// the instance into the DNS name unescaped, so dots (an IP FQDN has them) become dashes, and the
// label is cut to 63 bytes (RFC 1035 2.3.4) on a character boundary.
func instanceName(fqdn string) string {
	name := "Stoa portal " + strings.Map(func(r rune) rune {
		switch {
		case r == '.' || r == '\\':
			return '-'
		case r < 0x20 || r == 0x7f:
			return -1
		}
		return r
	}, strings.TrimSuffix(fqdn, "."))
	for len(name) > 63 {
		_, size := utf8.DecodeLastRuneInString(name)
		name = name[:len(name)-size]
	}
	return strings.TrimSpace(name)
}

func containsIP(ips []net.IP, ip net.IP) bool {
	for _, x := range ips {
		if x.Equal(ip) {
			return true
		}
	}
	return false
}

func ifaceName(i *net.Interface) string {
	if i == nil {
		return "(system's choice)"
	}
	return i.Name
}

// localInterfaces lists this host's interfaces with their addresses.
func localInterfaces() ([]ifaceAddrs, error) {
	ifs, err := net.Interfaces()
	if err != nil {
		return nil, fmt.Errorf("list network interfaces: %w", err)
	}
	out := make([]ifaceAddrs, 0, len(ifs))
	for _, i := range ifs {
		addrs, err := i.Addrs()
		if err != nil {
			return nil, fmt.Errorf("addresses of %s: %w", i.Name, err)
		}
		ia := ifaceAddrs{Iface: i}
		for _, a := range addrs {
			if n, ok := a.(*net.IPNet); ok {
				ia.Addrs = append(ia.Addrs, n.IP)
			}
		}
		out = append(out, ia)
	}
	return out, nil
}
