package hil

import (
	"fmt"
	"image"
	"image/color"
)

// vividBars are the colours of vivid's default test pattern, 75% colour bars, left to right:
// white, yellow, cyan, green, magenta, red, blue, black (75% of full scale: 191).
var vividBars = [8][3]uint8{
	{191, 191, 191}, {191, 191, 0}, {0, 191, 191}, {0, 191, 0},
	{191, 0, 191}, {191, 0, 0}, {0, 0, 191}, {0, 0, 0},
}

// checkBars says whether pic shows vivid's eight vertical colour bars: the middle of each
// eighth of the width, sampled on several rows of the lower half (vivid writes its text at the
// top), must be within tol of the bar's colour in every channel (codec and chroma-subsampling
// error stay well under tol; a wrong or missing pattern misses by ~190).
func checkBars(pic image.Image, tol int) error {
	if pic == nil {
		return fmt.Errorf("colour bars: no picture")
	}
	b := pic.Bounds()
	w, h := b.Dx(), b.Dy()
	if w < 64 || h < 16 {
		return fmt.Errorf("colour bars: picture %dx%d too small", w, h)
	}
	for i, want := range vividBars {
		x := b.Min.X + (2*i+1)*w/16
		for _, fy := range []int{55, 70, 85} {
			y := b.Min.Y + fy*h/100
			r, g, bl, _ := color.RGBAModel.Convert(pic.At(x, y)).RGBA()
			got := [3]uint8{uint8(r >> 8), uint8(g >> 8), uint8(bl >> 8)}
			for c := range 3 {
				if d := int(got[c]) - int(want[c]); d > tol || d < -tol {
					return fmt.Errorf("colour bars: bar %d at (%d,%d) is RGB %v, want about %v", i, x, y, got, want)
				}
			}
		}
	}
	return nil
}
