package sim

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"image"
	"os/exec"
	"testing"
	"time"

	"golang.org/x/image/vp8"

	"github.com/stoa-rooms/stoa/board"
)

// frameImage wraps a Frame as an *image.YCbCr without copying.
func frameImage(f *board.Frame) *image.YCbCr {
	return &image.YCbCr{Y: f.Y, Cb: f.Cb, Cr: f.Cr, YStride: f.Width, CStride: f.Width / 2,
		SubsampleRatio: image.YCbCrSubsampleRatio420, Rect: image.Rect(0, 0, f.Width, f.Height)}
}

// testFrames paints n frames of a w x h stream starting at t0 and returns copies.
func testFrames(w, h, n int, t0 time.Time, period time.Duration) []*image.YCbCr {
	p := newPainter(w, h)
	var out []*image.YCbCr
	for k := range n {
		f := p.frame(uint64(k)*7+1_000_000, t0.Add(time.Duration(k)*period))
		img := image.NewYCbCr(image.Rect(0, 0, w, h), image.YCbCrSubsampleRatio420)
		copy(img.Y, f.Y)
		copy(img.Cb, f.Cb)
		copy(img.Cr, f.Cr)
		out = append(out, img)
	}
	return out
}

func TestStampRaw(t *testing.T) {
	t0 := time.UnixMilli(1_760_000_000_123)
	for _, sz := range [][2]int{{640, 360}, {320, 180}, {1280, 720}, {96, 64}} {
		t.Run(fmt.Sprintf("%dx%d", sz[0], sz[1]), func(t *testing.T) {
			for k, img := range testFrames(sz[0], sz[1], 5, t0, 33*time.Millisecond) {
				seq, at, ok := ReadStamp(img)
				want := uint32(k*7 + 1_000_000)
				if !ok || seq != want || !at.Equal(t0.Add(time.Duration(k)*33*time.Millisecond)) {
					t.Fatalf("frame %d: ReadStamp = %d %v %v, want %d %v", k, seq, at, ok, want, t0)
				}
			}
		})
	}
}

func TestStampRejects(t *testing.T) {
	good := testFrames(320, 180, 1, time.UnixMilli(1_760_000_000_000), 0)[0]
	flip := func(img *image.YCbCr, col, row int, v byte) *image.YCbCr {
		c := *img
		c.Y = bytes.Clone(img.Y)
		r := stampRect(col, row, 320, 180)
		for y := r.Min.Y; y < r.Max.Y; y++ {
			for x := r.Min.X; x < r.Max.X; x++ {
				c.Y[y*c.YStride+x] = v
			}
		}
		return &c
	}
	grey := image.NewYCbCr(image.Rect(0, 0, 320, 180), image.YCbCrSubsampleRatio420)
	for i := range grey.Y {
		grey.Y[i] = 128
	}
	black := image.NewYCbCr(image.Rect(0, 0, 320, 180), image.YCbCrSubsampleRatio420)
	tests := []struct {
		name string
		img  *image.YCbCr
	}{
		{"nil", nil},
		{"grey", grey},
		{"all black", black},
		{"tiny", image.NewYCbCr(image.Rect(0, 0, 8, 8), image.YCbCrSubsampleRatio420)},
		{"one bit flipped", flip(flip(good, 3, 2, lumaWhite), 3, 2, func() byte {
			if _, _, ok := ReadStamp(flip(good, 3, 2, lumaWhite)); ok {
				return lumaBlack
			}
			return lumaWhite
		}())},
		{"one cell grey", flip(good, 10, 4, 128)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if seq, at, ok := ReadStamp(tc.img); ok {
				t.Fatalf("ReadStamp = %d %v, true; want not ok", seq, at)
			}
		})
	}
}

// ffmpegVP8 encodes frames (w x h, raw I420) scaled to 320x180 as VP8 at 150 kbit/s and returns
// the IVF file. keyEvery 1 makes every frame a keyframe.
func ffmpegVP8(t *testing.T, frames []*image.YCbCr, fps, keyEvery int) []byte {
	t.Helper()
	b := frames[0].Bounds()
	var in, out, stderr bytes.Buffer
	for _, f := range frames {
		in.Write(f.Y)
		in.Write(f.Cb)
		in.Write(f.Cr)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "ffmpeg", "-hide_banner", "-loglevel", "error",
		"-f", "rawvideo", "-pix_fmt", "yuv420p", "-s", fmt.Sprintf("%dx%d", b.Dx(), b.Dy()), "-r", fmt.Sprint(fps), "-i", "pipe:0",
		"-vf", "scale=320:180", "-c:v", "libvpx", "-g", fmt.Sprint(keyEvery), "-auto-alt-ref", "0",
		"-deadline", "realtime", "-cpu-used", "8", "-b:v", "150k", "-maxrate", "150k", "-bufsize", "150k",
		"-f", "ivf", "pipe:1")
	cmd.Stdin, cmd.Stdout, cmd.Stderr = &in, &out, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("ffmpeg encode (needs the ffmpeg package, .ci/deps.sh): %v: %s", err, stderr.Bytes())
	}
	return out.Bytes()
}

