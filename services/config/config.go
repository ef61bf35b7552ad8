// Package config is stoa-server's typed configuration: defaults, strict decoding of a JSON file
// (unknown keys are errors), and validation. Flags override file values in the main package.
package config

import (
	"bytes"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"slices"
	"strings"
	"time"
)

// Roles that stoa-server can run.
var Roles = []string{"portal", "manager", "router", "proxy", "all"}

// Config is the whole server configuration.
type Config struct {
	Role     string `json:"role"`
	DataDir  string `json:"data_dir"`
	LogLevel string `json:"log_level"`

	Portal  Portal    `json:"portal"`
	Manager Component `json:"manager"`
	Router  Router    `json:"router"`
	Proxy   Proxy     `json:"proxy"`
}

// Portal configures the portal role.
type Portal struct {
	// FQDN is the name the portal's certificate must cover (security guide step 3).
	FQDN string `json:"fqdn"`
	// HTTPSAddr and HTTPAddr are listen addresses; HTTP only redirects to HTTPS.
	HTTPSAddr string `json:"https_addr"`
	HTTPAddr  string `json:"http_addr"`
	// InternalAddr is the mutual-TLS listener for components (and, later, rooms): a client
	// without a certificate from the portal's internal CA is refused in the handshake.
	InternalAddr string `json:"internal_addr"`
	// PublicURL is how browsers and components reach the portal; derived from FQDN and the HTTPS
	// port when empty.
	PublicURL string `json:"public_url"`
	// SessionIdle and SessionMax are the idle and absolute session timeouts.
	SessionIdle Duration `json:"session_idle"`
	SessionMax  Duration `json:"session_max"`
	// LoginMaxFailures failed logins in a row lock an account for LoginLockout.
	LoginMaxFailures int      `json:"login_max_failures"`
	LoginLockout     Duration `json:"login_lockout"`
	// Announce makes the portal announce itself by DNS-SD over multicast DNS
	// (`_stoa-portal._tcp`) so unpaired rooms on the LAN find it. Off by default: multicast
	// must never leave a developer machine or a test unless asked for.
	Announce bool `json:"announce"`
	// AnnounceInterface is the network interface to announce on; empty: the interface that
	// holds the HTTPS listener's address, or the system's choice when it listens on all.
	AnnounceInterface string `json:"announce_interface"`
	// MaxUpdateBytes bounds an uploaded update bundle (Super Admin → Updates); the upload is
	// streamed to the data directory, never held in memory. 0: DefaultMaxUpdateBytes.
	MaxUpdateBytes int64 `json:"max_update_bytes"`
}

// DefaultMaxUpdateBytes bounds an update bundle when portal.max_update_bytes is not set: an
// image's root filesystem is about half a gigabyte today.
const DefaultMaxUpdateBytes int64 = 4 << 30

// Component configures a manager, router or proxy.
type Component struct {
	FQDN string `json:"fqdn"`
	// Addr is the HTTPS listen address of the component's API and system console.
	Addr string `json:"addr"`
	// PortalURL is the portal to join; JoinToken the one-time token from Super Admin → Components.
	// In role "all" both are filled in by the process itself.
	PortalURL string `json:"portal_url"`
	JoinToken string `json:"join_token"`
	// PortalCA is a PEM file with the portal's root, for joining a portal whose certificate is
	// not signed by a system root (e.g. self-signed on first start).
	PortalCA string `json:"portal_ca"`
	// LicenceKey (manager only) is the standard-base64 Ed25519 public key that verifies the
	// licence file <data_dir>/manager/licence.json. Empty: no licence file is accepted and the
	// default applies (10 concurrent seats, no options).
	LicenceKey string `json:"licence_key,omitempty"`
}

