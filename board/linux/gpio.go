package linux

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/warthog618/go-gpiocdev"
	"golang.org/x/sys/unix"

	"github.com/stoa-rooms/stoa/board"
)

const defaultDebounce = 20 * time.Millisecond

// gpioOptions are knobs for tests.
type gpioOptions struct {
	// softDebounce skips the kernel's debounce and debounces in software only, as on a kernel
	// or chip that refuses it.
	softDebounce bool
	log          *slog.Logger
}

// gpioLines is board.GPIO over the GPIO character device (go-gpiocdev, uAPI v2 where present).
type gpioLines struct {
	o     gpioOptions
	lines map[string]gpioLine

	mu     sync.Mutex
	open   map[io.Closer]struct{} // watches and outputs, closed by Close
	closed bool
}

// OpenGPIO resolves every line the definition names (by name across chips, or chip + offset)
// and checks none is taken, so a wrong definition fails at start with the role and line named.
// Lines are requested when Watch or Output is called.
func OpenGPIO(lines map[string]board.GPIOLineDef) (board.GPIO, error) {
	return openGPIO(lines, gpioOptions{})
}

func openGPIO(lines map[string]board.GPIOLineDef, o gpioOptions) (*gpioLines, error) {
	if o.log == nil {
		o.log = slog.New(slog.DiscardHandler)
	}
	g := &gpioLines{o: o, lines: map[string]gpioLine{}, open: map[io.Closer]struct{}{}}
	for _, role := range slices.Sorted(maps.Keys(lines)) {
		l, err := findLine(role, lines[role])
		if err != nil {
			return nil, fmt.Errorf("open gpio: %w", err)
		}
		if err := checkFree(l); err != nil {
			return nil, fmt.Errorf("open gpio: %w", err)
		}
		g.lines[role] = l
	}
	return g, nil
}

func checkFree(l gpioLine) error {
	c, err := gpiocdev.NewChip(l.chip)
	if err != nil {
		return fmt.Errorf("%s: %w", l, err)
	}
	defer c.Close()
	info, err := c.LineInfo(l.offset)
	if err != nil {
		return fmt.Errorf("%s: line info: %w", l, err)
	}
	if info.Used {
		return fmt.Errorf("%s: line busy (used by %q)", l, info.Consumer)
	}
	return nil
}

func (g *gpioLines) line(role string) (gpioLine, error) {
	l, ok := g.lines[role]
	if !ok {
		have := slices.Sorted(maps.Keys(g.lines))
		return l, fmt.Errorf("gpio %s: the board defines no such line (have: %s)", role, strings.Join(have, ", "))
	}
	return l, nil
}

func (g *gpioLines) track(c io.Closer) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closed {
		return errors.New("gpio closed")
	}
	g.open[c] = struct{}{}
	return nil
}

func (g *gpioLines) untrack(c io.Closer) {
	g.mu.Lock()
	defer g.mu.Unlock()
	delete(g.open, c)
}

// Close releases every line still requested.
func (g *gpioLines) Close() error {
	g.mu.Lock()
	g.closed = true
	open := slices.Collect(maps.Keys(g.open))
	g.open = map[io.Closer]struct{}{}
	g.mu.Unlock()
	var errs []error
	for _, c := range open {
		errs = append(errs, c.Close())
	}
	return errors.Join(errs...)
}

// --- outputs ---

type outputLine struct {
	g    *gpioLines
	l    gpioLine
	line *gpiocdev.Line
	once sync.Once
}

// Output requests role's line as an output driven to initial (after active-low inversion).
func (g *gpioLines) Output(role string, initial bool) (board.OutputLine, error) {
	l, err := g.line(role)
	if err != nil {
		return nil, err
	}
	opts := []gpiocdev.LineReqOption{gpiocdev.WithConsumer("stoa-" + role), gpiocdev.AsOutput(b2i(initial))}
	if l.def.ActiveLow {
		opts = append(opts, gpiocdev.AsActiveLow)
	}
	line, err := gpiocdev.RequestLine(l.chip, l.offset, opts...)
	if err != nil {
		return nil, busyError(l, err)
	}
	o := &outputLine{g: g, l: l, line: line}
	if err := g.track(o); err != nil {
		line.Close()
		return nil, fmt.Errorf("%s: %w", l, err)
	}
	return o, nil
}

func (o *outputLine) Set(on bool) error {
	if err := o.line.SetValue(b2i(on)); err != nil {
		return fmt.Errorf("%s: set %v: %w", o.l, on, err)
	}
	return nil
}

