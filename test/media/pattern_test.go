package media

import (
	"image"
	"image/color"
	"image/draw"
	"testing"
)

func TestPatternRoundTripUncompressed(t *testing.T) {
	sizes := []struct{ w, h int }{{48, 32}, {320, 180}, {640, 360}, {1280, 720}, {1920, 1080}}
	numbers := []int{0, 1, 2, 74, 75, 255, 256, 4095, 12345, 65534, MaxFrame}
	for _, z := range sizes {
		t.Run(image.Pt(z.w, z.h).String(), func(t *testing.T) {
			for _, n := range numbers {
				got, ok := ReadPattern(PatternFrame(n, z.w, z.h))
				if !ok || got != n {
					t.Fatalf("frame %d read back as %d, ok=%v", n, got, ok)
				}
			}
		})
	}
}

func TestPatternThroughRGBAndOffsetBounds(t *testing.T) {
	// A receiver may hand over any image.Image; a sub-image's bounds do not start at 0,0.
	src := PatternFrame(4242, 320, 180)
	rgba := image.NewRGBA(image.Rect(100, 50, 420, 230))
	draw.Draw(rgba, rgba.Bounds(), src, image.Point{}, draw.Src)
	if n, ok := ReadPattern(rgba); !ok || n != 4242 {
		t.Fatalf("RGBA copy read as %d, ok=%v", n, ok)
	}
	sub := PatternFrame(777, 640, 360).SubImage(image.Rect(0, 0, 640, 360))
	if n, ok := ReadPattern(sub); !ok || n != 777 {
		t.Fatalf("sub-image read as %d, ok=%v", n, ok)
	}
}

func TestReadPatternRejects(t *testing.T) {
	flat := func(v uint8) image.Image {
		img := image.NewGray(image.Rect(0, 0, 320, 180))
		draw.Draw(img, img.Bounds(), &image.Uniform{color.Gray{Y: v}}, image.Point{}, draw.Src)
		return img
	}
	corrupt := PatternFrame(1000, 320, 180)
	// Flip one data cell (row 0, col 5) from its value: the CRC must catch it.
	r := cellRect(5, 0, 320, patternHeight(180))
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			corrupt.Y[y*corrupt.YStride+x] ^= lumaBlack ^ lumaWhite
		}
	}
	grey := PatternFrame(1000, 320, 180)
	r = cellRect(2, 2, 320, patternHeight(180))
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			grey.Y[y*grey.YStride+x] = 128
		}
	}
	cases := []struct {
		name string
		img  image.Image
	}{
		{"all black", flat(0)},
		{"all white", flat(255)},
		{"mid grey", flat(128)},
		{"one bit flipped", corrupt},
		{"one cell grey", grey},
		{"too small", PatternFrame(3, 48, 32).SubImage(image.Rect(0, 0, 20, 10))},
		{"empty", image.NewGray(image.Rect(0, 0, 0, 0))},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if n, ok := ReadPattern(c.img); ok {
				t.Fatalf("read %d from an image without a valid pattern", n)
			}
		})
	}
}

// FuzzReadPattern feeds arbitrary luma planes: ReadPattern must never panic, and whatever it
// accepts must be a number PatternFrame could have drawn.
func FuzzReadPattern(f *testing.F) {
	f.Add(uint8(64), uint8(36), PatternFrame(9, 64, 36).Y)
	f.Add(uint8(48), uint8(32), make([]byte, 48*32))
	f.Add(uint8(1), uint8(1), []byte{0})
	f.Fuzz(func(t *testing.T, w, h uint8, pix []byte) {
		img := image.NewGray(image.Rect(0, 0, int(w), int(h)))
		copy(img.Pix, pix)
		if n, ok := ReadPattern(img); ok && (n < 0 || n > MaxFrame) {
			t.Fatalf("accepted out-of-range number %d", n)
		}
	})
}
