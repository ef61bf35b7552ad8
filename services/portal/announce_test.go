package portal

import (
	"errors"
	"net"
	"strings"
	"testing"
)

// planAnnounce is tested here on made-up interfaces; the announcement itself (multicast) is
// only ever sent inside network namespaces, by test/e2e's discovery test.
func TestPlanAnnounce(t *testing.T) {
	up := net.FlagUp | net.FlagMulticast
	ifs := []ifaceAddrs{
		{Iface: net.Interface{Index: 1, Name: "lo", Flags: net.FlagUp | net.FlagLoopback}, Addrs: []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback}},
		{Iface: net.Interface{Index: 2, Name: "eth0", Flags: up}, Addrs: []net.IP{net.IPv4(192, 168, 1, 10), net.ParseIP("fe80::1")}},
		{Iface: net.Interface{Index: 3, Name: "eth1", Flags: up}, Addrs: []net.IP{net.IPv4(10, 0, 0, 5), net.IPv4(10, 0, 1, 5)}},
		{Iface: net.Interface{Index: 4, Name: "down0", Flags: net.FlagMulticast}, Addrs: []net.IP{net.IPv4(172, 16, 0, 1)}},
		{Iface: net.Interface{Index: 5, Name: "v6only", Flags: up}, Addrs: []net.IP{net.ParseIP("2001:db8::1")}},
	}
	addr := func(ip string, port int) *net.TCPAddr { return &net.TCPAddr{IP: net.ParseIP(ip), Port: port} }
	const url = "https://portal.example:8443"
	for _, tc := range []struct {
		name      string
		iface     string
		https     *net.TCPAddr
		url       string
		wantIPs   []string
		wantIface string // "" : system's choice
		wantErr   string
		permanent bool
	}{
		{name: "listener address on its interface", https: addr("10.0.0.5", 8443), wantIPs: []string{"10.0.0.5"}, wantIface: "eth1"},
		{name: "listener address, chosen interface holds it", iface: "eth1", https: addr("10.0.1.5", 8443), wantIPs: []string{"10.0.1.5"}, wantIface: "eth1"},
		{name: "listener address on no listed interface", https: addr("10.9.9.9", 443), wantIPs: []string{"10.9.9.9"}},
		{name: "all addresses: every up multicast non-loopback IPv4", https: addr("0.0.0.0", 443), wantIPs: []string{"192.168.1.10", "10.0.0.5", "10.0.1.5"}},
		{name: "all addresses (IPv6 wildcard)", https: addr("::", 443), wantIPs: []string{"192.168.1.10", "10.0.0.5", "10.0.1.5"}},
		{name: "all addresses of the chosen interface", iface: "eth1", https: addr("0.0.0.0", 443), wantIPs: []string{"10.0.0.5", "10.0.1.5"}, wantIface: "eth1"},
		{name: "chosen interface without IPv4", iface: "v6only", https: addr("0.0.0.0", 443), wantErr: "no non-loopback IPv4 address on interface v6only"},
		{name: "chosen interface missing", iface: "wlan0", https: addr("0.0.0.0", 443), wantErr: `"wlan0" not found`},
		{name: "chosen interface lacks the listener address", iface: "eth0", https: addr("10.0.0.5", 443), wantErr: "does not hold"},
		{name: "loopback listener", https: addr("127.0.0.1", 8443), wantErr: "on loopback", permanent: true},
		{name: "IPv6 loopback listener", https: addr("::1", 8443), wantErr: "on loopback", permanent: true},
		{name: "plain http public URL", https: addr("10.0.0.5", 443), url: "http://portal.example", wantErr: "not an https URL", permanent: true},
		{name: "no listener address", wantErr: "not TCP", permanent: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			u := tc.url
			if u == "" {
				u = url
			}
			o, err := planAnnounce("portal.example", u, tc.iface, tc.https, ifs)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err %v, want %q", err, tc.wantErr)
				}
				if errors.Is(err, errCannotAnnounce) != tc.permanent {
					t.Fatalf("err %v: permanent %v, want %v", err, !tc.permanent, tc.permanent)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, ip := range o.IPs {
				got = append(got, ip.String())
			}
			if strings.Join(got, ",") != strings.Join(tc.wantIPs, ",") {
				t.Fatalf("IPs %v, want %v", got, tc.wantIPs)
			}
			if name := ifaceNameOrEmpty(o.Interface); name != tc.wantIface {
				t.Fatalf("interface %q, want %q", name, tc.wantIface)
			}
			if o.Port != tc.https.Port || o.Host != "portal.example" || o.Instance != "Stoa portal portal-example" ||
				o.TXT["url"] != url || o.TXT["v"] != "1" || len(o.TXT) != 2 {
				t.Fatalf("options %+v", o)
			}
		})
	}
}

func ifaceNameOrEmpty(i *net.Interface) string {
	if i == nil {
		return ""
	}
	return i.Name
}

func TestInstanceName(t *testing.T) {
	for _, tc := range []struct{ fqdn, want string }{
		{"portal.example.com", "Stoa portal portal-example-com"},
		{"portal.example.com.", "Stoa portal portal-example-com"},
		{"10.231.7.1", "Stoa portal 10-231-7-1"},
		{"a\\b\x07c", "Stoa portal a-bc"},
		{strings.Repeat("x", 80), "Stoa portal " + strings.Repeat("x", 51)},
		{strings.Repeat("é", 40), "Stoa portal " + strings.Repeat("é", 25)},
	} {
		t.Run(tc.fqdn, func(t *testing.T) {
			got := instanceName(tc.fqdn)
			if got != tc.want || len(got) > 63 {
				t.Fatalf("instanceName(%q) = %q (%d bytes), want %q", tc.fqdn, got, len(got), tc.want)
			}
		})
	}
}
