// Package sim implements board's interfaces in software, for host runs and tests.
package sim

import (
	"slices"
	"sync"

	"github.com/stoa-rooms/stoa/board"
)

// Display keeps the last Screen in memory. Safe for concurrent use.
type Display struct {
	mu   sync.Mutex
	last board.Screen
	n    int
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

// New returns the simulated board: an in-memory display.
func New() (*board.Board, error) {
	return &board.Board{Name: "sim", Display: &Display{}}, nil
}
