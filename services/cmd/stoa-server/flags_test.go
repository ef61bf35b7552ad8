package main

import (
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