// Proxy configures the proxy: its component settings plus the TURN relay.
type Proxy struct {
	Component
	// TURNUDPAddr, TURNTCPAddr and TURNTLSAddr are the TURN listen addresses; "" turns that
	// transport off (at least one must stay on). TLS uses the component's certificate.
	TURNUDPAddr string `json:"turn_udp_addr"`
	TURNTCPAddr string `json:"turn_tcp_addr"`
	TURNTLSAddr string `json:"turn_tls_addr"`
	// RelayIP is the address relay sockets bind to and clients send media to.
	RelayIP string `json:"relay_ip"`
	// TURNHost, when set, is the host name every TURN URL handed to clients carries, whatever
	// address the listeners bind: clients that reach the proxy through a port forward or NAT by
	// name (a room in a VM reaching its host) use it. Default: the listener's address for turn:
	// URLs and the FQDN for turns:.
	TURNHost string `json:"turn_host"`
	// MaxAllocationsPerUser caps the TURN allocations one participant holds at once.
	MaxAllocationsPerUser int `json:"max_allocations_per_user"`
}

// Router configures the router (SFU): its component settings plus where it gathers ICE
// candidates. Every default is loopback only, so development and tests never gather on other
// interfaces; a production router names its interfaces.
type Router struct {
	Component
	// ICEInterfaces are the network interfaces (names) media candidates are gathered on;
	// empty means loopback only.
	ICEInterfaces []string `json:"ice_interfaces"`
	// PublicIPs (IPv4) replace the host candidates' addresses: 1:1 NAT, e.g. a cloud VM
	// whose public address is on no interface.
	PublicIPs []string `json:"public_ips"`
	// UDPPortMin and UDPPortMax bound the ephemeral UDP ports of media; 0 and 0 mean any.
	UDPPortMin int `json:"udp_port_min"`
	UDPPortMax int `json:"udp_port_max"`
	// UDPMuxPort carries all media over this single UDP port (one firewall rule); 0 is off.
	// Exclusive with the port range.
	UDPMuxPort int `json:"udp_mux_port"`
}

// validateRouterICE checks the router's ICE settings.
func validateRouterICE(r Router) error {
	for _, name := range r.ICEInterfaces {
		if !validInterfaceName(name) {
			return fmt.Errorf("config: router.ice_interfaces: %q is not a valid interface name (1..15 printable bytes, no '/', ':' or spaces)", name)
		}
	}
	for _, s := range r.PublicIPs {
		ip := net.ParseIP(s)
		switch {
		case ip == nil:
			return fmt.Errorf("config: router.public_ips: %q is not an IP address", s)
		case ip.IsLoopback() || ip.IsUnspecified():
			return fmt.Errorf("config: router.public_ips: %q is loopback or unspecified, not an address users can reach", s)
		case ip.To4() == nil:
			return fmt.Errorf("config: router.public_ips: %q is not IPv4 (the router gathers over UDP/IPv4)", s)
		}
	}
	for _, p := range []struct {
		name string
		v    int
	}{{"udp_port_min", r.UDPPortMin}, {"udp_port_max", r.UDPPortMax}, {"udp_mux_port", r.UDPMuxPort}} {
		if p.v < 0 || p.v > 65535 {
			return fmt.Errorf("config: router.%s %d is not a port (0..65535)", p.name, p.v)
		}
	}
	if (r.UDPPortMin == 0) != (r.UDPPortMax == 0) || r.UDPPortMin > r.UDPPortMax {
		return fmt.Errorf("config: router.udp_port_min %d and udp_port_max %d: set both (min <= max) or neither", r.UDPPortMin, r.UDPPortMax)
	}
	if r.UDPMuxPort != 0 && r.UDPPortMin != 0 {
		return errors.New("config: router.udp_mux_port and udp_port_min/max are exclusive: the mux uses one port")
	}
	return nil
}

// Duration is a time.Duration that decodes from a Go duration string ("15m").
type Duration struct{ time.Duration }

func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(d.String()) }

func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("duration must be a string like \"15m\": %w", err)
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return err
	}
	d.Duration = v
	return nil
}

