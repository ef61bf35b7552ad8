package vmkit

import (
	"image"
	"image/color"
	"strings"
	"testing"
)

func quadrantPicture(w, h int, colours [4]color.RGBA) *image.RGBA {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			q := 0
			if x >= w/2 {
				q++
			}
			if y >= h/2 {
				q += 2
			}
			img.SetRGBA(x, y, colours[q])
		}
	}
	return img
}

func TestCheckQuadrants(t *testing.T) {
	bgr := Quadrants()
	bgr[0], bgr[2] = bgr[2], bgr[0] // red and blue swapped, as a BGR/RGB mix-up draws them
	dim := [4]color.RGBA{{R: 240, G: 8, A: 255}, {G: 240, B: 8, A: 255}, {B: 240, R: 8, A: 255}, {R: 240, G: 240, B: 240, A: 255}}
	noisy := quadrantPicture(1024, 768, Quadrants())
	for i := 0; i < 20; i++ { // a cursor and a few stray pixels stay under the 5 % allowance
		noisy.SetRGBA(300+i, 200, color.RGBA{A: 255})
	}
	tests := []struct {
		name    string
		img     image.Image
		wantErr string
	}{
		{"exact 1024x768", quadrantPicture(1024, 768, Quadrants()), ""},
		{"within tolerance", quadrantPicture(640, 480, dim), ""},
		{"stray pixels", noisy, ""},
		{"red and blue swapped", quadrantPicture(1024, 768, bgr), "top-left"},
		{"black screen", image.NewRGBA(image.Rect(0, 0, 800, 600)), "top-left"},
		{"too small", image.NewRGBA(image.Rect(0, 0, 4, 4)), "too small"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := CheckQuadrants(tc.img, 32)
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("CheckQuadrants: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("CheckQuadrants error = %v, want one naming %q", err, tc.wantErr)
			}
		})
	}
}
