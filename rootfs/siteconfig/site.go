// Package siteconfig is the room's image-time configuration: portal address, room name,
// network, SSH keys. The image tool validates it and bakes it into the data partition; a copy
// dropped on the boot partition before first boot replaces it. At every boot stoa-config
// renders it into files under /run that systemd-networkd, timesyncd, sshd and roomd read, so
// the read-only root never changes.
package siteconfig

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"net/url"
	"regexp"
	"strings"
)

// maxSize bounds the file: a few keys and some SSH keys.
const maxSize = 64 << 10

// Site is the configuration file's content (stoa-config.json).
type Site struct {
	PortalURL string   `json:"portal_url,omitempty"` // https://host[:port]; empty: roomd discovers it
	RoomName  string   `json:"room_name,omitempty"`  // also the hostname (sanitised)
	Network   Network  `json:"network"`
	SSHKeys   []string `json:"ssh_authorized_keys,omitempty"` // none: SSH stays off
	Hosts     []Host   `json:"hosts,omitempty"`               // static name → address entries
}

// Network is DHCP (the default) or a static address.
type Network struct {
	Mode    string   `json:"mode"`              // "dhcp" or "static"
	Address string   `json:"address,omitempty"` // static: CIDR, 192.0.2.10/24
	Gateway string   `json:"gateway,omitempty"`
	DNS     []string `json:"dns,omitempty"`
}

// Host is one /etc/hosts line.
type Host struct {
	Name    string `json:"name"`
	Address string `json:"address"`
}

// Default is what an image built without a configuration file carries.
func Default() Site { return Site{Network: Network{Mode: "dhcp"}} }

// Decode reads a Site strictly: unknown keys, trailing data and oversized input are errors.
// The result is validated.
func Decode(r io.Reader) (Site, error) {
	data, err := io.ReadAll(io.LimitReader(r, maxSize+1))
	if err != nil {
		return Site{}, fmt.Errorf("read site config: %w", err)
	}
	if len(data) > maxSize {
		return Site{}, fmt.Errorf("read site config: larger than %d bytes", maxSize)
	}
	s := Default()
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&s); err != nil {
		return Site{}, fmt.Errorf("decode site config: %w", err)
	}
	if dec.More() {
		return Site{}, errors.New("decode site config: trailing data after the JSON object")
	}
	if err := s.Validate(); err != nil {
		return Site{}, err
	}
	return s, nil
}

// Encode writes s as indented JSON.
func (s Site) Encode() []byte {
	b, _ := json.MarshalIndent(s, "", "  ") // plain strings and slices: cannot fail
	return append(b, '\n')
}

var (
	hostLabel = regexp.MustCompile(`^[a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?$`)
	sshKey    = regexp.MustCompile(`^(ssh-ed25519|ssh-rsa|ecdsa-sha2-nistp(256|384|521)|sk-ssh-ed25519@openssh\.com|sk-ecdsa-sha2-nistp256@openssh\.com) [A-Za-z0-9+/]+={0,3}( [^\x00-\x1f\x7f]*)?$`)
)

// Validate checks every field and names the first problem.
func (s *Site) Validate() error {
	if s.PortalURL != "" {
		if err := checkPortalURL(s.PortalURL); err != nil {
			return fmt.Errorf("site config: portal_url: %w", err)
		}
	}
	if len(s.RoomName) > 64 || strings.ContainsFunc(s.RoomName, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
		return fmt.Errorf("site config: room_name must be at most 64 printable characters")
	}
	if err := s.Network.validate(); err != nil {
		return fmt.Errorf("site config: network: %w", err)
	}
	for i, k := range s.SSHKeys {
		if !sshKey.MatchString(k) {
			return fmt.Errorf("site config: ssh_authorized_keys[%d] is not one OpenSSH public key line", i)
		}
	}
	for i, h := range s.Hosts {
		if !validHostname(h.Name) {
			return fmt.Errorf("site config: hosts[%d]: %q is not a host name", i, h.Name)
		}
		if _, err := netip.ParseAddr(h.Address); err != nil {
			return fmt.Errorf("site config: hosts[%d]: address: %w", i, err)
		}
	}
	return nil
}

func (n Network) validate() error {
	switch n.Mode {
	case "dhcp":
		if n.Address != "" || n.Gateway != "" || len(n.DNS) > 0 {
			return errors.New("mode dhcp takes no address, gateway or dns")
		}
		return nil
	case "static":
	default:
		return fmt.Errorf("mode %q is neither dhcp nor static", n.Mode)
	}
	p, err := netip.ParsePrefix(n.Address)
	if err != nil {
		return fmt.Errorf("address %q is not CIDR (192.0.2.10/24): %w", n.Address, err)
	}
	if n.Gateway != "" {
		g, err := netip.ParseAddr(n.Gateway)
		if err != nil {
			return fmt.Errorf("gateway: %w", err)
		}
		if !p.Masked().Contains(g) {
			return fmt.Errorf("gateway %s is outside %s", g, p.Masked())
		}
	}
	for i, d := range n.DNS {
		if _, err := netip.ParseAddr(d); err != nil {
			return fmt.Errorf("dns[%d]: %w", i, err)
		}
	}
	return nil
}

func validHostname(name string) bool {
	if name == "" || len(name) > 253 {
		return false
	}
	for _, l := range strings.Split(name, ".") {
		if !hostLabel.MatchString(l) {
			return false
		}
	}
	return true
}

// checkPortalURL accepts https://host[:port] and nothing else (roomd's own rule).
func checkPortalURL(s string) error {
	u, err := url.Parse(s)
	if err != nil {
		return fmt.Errorf("parse %q: %w", s, err)
	}
	switch {
	case u.Scheme != "https":
		return fmt.Errorf("%q is not an https:// URL", s)
	case u.Hostname() == "":
		return fmt.Errorf("%q has no host", s)
	case u.User != nil:
		return fmt.Errorf("%q carries user info", s)
	case u.RawQuery != "" || u.Fragment != "" || u.Opaque != "":
		return fmt.Errorf("%q has a query or fragment", s)
	case strings.Trim(u.Path, "/") != "":
		return fmt.Errorf("%q has a path; give only https://host[:port]", s)
	}
	return nil
}

// Hostname is the room name made into a host name: lower case, letters, digits and dashes.
func (s Site) Hostname() string {
	var b strings.Builder
	for _, r := range strings.ToLower(s.RoomName) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9':
			b.WriteRune(r)
		case b.Len() > 0 && !strings.HasSuffix(b.String(), "-"):
			b.WriteByte('-')
		}
	}
	h := strings.Trim(b.String(), "-")
	if len(h) > 63 {
		h = strings.Trim(h[:63], "-")
	}
	if h == "" {
		return "stoa-room"
	}
	return h
}
