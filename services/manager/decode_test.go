package manager

import (
	"strings"
	"testing"
)

func TestDecoders(t *testing.T) {
	okRouter := `{"router_id":"` + rid(1) + `","url":"https://127.0.0.1:8445","participants":1,"meetings":[{"id":"m","participants":["p"]}]}`
	tests := []struct {
		name    string
		decode  func([]byte) error
		in      string
		wantErr string // "" = accepted
	}{
		{"router ok", decR, okRouter, ""},
		{"router bad id", decR, `{"router_id":"r1","url":"https://h:1"}`, "not a component ID"},
		{"router http url", decR, `{"router_id":"` + rid(1) + `","url":"http://h:1"}`, "not https://host:port"},
		{"router url with path", decR, `{"router_id":"` + rid(1) + `","url":"https://h:1/x"}`, "not https://host:port"},
		{"router negative", decR, `{"router_id":"` + rid(1) + `","url":"https://h:1","participants":-1}`, "negative"},
		{"router duplicate meeting", decR, `{"router_id":"` + rid(1) + `","url":"https://h:1","meetings":[{"id":"m"},{"id":"m"}]}`, "listed twice"},
		{"router empty participant", decR, `{"router_id":"` + rid(1) + `","url":"https://h:1","meetings":[{"id":"m","participants":[""]}]}`, "participant id is empty"},
		{"router trailing", decR, okRouter + `{}`, "trailing data"},
		{"proxy ok", decP, `{"proxy_id":"` + rid(2) + `","urls":["turn:127.0.0.1:3478?transport=udp","turns:proxy.example:5349?transport=tcp"]}`, ""},
		{"proxy no urls", decP, `{"proxy_id":"` + rid(2) + `","urls":[]}`, "0 urls"},
		{"proxy stun url", decP, `{"proxy_id":"` + rid(2) + `","urls":["stun:127.0.0.1:3478"]}`, "not a turn"},
		{"proxy bad query", decP, `{"proxy_id":"` + rid(2) + `","urls":["turn:h:1?transport=sctp"]}`, "transport=udp"},
		{"admit ok", decA, `{"meeting":"1234567890","participant":"p","name":"Ada","kind":"room"}`, ""},
		{"admit no meeting", decA, `{"participant":"p","kind":"user"}`, "meeting is empty"},
		{"admit bad kind", decA, `{"meeting":"m","participant":"p","kind":"admin"}`, `kind "admin"`},
		{"admit control chars", decA, `{"meeting":"m\n","participant":"p","kind":"user"}`, "control characters"},
		{"admit long id", decA, `{"meeting":"` + strings.Repeat("m", 200) + `","participant":"p","kind":"user"}`, "more than 128"},
		{"admit unknown field", decA, `{"meeting":"m","participant":"p","kind":"user","seats":99}`, "unknown field"},
		{"leave ok", decL, `{"meeting":"m","participant":"p"}`, ""},
		{"leave no participant", decL, `{"meeting":"m"}`, "participant is empty"},
		{"leave not json", decL, `meeting=m`, "invalid character"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.decode([]byte(tc.in))
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("err = %v, want %q", err, tc.wantErr)
			}
		})
	}
}

func decR(b []byte) error { _, err := DecodeRouterHeartbeat(b); return err }
func decP(b []byte) error { _, err := DecodeProxyHeartbeat(b); return err }
func decA(b []byte) error { _, err := DecodeAdmit(b); return err }
func decL(b []byte) error { _, err := DecodeLeave(b); return err }

func FuzzDecodeRouterHeartbeat(f *testing.F) {
	f.Add([]byte(`{"router_id":"` + rid(1) + `","url":"https://127.0.0.1:8445","participants":1,"meetings":[{"id":"m","participants":["p"]}]}`))
	f.Add([]byte(`{"router_id":"x","url":"https://[::1]:1/"}`))
	f.Add([]byte(`null`))
	f.Fuzz(func(t *testing.T, b []byte) {
		hb, err := DecodeRouterHeartbeat(b)
		if err != nil {
			return
		}
		if checkRouterHeartbeat(hb) != nil || hb.Participants < 0 {
			t.Fatalf("accepted an invalid heartbeat %+v", hb)
		}
		// Whatever is accepted must be safe to apply.
		s := New(Options{Secret: testSecret})
		s.RouterHeartbeat(hb, "127.0.0.1:1")
	})
}

func FuzzDecodeProxyHeartbeat(f *testing.F) {
	f.Add([]byte(`{"proxy_id":"` + rid(2) + `","urls":["turn:127.0.0.1:3478?transport=udp"]}`))
	f.Add([]byte(`{"proxy_id":"` + rid(2) + `","urls":["turns:h:5349?transport=tcp","turn:h"]}`))
	f.Add([]byte(`{"urls":null}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		hb, err := DecodeProxyHeartbeat(b)
		if err != nil {
			return
		}
		for _, u := range hb.URLs {
			if !strings.HasPrefix(u, "turn:") && !strings.HasPrefix(u, "turns:") {
				t.Fatalf("accepted url %q", u)
			}
		}
	})
}

func FuzzDecodeAdmit(f *testing.F) {
	f.Add([]byte(`{"meeting":"1234567890","participant":"p","name":"Ada","kind":"user"}`))
	f.Add([]byte(`{"meeting":"m","participant":"p","kind":"guest","name":"\u00e9"}`))
	f.Add([]byte(`{}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		req, err := DecodeAdmit(b)
		if err != nil {
			return
		}
		if checkID("m", req.Meeting) != nil || checkID("p", req.Participant) != nil || len(req.Name) > maxNameLen {
			t.Fatalf("accepted %+v", req)
		}
	})
}

func FuzzDecodeLeave(f *testing.F) {
	f.Add([]byte(`{"meeting":"m","participant":"p"}`))
	f.Add([]byte(`{"meeting":"","participant":"p"}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		req, err := DecodeLeave(b)
		if err != nil {
			return
		}
		if req.Meeting == "" || req.Participant == "" {
			t.Fatalf("accepted %+v", req)
		}
	})
}
