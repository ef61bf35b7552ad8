package proxy

import (
	"net"
	"net/netip"
	"testing"
)

// The relay policy is tested at the permission check itself: no packet is ever sent to these
// addresses.
func TestPolicyTable(t *testing.T) {
	var p Policy
	p.SetRouters([]netip.Addr{netip.MustParseAddr("127.0.0.1"), netip.MustParseAddr("10.1.2.3"), netip.MustParseAddr("fd12::5"),
		netip.MustParseAddr("169.254.169.254")}) // a router can never unlock metadata
	cases := []struct {
		ip     string
		ok     bool
		reason string
	}{
		// public unicast
		{"8.8.8.8", true, ""},
		{"1.1.1.1", true, ""},
		{"203.0.113.7", true, ""},
		{"2001:4860:4860::8888", true, ""},
		{"2606:4700::1111", true, ""},
		// registered routers
		{"127.0.0.1", true, ""},
		{"::ffff:127.0.0.1", true, ""},
		{"10.1.2.3", true, ""},
		{"fd12::5", true, ""},
		// loopback
		{"127.0.0.2", false, "private"},
		{"127.255.255.254", false, "private"},
		{"::1", false, "private"},
		{"::ffff:127.0.0.2", false, "private"},
		// RFC 1918
		{"10.0.0.1", false, "private"},
		{"10.255.255.255", false, "private"},
		{"172.16.0.1", false, "private"},
		{"172.31.255.254", false, "private"},
		{"192.168.0.1", false, "private"},
		{"192.168.255.255", false, "private"},
		{"::ffff:192.168.1.1", false, "private"},
		// just outside RFC 1918
		{"172.15.255.255", true, ""},
		{"172.32.0.0", true, ""},
		{"192.169.0.1", true, ""},
		{"11.0.0.1", true, ""},
		// carrier-grade NAT
		{"100.64.0.1", false, "private"},
		{"100.127.255.254", false, "private"},
		{"100.63.255.255", true, ""},
		{"100.128.0.0", true, ""},
		// link-local
		{"169.254.0.1", false, "private"},
		{"169.254.255.254", false, "private"},
		{"fe80::1", false, "private"},
		{"febf::1", false, "private"},
		// unique local
		{"fc00::1", false, "private"},
		{"fd00::1", false, "private"},
		{"fdff:ffff::1", false, "private"},
		// metadata
		{"169.254.169.254", false, "reserved"},
		{"fd00:ec2::254", false, "reserved"},
		// multicast, broadcast, unspecified, this-network, reserved
		{"224.0.0.1", false, "reserved"},
		{"239.255.255.250", false, "reserved"},
		{"ff02::1", false, "reserved"},
		{"ff0e::1", false, "reserved"},
		{"255.255.255.255", false, "reserved"},
		{"0.0.0.0", false, "reserved"},
		{"0.1.2.3", false, "reserved"},
		{"::", false, "reserved"},
		{"240.0.0.1", false, "reserved"},
		// IPv4 hidden in IPv6
		{"64:ff9b::a00:1", false, "private"},     // NAT64 of 10.0.0.1
		{"64:ff9b::808:808", true, ""},           // NAT64 of 8.8.8.8
		{"2002:c0a8:101::1", false, "private"},   // 6to4 of 192.168.1.1
		{"2002:a9fe:a9fe::1", false, "reserved"}, // 6to4 of the metadata address
		{"::7f00:2", false, "private"},           // IPv4-compatible 127.0.0.2
		{"64:ff9b::7f00:1", true, ""},            // NAT64 of a router
	}
	for _, tc := range cases {
		t.Run(tc.ip, func(t *testing.T) {
			ip := net.ParseIP(tc.ip)
			if ip == nil {
				t.Fatalf("bad test address %q", tc.ip)
			}
			ok, reason := p.Allow(ip)
			if ok != tc.ok || reason != tc.reason {
				t.Errorf("Allow(%s) = %v %q, want %v %q", tc.ip, ok, reason, tc.ok, tc.reason)
			}
			// The 4-byte form of an IPv4 address is judged the same.
			if v4 := ip.To4(); v4 != nil {
				if ok4, _ := p.Allow(v4); ok4 != tc.ok {
					t.Errorf("Allow(4-byte %s) = %v", tc.ip, ok4)
				}
			}
		})
	}
	t.Run("nil and malformed", func(t *testing.T) {
		for _, ip := range []net.IP{nil, {1, 2, 3}} {
			if ok, _ := p.Allow(ip); ok {
				t.Errorf("Allow(%v) = true", ip)
			}
		}
	})
	t.Run("without routers loopback is refused", func(t *testing.T) {
		var empty Policy
		if ok, _ := empty.Allow(net.IPv4(127, 0, 0, 1)); ok {
			t.Error("loopback allowed with no routers")
		}
	})
}
