package rooms

import (
	"encoding/json"
	"strings"
	"testing"
)

// Every decoder of outside data refuses what it cannot use and never panics; what it accepts
// re-encodes to a body it accepts again.

func FuzzDecodePairRequest(f *testing.F) {
	for _, s := range []string{`{"code":"1234 5678 9012","name":"Boardroom"}`, `{"code":"123456789012"}`,
		`{"code":"0000 0000 0000","name":"x"}`, `{"code":"1234-5678-9012","name":"\u202e"}`, `{"code":1}`, `{}`, `{"code":"1234 5678 9012","x":1}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		req, code, err := DecodePairRequest(b)
		if err != nil {
			return
		}
		if len(code.Locator()) != 4 || len(req.Name) > maxNameLen {
			t.Fatalf("accepted %q: code %q name %q", b, code, req.Name)
		}
	})
}

func FuzzDecodeRename(f *testing.F) {
	for _, s := range []string{`{"name":"Lobby"}`, `{"name":""}`, `{"name":"a\nb"}`, `{"name":"` + strings.Repeat("x", 65) + `"}`, `[]`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		req, err := DecodeRename(b)
		if err != nil {
			return
		}
		if _, err := CheckName(req.Name); err != nil {
			t.Fatalf("accepted name %q that CheckName refuses: %v", req.Name, err)
		}
	})
}

func FuzzDecodeRoomStatus(f *testing.F) {
	for _, s := range []string{`{"firmware":"0.1.0","bundle_version":3,"cert_not_after":"2026-01-01T00:00:00Z","uptime_seconds":5,"in_call":false,"portal_https_trusted":true}`,
		`{"bundle_version":-1}`, `{"uptime_seconds":-1}`, `{"firmware":"\u0000"}`, `{"portal_https_error":"x509: unknown authority"}`, `{} {}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		st, err := DecodeRoomStatus(b)
		if err != nil {
			return
		}
		again, err := json.Marshal(st)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := DecodeRoomStatus(again); err != nil {
			t.Fatalf("re-encoded status refused: %v (%s)", err, again)
		}
	})
}

func FuzzDecodeSmallRequests(f *testing.F) {
	for _, s := range []string{`{"room_id":""}`, `{"room_id":"0123456789abcdef0123456789abcdef"}`, `{"wait_seconds":60,"force":true}`,
		`{"wait_seconds":601}`, `{"csr_pem":"-----BEGIN CERTIFICATE REQUEST-----"}`, ``, ` `} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if req, err := DecodePushRequest(b); err == nil && req.RoomID != "" && !validID(req.RoomID) {
			t.Fatalf("push accepted room_id %q", req.RoomID)
		}
		if req, err := DecodeActivateRequest(b); err == nil && (req.WaitSeconds < 0 || req.WaitSeconds > 600) {
			t.Fatalf("activate accepted wait_seconds %d", req.WaitSeconds)
		}
		if req, err := DecodeRenewRequest(b); err == nil {
			if _, err := parseCSR(req.CSRPEM); err == nil && req.CSRPEM == "" {
				t.Fatal("empty CSR parsed")
			}
		}
	})
}

func TestDecoders(t *testing.T) {
	tests := []struct {
		name string
		err  bool
		run  func() error
	}{
		{"pair ok", false, func() error {
			_, _, err := DecodePairRequest([]byte(`{"code":"1234 5678 9012","name":" Boardroom "}`))
			return err
		}},
		{"pair bad code", true, func() error { _, _, err := DecodePairRequest([]byte(`{"code":"12345"}`)); return err }},
		{"pair unknown field", true, func() error {
			_, _, err := DecodePairRequest([]byte(`{"code":"1234 5678 9012","admin":true}`))
			return err
		}},
		{"pair bidi name", true, func() error {
			_, _, err := DecodePairRequest([]byte(`{"code":"1234 5678 9012","name":"a\u202eb"}`))
			return err
		}},
		{"rename empty", true, func() error { _, err := DecodeRename([]byte(`{"name":"  "}`)); return err }},
		{"push bad id", true, func() error { _, err := DecodePushRequest([]byte(`{"room_id":"../x"}`)); return err }},
		{"activate empty body", false, func() error { _, err := DecodeActivateRequest(nil); return err }},
		{"activate too long", true, func() error { _, err := DecodeActivateRequest([]byte(`{"wait_seconds":3600}`)); return err }},
		{"status trailing", true, func() error { _, err := DecodeRoomStatus([]byte(`{}{}`)); return err }},
		{"status oversized", true, func() error {
			_, err := DecodeRoomStatus([]byte(`{"firmware":"` + strings.Repeat("a", maxBody) + `"}`))
			return err
		}},
		{"renew empty", true, func() error { _, err := DecodeRenewRequest([]byte(`{"csr_pem":""}`)); return err }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.run(); (err != nil) != tc.err {
				t.Fatalf("error %v, want error: %v", err, tc.err)
			}
		})
	}
}
