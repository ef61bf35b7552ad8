package screen

import (
	"image"
	"image/color"
	"math"
	"strings"
	"unicode"

	"golang.org/x/image/font"
)

// CallView is what the screen shows during a call.
type CallView struct {
	Meeting string
	Layout  string // "speaker" (default) or "grid"
	Tiles   []Tile // the remote participants
	Self    *Tile  // the room's own camera (self view); nil hides it
	Banner  string // a notice across the top ("Reconnecting…"); empty for none
}

// Tile is one participant.
type Tile struct {
	ID, Name                        string
	Picture                         *image.YCbCr // nil = no video
	MicMuted, CameraMuted, Speaking bool
}

// Layout names.
const (
	LayoutSpeaker = "speaker"
	LayoutGrid    = "grid"
)

// placed is a tile and where it goes.
type placed struct {
	t    Tile
	r    image.Rectangle
	self bool
}

// Layout computes where each tile goes on a w x h screen: in the speaker layout the speaking
// (else the first) remote tile fills the area above a filmstrip holding the rest and the self
// view; in the grid every tile, self view last, gets an equal cell of a near-square grid.
func Layout(v CallView, w, h int) []image.Rectangle {
	p := layout(v, w, h)
	out := make([]image.Rectangle, len(p))
	for i, t := range p {
		out[i] = t.r
	}
	return out
}

func layout(v CallView, w, h int) []placed {
	var all []placed
	for _, t := range v.Tiles {
		all = append(all, placed{t: t})
	}
	if v.Self != nil {
		all = append(all, placed{t: *v.Self, self: true})
	}
	if len(all) == 0 {
		return nil
	}
	gap := max(h/180, 2)
	if v.Layout == LayoutGrid {
		return grid(all, image.Rect(0, 0, w, h), gap)
	}
	// Speaker: pick the main tile among the remote ones (the self view only when alone).
	main := 0
	for i, p := range all {
		if p.t.Speaking && !p.self {
			main = i
			break
		}
	}
	if len(all) == 1 {
		all[0].r = image.Rect(0, 0, w, h)
		return all
	}
	stripH := h / 5
	big := placed{t: all[main].t, self: all[main].self, r: image.Rect(0, 0, w, h-stripH)}
	rest := append(append([]placed{}, all[:main]...), all[main+1:]...)
	// Filmstrip tiles are 16:9 cells of the strip's height, centred; if too many, narrower.
	cellW := min(stripH*16/9, (w-gap)/len(rest)-gap)
	total := len(rest)*(cellW+gap) - gap
	x := (w - total) / 2
	for i := range rest {
		rest[i].r = image.Rect(x, h-stripH+gap, x+cellW, h)
		x += cellW + gap
	}
	return append([]placed{big}, rest...)
}

// grid splits area into near-square equal cells, row by row; a last row with fewer tiles is
// centred.
func grid(all []placed, area image.Rectangle, gap int) []placed {
	n := len(all)
	cols := int(math.Ceil(math.Sqrt(float64(n))))
	rows := (n + cols - 1) / cols
	cw := (area.Dx() - gap*(cols+1)) / cols
	ch := (area.Dy() - gap*(rows+1)) / rows
	for i := range all {
		row, col := i/cols, i%cols
		inRow := cols
		if row == rows-1 {
			inRow = n - row*cols
		}
		x0 := area.Min.X + (area.Dx()-inRow*cw-(inRow-1)*gap)/2
		y0 := area.Min.Y + (area.Dy()-rows*ch-(rows-1)*gap)/2
		x := x0 + col*(cw+gap)
		y := y0 + row*(ch+gap)
		all[i].r = image.Rect(x, y, x+cw, y+ch)
	}
	return all
}

// Compose draws v onto dst (the whole of dst.Rect): tiles scaled into their layout rectangles,
// then the overlays (names, muted icons, speaking highlight, meeting name, banner).
func Compose(dst *image.RGBA, v CallView) {
	fs, err := newFaces()
	if err != nil {
		fill(dst, dst.Rect, colBackground)
		return
	}
	defer fs.close()
	compose(dst, v, fs)
}

func compose(dst *image.RGBA, v CallView, fs *faces) {
	b := dst.Rect
	fill(dst, b, colBlack)
	w, h := b.Dx(), b.Dy()
	unit := max(h/72, 4) // 10 px at 720p
	tiles := layout(v, w, h)
	yuv := newYUVTables()
	for _, p := range tiles {
		drawTile(dst, p.t, p.r.Add(b.Min), p.self, fs, yuv, unit)
	}
	if len(tiles) == 0 || len(v.Tiles) == 0 {
		f := fs.face(false, 4*unit)
		msg := "Waiting for others to join"
		y := b.Min.Y + h/2
		if len(tiles) > 0 { // only the self view is up: put the notice over it, low down
			y = b.Max.Y - 6*unit
		}
		drawCentred(dst, f, b.Min.X, b.Max.X, y, colDim, msg)
	}
	if v.Meeting != "" {
		f := fs.face(true, 3*unit)
		name := ellipsize(f, clean(v.Meeting), w/2)
		tw := textWidth(f, name)
		shade(dst, image.Rect(b.Min.X+unit, b.Min.Y+unit, b.Min.X+3*unit+tw, b.Min.Y+unit+lineHeight(f)+unit), colLabel)
		drawText(dst, f, b.Min.X+2*unit, b.Min.Y+unit+unit/2+ascent(f), colWhite, name)
	}
	if v.Banner != "" {
		f := fs.face(true, 3*unit)
		band := image.Rect(b.Min.X, b.Min.Y+h/10, b.Max.X, b.Min.Y+h/10+lineHeight(f)+unit)
		fill(dst, band, colBanner)
		drawCentred(dst, f, b.Min.X+unit, b.Max.X-unit, band.Min.Y+unit/2+ascent(f), colBlack, ellipsize(f, clean(v.Banner), w-2*unit))
	}
}

