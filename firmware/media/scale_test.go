package media

import (
	"image"
	"math"
	"testing"
	"time"

	"github.com/stoa-rooms/stoa/board"
)

func TestScaleI420(t *testing.T) {
	_, frames := patternFrames(640, 360, 1)
	src := frames[0]
	src.Seq, src.Captured = 42, time.Unix(100, 0)
	tests := []struct {
		name    string
		w, h    int
		minPSNR float64 // luma PSNR against the source; only same-size scaling is compared
	}{
		{"same size", 640, 360, 99},
		{"half (box)", 320, 180, 0},
		{"quarter (bilinear)", 160, 90, 0},
		{"odd ratio (bilinear)", 426, 240, 0},
		{"upscale (bilinear)", 1280, 720, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dst := &board.Frame{Width: tc.w, Height: tc.h}
			if err := ScaleI420(dst, src); err != nil {
				t.Fatal(err)
			}
			if dst.Seq != 42 || !dst.Captured.Equal(src.Captured) {
				t.Fatalf("Seq/Captured not carried over: %d %v", dst.Seq, dst.Captured)
			}
			if len(dst.Y) != tc.w*tc.h || len(dst.Cb) != tc.w*tc.h/4 {
				t.Fatalf("planes %d/%d bytes", len(dst.Y), len(dst.Cb))
			}
			// The mean brightness of a scaled picture is that of the source.
			if d := math.Abs(meanOf(dst.Y) - meanOf(src.Y)); d > 2 {
				t.Fatalf("mean luma moved by %.1f", d)
			}
			if d := math.Abs(meanOf(dst.Cb) - meanOf(src.Cb)); d > 2 {
				t.Fatalf("mean Cb moved by %.1f", d)
			}
			if tc.minPSNR > 0 {
				if p := psnrY(src, dst.Y, tc.w); p < tc.minPSNR {
					t.Fatalf("same-size scale is not a copy (PSNR %.1f)", p)
				}
			}
		})
	}
}

func TestScaleI420Exact(t *testing.T) {
	// A 4x4 luma plane halves to the rounded average of each 2x2 box.
	src4 := NewFrame(4, 4)
	copy(src4.Y, []byte{0, 10, 100, 101, 20, 30, 102, 103, 50, 50, 0, 0, 50, 51, 0, 1})
	dst2 := &board.Frame{Width: 2, Height: 2}
	if err := ScaleI420(dst2, src4); err != nil {
		t.Fatal(err)
	}
	want := []byte{15, 102, 50, 0}
	for i, v := range want {
		if dst2.Y[i] != v {
			t.Fatalf("box halving: got %v, want %v", dst2.Y, want)
		}
	}
	flat := NewFrame(64, 48)
	for i := range flat.Y {
		flat.Y[i] = 77
	}
	for _, size := range [][2]int{{30, 20}, {100, 70}, {2, 2}} {
		d := &board.Frame{Width: size[0], Height: size[1]}
		if err := ScaleI420(d, flat); err != nil {
			t.Fatal(err)
		}
		for _, v := range d.Y {
			if v != 77 {
				t.Fatalf("flat plane scaled to %v has value %d", size, v)
			}
		}
	}
}

func TestScaleI420Rejects(t *testing.T) {
	src := NewFrame(64, 48)
	tests := []struct {
		name     string
		dst, src *board.Frame
	}{
		{"odd destination", &board.Frame{Width: 31, Height: 20}, src},
		{"zero destination", &board.Frame{}, src},
		{"short source", &board.Frame{Width: 8, Height: 8}, &board.Frame{Width: 64, Height: 48, Y: make([]byte, 10)}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if err := ScaleI420(tc.dst, tc.src); err == nil {
				t.Fatal("no error")
			}
		})
	}
}

func TestYCbCrConversion(t *testing.T) {
	_, frames := patternFrames(320, 180, 1)
	img := I420ToYCbCr(frames[0])
	if img.SubsampleRatio != image.YCbCrSubsampleRatio420 || img.Rect.Dx() != 320 {
		t.Fatalf("image %v %v", img.Rect, img.SubsampleRatio)
	}
	back := YCbCrToI420(img)
	for i := range back.Y {
		if back.Y[i] != frames[0].Y[i] {
			t.Fatalf("luma differs at %d", i)
		}
	}
	for i := range back.Cb {
		if back.Cb[i] != frames[0].Cb[i] || back.Cr[i] != frames[0].Cr[i] {
			t.Fatalf("chroma differs at %d", i)
		}
	}
	// A sub-image with an offset and an odd size keeps its own pixels.
	sub := img.SubImage(image.Rect(11, 5, 110, 96)).(*image.YCbCr)
	f := YCbCrToI420(sub)
	if f.Width != 98 || f.Height != 90 {
		t.Fatalf("sub-image became %dx%d, want 98x90", f.Width, f.Height)
	}
	if f.Y[0] != img.Y[img.YOffset(11, 5)] || f.Y[f.Width*3+7] != img.Y[img.YOffset(18, 8)] {
		t.Fatal("sub-image luma is not the sub-image's")
	}
}

func meanOf(b []byte) float64 {
	var s float64
	for _, v := range b {
		s += float64(v)
	}
	return s / float64(len(b))
}
