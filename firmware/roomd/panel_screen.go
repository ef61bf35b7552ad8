package roomd

import (
	"slices"
	"sync"

	"github.com/stoa-rooms/stoa/board"
)

// PanelScreen wraps the room's ScreenShower: while a panel is pairing it adds the panel PIN as
// a line of the idle screen, and redraws when the PIN appears or goes. Build the Room with it
// (RoomOptions.Screen) and hand it to NewPanel.
type PanelScreen struct {
	inner ScreenShower

	mu    sync.Mutex
	last  board.Screen
	shown bool
	pin   string
	busy  func() bool // a call or standby owns the display
}

// NewPanelScreen wraps inner.
func NewPanelScreen(inner ScreenShower) *PanelScreen { return &PanelScreen{inner: inner} }

// Show shows s, with the panel PIN line while one is showing.
func (p *PanelScreen) Show(s board.Screen) error {
	p.mu.Lock()
	p.last, p.shown = s, true
	out := p.withPINLocked()
	p.mu.Unlock()
	return p.inner.Show(out)
}

// PIN is the panel-pairing PIN on the display now ("" when none).
func (p *PanelScreen) PIN() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.pin
}

func (p *PanelScreen) withPINLocked() board.Screen {
	s := p.last
	if p.pin != "" {
		s.Lines = append(slices.Clone(s.Lines), "Touch panel PIN: "+p.pin[:3]+" "+p.pin[3:])
	}
	return s
}

func (p *PanelScreen) setBusy(f func() bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.busy = f
}

// setPIN is the panel store's OnPIN: redraw the idle screen with (or without) the PIN.
func (p *PanelScreen) setPIN(pin string) {
	p.mu.Lock()
	p.pin = pin
	draw := p.shown && (p.busy == nil || !p.busy())
	out := p.withPINLocked()
	p.mu.Unlock()
	if draw {
		_ = p.inner.Show(out)
	}
}
