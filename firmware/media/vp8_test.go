package media

import (
	"strings"
	"testing"

	"github.com/stoa-rooms/stoa/board"
)

func TestVP8RoundTrip(t *testing.T) {
	const w, h, n = 640, 360, 30
	_, frames := patternFrames(w, h, n)
	enc, err := NewVideoEncoder(EncoderConfig{Codec: "vp8", Width: w, Height: h, FPS: 30, BitrateKbps: 1500})
	if err != nil {
		t.Fatal(err)
	}
	defer enc.Close()
	dec, err := NewVideoDecoder("vp8")
	if err != nil {
		t.Fatal(err)
	}
	defer dec.Close()
	var sum float64
	var counted int
	for i, f := range frames {
		pkt, err := enc.Encode(f, false)
		if err != nil {
			t.Fatalf("frame %d: %v", i, err)
		}
		if len(pkt) == 0 {
			t.Fatalf("frame %d: encoder dropped it (drops are off)", i)
		}
		if i == 0 && !IsVP8Keyframe(pkt) {
			t.Fatalf("first frame is not a keyframe")
		}
		img, err := dec.Decode(pkt)
		if err != nil {
			t.Fatalf("frame %d: decode: %v", i, err)
		}
		if img == nil || img.Rect.Dx() != w || img.Rect.Dy() != h {
			t.Fatalf("frame %d: decoded picture %v, want %dx%d", i, img, w, h)
		}
		p := psnrY(f, img.Y, img.YStride)
		if i >= 10 { // after rate control settled
			sum += p
			counted++
		}
	}
	avg := sum / float64(counted)
	t.Logf("VP8 640x360 @1500 kbps: mean luma PSNR %.1f dB", avg)
	if avg < 36 {
		t.Fatalf("mean luma PSNR %.1f dB, want >= 36", avg)
	}
}

func TestVP8ForcedKeyframe(t *testing.T) {
	_, frames := patternFrames(320, 180, 20)
	enc, err := NewVideoEncoder(EncoderConfig{Codec: "vp8", Width: 320, Height: 180, FPS: 30, BitrateKbps: 300})
	if err != nil {
		t.Fatal(err)
	}
	defer enc.Close()
	forced := map[int]bool{0: false, 7: true, 13: true}
	for i, f := range frames {
		force := forced[i]
		pkt, err := enc.Encode(f, force)
		if err != nil {
			t.Fatal(err)
		}
		wantKey := i == 0 || force
		if got := IsVP8Keyframe(pkt); got != wantKey {
			t.Errorf("frame %d (forced %v): keyframe %v (tag byte %#02x), want %v", i, force, got, pkt[0], wantKey)
		}
	}
}

func TestVP8SetBitrate(t *testing.T) {
	tests := []struct {
		name         string
		from, to     int
		wantSmallerX float64 // later window over earlier window must be below this (or above 1/x when growing)
	}{
		{"down", 2000, 250, 0.5},
		{"up", 250, 2000, 0.5},
	}
	_, frames := patternFrames(640, 360, 30)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			enc, err := NewVideoEncoder(EncoderConfig{Codec: "vp8", Width: 640, Height: 360, FPS: 30, BitrateKbps: tc.from})
			if err != nil {
				t.Fatal(err)
			}
			defer enc.Close()
			// window encodes 60 frames and returns the bytes of the last 30 (rate control
			// needs a moment to follow a change).
			window := func(base int) int {
				total := 0
				for i := 0; i < 60; i++ {
					f := *frames[(base+i)%len(frames)]
					f.Seq = uint64(base + i)
					pkt, err := enc.Encode(&f, false)
					if err != nil {
						t.Fatal(err)
					}
					if i >= 30 {
						total += len(pkt)
					}
				}
				return total
			}
			before := window(0)
			if err := enc.SetBitrate(tc.to); err != nil {
				t.Fatal(err)
			}
			after := window(60)
			ratio := float64(after) / float64(before)
			t.Logf("%d kbps: %d B/s, %d kbps: %d B/s, ratio %.2f", tc.from, before, tc.to, after, ratio)
			if tc.to < tc.from && ratio >= tc.wantSmallerX {
				t.Fatalf("output fell only to %.2f of before, want below %.2f", ratio, tc.wantSmallerX)
			}
			if tc.to > tc.from && ratio <= 1/tc.wantSmallerX {
				t.Fatalf("output rose only to %.2f of before, want above %.2f", ratio, 1/tc.wantSmallerX)
			}
		})
	}
}

func TestVideoEncoderRejects(t *testing.T) {
	good := EncoderConfig{Codec: "vp8", Width: 320, Height: 180, FPS: 30, BitrateKbps: 300}
	tests := []struct {
		name string
		mod  func(*EncoderConfig)
		want string
	}{
		{"codec", func(c *EncoderConfig) { c.Codec = "av1" }, "not supported"},
		{"odd width", func(c *EncoderConfig) { c.Width = 321 }, "even"},
		{"zero height", func(c *EncoderConfig) { c.Height = 0 }, "positive"},
		{"fps", func(c *EncoderConfig) { c.FPS = 0 }, "frame rate"},
		{"bitrate", func(c *EncoderConfig) { c.BitrateKbps = -1 }, "bitrate"},
		{"keyframe interval", func(c *EncoderConfig) { c.KeyframeInterval = -1 }, "keyframe"},
		{"speed", func(c *EncoderConfig) { c.Speed = 17 }, "speed"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := good
			tc.mod(&c)
			enc, err := NewVideoEncoder(c)
			if err == nil {
				enc.Close()
				t.Fatalf("no error for %+v", c)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %q does not mention %q", err, tc.want)
			}
		})
	}

	enc, err := NewVideoEncoder(good)
	if err != nil {
		t.Fatal(err)
	}
	frameTests := []struct {
		name string
		f    *board.Frame
		want string
	}{
		{"nil", nil, "nil frame"},
		{"wrong size", NewFrame(640, 360), "encoder is 320x180"},
		{"short plane", &board.Frame{Width: 320, Height: 180, Y: make([]byte, 10), Cb: make([]byte, 10), Cr: make([]byte, 10)}, "short"},
	}
	for _, tc := range frameTests {
		t.Run("frame "+tc.name, func(t *testing.T) {
			if _, err := enc.Encode(tc.f, false); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Encode: error %v, want one mentioning %q", err, tc.want)
			}
		})
	}
	if err := enc.SetBitrate(0); err == nil {
		t.Fatal("SetBitrate(0) accepted")
	}
	enc.Close()
	if _, err := enc.Encode(NewFrame(320, 180), false); err == nil || !strings.Contains(err.Error(), "closed") {
		t.Fatalf("Encode after Close: %v, want closed error", err)
	}
}

func TestVP8DecoderRejectsGarbage(t *testing.T) {
	dec, err := NewVideoDecoder("vp8")
	if err != nil {
		t.Fatal(err)
	}
	defer dec.Close()
	huge := []byte{0x10, 0x02, 0x00, 0x9d, 0x01, 0x2a, 0xff, 0x3f, 0xff, 0x3f, 0, 0, 0, 0}
	for _, in := range [][]byte{nil, {0}, []byte("not a vp8 frame at all"), make([]byte, 100), huge} {
		if img, err := dec.Decode(in); err == nil && img != nil {
			t.Errorf("Decode(%q) gave a picture", in)
		}
	}
	if _, err := NewVideoDecoder("h265"); err == nil {
		t.Fatal("h265 decoder opened")
	}
}
