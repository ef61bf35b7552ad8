package siteconfig

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestDecode(t *testing.T) {
	key := "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHq3pS1ZbQm0bq8s4r3Ckz2Zb6b0I2C8iQ3ZtV0mDq9k admin@example"
	tests := []struct {
		name, in, wantErr string
	}{
		{"empty object is dhcp, discover", `{}`, ""},
		{"full static", `{"portal_url":"https://portal.example.com:8443","room_name":"Board Room 1","network":{"mode":"static","address":"192.0.2.10/24","gateway":"192.0.2.1","dns":["192.0.2.53"]},"ssh_authorized_keys":["` + key + `"],"hosts":[{"name":"portal.example.com","address":"192.0.2.5"}]}`, ""},
		{"unknown key", `{"portal":"x"}`, "unknown field"},
		{"trailing data", `{} {}`, "trailing data"},
		{"http portal", `{"portal_url":"http://p.example"}`, "not an https"},
		{"portal with path", `{"portal_url":"https://p.example/x"}`, "has a path"},
		{"bad mode", `{"network":{"mode":"ppp"}}`, "neither dhcp nor static"},
		{"dhcp with address", `{"network":{"mode":"dhcp","address":"192.0.2.1/24"}}`, "takes no address"},
		{"static without CIDR", `{"network":{"mode":"static","address":"192.0.2.10"}}`, "not CIDR"},
		{"gateway outside", `{"network":{"mode":"static","address":"192.0.2.10/24","gateway":"198.51.100.1"}}`, "outside"},
		{"bad dns", `{"network":{"mode":"static","address":"192.0.2.10/24","dns":["dns.example"]}}`, "dns[0]"},
		{"bad ssh key", `{"ssh_authorized_keys":["hello"]}`, "ssh_authorized_keys[0]"},
		{"two keys in one line", `{"ssh_authorized_keys":["` + key + `\n` + key + `"]}`, "ssh_authorized_keys[0]"},
		{"bad host name", `{"hosts":[{"name":"-x","address":"192.0.2.1"}]}`, "not a host name"},
		{"bad host address", `{"hosts":[{"name":"x","address":"nope"}]}`, "hosts[0]: address"},
		{"control chars in name", `{"room_name":"a\u0007b"}`, "room_name"},
		{"oversized", `{"room_name":"` + strings.Repeat("a", maxSize) + `"}`, "larger than"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, err := Decode(strings.NewReader(tc.in))
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("Decode: %v", err)
				}
				back, err := Decode(bytes.NewReader(s.Encode()))
				if err != nil || back.PortalURL != s.PortalURL || back.Network.Mode != s.Network.Mode {
					t.Fatalf("round trip: %+v %v", back, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("Decode error = %v, want it to mention %q", err, tc.wantErr)
			}
		})
	}
}

func TestHostname(t *testing.T) {
	for in, want := range map[string]string{"": "stoa-room", "Board Room 1": "board-room-1", "  Café--Ω ": "caf", "---": "stoa-room"} {
		if got := (Site{RoomName: in}).Hostname(); got != want {
			t.Errorf("Hostname(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestApply(t *testing.T) {
	tests := []struct {
		name       string
		stored     string // config/site.json on the data partition ("" none)
		drop       string // stoa-config.json on the boot partition ("" none)
		wantPortal string
		wantFiles  []string // rendered, relative to run
		noFiles    []string
		rejected   bool
	}{
		{name: "nothing stored: defaults", wantFiles: []string{RoomdConfig, HostsFile, TimesyncdFile}, noFiles: []string{NetworkFile, AuthorizedKeys}},
		{name: "stored static", stored: `{"portal_url":"https://p.example","network":{"mode":"static","address":"192.0.2.10/24"}}`, wantPortal: "https://p.example", wantFiles: []string{NetworkFile}},
		{name: "drop replaces stored", stored: `{"portal_url":"https://old.example"}`, drop: `{"portal_url":"https://new.example","ssh_authorized_keys":["ssh-ed25519 AAAAC3Nz"]}`, wantPortal: "https://new.example", wantFiles: []string{AuthorizedKeys}},
		{name: "bad drop keeps stored", stored: `{"portal_url":"https://old.example"}`, drop: `{"portal_url":"ftp://x"}`, wantPortal: "https://old.example", rejected: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := Dirs{Boot: t.TempDir(), Data: t.TempDir(), Run: t.TempDir()}
			if tc.stored != "" {
				if err := WriteAtomic(filepath.Join(d.Data, StoredPath), []byte(tc.stored), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			if tc.drop != "" {
				if err := os.WriteFile(filepath.Join(d.Boot, DropName), []byte(tc.drop), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			res, err := Apply(d)
			if err != nil {
				t.Fatalf("Apply: %v", err)
			}
			if res.Site.PortalURL != tc.wantPortal || (res.Rejected != "") != tc.rejected || res.Imported != (tc.drop != "" && !tc.rejected) {
				t.Fatalf("result %+v", res)
			}
			for _, f := range tc.wantFiles {
				if _, err := os.Stat(filepath.Join(d.Run, f)); err != nil {
					t.Errorf("%s not rendered: %v", f, err)
				}
			}
			for _, f := range tc.noFiles {
				if _, err := os.Stat(filepath.Join(d.Run, f)); err == nil {
					t.Errorf("%s rendered, want none", f)
				}
			}
			if tc.drop != "" {
				suffix := ".applied"
				if tc.rejected {
					suffix = ".rejected"
				}
				if _, err := os.Stat(filepath.Join(d.Boot, DropName+suffix)); err != nil {
					t.Errorf("drop file not renamed %s: %v", suffix, err)
				}
			}
			rj, _ := os.ReadFile(filepath.Join(d.Run, RoomdConfig))
			if tc.wantPortal != "" && !strings.Contains(string(rj), tc.wantPortal) {
				t.Errorf("roomd.json %s lacks %s", rj, tc.wantPortal)
			}
			ts, _ := os.ReadFile(filepath.Join(d.Run, TimesyncdFile))
			if !strings.Contains(string(ts), "FallbackNTP=\n") {
				t.Errorf("timesyncd config allows a fallback pool: %s", ts)
			}
		})
	}
}

func FuzzDecode(f *testing.F) {
	for _, s := range []string{`{}`, `{"portal_url":"https://p.example:1"}`, `{"network":{"mode":"static","address":"10.0.0.2/8","gateway":"10.0.0.1"}}`, `{"hosts":[{"name":"a.b","address":"::1"}]}`, `{"ssh_authorized_keys":["ssh-rsa AAAA x"]}`, `[`, `{"room_name":1}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		s, err := Decode(bytes.NewReader(in))
		if err != nil {
			return
		}
		// Whatever decodes renders, and its encoding decodes to the same rendering.
		files, err := Render(s)
		if err != nil {
			t.Fatalf("valid config does not render: %v", err)
		}
		s2, err := Decode(bytes.NewReader(s.Encode()))
		if err != nil {
			t.Fatalf("encoding does not decode: %v", err)
		}
		files2, _ := Render(s2)
		if len(files) != len(files2) {
			t.Fatalf("render differs after round trip")
		}
	})
}
