package api

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestDecodeSig(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		wantErr string
		check   func(t *testing.T, m SigMessage)
	}{
		{name: "join", in: `{"type":"join","data":{"token":"abc"}}`, check: func(t *testing.T, m SigMessage) {
			j, err := DecodeSigJoin(m)
			if err != nil || j.Token != "abc" {
				t.Fatalf("DecodeSigJoin = %+v, %v", j, err)
			}
		}},
		{name: "join without token", in: `{"type":"join","data":{}}`, check: func(t *testing.T, m SigMessage) {
			if _, err := DecodeSigJoin(m); err == nil || !strings.Contains(err.Error(), "missing token") {
				t.Fatalf("err = %v, want missing token", err)
			}
		}},
		{name: "join unknown payload field", in: `{"type":"join","data":{"token":"a","admin":true}}`, check: func(t *testing.T, m SigMessage) {
			if _, err := DecodeSigJoin(m); err == nil || !strings.Contains(err.Error(), "unknown field") {
				t.Fatalf("err = %v, want unknown field", err)
			}
		}},
		{name: "offer", in: `{"type":"offer","data":{"sdp":"v=0","type":"offer"}}`, check: func(t *testing.T, m SigMessage) {
			s, err := DecodeSigSDP(m)
			if err != nil || s.SDP != "v=0" {
				t.Fatalf("DecodeSigSDP = %+v, %v", s, err)
			}
		}},
		{name: "offer with answer type", in: `{"type":"offer","data":{"sdp":"v=0","type":"answer"}}`, check: func(t *testing.T, m SigMessage) {
			if _, err := DecodeSigSDP(m); err == nil || !strings.Contains(err.Error(), "does not match") {
				t.Fatalf("err = %v, want mismatch", err)
			}
		}},
		{name: "candidate end", in: `{"type":"candidate","data":{"candidate":""}}`, check: func(t *testing.T, m SigMessage) {
			c, err := DecodeSigCandidate(m)
			if err != nil || c.Candidate != "" || c.SDPMid != nil {
				t.Fatalf("DecodeSigCandidate = %+v, %v", c, err)
			}
		}},
		{name: "candidate with mid", in: `{"type":"candidate","data":{"candidate":"candidate:1 1 udp 1 127.0.0.1 5000 typ host","sdpMid":"0","sdpMLineIndex":0}}`, check: func(t *testing.T, m SigMessage) {
			c, err := DecodeSigCandidate(m)
			if err != nil || c.SDPMid == nil || *c.SDPMid != "0" || c.SDPMLineIndex == nil || *c.SDPMLineIndex != 0 {
				t.Fatalf("DecodeSigCandidate = %+v, %v", c, err)
			}
		}},
		{name: "mline index out of range", in: `{"type":"candidate","data":{"candidate":"x","sdpMLineIndex":70000}}`, check: func(t *testing.T, m SigMessage) {
			if _, err := DecodeSigCandidate(m); err == nil {
				t.Fatal("want error for sdpMLineIndex 70000")
			}
		}},
		{name: "mute", in: `{"type":"mute","data":{"track_id":"a1","muted":true}}`, check: func(t *testing.T, m SigMessage) {
			v, err := DecodeSigMute(m)
			if err != nil || !v.Muted || v.TrackID != "a1" {
				t.Fatalf("DecodeSigMute = %+v, %v", v, err)
			}
		}},
		{name: "leave without data", in: `{"type":"leave"}`, check: func(t *testing.T, m SigMessage) {
			if err := DecodeSigData(m, &SigEmpty{}); err != nil {
				t.Fatalf("leave: %v", err)
			}
		}},
		{name: "track event bad kind", in: `{"type":"track","data":{"participant":"p","track":{"id":"t","kind":"text"}}}`, check: func(t *testing.T, m SigMessage) {
			if _, err := DecodeSigTrackEvent(m); err == nil || !strings.Contains(err.Error(), "neither audio nor video") {
				t.Fatalf("err = %v", err)
			}
		}},
		{name: "joined", in: `{"type":"joined","data":{"participant_id":"p1","participants":[{"id":"p2","name":"Ann","kind":"user","tracks":[{"id":"v","kind":"video","muted":false,"simulcast":true}]}]}}`, check: func(t *testing.T, m SigMessage) {
			v, err := DecodeSigJoined(m)
			if err != nil || len(v.Participants) != 1 || !v.Participants[0].Tracks[0].Simulcast {
				t.Fatalf("DecodeSigJoined = %+v, %v", v, err)
			}
		}},
		{name: "error", in: `{"type":"error","data":{"code":"token.expired","error":"expired"}}`, check: func(t *testing.T, m SigMessage) {
			v, err := DecodeSigError(m)
			if err != nil || v.Code != "token.expired" {
				t.Fatalf("DecodeSigError = %+v, %v", v, err)
			}
		}},
		{name: "missing type", in: `{"data":{}}`, wantErr: "missing type"},
		{name: "unknown envelope field", in: `{"type":"join","data":{},"x":1}`, wantErr: "unknown field"},
		{name: "trailing data", in: `{"type":"join"} {}`, wantErr: "trailing data"},
		{name: "not an object", in: `[1,2]`, wantErr: "cannot unmarshal"},
		{name: "oversized", in: `{"type":"join","data":{"token":"` + strings.Repeat("a", MaxSigMessage) + `"}}`, wantErr: "exceeds"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m, err := DecodeSig([]byte(tc.in))
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("DecodeSig err = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("DecodeSig: %v", err)
			}
			tc.check(t, m)
		})
	}
}

