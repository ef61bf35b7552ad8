package screen

import (
	"fmt"
	"image"
	"image/color"
	"sync"
	"unicode/utf8"

	"golang.org/x/image/font"
	"golang.org/x/image/font/basicfont"
	"golang.org/x/image/font/gofont/gobold"
	"golang.org/x/image/font/gofont/goregular"
	"golang.org/x/image/font/opentype"
	"golang.org/x/image/math/fixed"
)

// fonts are the parsed Go fonts. Parsing is done once per process (the fonts are constant, so
// this cache is not mutable state); Faces are made per drawing, since a Face is not safe for
// concurrent use.
type fonts struct{ regular, bold *opentype.Font }

var parsedFonts = sync.OnceValues(func() (*fonts, error) {
	r, err := opentype.Parse(goregular.TTF)
	if err != nil {
		return nil, fmt.Errorf("parse Go Regular: %w", err)
	}
	b, err := opentype.Parse(gobold.TTF)
	if err != nil {
		return nil, fmt.Errorf("parse Go Bold: %w", err)
	}
	return &fonts{regular: r, bold: b}, nil
})

// faces makes faces on demand at pixel sizes and keeps them for one drawing.
type faces struct {
	f     *fonts
	cache map[faceKey]font.Face
}

type faceKey struct {
	bold bool
	px   int
}

func newFaces() (*faces, error) {
	f, err := parsedFonts()
	if err != nil {
		return nil, err
	}
	return &faces{f: f, cache: map[faceKey]font.Face{}}, nil
}

// face returns the font at px pixels (at least 8).
func (fs *faces) face(bold bool, px int) font.Face {
	px = max(px, 8)
	k := faceKey{bold, px}
	if f, ok := fs.cache[k]; ok {
		return f
	}
	src := fs.f.regular
	if bold {
		src = fs.f.bold
	}
	f, err := opentype.NewFace(src, &opentype.FaceOptions{Size: float64(px), DPI: 72, Hinting: font.HintingFull})
	if err != nil {
		// Only a bad size fails, and px is always positive: fall back to the built-in face.
		return basicfont.Face7x13
	}
	fs.cache[k] = f
	return f
}

func (fs *faces) close() {
	for _, f := range fs.cache {
		f.Close()
	}
}

// textWidth is how wide s is set in f, in pixels.
func textWidth(f font.Face, s string) int { return font.MeasureString(f, s).Ceil() }

// ellipsize shortens s, adding "…", until it fits in width pixels. Linear in len(s): the
// prefix widths are summed glyph by glyph (names come from the network and may be long).
func ellipsize(f font.Face, s string, width int) string {
	if width <= 0 {
		return ""
	}
	if textWidth(f, s) <= width {
		return s
	}
	limit := fixed.I(width) - font.MeasureString(f, "…")
	var adv fixed.Int26_6
	prev := rune(-1)
	cut := 0
	for i, r := range s {
		if prev >= 0 {
			adv += f.Kern(prev, r)
		}
		a, _ := f.GlyphAdvance(r)
		if adv+a > limit {
			break
		}
		adv += a
		prev = r
		cut = i + utf8.RuneLen(r)
	}
	if cut == 0 {
		return ""
	}
	return s[:cut] + "…"
}

// drawText draws s with its baseline at (x, y) in colour c.
func drawText(dst *image.RGBA, f font.Face, x, y int, c color.Color, s string) {
	if s == "" {
		return
	}
	d := font.Drawer{Dst: dst, Src: image.NewUniform(c), Face: f, Dot: fixed.P(x, y)}
	d.DrawString(s)
}

// ascent is the face's height above the baseline in pixels.
func ascent(f font.Face) int { return f.Metrics().Ascent.Ceil() }

// lineHeight is the face's line spacing in pixels.
func lineHeight(f font.Face) int { return f.Metrics().Height.Ceil() }
