package rooms

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/stoa-rooms/stoa/services/api"
)

func TestDecodeRoomJoin(t *testing.T) {
	tests := []struct {
		name, body string
		want       api.RoomJoinRequest
		errHas     string
	}{
		{"empty body is the default meeting", "", api.RoomJoinRequest{}, ""},
		{"empty meeting", `{"meeting_id":""}`, api.RoomJoinRequest{}, ""},
		{"grouped id", `{"meeting_id":"123 456-7890","pin":"0042"}`, api.RoomJoinRequest{MeetingID: "1234567890", PIN: "0042"}, ""},
		{"short id", `{"meeting_id":"12345"}`, api.RoomJoinRequest{}, "ten digits"},
		{"letters in id", `{"meeting_id":"12345abcde"}`, api.RoomJoinRequest{}, "meeting_id"},
		{"pin not digits", `{"meeting_id":"","pin":"12a4"}`, api.RoomJoinRequest{}, "digits only"},
		{"pin too long", `{"pin":"1234567890123"}`, api.RoomJoinRequest{}, "longer than 12"},
		{"e2ee key", `{"e2ee_key":"` + strings.Repeat("A", 43) + `"}`, api.RoomJoinRequest{E2EEKey: strings.Repeat("A", 43)}, ""},
		{"e2ee key not base64url", `{"e2ee_key":"!!"}`, api.RoomJoinRequest{}, "e2ee_key"},
		{"e2ee key wrong size", `{"e2ee_key":"AAAA"}`, api.RoomJoinRequest{}, "e2ee_key"},
		{"unknown field", `{"meeting_id":"","name":"x"}`, api.RoomJoinRequest{}, "unknown field"},
		{"trailing data", `{}{}`, api.RoomJoinRequest{}, "trailing"},
		{"not an object", `[]`, api.RoomJoinRequest{}, "invalid JSON"},
		{"too large", `{"pin":"` + strings.Repeat("1", maxBody) + `"}`, api.RoomJoinRequest{}, "larger than"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := DecodeRoomJoin([]byte(tc.body))
			if tc.errHas != "" {
				if err == nil || !strings.Contains(err.Error(), tc.errHas) {
					t.Fatalf("error %v, want one containing %q", err, tc.errHas)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("got %+v, %v; want %+v", got, err, tc.want)
			}
		})
	}
}

func FuzzDecodeRoomJoin(f *testing.F) {
	for _, s := range []string{"", `{}`, `{"meeting_id":""}`, `{"meeting_id":"123 456 7890","pin":"1234"}`,
		`{"meeting_id":"1234567890","pin":"x"}`, `{"meeting_id":null}`, `{"pin":"` + strings.Repeat("9", 13) + `"}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		req, err := DecodeRoomJoin(b)
		if err != nil {
			return
		}
		if req.MeetingID != "" && (len(req.MeetingID) != 10 || strings.Trim(req.MeetingID, "0123456789") != "") {
			t.Fatalf("accepted meeting_id %q", req.MeetingID)
		}
		if len(req.PIN) > maxJoinPIN || strings.Trim(req.PIN, "0123456789") != "" {
			t.Fatalf("accepted pin %q", req.PIN)
		}
		// What was accepted round-trips to itself.
		again, _ := json.Marshal(req)
		if back, err := DecodeRoomJoin(again); err != nil || back != req {
			t.Fatalf("round trip %+v → %+v, %v", req, back, err)
		}
	})
}
