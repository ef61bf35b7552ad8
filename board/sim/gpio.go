package sim

import (
	"errors"
	"fmt"
	"io"
	"slices"
	"sync"
	"time"

	"github.com/stoa-rooms/stoa/board"
)

// GPIO is the board's lines in software. Tests drive inputs with Press, Release and SetInput
// (logical levels: active means asserted, after any active-low inversion) and read outputs with
// OutputValue. Inputs are debounced like the real driver: a change is reported once the line
// has stayed at its new level for the line's debounce time, so a shorter glitch reports nothing.
type GPIO struct {
	clock Clock

	mu    sync.Mutex
	lines map[string]*line
}

type line struct {
	def      board.GPIOLineDef
	level    bool // the raw logical level now
	reported bool // the debounced level last reported
	since    time.Time
	stop     func() bool // the pending debounce timer
	watchers []*watch
	output   bool // opened as an output
	out      bool
}

type watch struct {
	g  *GPIO
	l  *line
	fn func(board.InputEvent)
}

// NewGPIO makes the lines of the definition's gpio section.
func NewGPIO(c Clock, defs map[string]board.GPIOLineDef) *GPIO {
	g := &GPIO{clock: c, lines: map[string]*line{}}
	for role, d := range defs {
		g.lines[role] = &line{def: d}
	}
	return g
}

func (g *GPIO) line(name string) (*line, error) {
	l, ok := g.lines[name]
	if !ok {
		return nil, fmt.Errorf("sim gpio: no line %q on this board", name)
	}
	return l, nil
}

func (l *line) debounce() time.Duration {
	if l.def.DebounceMS == 0 {
		return 20 * time.Millisecond
	}
	return time.Duration(l.def.DebounceMS) * time.Millisecond
}

// Watch reports debounced changes of input name to fn.
func (g *GPIO) Watch(name string, fn func(board.InputEvent)) (io.Closer, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	l, err := g.line(name)
	if err != nil {
		return nil, fmt.Errorf("watch %w", err)
	}
	if l.output {
		return nil, fmt.Errorf("watch sim gpio %q: line is busy as an output", name)
	}
	w := &watch{g: g, l: l, fn: fn}
	l.watchers = append(l.watchers, w)
	return w, nil
}

func (w *watch) Close() error {
	w.g.mu.Lock()
	defer w.g.mu.Unlock()
	w.l.watchers = slices.DeleteFunc(w.l.watchers, func(x *watch) bool { return x == w })
	return nil
}

// Output opens output name at initial.
func (g *GPIO) Output(name string, initial bool) (board.OutputLine, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	l, err := g.line(name)
	if err != nil {
		return nil, fmt.Errorf("open output %w", err)
	}
	if l.output || len(l.watchers) > 0 {
		return nil, fmt.Errorf("open sim gpio output %q: line is busy", name)
	}
	l.output, l.out = true, initial
	return &outputLine{g: g, l: l}, nil
}

type outputLine struct {
	g      *GPIO
	l      *line
	closed bool
}

func (o *outputLine) Set(on bool) error {
	o.g.mu.Lock()
	defer o.g.mu.Unlock()
	if o.closed {
		return errors.New("set sim gpio output: line closed")
	}
	o.l.out = on
	return nil
}

func (o *outputLine) Close() error {
	o.g.mu.Lock()
	defer o.g.mu.Unlock()
	if !o.closed {
		o.closed = true
		o.l.output = false
	}
	return nil
}

// OutputValue is output name's level (false when it is not open as an output).
func (g *GPIO) OutputValue(name string) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	l, ok := g.lines[name]
	return ok && l.output && l.out
}

// Press asserts input name.
func (g *GPIO) Press(name string) error { return g.SetInput(name, true) }

// Release deasserts input name.
func (g *GPIO) Release(name string) error { return g.SetInput(name, false) }

// SetInput sets input name's logical level; watchers hear of it once it has been stable for the
// line's debounce time.
func (g *GPIO) SetInput(name string, active bool) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	l, err := g.line(name)
	if err != nil {
		return fmt.Errorf("set input %w", err)
	}
	if l.output {
		return fmt.Errorf("set sim gpio input %q: line is an output", name)
	}
	if l.level == active {
		return nil
	}
	l.level = active
	l.since = g.clock.Now()
	if l.stop != nil {
		l.stop()
		l.stop = nil
	}
	if active == l.reported {
		return nil // a glitch that came back before the debounce time: nothing to report
	}
	edge := l.since
	l.stop = g.clock.AfterFunc(l.debounce(), func() { g.settle(name, l, active, edge) })
	return nil
}

// settle reports the level if it is still the one the timer was started for.
func (g *GPIO) settle(name string, l *line, active bool, edge time.Time) {
	g.mu.Lock()
	if l.level != active || l.reported == active || !l.since.Equal(edge) {
		g.mu.Unlock()
		return
	}
	l.reported = active
	l.stop = nil
	fns := make([]func(board.InputEvent), 0, len(l.watchers))
	for _, w := range l.watchers {
		fns = append(fns, w.fn)
	}
	g.mu.Unlock()
	ev := board.InputEvent{Line: name, Active: active, Time: edge}
	for _, fn := range fns {
		fn(ev)
	}
}

// Close stops all pending debounce timers and drops the watchers.
func (g *GPIO) Close() error {
	g.mu.Lock()
	defer g.mu.Unlock()
	for _, l := range g.lines {
		if l.stop != nil {
			l.stop()
			l.stop = nil
		}
		l.watchers = nil
	}
	return nil
}
