package media

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"os"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/image/vp8"
)

// decodeVP8 decodes one keyframe with the pure-Go decoder receivers use.
func decodeVP8(frame []byte) (image.Image, error) {
	d := vp8.NewDecoder()
	d.Init(bytes.NewReader(frame), len(frame))
	fh, err := d.DecodeFrameHeader()
	if err != nil {
		return nil, fmt.Errorf("frame header: %w", err)
	}
	if !fh.KeyFrame {
		return nil, fmt.Errorf("not a keyframe")
	}
	return d.DecodeFrame()
}

// TestPatternSurvivesVP8 is the round trip the conference tests rely on: numbers across the whole
// range, drawn, encoded by ffmpeg's libvpx at each simulcast size and bitrate, parsed back from the
// IVF file and decoded by x/image/vp8, read back exactly.
func TestPatternSurvivesVP8(t *testing.T) {
	numbers := []int{0, 1, 2, 3, 7, 8, 15, 16, 74, 75, 127, 128, 255, 256, 511, 1000, 1023, 1024,
		4095, 4096, 9999, 12345, 21845, 32767, 32768, 43690, 50000, 65000, 65534, MaxFrame}
	for _, z := range DefaultSpec().Sizes {
		t.Run(fmt.Sprintf("%dx%d", z.Width, z.Height), func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithTimeout(t.Context(), 40*time.Second)
			defer cancel()
			out := filepath.Join(t.TempDir(), "v.ivf")
			if err := EncodeVideo(ctx, 15, z, numbers, out); err != nil {
				t.Fatal(err)
			}
			b, err := os.ReadFile(out)
			if err != nil {
				t.Fatal(err)
			}
			v, err := ParseIVF(b)
			if err != nil {
				t.Fatal(err)
			}
			if v.Width != z.Width || v.Height != z.Height || len(v.Frames) != len(numbers) {
				t.Fatalf("got %dx%d with %d frames, want %dx%d with %d", v.Width, v.Height, len(v.Frames), z.Width, z.Height, len(numbers))
			}
			for i, frame := range v.Frames {
				img, err := decodeVP8(frame)
				if err != nil {
					t.Fatalf("frame %d: %v", i, err)
				}
				if b := img.Bounds(); b.Dx() != z.Width || b.Dy() != z.Height {
					t.Fatalf("frame %d decoded at %v", i, b)
				}
				if n, ok := ReadPattern(img); !ok || n != numbers[i] {
					t.Fatalf("frame %d: read %d (ok=%v), want %d", i, n, ok, numbers[i])
				}
			}
		})
	}
}

// TestLoadDefaultSet generates (or reuses) the shared cached set and checks what senders will send:
// 75 decodable keyframes numbered 0..74 per size, larger sizes costing more bits, and 5 s of 20 ms
// Opus packets.
func TestLoadDefaultSet(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	defer cancel()
	spec := DefaultSpec()
	set, err := Load(ctx, spec)
	if err != nil {
		t.Fatal(err)
	}
	again, err := Ensure(ctx, spec)
	if err != nil {
		t.Fatal(err)
	}
	if filepath.Base(again.Dir) != spec.Key() {
		t.Fatalf("cache dir %s is not named by the spec key %s", again.Dir, spec.Key())
	}
	prevBytes := 0
	for i, v := range set.Video {
		z := spec.Sizes[i]
		if v.Width != z.Width || v.Height != z.Height || len(v.Frames) != spec.Frames {
			t.Fatalf("video %d: %dx%d with %d frames", i, v.Width, v.Height, len(v.Frames))
		}
		total := 0
		for n, frame := range v.Frames {
			total += len(frame)
			if n%5 != 0 { // every 5th frame keeps the test quick; the round trip test covers all
				continue
			}
			img, err := decodeVP8(frame)
			if err != nil {
				t.Fatalf("%dx%d frame %d: %v", z.Width, z.Height, n, err)
			}
			if got, ok := ReadPattern(img); !ok || got != n {
				t.Fatalf("%dx%d frame %d: read %d ok=%v", z.Width, z.Height, n, got, ok)
			}
		}
		t.Logf("%dx%d: %d frames, %d bytes (%.0f kbit/s at %d fps)", z.Width, z.Height, len(v.Frames), total,
			float64(total)*8/1000/(float64(len(v.Frames))/float64(spec.FPS)), spec.FPS)
		if total <= prevBytes {
			t.Fatalf("%dx%d is %d bytes, not more than the smaller size's %d", z.Width, z.Height, total, prevBytes)
		}
		prevBytes = total
	}
	// 5 s of 20 ms packets; libopus may add or trim a packet at the edges.
	if n := len(set.Audio); n < 245 || n > 255 {
		t.Fatalf("%d audio packets, want about 250", n)
	}
	for i, p := range set.Audio {
		// RFC 6716 section 3.1: TOC config 0..31; 20 ms SILK/CELT/hybrid configs.
		if len(p) == 0 {
			t.Fatalf("audio packet %d is empty", i)
		}
	}
}

