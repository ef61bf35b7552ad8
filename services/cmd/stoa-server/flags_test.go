package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestParseFlags(t *testing.T) {
	env := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }
	for _, tc := range []struct {
		name    string
		args    []string
		env     map[string]string
		check   func(t *testing.T, role, dataDir, fqdn string)
		wantErr string
	}{
		{name: "defaults", check: func(t *testing.T, role, dir, fqdn string) {
			if role != "all" || dir != "./var/stoa" || fqdn != "localhost" {
				t.Fatalf("got %s %s %s", role, dir, fqdn)
			}
		}},
		{name: "env data dir", env: map[string]string{"STOA_DATA_DIR": "/srv/stoa"}, check: func(t *testing.T, _, dir, _ string) {
			if dir != "/srv/stoa" {
				t.Fatalf("data dir %s", dir)
			}
		}},
		{name: "flag beats env", args: []string{"--data-dir", "/x"}, env: map[string]string{"STOA_DATA_DIR": "/srv/stoa"}, check: func(t *testing.T, _, dir, _ string) {
			if dir != "/x" {
				t.Fatalf("data dir %s", dir)
			}
		}},
		{name: "role argument", args: []string{"--portal-url", "https://p", "router"}, check: func(t *testing.T, role, _, _ string) {
			if role != "router" {
				t.Fatalf("role %s", role)
			}
		}},
		{name: "role twice", args: []string{"--role", "portal", "router"}, wantErr: "role given twice"},
		{name: "unknown role", args: []string{"bridge"}, wantErr: `role "bridge"`},
		{name: "unknown flag", args: []string{"--colour"}, wantErr: "flag provided but not defined"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := parseFlags(tc.args, env(tc.env))
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tc.check(t, cfg.Role, cfg.DataDir, cfg.Portal.FQDN)
		})
	}
}

func TestParseAnnounceFlags(t *testing.T) {
	dir := t.TempDir()
	on := filepath.Join(dir, "on.json")
	if err := os.WriteFile(on, []byte(`{"portal": {"announce": true, "announce_interface": "eth1"}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	bare := filepath.Join(dir, "bare.json")
	if err := os.WriteFile(bare, []byte(`{"portal": {"announce": true}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name      string
		args      []string
		wantOn    bool
		wantIface string
		wantErr   string
	}{
		{name: "off by default", wantOn: false},
		{name: "flag turns it on", args: []string{"--announce"}, wantOn: true},
		{name: "flag with interface", args: []string{"--announce", "--announce-interface", "veth0"}, wantOn: true, wantIface: "veth0"},
		{name: "config file turns it on", args: []string{"--config", on}, wantOn: true, wantIface: "eth1"},
		{name: "flag overrides the file's interface", args: []string{"--config", on, "--announce-interface", "eth2"}, wantOn: true, wantIface: "eth2"},
		{name: "--announce=false overrides the file", args: []string{"--config", bare, "--announce=false"}, wantOn: false},
		{name: "--announce=false with the file's interface", args: []string{"--config", on, "--announce=false"}, wantErr: "portal.announce is false"},
		{name: "interface without announce", args: []string{"--announce-interface", "eth0"}, wantErr: "portal.announce is false"},
		{name: "bad interface name", args: []string{"--announce", "--announce-interface", "eth/0"}, wantErr: "not a valid interface name"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := parseFlags(tc.args, func(string) string { return "" })
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if cfg.Portal.Announce != tc.wantOn || cfg.Portal.AnnounceInterface != tc.wantIface {
				t.Fatalf("announce %v interface %q, want %v %q", cfg.Portal.Announce, cfg.Portal.AnnounceInterface, tc.wantOn, tc.wantIface)
			}
		})
	}
}

func TestParseRouterICEFlags(t *testing.T) {
	file := filepath.Join(t.TempDir(), "router.json")
	if err := os.WriteFile(file, []byte(`{"router": {"ice_interfaces": ["eth1"], "public_ips": ["203.0.113.7"], "udp_mux_port": 3479}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	type ice struct {
		ifaces, ips       string // comma-joined
		min, max, muxPort int
	}
	for _, tc := range []struct {
		name    string
		args    []string
		want    ice
		wantErr string
	}{
		{name: "loopback only by default"},
		{name: "flags", args: []string{"--ice-interfaces", "eth0, ens5", "--public-ips", "203.0.113.7,198.51.100.2", "--udp-port-min", "40000", "--udp-port-max", "40999"},
			want: ice{ifaces: "eth0,ens5", ips: "203.0.113.7,198.51.100.2", min: 40000, max: 40999}},
		{name: "mux flag", args: []string{"--ice-interfaces", "eth0", "--udp-mux-port", "3479"}, want: ice{ifaces: "eth0", muxPort: 3479}},
		{name: "config file", args: []string{"--config", file}, want: ice{ifaces: "eth1", ips: "203.0.113.7", muxPort: 3479}},
		{name: "flags reset the file to loopback, no mux", args: []string{"--config", file, "--ice-interfaces=", "--public-ips=", "--udp-mux-port=0"}},
		{name: "flag overrides the file's interfaces", args: []string{"--config", file, "--ice-interfaces", "eth2"}, want: ice{ifaces: "eth2", ips: "203.0.113.7", muxPort: 3479}},
		{name: "loopback public IP", args: []string{"--public-ips", "127.0.0.1"}, wantErr: "router.public_ips"},
		{name: "public IP not an address", args: []string{"--public-ips", "stoa.example.com"}, wantErr: "not an IP address"},
		{name: "bad interface", args: []string{"--ice-interfaces", "eth 0"}, wantErr: "router.ice_interfaces"},
		{name: "half range", args: []string{"--udp-port-min", "40000"}, wantErr: "set both"},
		{name: "mux with range", args: []string{"--config", file, "--udp-port-min", "40000", "--udp-port-max", "40010"}, wantErr: "exclusive"},
		{name: "not checked for the portal role", args: []string{"--public-ips", "127.0.0.1", "portal"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := parseFlags(tc.args, func(string) string { return "" })
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			r := cfg.Router
			if cfg.Role == "portal" {
				return // accepted without looking at the router's settings
			}
			got := ice{strings.Join(r.ICEInterfaces, ","), strings.Join(r.PublicIPs, ","), r.UDPPortMin, r.UDPPortMax, r.UDPMuxPort}
			if got != tc.want {
				t.Fatalf("router ICE %+v, want %+v", got, tc.want)
			}
		})
	}
}

// TestParseTURNHostFlag: make run names the proxy in TURN URLs by the portal's FQDN so a room
// in QEMU reaches TURN through a forward (make qemu).
func TestParseTURNHostFlag(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{name: "unset", want: ""},
		{name: "flag", args: []string{"--turn-host", "portal.stoa.localhost"}, want: "portal.stoa.localhost"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := parseFlags(tc.args, func(string) string { return "" })
			if err != nil {
				t.Fatal(err)
			}
			if cfg.Proxy.TURNHost != tc.want {
				t.Fatalf("turn host %q, want %q", cfg.Proxy.TURNHost, tc.want)
			}
		})
	}
}