// drawTile draws one participant into r.
func drawTile(dst *image.RGBA, t Tile, r image.Rectangle, self bool, fs *faces, yuv *yuvTables, unit int) {
	if r.Dx() < 2 || r.Dy() < 2 {
		return // a screen too small for this many tiles
	}
	fill(dst, r, colTile)
	small := r.Dy() < 20*unit
	if t.Picture != nil && !t.CameraMuted && validYCbCr(t.Picture) {
		blitYCbCr(dst, fitRect(r, t.Picture.Rect.Dx(), t.Picture.Rect.Dy()), t.Picture, yuv)
	} else {
		// No video: initials large in the middle, a camera-off mark when it was turned off.
		f := fs.face(true, max(r.Dy()/4, 2*unit))
		drawCentred(dst, f, r.Min.X, r.Max.X, r.Min.Y+r.Dy()/2+ascent(f)/2, colDim, initials(t.Name))
		if t.CameraMuted {
			cameraOffIcon(dst, r.Max.X-4*unit, r.Min.Y+unit, 3*unit, colDim)
		}
	}
	if t.Speaking {
		frame(dst, r, max(unit/2, 3), colSpeaking)
	}
	// Name label, bottom left, with the muted mic before it.
	px := 2 * unit
	if small {
		px = unit + unit/2
	}
	f := fs.face(false, px)
	name := clean(t.Name)
	if self {
		name = "You"
		if t.Name != "" {
			name = clean(t.Name) + " (you)"
		}
	}
	icon := 0
	if t.MicMuted {
		icon = lineHeight(f)
	}
	maxW := r.Dx() - 3*unit - icon
	name = ellipsize(f, name, max(maxW, 0))
	if name == "" && icon == 0 {
		return
	}
	lh := lineHeight(f)
	label := image.Rect(r.Min.X+unit/2, r.Max.Y-lh-unit, r.Min.X+unit/2+icon+textWidth(f, name)+unit+unit/2, r.Max.Y-unit/2)
	label = label.Intersect(r)
	shade(dst, label, colLabel)
	x := label.Min.X + unit/2
	if t.MicMuted {
		micMutedIcon(dst, x, label.Min.Y+(label.Dy()-lh)/2, lh)
		x += icon + unit/3
	}
	drawText(dst, f, x, label.Min.Y+(label.Dy()-lh)/2+ascent(f), colWhite, name)
}

// drawCentred draws s centred between x0 and x1 with its baseline at y.
func drawCentred(dst *image.RGBA, f font.Face, x0, x1, y int, c color.RGBA, s string) {
	if f == nil {
		return
	}
	s = ellipsize(f, s, x1-x0)
	drawText(dst, f, x0+(x1-x0-textWidth(f, s))/2, y, c, s)
}

// initials are the first letters of the first and last words of name ("?" when none).
func initials(name string) string {
	words := strings.FieldsFunc(clean(name), func(r rune) bool { return unicode.IsSpace(r) || r == '-' })
	var out []rune
	for i, w := range words {
		if i == 0 || i == len(words)-1 && len(words) > 1 {
			r := []rune(w)
			out = append(out, unicode.ToUpper(r[0]))
		}
	}
	if len(out) == 0 {
		return "?"
	}
	return string(out)
}

// clean drops control characters and invalid UTF-8 from text that came from the network.
func clean(s string) string {
	return strings.Map(func(r rune) rune {
		if r == unicode.ReplacementChar || unicode.IsControl(r) {
			return -1
		}
		return r
	}, strings.ToValidUTF8(s, ""))
}

// validYCbCr reports whether m's planes are large enough for its bounds and subsampling, so a
// malformed picture is skipped instead of crashing the renderer.
func validYCbCr(m *image.YCbCr) bool {
	r := m.Rect
	if r.Empty() || m.YStride < r.Dx() || m.CStride < 0 {
		return false
	}
	last := r.Max.Sub(image.Pt(1, 1))
	return m.YOffset(last.X, last.Y) < len(m.Y) && m.COffset(last.X, last.Y) < len(m.Cb) &&
		m.COffset(last.X, last.Y) < len(m.Cr) && m.YOffset(r.Min.X, r.Min.Y) >= 0 && m.COffset(r.Min.X, r.Min.Y) >= 0
}
