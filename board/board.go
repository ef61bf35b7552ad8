// Package board puts the room hardware behind small interfaces, so firmware runs the same on a
// real board (board/linux) and in software (board/sim) for host runs and tests.
package board

import (
	"fmt"
	"slices"
	"strings"
)

// Screen is what the room's display shows. Minimal for now: a title, some lines of text and an
// optional pairing code shown large; the hardware issue extends it.
type Screen struct {
	Title string   `json:"title"`
	Lines []string `json:"lines,omitempty"`
	Code  string   `json:"code,omitempty"`
}

// Display shows one Screen at a time; Show replaces what was shown.
type Display interface {
	Show(s Screen) error
}

// Board is one room device's hardware.
type Board struct {
	Name    string
	Display Display
}

// Registry maps a board name (the --board flag) to a constructor. The caller builds it, since
// board must not import its implementations (they import board).
type Registry map[string]func() (*Board, error)

// Open builds the board called name; the error lists the known names.
func (r Registry) Open(name string) (*Board, error) {
	mk, ok := r[name]
	if !ok {
		return nil, fmt.Errorf("open board: unknown board %q (known: %s)", name, strings.Join(r.Names(), ", "))
	}
	b, err := mk()
	if err != nil {
		return nil, fmt.Errorf("open board %q: %w", name, err)
	}
	return b, nil
}

// Names lists the registered boards, sorted.
func (r Registry) Names() []string {
	names := make([]string, 0, len(r))
	for n := range r {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}
