package screen

import (
	"fmt"
	"image"

	qrcode "github.com/skip2/go-qrcode"
)

// qrModules encodes text as a QR code (error correction M) and returns its modules without
// the quiet zone; the caller draws the quiet zone.
func qrModules(text string) ([][]bool, error) {
	q, err := qrcode.New(text, qrcode.Medium)
	if err != nil {
		return nil, fmt.Errorf("encode QR code: %w", err)
	}
	q.DisableBorder = true
	return q.Bitmap(), nil
}

// qrQuiet is the quiet zone the QR specification asks for, in modules.
const qrQuiet = 4

// qrSize is the side in pixels of a QR code of n modules at module size m, with its quiet zone.
func qrSize(n, m int) int { return (n + 2*qrQuiet) * m }

// drawQR draws the modules at integer module size m with a white quiet zone, top left at p:
// pure black on pure white, so a scanner (or a screendump decoder) reads it reliably.
func drawQR(dst *image.RGBA, mods [][]bool, p image.Point, m int) image.Rectangle {
	n := len(mods)
	r := image.Rect(p.X, p.Y, p.X+qrSize(n, m), p.Y+qrSize(n, m))
	fill(dst, r, colWhite)
	o := p.Add(image.Pt(qrQuiet*m, qrQuiet*m))
	for y, row := range mods {
		for x, on := range row {
			if on {
				fill(dst, image.Rect(o.X+x*m, o.Y+y*m, o.X+(x+1)*m, o.Y+(y+1)*m), colBlack)
			}
		}
	}
	return r
}