func TestNewSigRoundTrip(t *testing.T) {
	mid := "1"
	idx := uint16(1)
	b, err := NewSig(SigTypeCandidate, SigCandidate{Candidate: "c", SDPMid: &mid, SDPMLineIndex: &idx})
	if err != nil {
		t.Fatal(err)
	}
	m, err := DecodeSig(b)
	if err != nil {
		t.Fatal(err)
	}
	c, err := DecodeSigCandidate(m)
	if err != nil || c.Candidate != "c" || *c.SDPMid != "1" || *c.SDPMLineIndex != 1 {
		t.Fatalf("round trip = %+v, %v", c, err)
	}
}

func FuzzDecodeSig(f *testing.F) {
	for _, s := range []string{
		`{"type":"join","data":{"token":"abc"}}`,
		`{"type":"offer","data":{"sdp":"v=0","type":"offer"}}`,
		`{"type":"candidate","data":{"candidate":"","sdpMid":"0","sdpMLineIndex":0}}`,
		`{"type":"mute","data":{"track_id":"a","muted":true}}`,
		`{"type":"track","data":{"participant":"p","track":{"id":"t","kind":"audio"}}}`,
		`{"type":"joined","data":{"participant_id":"p","participants":[]}}`,
		`{"type":"leave"}`, `null`, `{}`, `{"type":"x","data":null}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := DecodeSig(b)
		if err != nil {
			return
		}
		if m.Type == "" {
			t.Fatal("accepted a message without type")
		}
		// Every per-type decoder must return cleanly (no panic) on any accepted envelope.
		_, _ = DecodeSigJoin(m)
		_, _ = DecodeSigSDP(m)
		_, _ = DecodeSigCandidate(m)
		_, _ = DecodeSigMute(m)
		_, _ = DecodeSigJoined(m)
		_, _ = DecodeSigParticipant(m)
		_, _ = DecodeSigParticipantLeft(m)
		_, _ = DecodeSigTrackEvent(m)
		_, _ = DecodeSigActiveSpeaker(m)
		_, _ = DecodeSigReconnect(m)
		_, _ = DecodeSigError(m)
		if j, err := DecodeSigJoin(m); err == nil {
			re, err := NewSig(m.Type, j)
			if err != nil {
				t.Fatal(err)
			}
			m2, err := DecodeSig(re)
			if err != nil {
				t.Fatalf("re-encoded join does not decode: %v", err)
			}
			if j2, err := DecodeSigJoin(m2); err != nil || j2 != j {
				t.Fatalf("join round trip: %+v %v", j2, err)
			}
		}
	})
}

func FuzzDecodeStrict(f *testing.F) {
	f.Add([]byte(`{"meeting":"1234567890","participant":"p","kind":"user"}`))
	f.Add([]byte(`{"router_id":"r","url":"https://127.0.0.1:1","participants":1,"meetings":[{"id":"m","participants":["a"]}]}`))
	f.Add([]byte(`{"pin":"1234","name":"Ann"}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		var a AdmitRequest
		if err := DecodeStrict(b, &a); err == nil {
			re, err := json.Marshal(a)
			if err != nil {
				t.Fatal(err)
			}
			var a2 AdmitRequest
			if err := DecodeStrict(re, &a2); err != nil || a2 != a {
				t.Fatalf("admit round trip: %+v %v", a2, err)
			}
		}
		var h RouterHeartbeat
		_ = DecodeStrict(b, &h)
		var j MeetingJoinRequest
		_ = DecodeStrict(b, &j)
	})
}
