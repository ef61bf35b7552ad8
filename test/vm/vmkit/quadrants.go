package vmkit

import (
	"fmt"
	"image"
	"image/color"
)

// Quadrants returns the colours of the "quadrants" screen check, agreed with board/linux's
// display test: top-left red, top-right green, bottom-left blue, bottom-right white. A fixed
// order catches swapped channels (BGR vs RGB), which any-order matching would miss.
func Quadrants() [4]color.RGBA {
	return [4]color.RGBA{
		{R: 255, A: 255},                 // top-left
		{G: 255, A: 255},                 // top-right
		{B: 255, A: 255},                 // bottom-left
		{R: 255, G: 255, B: 255, A: 255}, // bottom-right
	}
}

// CheckQuadrants checks a screendump shows the four Quadrants colours. It samples the inner
// 60 % of each quadrant (edges may carry scaling seams or a cursor) and wants at least 95 % of
// the samples within tolerance (per channel, 0-255) of the expected colour.
func CheckQuadrants(img image.Image, tolerance int) error {
	b := img.Bounds()
	if b.Dx() < 8 || b.Dy() < 8 {
		return fmt.Errorf("quadrants: picture %dx%d is too small", b.Dx(), b.Dy())
	}
	names := [4]string{"top-left", "top-right", "bottom-left", "bottom-right"}
	hw, hh := b.Dx()/2, b.Dy()/2
	colours := Quadrants()
	for q := 0; q < 4; q++ {
		x0 := b.Min.X + (q%2)*hw
		y0 := b.Min.Y + (q/2)*hh
		want := colours[q]
		total, good := 0, 0
		var bad color.RGBA
		for y := y0 + hh/5; y < y0+hh*4/5; y += 3 {
			for x := x0 + hw/5; x < x0+hw*4/5; x += 3 {
				total++
				c := color.RGBAModel.Convert(img.At(x, y)).(color.RGBA)
				if near(c.R, want.R, tolerance) && near(c.G, want.G, tolerance) && near(c.B, want.B, tolerance) {
					good++
				} else {
					bad = c
				}
			}
		}
		if total == 0 || good*100 < total*95 {
			return fmt.Errorf("quadrants: %s quadrant of %dx%d: %d of %d samples near %v (a wrong one: %v)",
				names[q], b.Dx(), b.Dy(), good, total, want, bad)
		}
	}
	return nil
}

func near(a, b uint8, tol int) bool {
	d := int(a) - int(b)
	return d <= tol && d >= -tol
}