// validateTURN checks the proxy's TURN settings.
func validateTURN(p Proxy) error {
	on := 0
	if h := p.TURNHost; h != "" && (len(h) > 253 || strings.ContainsAny(h, " /:?#@[]") || strings.Trim(h, ".") != h) {
		return fmt.Errorf("config: proxy.turn_host %q is not a host name", h)
	}
	for _, l := range [][2]string{{"proxy.turn_udp_addr", p.TURNUDPAddr}, {"proxy.turn_tcp_addr", p.TURNTCPAddr}, {"proxy.turn_tls_addr", p.TURNTLSAddr}} {
		name, a := l[0], l[1]
		if a == "" {
			continue
		}
		on++
		if _, _, err := net.SplitHostPort(a); err != nil {
			return fmt.Errorf("config: %s %q: %w", name, a, err)
		}
	}
	if on == 0 {
		return errors.New("config: proxy.turn_udp_addr, turn_tcp_addr and turn_tls_addr are all empty: TURN needs one")
	}
	if ip := net.ParseIP(p.RelayIP); ip == nil || ip.IsUnspecified() {
		return fmt.Errorf("config: proxy.relay_ip %q must be a specific IP address", p.RelayIP)
	}
	if p.MaxAllocationsPerUser < 1 {
		return errors.New("config: proxy.max_allocations_per_user must be >= 1")
	}
	return nil
}

// Default returns the configuration used when nothing is configured: everything on loopback.
func Default() Config {
	return Config{
		Role:     "all",
		DataDir:  "./var/stoa",
		LogLevel: "info",
		Portal: Portal{
			FQDN:             "localhost",
			HTTPSAddr:        "127.0.0.1:8443",
			HTTPAddr:         "127.0.0.1:8080",
			InternalAddr:     "127.0.0.1:8447",
			SessionIdle:      Duration{30 * time.Minute},
			SessionMax:       Duration{12 * time.Hour},
			LoginMaxFailures: 5,
			LoginLockout:     Duration{15 * time.Minute},
			MaxUpdateBytes:   DefaultMaxUpdateBytes,
		},
		Manager: Component{FQDN: "localhost", Addr: "127.0.0.1:8444"},
		Router:  Router{Component: Component{FQDN: "localhost", Addr: "127.0.0.1:8445"}},
		Proxy: Proxy{Component: Component{FQDN: "localhost", Addr: "127.0.0.1:8446"},
			TURNUDPAddr: "127.0.0.1:3478", TURNTCPAddr: "127.0.0.1:3478", TURNTLSAddr: "127.0.0.1:5349",
			RelayIP: "127.0.0.1", MaxAllocationsPerUser: 10},
	}
}

// Decode reads a JSON configuration over the defaults already in c. Unknown keys are errors.
func Decode(r io.Reader, c *Config) error {
	dec := json.NewDecoder(r)
	dec.DisallowUnknownFields()
	if err := dec.Decode(c); err != nil {
		return fmt.Errorf("decode config: %w", err)
	}
	if dec.More() {
		return errors.New("decode config: trailing data after the JSON object")
	}
	return nil
}

// Load returns Default() overlaid with the file at path (if path is not empty).
func Load(path string) (Config, error) {
	c := Default()
	if path == "" {
		return c, nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return c, fmt.Errorf("load config: %w", err)
	}
	if err := Decode(bytes.NewReader(b), &c); err != nil {
		return c, fmt.Errorf("load config %s: %w", path, err)
	}
	return c, nil
}