// ivfFrames splits an IVF file into its frames.
func ivfFrames(t *testing.T, b []byte) [][]byte {
	t.Helper()
	if len(b) < 32 || string(b[:4]) != "DKIF" {
		t.Fatalf("not an IVF file (%d bytes)", len(b))
	}
	var frames [][]byte
	for p := int(binary.LittleEndian.Uint16(b[6:8])); p+12 <= len(b); {
		n := int(binary.LittleEndian.Uint32(b[p:]))
		if p+12+n > len(b) {
			t.Fatalf("IVF frame at %d overruns the file", p)
		}
		frames = append(frames, b[p+12:p+12+n])
		p += 12 + n
	}
	return frames
}

// TestStampSurvivesVP8Keyframes: 640x360 frames scaled to 320x180 and coded as VP8 keyframes at
// 150 kbit/s by libvpx (through ffmpeg), decoded by x/image/vp8, read back exactly.
func TestStampSurvivesVP8Keyframes(t *testing.T) {
	t0 := time.UnixMilli(1_760_000_123_456)
	const n = 30
	frames := testFrames(640, 360, n, t0, time.Second/30)
	coded := ivfFrames(t, ffmpegVP8(t, frames, 30, 1))
	if len(coded) != n {
		t.Fatalf("%d coded frames, want %d", len(coded), n)
	}
	dec := vp8.NewDecoder()
	for k, c := range coded {
		dec.Init(bytes.NewReader(c), len(c))
		if _, err := dec.DecodeFrameHeader(); err != nil {
			t.Fatalf("frame %d header: %v", k, err)
		}
		img, err := dec.DecodeFrame()
		if err != nil {
			t.Fatalf("frame %d: %v", k, err)
		}
		seq, at, ok := ReadStamp(img)
		want := uint32(k*7 + 1_000_000)
		if !ok || seq != want || !at.Equal(t0.Add(time.Duration(k)*(time.Second/30)).Truncate(time.Millisecond)) {
			t.Fatalf("frame %d (%d bytes): ReadStamp = %d %v %v, want %d", k, len(c), seq, at, ok, want)
		}
	}
}

// TestStampSurvivesVP8Stream: the same with a normal group of pictures (inter frames), decoded
// by libvpx through ffmpeg: every frame reads back.
func TestStampSurvivesVP8Stream(t *testing.T) {
	t0 := time.UnixMilli(1_760_000_123_456)
	const n = 60
	frames := testFrames(640, 360, n, t0, time.Second/30)
	ivf := ffmpegVP8(t, frames, 30, 300)
	var out, stderr bytes.Buffer
	cmd := exec.Command("ffmpeg", "-hide_banner", "-loglevel", "error", "-f", "ivf", "-i", "pipe:0",
		"-f", "rawvideo", "-pix_fmt", "yuv420p", "pipe:1")
	cmd.Stdin, cmd.Stdout, cmd.Stderr = bytes.NewReader(ivf), &out, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("ffmpeg decode: %v: %s", err, stderr.Bytes())
	}
	const size = 320 * 180 * 3 / 2
	if out.Len() != n*size {
		t.Fatalf("decoded %d bytes, want %d frames of %d", out.Len(), n, size)
	}
	raw := out.Bytes()
	for k := range n {
		f := raw[k*size:]
		img := &image.YCbCr{Y: f[:320*180], Cb: f[320*180 : 320*180*5/4], Cr: f[320*180*5/4 : size],
			YStride: 320, CStride: 160, SubsampleRatio: image.YCbCrSubsampleRatio420, Rect: image.Rect(0, 0, 320, 180)}
		seq, _, ok := ReadStamp(img)
		if want := uint32(k*7 + 1_000_000); !ok || seq != want {
			t.Fatalf("frame %d: ReadStamp = %d %v, want %d", k, seq, ok, want)
		}
	}
}

// FuzzReadStamp: any picture reads as a stamp or not, without panicking.
func FuzzReadStamp(f *testing.F) {
	good := testFrames(64, 40, 1, time.UnixMilli(1_760_000_000_000), 0)[0]
	f.Add(64, 40, good.Y)
	f.Add(64, 40, make([]byte, 64*40))
	f.Add(70, 50, bytes.Repeat([]byte{235, 16}, 70*25))
	f.Fuzz(func(t *testing.T, w, h int, y []byte) {
		if w <= 0 || h <= 0 || w > 512 || h > 512 || len(y) < w*h {
			return
		}
		img := &image.YCbCr{Y: y, YStride: w, Rect: image.Rect(0, 0, w, h), SubsampleRatio: image.YCbCrSubsampleRatio420}
		ReadStamp(img)
	})
}
