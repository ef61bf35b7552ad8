package sim

import (
	"time"

	"github.com/stoa-rooms/stoa/board"
)

// painter draws camera frames into one preallocated frame: the static part (colour bars under
// the stamp) is rendered once into a background, and each frame copies it and draws only the
// stamp cells and the moving box, so a 640x360 frame costs tens of microseconds.
type painter struct {
	w, h       int
	bgY        []byte
	bgCb, bgCr []byte
	line       []byte // scratch for one stamp row
	f          board.Frame
}

// The colour bars in video-range BT.601 Y, Cb, Cr (white, yellow, cyan, green, magenta, red, blue).
var bars = [...][3]byte{
	{180, 128, 128}, {168, 44, 136}, {145, 147, 44}, {133, 63, 52}, {63, 193, 204}, {51, 109, 212}, {28, 212, 120},
}

func newPainter(w, h int) *painter {
	p := &painter{w: w, h: h,
		line: make([]byte, w), bgY: make([]byte, w*h), bgCb: make([]byte, w*h/4), bgCr: make([]byte, w*h/4)}
	band := stampBand(h)
	for y := range h {
		for x := range w {
			v := bars[x*len(bars)/w]
			if y < band {
				v = [3]byte{lumaBlack, 128, 128}
			}
			p.bgY[y*w+x] = v[0]
			if y%2 == 0 && x%2 == 0 {
				p.bgCb[(y/2)*(w/2)+x/2] = v[1]
				p.bgCr[(y/2)*(w/2)+x/2] = v[2]
			}
		}
	}
	p.f = board.Frame{Width: w, Height: h,
		Y: make([]byte, w*h), Cb: make([]byte, w*h/4), Cr: make([]byte, w*h/4)}
	return p
}

// frame draws frame k captured at t into the painter's frame and returns it.
func (p *painter) frame(k uint64, t time.Time) *board.Frame {
	copy(p.f.Y, p.bgY)
	copy(p.f.Cb, p.bgCb)
	copy(p.f.Cr, p.bgCr)
	drawStamp(p.f.Y, p.line, p.w, p.w, p.h, uint32(k), t)
	// The moving box: dark grey with a red tint, half the bar band high, 4% of the width per frame.
	band := stampBand(p.h)
	side := (p.h - band) / 2 &^ 1
	if side >= 2 {
		span := p.w - side
		x0 := int(k*uint64(p.w)/25) % (2 * span)
		if x0 > span {
			x0 = 2*span - x0 // bounce
		}
		x0 &^= 1
		y0 := (band + (p.h-band-side)/2) &^ 1
		for y := y0; y < y0+side; y++ {
			row := p.f.Y[y*p.w+x0 : y*p.w+x0+side]
			for i := range row {
				row[i] = 60
			}
		}
		cw := p.w / 2
		for y := y0 / 2; y < (y0+side)/2; y++ {
			for x := x0 / 2; x < (x0+side)/2; x++ {
				p.f.Cb[y*cw+x] = 110
				p.f.Cr[y*cw+x] = 200
			}
		}
	}
	p.f.Seq = k
	p.f.Captured = t
	return &p.f
}
