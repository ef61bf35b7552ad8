package proxy

import (
	"net/netip"
	"strings"
	"testing"
)

func TestParseHeartbeatAnswer(t *testing.T) {
	cases := []struct {
		name, in string
		routers  []string
		wantErr  string
	}{
		{"secret and routers", `{"secret":"MDEyMzQ1Njc4OWFiY2RlZg==","router_addrs":["127.0.0.1","10.0.0.5:8445","[::1]:1","::ffff:192.0.2.1"]}`,
			[]string{"127.0.0.1", "10.0.0.5", "::1", "192.0.2.1"}, ""},
		{"no routers", `{"secret":"MDEyMzQ1Njc4OWFiY2RlZg=="}`, nil, ""},
		{"unknown field from a newer manager", `{"secret":"MDEyMzQ1Njc4OWFiY2RlZg==","later":1}`, nil, ""},
		{"no secret", `{"router_addrs":["127.0.0.1"]}`, nil, "secret of 0 bytes"},
		{"short secret", `{"secret":"c2hvcnQ="}`, nil, "secret of 5 bytes"},
		{"secret not base64", `{"secret":"***"}`, nil, "answer:"},
		{"host name", `{"secret":"MDEyMzQ1Njc4OWFiY2RlZg==","router_addrs":["router.example:8445"]}`, nil, "not an IP address"},
		{"zone", `{"secret":"MDEyMzQ1Njc4OWFiY2RlZg==","router_addrs":["fe80::1%eth0"]}`, nil, "not an IP address"},
		{"not JSON", `<html>`, nil, "answer:"},
		{"too large", `{"secret":"` + strings.Repeat("A", maxAnswerBytes) + `"}`, nil, "larger than"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			sec, routers, err := ParseHeartbeatAnswer([]byte(tc.in))
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if string(sec) != "0123456789abcdef" {
				t.Errorf("secret %q", sec)
			}
			var got []string
			for _, r := range routers {
				got = append(got, r.String())
			}
			if strings.Join(got, ",") != strings.Join(tc.routers, ",") {
				t.Errorf("routers %v, want %v", got, tc.routers)
			}
		})
	}
}

func FuzzParseHeartbeatAnswer(f *testing.F) {
	for _, s := range []string{`{"secret":"MDEyMzQ1Njc4OWFiY2RlZg==","router_addrs":["127.0.0.1","[::1]:5"]}`, `{}`, `null`, `{"secret":null}`, `[`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		sec, routers, err := ParseHeartbeatAnswer(b)
		if err != nil {
			return
		}
		if len(sec) < minSecretLen || len(routers) > maxRouterAddrs {
			t.Fatalf("accepted secret %d bytes, %d routers", len(sec), len(routers))
		}
		for _, r := range routers {
			if !r.IsValid() || r.Zone() != "" || r != r.Unmap() {
				t.Fatalf("accepted router %v", r)
			}
			var p Policy
			p.SetRouters([]netip.Addr{r})
		}
	})
}
