// Package screen renders what the room's display shows: the idle and pairing screens (title,
// lines, pairing code, QR code of the pairing URL, clock) and, in a call, the participants'
// video in a speaker or grid layout with overlays (meeting name, names, muted icons, speaking
// highlight). Text is set in the Go fonts.
package screen

import (
	"fmt"
	"image"
	"slices"
	"sync"
	"time"

	"github.com/stoa-rooms/stoa/board"
)

// Options configure a Renderer.
type Options struct {
	// Now is the clock shown on the idle screen; nil = time.Now.
	Now func() time.Time
}

// Renderer draws screens on a display. Safe for concurrent use; draws are serialised.
type Renderer struct {
	d board.Display
	o Options

	mu     sync.Mutex
	img    *image.RGBA
	last   board.Screen
	inCall bool
}

// New returns a renderer for d.
func New(d board.Display, o Options) *Renderer {
	if o.Now == nil {
		o.Now = time.Now
	}
	return &Renderer{d: d, o: o}
}

// frameLocked returns the renderer's picture at the display's current size.
func (r *Renderer) frameLocked() *image.RGBA {
	w, h := r.d.Size()
	if r.img == nil || r.img.Rect.Dx() != w || r.img.Rect.Dy() != h {
		r.img = image.NewRGBA(image.Rect(0, 0, w, h))
	}
	return r.img
}

// Show draws the idle or pairing screen s and leaves call mode. When the display also records
// screens (the sim display does), it is told too.
func (r *Renderer) Show(s board.Screen) error {
	s.Lines = slices.Clone(s.Lines)
	r.mu.Lock()
	defer r.mu.Unlock()
	r.last = s
	r.inCall = false
	if err := r.drawScreenLocked(); err != nil {
		return err
	}
	if rec, ok := r.d.(interface{ Show(board.Screen) error }); ok {
		return rec.Show(s)
	}
	return nil
}

func (r *Renderer) drawScreenLocked() error {
	fs, err := newFaces()
	if err != nil {
		return fmt.Errorf("show screen: %w", err)
	}
	defer fs.close()
	img := r.frameLocked()
	if err := drawScreen(img, r.last, r.o.Now(), fs); err != nil {
		return fmt.Errorf("show screen %q: %w", r.last.Title, err)
	}
	if err := r.d.Draw(img); err != nil {
		return fmt.Errorf("show screen: draw: %w", err)
	}
	return nil
}

// Refresh redraws the idle screen (so its clock moves on); it does nothing during a call.
// roomd calls it once a minute.
func (r *Renderer) Refresh() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.inCall {
		return nil
	}
	return r.drawScreenLocked()
}

// Last returns the screen shown last (zero before the first Show).
func (r *Renderer) Last() board.Screen {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := r.last
	s.Lines = slices.Clone(s.Lines)
	return s
}

// ShowCall composes v and draws it; the renderer stays in call mode until the next Show.
func (r *Renderer) ShowCall(v CallView) error {
	fs, err := newFaces()
	if err != nil {
		return fmt.Errorf("show call: %w", err)
	}
	defer fs.close()
	r.mu.Lock()
	defer r.mu.Unlock()
	r.inCall = true
	img := r.frameLocked()
	compose(img, v, fs)
	if err := r.d.Draw(img); err != nil {
		return fmt.Errorf("show call: draw: %w", err)
	}
	return nil
}
