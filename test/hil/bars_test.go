package hil

import (
	"image"
	"image/color"
	"testing"
)

// barsPicture draws eight vertical bars of the given colours as a 4:2:0 picture, as a VP8
// decoder hands it out.
func barsPicture(w, h int, bars [8][3]uint8) *image.YCbCr {
	pic := image.NewYCbCr(image.Rect(0, 0, w, h), image.YCbCrSubsampleRatio420)
	for y := range h {
		for x := range w {
			c := bars[x*8/w]
			yy, cb, cr := color.RGBToYCbCr(c[0], c[1], c[2])
			pic.Y[pic.YOffset(x, y)] = yy
			pic.Cb[pic.COffset(x, y)] = cb
			pic.Cr[pic.COffset(x, y)] = cr
		}
	}
	return pic
}

func TestCheckBars(t *testing.T) {
	reversed := vividBars
	for i := range 4 {
		reversed[i], reversed[7-i] = reversed[7-i], reversed[i]
	}
	var grey [8][3]uint8
	for i := range grey {
		grey[i] = [3]uint8{128, 128, 128}
	}
	for _, tc := range []struct {
		name string
		pic  image.Image
		ok   bool
	}{
		{"vivid's bars", barsPicture(640, 360, vividBars), true},
		{"vivid's bars, small", barsPicture(320, 180, vividBars), true},
		{"bars in the wrong order", barsPicture(640, 360, reversed), false},
		{"flat grey", barsPicture(640, 360, grey), false},
		{"too small", barsPicture(32, 8, vividBars), false},
		{"no picture", nil, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var pic image.Image
			if tc.pic != nil {
				pic = tc.pic
			}
			err := checkBars(pic, 40)
			if (err == nil) != tc.ok {
				t.Fatalf("checkBars = %v, want ok %v", err, tc.ok)
			}
		})
	}
}
