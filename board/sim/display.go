package sim

import (
	"fmt"
	"image"
	"slices"
	"sync"

	"github.com/stoa-rooms/stoa/board"
)

// Display keeps the last Screen in memory. Safe for concurrent use.
type Display struct {
	W, H int // Size; 1280x720 when zero

	mu    sync.Mutex
	last  board.Screen
	n     int
	img   *image.RGBA
	draws int
}

// Size is the picture size Draw expects.
func (d *Display) Size() (int, int) {
	if d.W == 0 || d.H == 0 {
		return 1280, 720
	}
	return d.W, d.H
}

// Draw keeps a copy of img as the picture shown (into the same buffer while the size stays,
// so a call drawn at 30 fps does not allocate a picture per frame).
func (d *Display) Draw(img *image.RGBA) error {
	w, h := d.Size()
	if b := img.Bounds(); b.Dx() != w || b.Dy() != h {
		return fmt.Errorf("draw on sim display: picture is %dx%d, the display %dx%d", b.Dx(), b.Dy(), w, h)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.img == nil || d.img.Rect != img.Rect {
		d.img = image.NewRGBA(img.Rect)
	}
	for y := img.Rect.Min.Y; y < img.Rect.Max.Y; y++ {
		copy(d.img.Pix[d.img.PixOffset(img.Rect.Min.X, y):d.img.PixOffset(img.Rect.Max.X, y)],
			img.Pix[img.PixOffset(img.Rect.Min.X, y):img.PixOffset(img.Rect.Max.X, y)])
	}
	d.draws++
	return nil
}

// Draws counts the Draw calls, so tests can wait for a new picture.
func (d *Display) Draws() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.draws
}

// Picture returns a copy of the picture shown last (nil before the first Draw).
func (d *Display) Picture() *image.RGBA {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.img == nil {
		return nil
	}
	c := image.NewRGBA(d.img.Bounds())
	copy(c.Pix, d.img.Pix)
	return c
}

// Show records s as the screen now shown.
func (d *Display) Show(s board.Screen) error {
	s.Lines = slices.Clone(s.Lines)
	d.mu.Lock()
	defer d.mu.Unlock()
	d.last = s
	d.n++
	return nil
}

// Last returns the screen shown last (zero before the first Show).
func (d *Display) Last() board.Screen {
	d.mu.Lock()
	defer d.mu.Unlock()
	s := d.last
	s.Lines = slices.Clone(s.Lines)
	return s
}

// Shown counts the Show calls, so tests can wait for a change.
func (d *Display) Shown() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.n
}
