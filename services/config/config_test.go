package config

import (
	"strings"
	"testing"
)

func TestDecodeStrict(t *testing.T) {
	for _, tc := range []struct {
		name, in, wantErr string
	}{
		{"empty object keeps defaults", `{}`, ""},
		{"override", `{"portal": {"fqdn": "portal.example.com"}}`, ""},
		{"unknown key", `{"portal": {"fqdn": "x", "colour": "blue"}}`, `unknown field "colour"`},
		{"unknown top key", `{"rol": "all"}`, `unknown field "rol"`},
		{"bad duration", `{"portal": {"session_idle": 5}}`, "duration must be a string"},
		{"trailing", `{} {}`, "trailing data"},
		{"bad role", `{"role": "conductor"}`, `role "conductor"`},
		{"bad addr", `{"portal": {"https_addr": "nope"}}`, "portal.https_addr"},
		{"idle over max", `{"portal": {"session_idle": "13h"}}`, "session_idle"},
		{"component needs portal", `{"role": "router"}`, "router.portal_url is empty"},
		{"announce on", `{"portal": {"announce": true}}`, ""},
		{"announce on an interface", `{"portal": {"announce": true, "announce_interface": "eth0"}}`, ""},
		{"interface without announce", `{"portal": {"announce_interface": "eth0"}}`, "portal.announce is false"},
		{"interface name too long", `{"portal": {"announce": true, "announce_interface": "abcdefghijklmnop"}}`, "not a valid interface name"},
		{"interface name with slash", `{"portal": {"announce": true, "announce_interface": "eth/0"}}`, "not a valid interface name"},
		{"interface name with space", `{"portal": {"announce": true, "announce_interface": "eth 0"}}`, "not a valid interface name"},
		{"interface name dot dot", `{"portal": {"announce": true, "announce_interface": ".."}}`, "not a valid interface name"},
		{"announce not a bool", `{"portal": {"announce": "yes"}}`, "decode config"},
		{"turn host", `{"proxy": {"turn_host": "portal.stoa.test"}}`, ""},
		{"turn host with port", `{"proxy": {"turn_host": "portal.stoa.test:3478"}}`, "proxy.turn_host"},
		{"turn host with space", `{"proxy": {"turn_host": "a b"}}`, "proxy.turn_host"},
		{"max update bytes", `{"portal": {"max_update_bytes": 1073741824}}`, ""},
		{"negative max update bytes", `{"portal": {"max_update_bytes": -1}}`, "portal.max_update_bytes"},
		{"max update bytes not a number", `{"portal": {"max_update_bytes": "4G"}}`, "decode config"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := Default()
			err := Decode(strings.NewReader(tc.in), &c)
			if err == nil {
				err = c.Validate()
			}
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("error %v, want it to mention %q", err, tc.wantErr)
			}
		})
	}
	c := Default()
	_ = Decode(strings.NewReader(`{"portal": {"fqdn": "portal.example.com"}}`), &c)
	if c.Portal.FQDN != "portal.example.com" || c.Portal.HTTPSAddr != "127.0.0.1:8443" {
		t.Fatalf("override lost defaults: %+v", c.Portal)
	}
	if c.Portal.Announce || Default().Portal.Announce {
		t.Fatal("portal.announce is on by default: multicast must be asked for")
	}
}

func FuzzDecode(f *testing.F) {
	f.Add(`{"portal": {"fqdn": "x", "session_idle": "1m"}}`)
	f.Add(`{"role": "all", "manager": {"addr": "127.0.0.1:1"}}`)
	f.Fuzz(func(t *testing.T, in string) {
		c := Default()
		if Decode(strings.NewReader(in), &c) == nil {
			_ = c.Validate()
		}
	})
}
