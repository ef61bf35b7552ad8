//go:build cgo

package roomd

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/stoa-rooms/stoa/firmware/call"
	"github.com/stoa-rooms/stoa/services/api"
)

func TestJoinMeetingNotPaired(t *testing.T) {
	a := startAgent(t, "https://127.0.0.1:1")
	_, err := a.JoinMeeting(t.Context(), "1234567890", "", call.Options{})
	if !errors.Is(err, ErrNotPaired) {
		t.Fatalf("JoinMeeting on an unpaired room: %v, want ErrNotPaired", err)
	}
}

// TestCapabilitiesE2EE: a roomd that makes calls declares end-to-end encryption, which the
// portal's Secured option requires of every room.
func TestCapabilitiesE2EE(t *testing.T) {
	if !slices.Contains(capabilities(), api.CapabilityE2EE) {
		t.Fatalf("capabilities %q lack %q", capabilities(), api.CapabilityE2EE)
	}
}

func TestDecodeJoinAnswer(t *testing.T) {
	for _, tc := range []struct {
		name, body, wantErr string
	}{
		{"ok", `{"token":"t","signal_url":"wss://portal:443/api/v1/rtc/r1","participant_id":"p","router_id":"r1","ice_servers":[]}`, ""},
		{"ws in tests", `{"token":"t","signal_url":"ws://127.0.0.1:1/rtc","participant_id":"p","router_id":"r","ice_servers":null}`, ""},
		{"secured", `{"token":"t","signal_url":"wss://x/rtc","participant_id":"p","router_id":"r","ice_servers":[],"secured":true,"token_key":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="}`, ""},
		{"token key not ed25519", `{"token":"t","signal_url":"wss://x/rtc","secured":true,"token_key":"AAAA"}`, "token_key of 3 bytes"},
		{"no token", `{"token":"","signal_url":"wss://x/rtc","participant_id":"p","router_id":"r","ice_servers":[]}`, "no token"},
		{"https url", `{"token":"t","signal_url":"https://x/rtc","participant_id":"p","router_id":"r","ice_servers":[]}`, "not a ws(s)://"},
		{"unknown field", `{"token":"t","signal_url":"wss://x/rtc","extra":1}`, "unknown field"},
		{"trailing", `{"token":"t","signal_url":"wss://x/rtc"} {}`, "trailing"},
		{"not json", `<html>`, "decode join answer"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			jr, err := DecodeJoinAnswer([]byte(tc.body))
			if tc.wantErr == "" {
				if err != nil || jr.Token != "t" {
					t.Fatalf("%+v %v", jr, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("err %v, want %q", err, tc.wantErr)
			}
		})
	}
}

func FuzzDecodeJoinAnswer(f *testing.F) {
	f.Add([]byte(`{"token":"t","signal_url":"wss://portal/api/v1/rtc/r1","participant_id":"p","router_id":"r1","ice_servers":[{"urls":["turn:127.0.0.1:3478"],"username":"u","credential":"c"}]}`))
	f.Add([]byte(`{"token":"","signal_url":"ws://"}`))
	f.Add([]byte(`null`))
	f.Fuzz(func(t *testing.T, b []byte) {
		jr, err := DecodeJoinAnswer(b)
		if err == nil && (jr.Token == "" || !(strings.HasPrefix(jr.SignalURL, "wss://") || strings.HasPrefix(jr.SignalURL, "ws://"))) {
			t.Fatalf("accepted %+v", jr)
		}
	})
}
