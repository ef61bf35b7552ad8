package router

import (
	"errors"
	"fmt"
	"net"
	"slices"

	"github.com/pion/ice/v4"
	"github.com/pion/webrtc/v4"
)

// ICEOptions say where the router gathers ICE candidates. The zero value is the development
// default, loopback only (LoopbackOnly): tests and `make run` never gather on other
// interfaces. A production router names the interfaces that face its users.
type ICEOptions struct {
	// Interfaces are the network interfaces (by name) to gather host candidates on; empty
	// means loopback only. Loopback candidates are included only when "lo" is listed.
	Interfaces []string
	// PublicIPs replace the host candidates' addresses (1:1 NAT, e.g. a cloud VM whose
	// public address is not on any interface). IPv4 only: the router gathers over UDP/IPv4.
	PublicIPs []string
	// UDPPortMin and UDPPortMax bound the ephemeral UDP ports of host candidates; 0 and 0
	// mean any port.
	UDPPortMin, UDPPortMax uint16
	// UDPMuxPort, when not 0, carries every participant's ICE over this one UDP port (on
	// each selected interface's address) instead of a port per PeerConnection, so a
	// firewall needs a single rule. Exclusive with the port range.
	UDPMuxPort uint16
}

// Validate reports the first problem in o.
func (o ICEOptions) Validate() error {
	for _, name := range o.Interfaces {
		if name == "" || len(name) > 15 {
			return fmt.Errorf("router ice: interface name %q must be 1..15 bytes", name)
		}
	}
	for _, s := range o.PublicIPs {
		ip := net.ParseIP(s)
		switch {
		case ip == nil:
			return fmt.Errorf("router ice: public IP %q is not an IP address", s)
		case ip.To4() == nil:
			return fmt.Errorf("router ice: public IP %q is not IPv4 (the router gathers over UDP/IPv4)", s)
		case ip.IsLoopback() || ip.IsUnspecified():
			return fmt.Errorf("router ice: public IP %q is loopback or unspecified", s)
		}
	}
	if (o.UDPPortMin == 0) != (o.UDPPortMax == 0) || o.UDPPortMin > o.UDPPortMax {
		return fmt.Errorf("router ice: UDP port range %d-%d: give both ends, min <= max", o.UDPPortMin, o.UDPPortMax)
	}
	if o.UDPMuxPort != 0 && o.UDPPortMin != 0 {
		return errors.New("router ice: UDP mux port and UDP port range are exclusive (the mux uses one port)")
	}
	return nil
}

// ICE is the router's ICE network policy with the sockets it owns (the shared UDP mux).
// One ICE serves every PeerConnection of an SFU; close it after the SFU.
type ICE struct {
	opts ICEOptions
	mux  *ice.MultiUDPMuxDefault // nil: a port per PeerConnection
}

// OpenICE validates o and, when o.UDPMuxPort is set, binds the shared UDP mux on that port
// on every address of the selected interfaces.
func OpenICE(o ICEOptions) (*ICE, error) {
	if err := o.Validate(); err != nil {
		return nil, err
	}
	n := &ICE{opts: o}
	if o.UDPMuxPort != 0 {
		opts := []ice.UDPMuxFromPortOption{
			ice.UDPMuxFromPortWithInterfaceFilter(n.keepInterface),
			ice.UDPMuxFromPortWithNetworks(ice.NetworkTypeUDP4),
		}
		if n.includeLoopback() {
			opts = append(opts, ice.UDPMuxFromPortWithLoopback())
		}
		mux, err := ice.NewMultiUDPMuxFromPort(int(o.UDPMuxPort), opts...)
		if err != nil {
			return nil, fmt.Errorf("router ice: open UDP mux on port %d: %w", o.UDPMuxPort, err)
		}
		if len(mux.GetListenAddresses()) == 0 {
			_ = mux.Close()
			return nil, fmt.Errorf("router ice: UDP mux on port %d: interfaces %v have no IPv4 address", o.UDPMuxPort, n.interfaces())
		}
		n.mux = mux
	}
	return n, nil
}

// MuxAddrs are the shared UDP mux's local addresses (none when the mux is off).
func (n *ICE) MuxAddrs() []net.Addr {
	if n == nil || n.mux == nil {
		return nil
	}
	return n.mux.GetListenAddresses()
}

// Close releases the UDP mux.
func (n *ICE) Close() error {
	if n == nil || n.mux == nil {
		return nil
	}
	return n.mux.Close()
}

func (n *ICE) interfaces() []string {
	if len(n.opts.Interfaces) == 0 {
		return []string{"lo"}
	}
	return n.opts.Interfaces
}

func (n *ICE) keepInterface(name string) bool { return slices.Contains(n.interfaces(), name) }

func (n *ICE) includeLoopback() bool { return slices.Contains(n.interfaces(), "lo") }

// apply sets the policy on a setting engine that LoopbackOnly prepared; a nil ICE leaves
// the loopback-only default alone.
func (n *ICE) apply(se *webrtc.SettingEngine) error {
	if n == nil {
		return nil
	}
	se.SetInterfaceFilter(n.keepInterface)
	se.SetIncludeLoopbackCandidate(n.includeLoopback())
	if len(n.opts.PublicIPs) > 0 {
		// The replacement for the deprecated SetNAT1To1IPs(ips, host): host candidates carry
		// the public addresses instead of the local ones.
		if err := se.SetICEAddressRewriteRules(webrtc.ICEAddressRewriteRule{External: n.opts.PublicIPs,
			AsCandidateType: webrtc.ICECandidateTypeHost, Mode: webrtc.ICEAddressRewriteReplace}); err != nil {
			return fmt.Errorf("router ice: public IPs: %w", err)
		}
	}
	if n.opts.UDPPortMin != 0 {
		if err := se.SetEphemeralUDPPortRange(n.opts.UDPPortMin, n.opts.UDPPortMax); err != nil {
			return fmt.Errorf("router ice: UDP port range: %w", err)
		}
	}
	if n.mux != nil {
		se.SetICEUDPMux(n.mux)
	}
	return nil
}
