// Package discovery finds the portal on the room's LAN by DNS-SD over multicast DNS
// (RFC 6763 over RFC 6762): the portal announces a `_stoa-portal._tcp` service whose TXT record
// carries its public URL; an unpaired room browses for it. Discovery only suggests an address —
// trust comes from pairing (the PAKE), so a spoofed answer can at worst waste a pairing attempt.
package discovery

import (
	"context"
	"errors"
	"fmt"
	"log"
	"log/slog"
	"net"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/hashicorp/mdns"
)

// Service is the DNS-SD service type the portal announces.
const Service = "_stoa-portal._tcp"

const domain = "local."

// Bounds on what is announced and accepted. DNS labels are at most 63 bytes (RFC 1035 2.3.4);
// a TXT string at most 255 (RFC 6763 6.1).
const (
	maxInstance   = 63
	maxHost       = 253
	maxTXT        = 255
	maxTXTEntries = 16
	maxURL        = 2048
	maxPortals    = 32
	maxAddrs      = 8
	// DefaultBrowseTimeout is used when Browse's context has no deadline.
	DefaultBrowseTimeout = 2 * time.Second
)

// AnnounceOptions describe the portal's announcement.
type AnnounceOptions struct {
	Instance  string            // service instance name, e.g. "Stoa portal"
	Host      string            // FQDN of the portal host (trailing dot optional)
	Port      int               // port of the public HTTPS listener
	IPs       []net.IP          // addresses to announce; required (no DNS lookups here)
	Interface *net.Interface    // interface to announce on; nil: the system's choice
	TXT       map[string]string // e.g. "url": "https://portal.example:443", "v": "1"
	Log       *slog.Logger      // nil: slog.Default()
}

// Portal is one announcement found by Browse.
type Portal struct {
	Instance string
	URL      string // https URL: the "url" TXT when present, else https://host:port
	Addrs    []net.IP
	Port     int
}

// Announce answers mDNS queries for the portal's service until ctx is done.
func Announce(ctx context.Context, o AnnounceOptions) error {
	lg := o.Log
	if lg == nil {
		lg = slog.Default()
	}
	svc, err := o.service()
	if err != nil {
		return fmt.Errorf("discovery: announce: %w", err)
	}
	srv, err := mdns.NewServer(&mdns.Config{Zone: svc, Iface: o.Interface, Logger: libLogger(lg)})
	if err != nil {
		return fmt.Errorf("discovery: announce: %w", err)
	}
	lg.Info("discovery: announcing portal", "service", Service, "instance", o.Instance, "host", svc.HostName, "port", o.Port)
	<-ctx.Done()
	if err := srv.Shutdown(); err != nil {
		return fmt.Errorf("discovery: announce: shutdown: %w", err)
	}
	return nil
}

func (o AnnounceOptions) service() (*mdns.MDNSService, error) {
	if err := checkInstance(o.Instance); err != nil {
		return nil, err
	}
	// The library puts the instance into the DNS name unescaped: a dot would split the label.
	if strings.ContainsAny(o.Instance, ".\\") {
		return nil, errors.New("instance name must not contain '.' or '\\'")
	}
	host := strings.TrimSuffix(o.Host, ".")
	if err := checkHost(host); err != nil {
		return nil, fmt.Errorf("host %q: %w", o.Host, err)
	}
	if o.Port < 1 || o.Port > 65535 {
		return nil, fmt.Errorf("port %d out of range", o.Port)
	}
	if len(o.IPs) == 0 {
		return nil, errors.New("no IPs to announce")
	}
	if len(o.TXT) > maxTXTEntries {
		return nil, fmt.Errorf("%d TXT entries, limit %d", len(o.TXT), maxTXTEntries)
	}
	var txt []string
	for k, v := range o.TXT {
		if k == "" || strings.ContainsRune(k, '=') {
			return nil, fmt.Errorf("TXT key %q is empty or contains '='", k)
		}
		kv := k + "=" + v
		if len(kv) > maxTXT {
			return nil, fmt.Errorf("TXT %q longer than %d bytes", k, maxTXT)
		}
		txt = append(txt, kv)
	}
	sort.Strings(txt)
	if u, ok := o.TXT["url"]; ok {
		if err := checkURL(u); err != nil {
			return nil, fmt.Errorf("TXT url: %w", err)
		}
	}
	return mdns.NewMDNSService(o.Instance, Service, domain, host+".", o.Port, o.IPs, txt)
}

