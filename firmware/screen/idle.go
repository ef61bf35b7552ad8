package screen

import (
	"image"
	"time"

	"github.com/stoa-rooms/stoa/board"
)

// minModule is the smallest QR module size drawn: 4 px keeps a code readable from a screendump
// or a phone across a room; below that the code is left out and the URL stays in the lines.
const minModule = 4

// drawScreen draws an idle or pairing screen: the title top left, the clock top right, the
// lines below the title, the pairing code large, and the QR code on the right.
func drawScreen(dst *image.RGBA, s board.Screen, now time.Time, fs *faces) error {
	b := dst.Rect
	w, h := b.Dx(), b.Dy()
	fill(dst, b, colBackground)
	unit := max(h/72, 4)
	margin := 4 * unit

	// Clock.
	clockF := fs.face(true, 5*unit)
	clock := now.Format("15:04")
	cw := textWidth(clockF, clock)
	drawText(dst, clockF, b.Max.X-margin-cw, b.Min.Y+margin+ascent(clockF), colWhite, clock)
	dateF := fs.face(false, 2*unit)
	date := now.Format("Mon 2 Jan")
	drawText(dst, dateF, b.Max.X-margin-textWidth(dateF, date), b.Min.Y+margin+lineHeight(clockF)+ascent(dateF), colDim, date)

	// QR code on the right, below the clock, as large as fits at an integer module size.
	textRight := b.Max.X - margin - cw - margin
	if s.QR != "" {
		mods, err := qrModules(s.QR)
		if err != nil {
			return err
		}
		top := b.Min.Y + margin + lineHeight(clockF) + lineHeight(dateF) + unit
		avail := min(b.Max.Y-margin-top, w*2/5)
		m := avail / qrSize(len(mods), 1)
		if m >= minModule {
			side := qrSize(len(mods), m)
			r := drawQR(dst, mods, image.Pt(b.Max.X-margin-side, top+(b.Max.Y-margin-top-side)/2), m)
			textRight = r.Min.X - margin
		}
	}
	textW := max(textRight-b.Min.X-margin, 0)

	// Title, lines and pairing code on the left.
	x := b.Min.X + margin
	y := b.Min.Y + margin
	titleF := fs.face(true, 6*unit)
	y += ascent(titleF)
	drawText(dst, titleF, x, y, colWhite, ellipsize(titleF, clean(s.Title), textW))
	y += lineHeight(titleF) - ascent(titleF) + 2*unit
	lineF := fs.face(false, 3*unit)
	for _, l := range s.Lines {
		if y+lineHeight(lineF) > b.Max.Y-margin {
			break
		}
		y += ascent(lineF)
		drawText(dst, lineF, x, y, colDim, ellipsize(lineF, clean(l), textW))
		y += lineHeight(lineF) - ascent(lineF) + unit/2
	}
	if s.Code != "" {
		// As large as the space allows, up to 12 units high.
		px := 12 * unit
		codeF := fs.face(true, px)
		for px > 3*unit && textWidth(codeF, s.Code) > textW {
			px -= unit
			codeF = fs.face(true, px)
		}
		y += 3 * unit
		y = max(y+ascent(codeF), b.Min.Y+h/2+ascent(codeF)/2)
		if y < b.Max.Y {
			drawText(dst, codeF, x, y, colAccent, ellipsize(codeF, clean(s.Code), textW))
		}
	}
	return nil
}