func TestSpecValidation(t *testing.T) {
	bad := []Spec{
		{},
		{Sizes: []Size{{Width: 321, Height: 180, KbpsTarget: 100}}, FPS: 15, Frames: 10, AudioSeconds: 1},
		{Sizes: []Size{{Width: 320, Height: 180, KbpsTarget: 100}}, FPS: 0, Frames: 10, AudioSeconds: 1},
		{Sizes: []Size{{Width: 320, Height: 180, KbpsTarget: 100}}, FPS: 15, Frames: MaxFrame + 2, AudioSeconds: 1},
		{Sizes: []Size{{Width: 320, Height: 180}}, FPS: 15, Frames: 10, AudioSeconds: 1},
	}
	for i, s := range bad {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			if _, err := Ensure(context.Background(), s); err == nil {
				t.Fatalf("spec %+v accepted", s)
			}
		})
	}
	if DefaultSpec().Key() == (Spec{FPS: 15}).Key() {
		t.Fatal("different specs share a cache key")
	}
}

func FuzzParseIVF(f *testing.F) {
	hdr := []byte("DKIF\x00\x00\x20\x00VP80\x40\x01\xb4\x00\x0f\x00\x00\x00\x01\x00\x00\x00\x01\x00\x00\x00\x00\x00\x00\x00")
	frame := append([]byte{0x0a, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}, []byte{0x10, 0x02, 0, 0x9d, 0x01, 0x2a, 0x40, 0x01, 0xb4, 0x00}...)
	f.Add(hdr)
	f.Add(append(append([]byte{}, hdr...), frame...))
	f.Add([]byte("DKIF"))
	f.Fuzz(func(t *testing.T, b []byte) {
		v, err := ParseIVF(b)
		if err == nil && len(v.Frames) == 0 {
			t.Fatal("accepted a file without frames")
		}
	})
}

func FuzzParseOggOpus(f *testing.F) {
	page := func(lacing []byte, body []byte) []byte {
		p := append([]byte("OggS\x00\x00"), make([]byte, 20)...)
		p = append(p, byte(len(lacing)))
		p = append(p, lacing...)
		return append(p, body...)
	}
	head := append([]byte("OpusHead\x01\x01\x38\x01\x80\xbb\x00\x00\x00\x00\x00"), []byte{}...)
	tags := []byte("OpusTags\x00\x00\x00\x00\x00\x00\x00\x00")
	valid := append(page([]byte{byte(len(head))}, head), page([]byte{byte(len(tags))}, tags)...)
	valid = append(valid, page([]byte{3}, []byte{0xfc, 1, 2})...)
	f.Add(valid)
	f.Add(page([]byte{255, 0}, make([]byte, 255)))
	f.Add([]byte("OggS"))
	f.Fuzz(func(t *testing.T, b []byte) {
		packets, err := ParseOggOpus(b)
		if err == nil && len(packets) == 0 {
			t.Fatal("accepted a file without audio")
		}
	})
}
