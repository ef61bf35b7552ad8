package router

import (
	"testing"
	"time"
)

func FuzzDecodeClientMessage(f *testing.F) {
	for _, s := range []string{
		`{"type":"join","data":{"token":"t"}}`,
		`{"type":"offer","data":{"sdp":"v=0","type":"offer"}}`,
		`{"type":"candidate","data":{"candidate":"candidate:1 1 udp 1 127.0.0.1 9 typ host","sdpMid":"0","sdpMLineIndex":0}}`,
		`{"type":"mute","data":{"track_id":"a","muted":true}}`,
		`{"type":"leave"}`, `{"type":"x"}`, `{`, `null`, `[]`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := decodeClientMessage(b)
		if err == nil && m.Type == "" {
			t.Fatal("accepted a message without a type")
		}
	})
}

func FuzzMediaPayload(f *testing.F) {
	for _, s := range [][]byte{vp8Key, vp8Inter, {0x80}, {0x90, 0x80, 0x80}, {0x78, 0x00, 0x02, 0x67, 0x42}, {0x7c, 0x85}, nil} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, p []byte) {
		if isVP8Keyframe(p) && !validPayload(mimeVP8, p) {
			t.Fatal("a VP8 key frame that is not a valid payload")
		}
		_ = isH264Keyframe(p)
		_ = validPayload(mimeH264, p)
		_ = validPayload(mimeOpus, p)
	})
}

func FuzzSpeakerLevels(f *testing.F) {
	f.Add([]byte{0, 127, 30, 200})
	f.Fuzz(func(t *testing.T, levels []byte) {
		d := newSpeakerDetector()
		t0 := time.Unix(0, 0)
		for i, l := range levels {
			d.observe(string(rune('a'+i%3)), l, t0.Add(time.Duration(i)*10*time.Millisecond))
		}
		id, _ := d.evaluate(t0.Add(time.Duration(len(levels)) * 10 * time.Millisecond))
		if id != "" && id != "a" && id != "b" && id != "c" {
			t.Fatalf("unknown speaker %q", id)
		}
	})
}