// Browse queries for portals on iface (nil: the system's choice) and returns the valid answers
// that arrived before ctx's deadline (DefaultBrowseTimeout without one). Answers that fail
// validation are dropped and logged at debug level, not returned as errors: anyone on the LAN
// can answer.
func Browse(ctx context.Context, iface *net.Interface) ([]Portal, error) {
	lg := slog.Default()
	timeout := DefaultBrowseTimeout
	if dl, ok := ctx.Deadline(); ok {
		timeout = time.Until(dl)
	}
	if timeout <= 0 {
		return nil, fmt.Errorf("discovery: browse: %w", context.DeadlineExceeded)
	}
	entries := make(chan *mdns.ServiceEntry, maxPortals)
	found := make(map[string]Portal)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for e := range entries {
			p, err := portalFromEntry(e.Name, e.Host, e.Port, e.InfoFields, entryAddrs(e))
			if err != nil {
				lg.Debug("discovery: ignoring answer", "name", e.Name, "err", err)
				continue
			}
			if _, dup := found[p.Instance]; !dup && len(found) < maxPortals {
				found[p.Instance] = p
			}
		}
	}()
	err := mdns.QueryContext(ctx, &mdns.QueryParam{
		Service:   Service,
		Domain:    domain,
		Timeout:   timeout,
		Interface: iface,
		Entries:   entries,
		Logger:    libLogger(lg),
		// IPv4 only: the library aborts the whole query when any send fails, and an IPv6
		// send fails while the link-local address is still tentative (DAD, RFC 4862 5.4)
		// right after the link comes up — exactly when a freshly booted room browses.
		DisableIPv6: true,
	})
	close(entries)
	<-done
	if err != nil {
		return nil, fmt.Errorf("discovery: browse: %w", err)
	}
	out := make([]Portal, 0, len(found))
	for _, p := range found {
		out = append(out, p)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Instance < out[j].Instance })
	return out, nil
}

func entryAddrs(e *mdns.ServiceEntry) []net.IP {
	var ips []net.IP
	if e.AddrV4 != nil {
		ips = append(ips, e.AddrV4)
	}
	if e.AddrV6IPAddr != nil {
		ips = append(ips, e.AddrV6IPAddr.IP)
	}
	return ips
}

