package screen

import (
	"image"
	"image/color"
	"image/draw"
)

// fill paints r (clipped to dst) in an opaque colour, one row then row copies.
func fill(dst *image.RGBA, r image.Rectangle, c color.RGBA) {
	r = r.Intersect(dst.Rect)
	if r.Empty() {
		return
	}
	first := dst.Pix[dst.PixOffset(r.Min.X, r.Min.Y):dst.PixOffset(r.Max.X, r.Min.Y)]
	for i := 0; i < len(first); i += 4 {
		first[i], first[i+1], first[i+2], first[i+3] = c.R, c.G, c.B, c.A
	}
	for y := r.Min.Y + 1; y < r.Max.Y; y++ {
		o := dst.PixOffset(r.Min.X, y)
		copy(dst.Pix[o:o+len(first)], first)
	}
}

// shade blends a translucent colour over r (alpha-premultiplied c).
func shade(dst *image.RGBA, r image.Rectangle, c color.RGBA) {
	draw.Draw(dst, r, image.NewUniform(c), image.Point{}, draw.Over)
}

// frame draws a border of width w inside r.
func frame(dst *image.RGBA, r image.Rectangle, w int, c color.RGBA) {
	fill(dst, image.Rect(r.Min.X, r.Min.Y, r.Max.X, r.Min.Y+w), c)
	fill(dst, image.Rect(r.Min.X, r.Max.Y-w, r.Max.X, r.Max.Y), c)
	fill(dst, image.Rect(r.Min.X, r.Min.Y, r.Min.X+w, r.Max.Y), c)
	fill(dst, image.Rect(r.Max.X-w, r.Min.Y, r.Max.X, r.Max.Y), c)
}

// disc fills a circle of radius rad around (cx, cy).
func disc(dst *image.RGBA, cx, cy, rad int, c color.RGBA) {
	for dy := -rad; dy <= rad; dy++ {
		dx := 0
		for (dx+1)*(dx+1)+dy*dy <= rad*rad {
			dx++
		}
		fill(dst, image.Rect(cx-dx, cy+dy, cx+dx+1, cy+dy+1), c)
	}
}

// slash draws a thick line from (x0, y0) to (x1, y1).
func slash(dst *image.RGBA, x0, y0, x1, y1, thick int, c color.RGBA) {
	n := max(abs(x1-x0), abs(y1-y0), 1)
	for i := 0; i <= n; i++ {
		x := x0 + (x1-x0)*i/n
		y := y0 + (y1-y0)*i/n
		fill(dst, image.Rect(x-thick/2, y-thick/2, x-thick/2+thick, y-thick/2+thick), c)
	}
}

func abs(v int) int {
	if v < 0 {
		return -v
	}
	return v
}

// micMutedIcon draws a struck-through microphone on a red disc of diameter size at (x, y).
func micMutedIcon(dst *image.RGBA, x, y, size int) {
	r := size / 2
	cx, cy := x+r, y+r
	disc(dst, cx, cy, r, colRed)
	u := max(size/12, 1)
	// Capsule, stand and base of the microphone.
	fill(dst, image.Rect(cx-2*u, cy-4*u, cx+2*u, cy+2*u), colWhite)
	fill(dst, image.Rect(cx-u/2-u/2, cy+2*u, cx+u/2+1, cy+4*u), colWhite)
	fill(dst, image.Rect(cx-2*u, cy+4*u, cx+2*u, cy+4*u+max(u/2, 1)), colWhite)
	slash(dst, cx-4*u, cy-4*u, cx+4*u, cy+4*u, max(u, 2), colWhite)
}

// cameraOffIcon draws a struck-through camera of width size at (x, y).
func cameraOffIcon(dst *image.RGBA, x, y, size int, c color.RGBA) {
	u := max(size/10, 1)
	fill(dst, image.Rect(x, y+2*u, x+7*u, y+8*u), c)
	for i := 0; i < 3*u; i++ { // the lens hood, a small triangle
		fill(dst, image.Rect(x+7*u+i, y+5*u-i, x+7*u+i+1, y+5*u+i+1), c)
	}
	slash(dst, x, y, x+10*u, y+10*u, max(u, 2), colRed)
}

// The palette.
var (
	colBackground = color.RGBA{0x12, 0x1a, 0x2b, 0xff}
	colTile       = color.RGBA{0x2a, 0x30, 0x3c, 0xff}
	colWhite      = color.RGBA{0xff, 0xff, 0xff, 0xff}
	colBlack      = color.RGBA{0x00, 0x00, 0x00, 0xff}
	colDim        = color.RGBA{0xb8, 0xc2, 0xd4, 0xff}
	colAccent     = color.RGBA{0x4c, 0xc2, 0xff, 0xff}
	colRed        = color.RGBA{0xe0, 0x3a, 0x3a, 0xff}
	colSpeaking   = color.RGBA{0x3d, 0xdc, 0x84, 0xff}
	colLabel      = color.RGBA{0x00, 0x00, 0x00, 0xa0} // premultiplied translucent black
	colBanner     = color.RGBA{0xf0, 0xb4, 0x29, 0xff}
)
