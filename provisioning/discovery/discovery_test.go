package discovery

import (
	"net"
	"strings"
	"testing"
)

const inst = "._stoa-portal._tcp.local."

func TestPortalFromEntry(t *testing.T) {
	ip := net.IPv4(10, 0, 0, 5)
	tests := []struct {
		name    string
		entry   string
		host    string
		port    int
		txt     []string
		addrs   []net.IP
		want    Portal
		wantErr string
	}{
		{"url TXT preferred", "Stoa" + inst, "h.example.", 8443, []string{"url=https://portal.example:443", "v=1"}, []net.IP{ip},
			Portal{Instance: "Stoa", URL: "https://portal.example:443", Port: 8443, Addrs: []net.IP{ip}}, ""},
		{"host and port without url", "Stoa" + inst, "h.example.", 8443, nil, []net.IP{ip},
			Portal{Instance: "Stoa", URL: "https://h.example:8443", Port: 8443, Addrs: []net.IP{ip}}, ""},
		{"escaped space in instance", `Stoa\032portal` + inst, "h.example.", 443, []string{"url=https://p.example"}, nil,
			Portal{Instance: "Stoa portal", URL: "https://p.example", Port: 443}, ""},
		{"backslash escape", `Stoa\ portal` + inst, "h.example.", 443, []string{"url=https://p.example"}, nil,
			Portal{Instance: "Stoa portal", URL: "https://p.example", Port: 443}, ""},
		{"keys case-insensitive, first wins", "S" + inst, "h.", 1, []string{"URL=https://a.example", "url=https://b.example"}, nil,
			Portal{Instance: "S", URL: "https://a.example", Port: 1}, ""},
		{"unusable addresses dropped", "S" + inst, "h.", 443, nil, []net.IP{net.IPv4zero, net.IPv4(224, 0, 0, 251), ip},
			Portal{Instance: "S", URL: "https://h:443", Port: 443, Addrs: []net.IP{ip}}, ""},
		{"http url refused", "S" + inst, "h.", 80, []string{"url=http://portal.example"}, nil, Portal{}, "scheme"},
		{"url with user info refused", "S" + inst, "h.", 443, []string{"url=https://u:p@portal.example"}, nil, Portal{}, "user info"},
		{"url without host refused", "S" + inst, "h.", 443, []string{"url=https:///x"}, nil, Portal{}, "no host"},
		{"url too long", "S" + inst, "h.", 443, []string{"url=https://" + strings.Repeat("a", 300)}, nil, Portal{}, "longer than"},
		{"other service", "S._http._tcp.local.", "h.", 443, nil, nil, Portal{}, "not a _stoa-portal._tcp instance"},
		{"instance with two labels", "a.b" + inst, "h.", 443, nil, nil, Portal{}, "more than one label"},
		{"instance too long", strings.Repeat("x", 64) + inst, "h.", 443, nil, nil, Portal{}, "longer than 63"},
		{"instance control character", `a\007b` + inst, "h.", 443, nil, nil, Portal{}, "control"},
		{"empty instance", inst, "h.", 443, nil, nil, Portal{}, "empty"},
		{"port 0", "S" + inst, "h.", 0, nil, nil, Portal{}, "port"},
		{"port too big", "S" + inst, "h.", 70000, nil, nil, Portal{}, "port"},
		{"bad host", "S" + inst, "h_x/y.", 443, nil, nil, Portal{}, "bad character"},
		{"empty host", "S" + inst, "", 443, nil, nil, Portal{}, "length"},
		{"version 2", "S" + inst, "h.", 443, []string{"v=2"}, nil, Portal{}, "version"},
		{"too many TXT strings", "S" + inst, "h.", 443, make([]string, 17), nil, Portal{}, "TXT strings"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := portalFromEntry(tc.entry, tc.host, tc.port, tc.txt, tc.addrs)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error = %v, want one containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.Instance != tc.want.Instance || got.URL != tc.want.URL || got.Port != tc.want.Port || len(got.Addrs) != len(tc.want.Addrs) {
				t.Fatalf("got %+v, want %+v", got, tc.want)
			}
			for i := range got.Addrs {
				if !got.Addrs[i].Equal(tc.want.Addrs[i]) {
					t.Fatalf("addrs %v, want %v", got.Addrs, tc.want.Addrs)
				}
			}
		})
	}
}

// The announcement's options are checked before any socket is opened; service() is the pure part
// of Announce, so this test sends nothing.
func TestAnnounceOptionsValidation(t *testing.T) {
	good := AnnounceOptions{Instance: "Stoa portal", Host: "portal.example", Port: 443, IPs: []net.IP{net.IPv4(10, 0, 0, 1)},
		TXT: map[string]string{"url": "https://portal.example", "v": "1"}}
	tests := []struct {
		name    string
		mod     func(o *AnnounceOptions)
		wantErr string
	}{
		{"good", func(o *AnnounceOptions) {}, ""},
		{"host with trailing dot", func(o *AnnounceOptions) { o.Host = "portal.example." }, ""},
		{"no instance", func(o *AnnounceOptions) { o.Instance = "" }, "empty"},
		{"dot in instance", func(o *AnnounceOptions) { o.Instance = "a.b" }, "'.'"},
		{"bad host", func(o *AnnounceOptions) { o.Host = "portal example" }, "host"},
		{"no port", func(o *AnnounceOptions) { o.Port = 0 }, "port"},
		{"no IPs", func(o *AnnounceOptions) { o.IPs = nil }, "no IPs"},
		{"http url", func(o *AnnounceOptions) { o.TXT = map[string]string{"url": "http://portal.example"} }, "scheme"},
		{"key with =", func(o *AnnounceOptions) { o.TXT = map[string]string{"a=b": "c"} }, "'='"},
		{"TXT too long", func(o *AnnounceOptions) { o.TXT = map[string]string{"x": strings.Repeat("y", 300)} }, "longer than"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			o := good
			tc.mod(&o)
			svc, err := o.service()
			if tc.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				if svc.HostName != "portal.example." || len(svc.TXT) != 2 || svc.TXT[0] != "url=https://portal.example" {
					t.Fatalf("service %+v", svc)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("error = %v, want one containing %q", err, tc.wantErr)
			}
		})
	}
}

func FuzzPortalFromEntry(f *testing.F) {
	f.Add("Stoa"+inst, "h.example.", 8443, "url=https://portal.example:443", "v=1")
	f.Add(`Stoa\032portal`+inst, "h.", 443, "", "")
	f.Add(`a\999`+inst, "h.", 0, "url=", "v")
	f.Fuzz(func(t *testing.T, name, host string, port int, txt1, txt2 string) {
		p, err := portalFromEntry(name, host, port, []string{txt1, txt2}, []net.IP{net.IPv4(10, 0, 0, 1)})
		if err != nil {
			return
		}
		if checkURL(p.URL) != nil || checkInstance(p.Instance) != nil || p.Port < 1 || p.Port > 65535 {
			t.Fatalf("accepted an invalid portal %+v", p)
		}
	})
}