// Validate reports the first problem in c.
func (c Config) Validate() error {
	if !slices.Contains(Roles, c.Role) {
		return fmt.Errorf("config: role %q is not one of %v", c.Role, Roles)
	}
	if c.DataDir == "" {
		return errors.New("config: data_dir is empty")
	}
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		return fmt.Errorf("config: log_level %q is not one of debug, info, warn, error", c.LogLevel)
	}
	if c.Role == "portal" || c.Role == "all" {
		if c.Portal.FQDN == "" {
			return errors.New("config: portal.fqdn is empty")
		}
		for name, a := range map[string]string{"portal.https_addr": c.Portal.HTTPSAddr, "portal.http_addr": c.Portal.HTTPAddr, "portal.internal_addr": c.Portal.InternalAddr} {
			if a == "" && name == "portal.http_addr" {
				continue // no redirect listener
			}
			if _, _, err := net.SplitHostPort(a); err != nil {
				return fmt.Errorf("config: %s %q: %w", name, a, err)
			}
		}
		if c.Portal.SessionIdle.Duration <= 0 || c.Portal.SessionMax.Duration < c.Portal.SessionIdle.Duration {
			return errors.New("config: portal.session_idle must be > 0 and <= portal.session_max")
		}
		if c.Portal.LoginMaxFailures < 1 {
			return errors.New("config: portal.login_max_failures must be >= 1")
		}
		if c.Portal.MaxUpdateBytes < 0 {
			return errors.New("config: portal.max_update_bytes must be >= 0 (0: the default, 4 GiB)")
		}
		if err := validateAnnounce(c.Portal); err != nil {
			return err
		}
	}
	for _, k := range []struct {
		name string
		c    Component
	}{{"manager", c.Manager}, {"router", c.Router.Component}, {"proxy", c.Proxy.Component}} {
		if c.Role != k.name && c.Role != "all" {
			continue
		}
		if k.c.FQDN == "" {
			return fmt.Errorf("config: %s.fqdn is empty", k.name)
		}
		if _, _, err := net.SplitHostPort(k.c.Addr); err != nil {
			return fmt.Errorf("config: %s.addr %q: %w", k.name, k.c.Addr, err)
		}
		if c.Role == k.name && k.c.PortalURL == "" {
			return fmt.Errorf("config: %s.portal_url is empty: a component must know its portal", k.name)
		}
		if err := validateLicenceKey(k.name, k.c.LicenceKey); err != nil {
			return err
		}
	}
	if c.Role == "router" || c.Role == "all" {
		if err := validateRouterICE(c.Router); err != nil {
			return err
		}
	}
	if c.Role == "proxy" || c.Role == "all" {
		if err := validateTURN(c.Proxy); err != nil {
			return err
		}
	}
	return nil
}

// validateLicenceKey checks manager.licence_key: empty, or base64 of a 32-byte Ed25519 public
// key; the other components have no licence.
func validateLicenceKey(kind, key string) error {
	if key == "" {
		return nil
	}
	if kind != "manager" {
		return fmt.Errorf("config: %s.licence_key is set, but only the manager checks the licence", kind)
	}
	b, err := base64.StdEncoding.DecodeString(key)
	if err != nil {
		return fmt.Errorf("config: manager.licence_key is not base64: %w", err)
	}
	if len(b) != ed25519.PublicKeySize {
		return fmt.Errorf("config: manager.licence_key is %d bytes, an Ed25519 public key has %d", len(b), ed25519.PublicKeySize)
	}
	return nil
}

// validateAnnounce checks the DNS-SD settings.
func validateAnnounce(p Portal) error {
	name := p.AnnounceInterface
	if name == "" {
		return nil
	}
	if !p.Announce {
		return fmt.Errorf("config: portal.announce_interface %q is set but portal.announce is false", name)
	}
	if !validInterfaceName(name) {
		return fmt.Errorf("config: portal.announce_interface %q is not a valid interface name (1..15 printable bytes, no '/', ':' or spaces)", name)
	}
	return nil
}

// validInterfaceName follows Linux's rules (dev_valid_name): 1..15 bytes, not "." or "..",
// no '/', ':' or whitespace (printable ASCII here).
func validInterfaceName(name string) bool {
	if name == "" || len(name) > 15 || name == "." || name == ".." || strings.ContainsAny(name, "/:") {
		return false
	}
	for _, r := range name {
		if r < 0x21 || r > 0x7e {
			return false
		}
	}
	return true
}
