package config

import (
	"strings"
	"testing"
)

func TestProxyTURNConfig(t *testing.T) {
	d := Default()
	if d.Proxy.TURNUDPAddr != "127.0.0.1:3478" || d.Proxy.TURNTCPAddr != "127.0.0.1:3478" || d.Proxy.TURNTLSAddr != "127.0.0.1:5349" ||
		d.Proxy.RelayIP != "127.0.0.1" || d.Proxy.MaxAllocationsPerUser != 10 {
		t.Errorf("defaults %+v", d.Proxy)
	}
	t.Run("decodes inline with the component keys", func(t *testing.T) {
		c := Default()
		err := Decode(strings.NewReader(`{"proxy":{"addr":"127.0.0.1:9446","turn_udp_addr":"127.0.0.1:0","turn_tls_addr":"",`+
			`"relay_ip":"127.0.0.2","max_allocations_per_user":3}}`), &c)
		if err != nil {
			t.Fatal(err)
		}
		if c.Proxy.Addr != "127.0.0.1:9446" || c.Proxy.FQDN != "localhost" || c.Proxy.TURNUDPAddr != "127.0.0.1:0" || c.Proxy.TURNTLSAddr != "" ||
			c.Proxy.TURNTCPAddr != "127.0.0.1:3478" || c.Proxy.RelayIP != "127.0.0.2" || c.Proxy.MaxAllocationsPerUser != 3 {
			t.Errorf("decoded %+v", c.Proxy)
		}
		if err := c.Validate(); err != nil {
			t.Error(err)
		}
	})
	bad := []struct {
		name string
		edit func(*Proxy)
		want string
	}{
		{"bad UDP address", func(p *Proxy) { p.TURNUDPAddr = "3478" }, "proxy.turn_udp_addr"},
		{"bad TLS address", func(p *Proxy) { p.TURNTLSAddr = "localhost" }, "proxy.turn_tls_addr"},
		{"no transport", func(p *Proxy) { p.TURNUDPAddr, p.TURNTCPAddr, p.TURNTLSAddr = "", "", "" }, "all empty"},
		{"relay IP a name", func(p *Proxy) { p.RelayIP = "localhost" }, "proxy.relay_ip"},
		{"relay IP wildcard", func(p *Proxy) { p.RelayIP = "0.0.0.0" }, "proxy.relay_ip"},
		{"no cap", func(p *Proxy) { p.MaxAllocationsPerUser = 0 }, "max_allocations_per_user"},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			c := Default()
			tc.edit(&c.Proxy)
			if err := c.Validate(); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want %q", err, tc.want)
			}
			c.Role = "portal" // only roles running the proxy check its TURN settings
			if err := c.Validate(); err != nil {
				t.Errorf("role portal: %v", err)
			}
		})
	}
}
