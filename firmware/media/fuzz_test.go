package media

import (
	"testing"
)

// FuzzVP8Decode feeds arbitrary bytes (seeded with real keyframes and delta frames and
// truncations of them) to a VP8 decoder: it must return an error or a picture, never crash.
func FuzzVP8Decode(f *testing.F) {
	_, frames := patternFrames(64, 48, 3)
	enc, err := NewVideoEncoder(EncoderConfig{Codec: "vp8", Width: 64, Height: 48, FPS: 30, BitrateKbps: 100})
	if err != nil {
		f.Fatal(err)
	}
	for _, fr := range frames {
		pkt, err := enc.Encode(fr, false)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(pkt)
		f.Add(pkt[:len(pkt)/2])
	}
	enc.Close()
	f.Add([]byte{0x10, 0x02, 0x00, 0x9d, 0x01, 0x2a, 0xff, 0x3f, 0xff, 0x3f})
	dec, err := NewVideoDecoder("vp8")
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { dec.Close() })
	f.Fuzz(func(t *testing.T, b []byte) {
		img, err := dec.Decode(b)
		if err == nil && img != nil && (img.Rect.Dx() <= 0 || img.Rect.Dy() <= 0) {
			t.Fatalf("picture of size %v", img.Rect)
		}
	})
}

// FuzzOpusDecode feeds arbitrary packets to an Opus decoder.
func FuzzOpusDecode(f *testing.F) {
	enc, err := NewOpusEncoder(48000, 1, 32000)
	if err != nil {
		f.Fatal(err)
	}
	in := tone(960*3, 48000, 440, 0.5)
	for off := 0; off < len(in); off += 960 {
		pkt, err := enc.Encode(in[off : off+960])
		if err != nil {
			f.Fatal(err)
		}
		f.Add(pkt)
	}
	enc.Close()
	f.Add([]byte{})
	f.Add([]byte{0xff, 0xff, 0xff})
	dec, err := NewOpusDecoder(48000, 1)
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { dec.Close() })
	pcm := make([]int16, dec.MaxFrameSamples())
	f.Fuzz(func(t *testing.T, b []byte) {
		n, err := dec.Decode(b, pcm)
		if err == nil && (n < 0 || n > len(pcm)) {
			t.Fatalf("decoded %d samples into %d", n, len(pcm))
		}
	})
}
