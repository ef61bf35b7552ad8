package qemu

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// DevPortalName is the portal's name in the dev image (stoa-config.dev.json, built by make
// qemu) and the FQDN `make run` gives its portal by default. A *.localhost name: browsers
// resolve it to loopback on their own, make run's stack and simulated room get it from a private
// /etc/hosts, and the guest's site hosts file maps it to GuestPortal.
const DevPortalName = "portal.stoa.localhost"

// DefaultTURNTCP is where make run's proxy listens for TURN over TCP (stoa-server's default):
// the guest reaches TURN only over a TCP forward.
const DefaultTURNTCP = "127.0.0.1:3478"

// Stack is what a running `make run` stack wrote to <data>/addresses.json.
type Stack struct {
	PortalURL      string `json:"portal_url"`      // https://<fqdn>:<port>
	PortalHTTPS    string `json:"portal_https"`    // 127.0.0.1:8443
	PortalInternal string `json:"portal_internal"` // the management (mTLS) listener
}

// ParseStack decodes addresses.json and checks the fields a forward needs.
func ParseStack(b []byte) (Stack, error) {
	var s Stack
	if err := json.Unmarshal(b, &s); err != nil {
		return Stack{}, fmt.Errorf("decode addresses.json: %w", err)
	}
	for _, f := range []struct{ name, v string }{{"portal_https", s.PortalHTTPS}, {"portal_internal", s.PortalInternal}} {
		if _, _, err := net.SplitHostPort(f.v); err != nil {
			return Stack{}, fmt.Errorf("addresses.json: %s %q is not host:port", f.name, f.v)
		}
	}
	u, err := url.Parse(s.PortalURL)
	if err != nil || u.Scheme != "https" || u.Hostname() == "" {
		return Stack{}, fmt.Errorf("addresses.json: portal_url %q is not an https URL", s.PortalURL)
	}
	return s, nil
}

// ReadStack reads the stack's addresses from its data dir; a missing file means no stack.
func ReadStack(dataDir string) (Stack, error) {
	p := filepath.Join(dataDir, "addresses.json")
	b, err := os.ReadFile(p)
	if errors.Is(err, fs.ErrNotExist) {
		return Stack{}, fmt.Errorf("no `make run` stack: %s does not exist; start `make run` in another terminal first", p)
	}
	if err != nil {
		return Stack{}, fmt.Errorf("read the stack's addresses: %w", err)
	}
	return ParseStack(b)
}

// PortalName is the host name in the stack's portal URL (its FQDN).
func (s Stack) PortalName() string {
	u, _ := url.Parse(s.PortalURL) // checked by ParseStack
	return u.Hostname()
}

// DevForwards are the guest's forwards to the stack, as test/hil wires its own servers: the
// portal (GuestPortal:443 and its own port), the management listener and TURN over TCP. The
// stack's portal must be named DevPortalName, the name the dev image knows it by.
func (s Stack) DevForwards(turnTCP string) ([]Forward, error) {
	if n := s.PortalName(); !strings.EqualFold(n, DevPortalName) {
		return nil, fmt.Errorf("the stack's portal is %s but the dev image knows it as %s: restart `make run` with its default FQDN (make run FQDN=%s)",
			s.PortalURL, DevPortalName, DevPortalName)
	}
	return PortalForwards(s.PortalHTTPS, s.PortalInternal, turnTCP), nil
}

// CheckStack dials every host side of fw (is the stack still running? addresses.json outlives
// it) and checks that the portal's certificate names DevPortalName, so the guest can verify it.
func (s Stack) CheckStack(ctx context.Context, fw []Forward) error {
	d := &net.Dialer{Timeout: 3 * time.Second}
	for _, f := range fw {
		c, err := d.DialContext(ctx, "tcp", f.Host)
		if err != nil {
			return fmt.Errorf("the `make run` stack does not answer on %s (%w): is `make run` running?", f.Host, err)
		}
		c.Close()
	}
	td := &tls.Dialer{NetDialer: d, Config: &tls.Config{ServerName: DevPortalName, MinVersion: tls.VersionTLS12,
		InsecureSkipVerify: true}} //nolint:gosec // self-signed: the name is checked below, the room pins the chain at pairing
	c, err := td.DialContext(ctx, "tcp", s.PortalHTTPS)
	if err != nil {
		return fmt.Errorf("TLS to the stack's portal %s: %w", s.PortalHTTPS, err)
	}
	defer c.Close()
	leaf := c.(*tls.Conn).ConnectionState().PeerCertificates[0]
	if err := leaf.VerifyHostname(DevPortalName); err != nil {
		return fmt.Errorf("the stack's portal certificate does not name %s (it names %v): the guest would refuse it; start afresh (rm -rf the stack's data dir) with make run's default FQDN: %w",
			DevPortalName, leaf.DNSNames, err)
	}
	return nil
}