func (o *outputLine) Close() error {
	var err error
	o.once.Do(func() {
		o.g.untrack(o)
		err = o.line.Close()
	})
	return err
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// --- inputs ---

type edge struct {
	active bool
	at     time.Time
}

type watch struct {
	g      *gpioLines
	l      gpioLine
	fn     func(board.InputEvent)
	line   *gpiocdev.Line
	edges  chan edge
	stop   chan struct{}
	done   chan struct{}
	once   sync.Once
	deb    debouncer
	period time.Duration // the quiet period of the software debounce
}

// Watch requests role's line as an input with edge events on both edges and debounce: the
// kernel's (uAPI v2, Linux 5.10+) where it takes it, else in software; fn gets each debounced
// change on the watch's own goroutine. Closing the watch from fn is allowed.
func (g *gpioLines) Watch(role string, fn func(board.InputEvent)) (io.Closer, error) {
	l, err := g.line(role)
	if err != nil {
		return nil, err
	}
	period := defaultDebounce
	if l.def.DebounceMS > 0 {
		period = time.Duration(l.def.DebounceMS) * time.Millisecond
	}
	w := &watch{g: g, l: l, fn: fn, edges: make(chan edge, 64), stop: make(chan struct{}), done: make(chan struct{})}
	opts := []gpiocdev.LineReqOption{
		gpiocdev.WithConsumer("stoa-" + role), gpiocdev.AsInput, gpiocdev.WithBothEdges,
		gpiocdev.WithEventHandler(w.onEdge),
	}
	if l.def.ActiveLow {
		opts = append(opts, gpiocdev.AsActiveLow)
	}
	var line *gpiocdev.Line
	if !g.o.softDebounce {
		line, err = gpiocdev.RequestLine(l.chip, l.offset, append(opts, gpiocdev.WithDebounce(period))...)
		if err != nil && !errors.Is(err, unix.EBUSY) {
			g.o.log.Info("gpio: kernel debounce refused, debouncing in software", "role", role, "err", err)
			line, err = nil, nil
		}
		if err != nil {
			return nil, busyError(l, err)
		}
	}
	if line == nil {
		line, err = gpiocdev.RequestLine(l.chip, l.offset, opts...)
		if err != nil {
			return nil, busyError(l, err)
		}
		w.period = period
	}
	w.line = line
	w.deb = debouncer{period: w.period}
	if v, err := line.Value(); err == nil {
		w.deb.reported = v == 1
	}
	if err := g.track(w); err != nil {
		line.Close()
		return nil, fmt.Errorf("%s: %w", l, err)
	}
	go w.run()
	return w, nil
}

// onEdge runs on gpiocdev's watcher goroutine: hand the edge over and return.
func (w *watch) onEdge(e gpiocdev.LineEvent) {
	select {
	case w.edges <- edge{active: e.Type == gpiocdev.LineEventRisingEdge, at: monoToWall(e.Timestamp)}:
	default: // flooded: the software debounce reads the level at the end anyway
		w.g.o.log.Warn("gpio: edge queue full, dropping an edge", "role", w.l.role)
	}
}

func (w *watch) run() {
	defer close(w.done)
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	for {
		select {
		case <-w.stop:
			timer.Stop()
			return
		case e := <-w.edges:
			emit, arm := w.deb.edge(e.active, e.at)
			if arm {
				timer.Reset(w.period)
			}
			if emit {
				w.emit(e.active, e.at)
			}
		case <-timer.C:
			v, err := w.line.Value()
			if err != nil {
				w.g.o.log.Warn("gpio: read level", "role", w.l.role, "err", err)
				continue
			}
			if w.deb.settle(v == 1) {
				w.emit(v == 1, w.deb.lastEdge)
			}
		}
	}
}

func (w *watch) emit(active bool, at time.Time) {
	select {
	case <-w.stop:
		return
	default:
	}
	w.fn(board.InputEvent{Line: w.l.role, Active: active, Time: at})
}

// Close stops the watch and releases the line. It does not wait for a running fn, so fn may
// close its own watch.
func (w *watch) Close() error {
	var err error
	w.once.Do(func() {
		w.g.untrack(w)
		close(w.stop)
		err = w.line.Close()
	})
	return err
}

// monoToWall converts a kernel CLOCK_MONOTONIC event timestamp to wall-clock time.
func monoToWall(ts time.Duration) time.Time {
	now := time.Now()
	var mono unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_MONOTONIC, &mono); err != nil || ts <= 0 {
		return now
	}
	return now.Add(ts - time.Duration(mono.Nano()))
}
