package config

import (
	"slices"
	"strings"
	"testing"
)

func TestRouterICEConfig(t *testing.T) {
	d := Default()
	if len(d.Router.ICEInterfaces) != 0 || len(d.Router.PublicIPs) != 0 || d.Router.UDPPortMin != 0 || d.Router.UDPPortMax != 0 || d.Router.UDPMuxPort != 0 {
		t.Errorf("defaults must be loopback only with no ports: %+v", d.Router)
	}
	t.Run("decodes inline with the component keys", func(t *testing.T) {
		c := Default()
		err := Decode(strings.NewReader(`{"router":{"addr":"127.0.0.1:9445","ice_interfaces":["eth0","ens5"],`+
			`"public_ips":["203.0.113.7"],"udp_port_min":40000,"udp_port_max":40999}}`), &c)
		if err != nil {
			t.Fatal(err)
		}
		if c.Router.Addr != "127.0.0.1:9445" || c.Router.FQDN != "localhost" || !slices.Equal(c.Router.ICEInterfaces, []string{"eth0", "ens5"}) ||
			!slices.Equal(c.Router.PublicIPs, []string{"203.0.113.7"}) || c.Router.UDPPortMin != 40000 || c.Router.UDPPortMax != 40999 || c.Router.UDPMuxPort != 0 {
			t.Errorf("decoded %+v", c.Router)
		}
		if err := c.Validate(); err != nil {
			t.Error(err)
		}
	})
	good := []struct {
		name string
		edit func(*Router)
	}{
		{"mux port", func(r *Router) { r.ICEInterfaces, r.UDPMuxPort = []string{"lo"}, 3479 }},
		{"single-port range", func(r *Router) { r.UDPPortMin, r.UDPPortMax = 50000, 50000 }},
		{"vlan interface", func(r *Router) { r.ICEInterfaces = []string{"eth0.100", "br-lan"} }},
	}
	for _, tc := range good {
		t.Run(tc.name, func(t *testing.T) {
			c := Default()
			tc.edit(&c.Router)
			if err := c.Validate(); err != nil {
				t.Error(err)
			}
		})
	}
	bad := []struct {
		name string
		edit func(*Router)
		want string
	}{
		{"empty interface name", func(r *Router) { r.ICEInterfaces = []string{""} }, "router.ice_interfaces"},
		{"interface name too long", func(r *Router) { r.ICEInterfaces = []string{"sixteen-chars-xx"} }, "router.ice_interfaces"},
		{"interface name with slash", func(r *Router) { r.ICEInterfaces = []string{"eth/0"} }, "router.ice_interfaces"},
		{"interface name with space", func(r *Router) { r.ICEInterfaces = []string{"eth 0"} }, "router.ice_interfaces"},
		{"interface name dotdot", func(r *Router) { r.ICEInterfaces = []string{".."} }, "router.ice_interfaces"},
		{"public IP a name", func(r *Router) { r.PublicIPs = []string{"stoa.example.com"} }, "not an IP address"},
		{"public IP loopback", func(r *Router) { r.PublicIPs = []string{"127.0.0.1"} }, "loopback or unspecified"},
		{"public IP unspecified", func(r *Router) { r.PublicIPs = []string{"0.0.0.0"} }, "loopback or unspecified"},
		{"public IP v6 unspecified", func(r *Router) { r.PublicIPs = []string{"::"} }, "loopback or unspecified"},
		{"public IP v6", func(r *Router) { r.PublicIPs = []string{"2001:db8::1"} }, "not IPv4"},
		{"negative port", func(r *Router) { r.UDPPortMin, r.UDPPortMax = -1, 10 }, "router.udp_port_min"},
		{"port too big", func(r *Router) { r.UDPMuxPort = 70000 }, "router.udp_mux_port"},
		{"only min", func(r *Router) { r.UDPPortMin = 40000 }, "set both"},
		{"only max", func(r *Router) { r.UDPPortMax = 40000 }, "set both"},
		{"inverted range", func(r *Router) { r.UDPPortMin, r.UDPPortMax = 41000, 40000 }, "min <= max"},
		{"mux and range", func(r *Router) { r.UDPPortMin, r.UDPPortMax, r.UDPMuxPort = 40000, 40999, 3479 }, "exclusive"},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			c := Default()
			tc.edit(&c.Router)
			if err := c.Validate(); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want %q", err, tc.want)
			}
			c.Role = "portal" // only roles running the router check its ICE settings
			if err := c.Validate(); err != nil {
				t.Errorf("role portal: %v", err)
			}
		})
	}
}
