package sim

import (
	"image"
	"slices"
	"sync"

	"github.com/stoa-rooms/stoa/board"
)

// Display keeps the last Screen in memory. Safe for concurrent use.
type Display struct {
	W, H int // Size; 1280x720 when zero

	mu   sync.Mutex
	last board.Screen
	n    int
	img  *image.RGBA
}

// Size is the picture size Draw expects.
func (d *Display) Size() (int, int) {
	if d.W == 0 || d.H == 0 {
		return 1280, 720
	}
	return d.W, d.H
}

// Draw keeps a copy of img as the picture shown.
func (d *Display) Draw(img *image.RGBA) error {
	c := image.NewRGBA(img.Bounds())
	copy(c.Pix, img.Pix)
	d.mu.Lock()
	defer d.mu.Unlock()
	d.img = c
	return nil
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