// portalFromEntry validates one answer. name is the instance's full DNS name
// ("<instance>._stoa-portal._tcp.local."), host the SRV target.
func portalFromEntry(name, host string, port int, txt []string, addrs []net.IP) (Portal, error) {
	suffix := "." + Service + "." + domain
	if !strings.HasSuffix(name, suffix) {
		return Portal{}, fmt.Errorf("name %.80q is not a %s instance", name, Service)
	}
	inst, err := unescapeLabel(strings.TrimSuffix(name, suffix))
	if err != nil {
		return Portal{}, fmt.Errorf("instance: %w", err)
	}
	if err := checkInstance(inst); err != nil {
		return Portal{}, err
	}
	if port < 1 || port > 65535 {
		return Portal{}, fmt.Errorf("port %d out of range", port)
	}
	if len(txt) > maxTXTEntries {
		return Portal{}, fmt.Errorf("%d TXT strings, limit %d", len(txt), maxTXTEntries)
	}
	fields := map[string]string{}
	for _, kv := range txt {
		if len(kv) > maxTXT {
			return Portal{}, fmt.Errorf("TXT string longer than %d bytes", maxTXT)
		}
		k, v, _ := strings.Cut(kv, "=")
		// RFC 6763 6.4: keys are case-insensitive; only the first occurrence counts.
		k = strings.ToLower(k)
		if _, seen := fields[k]; !seen {
			fields[k] = v
		}
	}
	if v, ok := fields["v"]; ok && v != "1" {
		return Portal{}, fmt.Errorf("announcement version %.10q, this room speaks 1", v)
	}
	p := Portal{Instance: inst, Port: port}
	if u, ok := fields["url"]; ok {
		if err := checkURL(u); err != nil {
			return Portal{}, fmt.Errorf("TXT url: %w", err)
		}
		p.URL = u
	} else {
		h := strings.TrimSuffix(host, ".")
		if err := checkHost(h); err != nil {
			return Portal{}, fmt.Errorf("host %.80q: %w", host, err)
		}
		p.URL = "https://" + net.JoinHostPort(h, strconv.Itoa(port))
	}
	for _, ip := range addrs {
		if len(p.Addrs) == maxAddrs {
			break
		}
		if ip == nil || ip.IsUnspecified() || ip.IsMulticast() {
			continue
		}
		p.Addrs = append(p.Addrs, ip)
	}
	return p, nil
}

func checkInstance(s string) error {
	if s == "" {
		return errors.New("instance name empty")
	}
	if len(s) > maxInstance {
		return fmt.Errorf("instance name longer than %d bytes", maxInstance)
	}
	if !utf8.ValidString(s) {
		return errors.New("instance name is not UTF-8")
	}
	for _, r := range s {
		if r < 0x20 || r == 0x7f {
			return errors.New("instance name has control characters")
		}
	}
	return nil
}

// checkHost accepts a DNS name (letters, digits, '-', dots; RFC 1123) without the trailing dot.
func checkHost(h string) error {
	if h == "" || len(h) > maxHost {
		return fmt.Errorf("length %d not in 1..%d", len(h), maxHost)
	}
	for _, label := range strings.Split(h, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return fmt.Errorf("bad label %.70q", label)
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-') {
				return fmt.Errorf("bad character %q", c)
			}
		}
	}
	return nil
}

func checkURL(s string) error {
	if len(s) > maxURL {
		return fmt.Errorf("longer than %d bytes", maxURL)
	}
	u, err := url.Parse(s)
	if err != nil {
		return err
	}
	if u.Scheme != "https" {
		return fmt.Errorf("scheme %q, want https", u.Scheme)
	}
	if u.Hostname() == "" {
		return errors.New("no host")
	}
	if u.User != nil {
		return errors.New("must not carry user info")
	}
	if p := u.Port(); p != "" {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return fmt.Errorf("port %q out of range", p)
		}
	}
	return nil
}

// unescapeLabel undoes the presentation-format escapes (\DDD and \X, RFC 1035 5.1) the DNS
// library applies to a label, refusing a dot that is not escaped (the instance is one label).
func unescapeLabel(s string) (string, error) {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '.':
			return "", errors.New("more than one label")
		case c != '\\':
			b.WriteByte(c)
		case i+3 < len(s) && isDigit(s[i+1]) && isDigit(s[i+2]) && isDigit(s[i+3]):
			n := int(s[i+1]-'0')*100 + int(s[i+2]-'0')*10 + int(s[i+3]-'0')
			if n > 255 {
				return "", errors.New("bad \\DDD escape")
			}
			b.WriteByte(byte(n))
			i += 3
		case i+1 < len(s):
			b.WriteByte(s[i+1])
			i++
		default:
			return "", errors.New("trailing backslash")
		}
	}
	return b.String(), nil
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// libLogger routes the mdns library's log.Logger output into slog at debug level: its messages
// are about stray packets, not failures of ours.
func libLogger(lg *slog.Logger) *log.Logger {
	return slog.NewLogLogger(lg.Handler(), slog.LevelDebug)
}
