//go:build hw

package linux

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/warthog618/go-gpiocdev"

	"github.com/stoa-rooms/stoa/board"
)

// simChip creates a gpio-sim chip through configfs with the given line names and returns its
// gpiochip name and its sysfs directory (sim_gpioN/{pull,value}).
func simChip(t *testing.T, name string, lines []string) (chip, sysdir string) {
	t.Helper()
	dev := filepath.Join("/sys/kernel/config/gpio-sim", name)
	bank := filepath.Join(dev, "gpio-bank0")
	write := func(p, v string) {
		t.Helper()
		if err := os.WriteFile(p, []byte(v), 0o644); err != nil {
			t.Fatalf("write %q to %s: %v", v, p, err)
		}
	}
	for _, d := range []string{dev, bank} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatalf("gpio-sim: %v", err)
		}
	}
	var lineDirs []string
	for i, n := range lines {
		d := filepath.Join(bank, fmt.Sprintf("line%d", i))
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatalf("gpio-sim: %v", err)
		}
		lineDirs = append(lineDirs, d)
		write(filepath.Join(d, "name"), n)
	}
	t.Cleanup(func() {
		_ = os.WriteFile(filepath.Join(dev, "live"), []byte("0"), 0o644)
		for _, d := range lineDirs {
			_ = os.Remove(d)
		}
		_ = os.Remove(bank)
		_ = os.Remove(dev)
	})
	write(filepath.Join(bank, "num_lines"), fmt.Sprint(len(lines)+2)) // two unnamed lines too
	write(filepath.Join(dev, "live"), "1")
	chip = readTrimmed(t, filepath.Join(bank, "chip_name"))
	devName := readTrimmed(t, filepath.Join(dev, "dev_name"))
	sysdir = filepath.Join("/sys/devices/platform", devName, chip)
	poll(t, 30*time.Second, func() error { return gpiocdev.IsChip(chip) })
	return chip, sysdir
}

func readTrimmed(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

func poll(t *testing.T, within time.Duration, cond func() error) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		err := cond()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %v: %v", within, err)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func pull(t *testing.T, sysdir string, offset int, up bool) {
	t.Helper()
	v := "pull-down"
	if up {
		v = "pull-up"
	}
	if err := os.WriteFile(filepath.Join(sysdir, fmt.Sprintf("sim_gpio%d", offset), "pull"), []byte(v), 0o644); err != nil {
		t.Fatal(err)
	}
}

type events struct {
	mu  sync.Mutex
	got []board.InputEvent
}

func (e *events) add(ev board.InputEvent) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.got = append(e.got, ev)
}

func (e *events) list() []board.InputEvent {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]board.InputEvent(nil), e.got...)
}

// bounceLevels is a bouncing contact settling at level: seven edges (a sim line starts at the
// other level), the line's level after each.
func bounceLevels(level bool) []bool {
	return []bool{level, !level, level, !level, level, !level, level}
}

// bounce drives the sim line through bounceLevels(level), pace apart, and returns an upper
// bound on the time between two consecutive edges: edge k happens during write k, so it is at
// most the time from the start of one write to the end of the next.
//
// The pace shapes the stimulus, it waits for nothing: gpio-sim coalesces edges whose interrupt
// thread has not run yet (it reads the level when it runs), so writes back to back in a loaded
// guest can reach the debouncer as a single edge and test nothing; a few tens of milliseconds
// let each edge through in all but the worst stalls, and the whole bounce still takes a fraction
// of the window. (The debounce logic itself is unit-tested edge by edge: TestDebouncer.)
func bounce(t *testing.T, sysdir string, offset int, level bool, pace time.Duration) time.Duration {
	t.Helper()
	levels := bounceLevels(level)
	at := make([]time.Time, 0, len(levels)+1)
	for k, l := range levels {
		if k > 0 {
			time.Sleep(pace)
		}
		at = append(at, time.Now())
		pull(t, sysdir, offset, l)
	}
	at = append(at, time.Now())
	var gap time.Duration
	for k := 1; k < len(levels); k++ {
		gap = max(gap, at[k+1].Sub(at[k-1]))
	}
	return gap
}

func TestGPIOButtonDebounced(t *testing.T) {
	tests := []struct {
		name      string
		soft      bool
		activeLow bool
	}{
		{"kernel debounce", false, false},
		{"kernel debounce active-low", false, true},
		{"software debounce", true, false},
		{"software debounce active-low", true, true},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			chip, sysdir := simChip(t, fmt.Sprintf("btn%d", i), []string{"STOA_LED", "STOA_BTN"})
			const off = 1
			// Both debouncers restart their quiet period on every edge, so a bounce gives one
			// event when no two of its edges are a window apart. A second is far more than the
			// seven paced sysfs writes take even in a loaded TCG guest (about 40 ms apart).
			const debounce = time.Second
			pull(t, sysdir, off, tt.activeLow) // released
			g, err := openGPIO(map[string]board.GPIOLineDef{
				"mute_button": {Name: "STOA_BTN", ActiveLow: tt.activeLow, DebounceMS: int(debounce / time.Millisecond)},
			}, gpioOptions{softDebounce: tt.soft})
			if err != nil {
				t.Fatal(err)
			}
			defer g.Close()
			if l := g.lines["mute_button"]; l.chip != chip || l.offset != off {
				t.Fatalf("found %s, want %s:%d", l, chip, off)
			}
			var ev events
			w, err := g.Watch("mute_button", ev.add)
			if err != nil {
				t.Fatal(err)
			}
			defer w.Close()
			// Where the kernel debounces, the line says so; the software path asks for nothing.
			c, err := gpiocdev.NewChip(chip)
			if err != nil {
				t.Fatal(err)
			}
			info, err := c.LineInfo(off)
			c.Close()
			if err != nil || info.Config.Debounced == tt.soft || (!tt.soft && info.Config.DebouncePeriod != debounce) {
				t.Fatalf("line info %+v, %v: want kernel debounce %v", info.Config, err, !tt.soft)
			}
			// pressed is the electrical level of a pressed button.
			pressed := !tt.activeLow
			steps := []bool{true, false} // press, release
			for step, active := range steps {
				level := pressed == active
				start := time.Now()
				// The premise of "one event": the bounce's edges came well inside a window of
				// each other (else extra events would be right, and the test proves nothing).
				if gap := bounce(t, sysdir, off, level, debounce/25); gap > debounce/2 {
					t.Fatalf("the guest stalled %v between two edges of the simulated bounce: not well inside the %v debounce window", gap, debounce)
				}
				// The debounced change comes a window after the last edge: wait for it (the
				// next bounce must not start before this one settled).
				poll(t, 30*time.Second, func() error {
					if n := len(ev.list()); n < step+1 {
						return fmt.Errorf("after bouncing to active=%v: %d events, want %d", active, n, step+1)
					}
					return nil
				})
				e := ev.list()[step]
				if e.Active != active || e.Line != "mute_button" {
					t.Fatalf("event %d %+v, want mute_button active=%v (all: %+v)", step, e, active, ev.list())
				}
				// The event carries the time of the change: during the bounce or its settling.
				if now := time.Now(); e.Time.Before(start) || e.Time.After(now) {
					t.Errorf("event time %v is outside the bounce and its settling (%v to %v)", e.Time, start, now)
				}
			}
			// Nothing more may follow once the line has settled: a stray change from either
			// bounce would come within a window of its last edge; wait out two.
			time.Sleep(2 * debounce)
			if got := ev.list(); len(got) != len(steps) {
				t.Fatalf("events %+v, want exactly one per bounce (%d)", got, len(steps))
			}
		})
	}
}

// TestGPIOBounceIsReal is the control for TestGPIOButtonDebounced: the same transitions seen by
// an undebounced request are one edge each, so one event there is the debounce's doing. Each
// edge is waited for before the next transition: gpio-sim coalesces edges the kernel handles
// late (a loaded guest), so an unpaced bounce could show fewer and prove nothing either way.
func TestGPIOBounceIsReal(t *testing.T) {
	chip, sysdir := simChip(t, "bounce", []string{"STOA_BTN"})
	pull(t, sysdir, 0, false)
	edges := make(chan gpiocdev.LineEvent, 64)
	l, err := gpiocdev.RequestLine(chip, 0, gpiocdev.WithBothEdges, gpiocdev.WithEventHandler(func(e gpiocdev.LineEvent) { edges <- e }))
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	levels := bounceLevels(true)
	for k, up := range levels {
		pull(t, sysdir, 0, up)
		want := gpiocdev.LineEventFallingEdge
		if up {
			want = gpiocdev.LineEventRisingEdge
		}
		select {
		case e := <-edges:
			if e.Type != want {
				t.Fatalf("transition %d to high=%v: edge %v, want %v", k, up, e.Type, want)
			}
		case <-time.After(30 * time.Second):
			t.Fatalf("transition %d to high=%v: no edge in 30 s", k, up)
		}
	}
	if n := len(edges); n != 0 {
		t.Errorf("%d edges more than the %d transitions", n, len(levels))
	}
}

func TestGPIOOutputs(t *testing.T) {
	chip, sysdir := simChip(t, "leds", []string{"STOA_LED", "STOA_BTN"})
	zero := 0
	off3 := 3 // an unnamed line, by chip + offset
	tests := []struct {
		name string
		def  board.GPIOLineDef
		off  int
	}{
		{"by name", board.GPIOLineDef{Name: "STOA_LED"}, 0},
		{"by name active-low", board.GPIOLineDef{Name: "STOA_LED", ActiveLow: true}, 0},
		{"by chip and offset", board.GPIOLineDef{Chip: chip, Offset: &off3}, 3},
		{"by chip, offset and name", board.GPIOLineDef{Chip: chip, Offset: &zero, Name: "STOA_LED", ActiveLow: true}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g, err := OpenGPIO(map[string]board.GPIOLineDef{"mute_led": tt.def})
			if err != nil {
				t.Fatal(err)
			}
			defer g.Close()
			value := filepath.Join(sysdir, fmt.Sprintf("sim_gpio%d", tt.off), "value")
			want := func(on bool) {
				t.Helper()
				level := "0"
				if on != tt.def.ActiveLow {
					level = "1"
				}
				if got := readTrimmed(t, value); got != level {
					t.Fatalf("on=%v: %s reads %s, want %s", on, value, got, level)
				}
			}
			led, err := g.Output("mute_led", true)
			if err != nil {
				t.Fatal(err)
			}
			want(true)
			for _, on := range []bool{false, true, false} {
				if err := led.Set(on); err != nil {
					t.Fatal(err)
				}
				want(on)
			}
			// Closing the board releases the line.
			if err := g.Close(); err != nil {
				t.Fatal(err)
			}
			c, err := gpiocdev.NewChip(chip)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			if info, err := c.LineInfo(tt.off); err != nil || info.Used {
				t.Fatalf("after Close: line info %+v, %v; want unused", info, err)
			}
		})
	}
}

func TestGPIOErrors(t *testing.T) {
	chip, _ := simChip(t, "errs", []string{"STOA_LED", "STOA_BTN"})
	held, err := gpiocdev.RequestLine(chip, 1, gpiocdev.WithConsumer("someone-else"), gpiocdev.AsInput)
	if err != nil {
		t.Fatal(err)
	}
	defer held.Close()
	off := 99
	wrongName := 0
	tests := []struct {
		name string
		def  board.GPIOLineDef
		want []string
	}{
		{"missing name", board.GPIOLineDef{Name: "NO_SUCH_LINE"}, []string{"gpio mute_button", `no line "NO_SUCH_LINE" on any chip`}},
		{"busy", board.GPIOLineDef{Name: "STOA_BTN"}, []string{"gpio mute_button", `"STOA_BTN"`, "busy", `"someone-else"`}},
		{"offset beyond the chip", board.GPIOLineDef{Chip: chip, Offset: &off}, []string{"gpio mute_button", "offset 99 is beyond"}},
		{"offset with another name", board.GPIOLineDef{Chip: chip, Offset: &wrongName, Name: "STOA_BTN"}, []string{"gpio mute_button", `named "STOA_LED", not "STOA_BTN"`}},
		{"missing chip", board.GPIOLineDef{Chip: "gpiochip77", Name: "X"}, []string{"gpio mute_button", "gpiochip77"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g, err := OpenGPIO(map[string]board.GPIOLineDef{"mute_button": tt.def})
			if err == nil {
				g.Close()
				t.Fatal("opened")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
	t.Run("unknown role", func(t *testing.T) {
		g, err := OpenGPIO(map[string]board.GPIOLineDef{"mute_led": {Name: "STOA_LED"}})
		if err != nil {
			t.Fatal(err)
		}
		defer g.Close()
		if _, err := g.Watch("occupancy", func(board.InputEvent) {}); err == nil || !strings.Contains(err.Error(), "gpio occupancy: the board defines no such line (have: mute_led)") {
			t.Fatalf("error %v", err)
		}
	})
	t.Run("taken after open", func(t *testing.T) {
		g, err := OpenGPIO(map[string]board.GPIOLineDef{"mute_led": {Name: "STOA_LED"}})
		if err != nil {
			t.Fatal(err)
		}
		defer g.Close()
		other, err := gpiocdev.RequestLine(chip, 0, gpiocdev.WithConsumer("late-comer"), gpiocdev.AsInput)
		if err != nil {
			t.Fatal(err)
		}
		defer other.Close()
		if _, err := g.Output("mute_led", false); err == nil || !strings.Contains(err.Error(), `busy (used by "late-comer")`) {
			t.Fatalf("error %v", err)
		}
	})
}

// TestGPIOWatchClosedFromHandler: fn may close its own watch (roomd does on shutdown).
func TestGPIOWatchClosedFromHandler(t *testing.T) {
	_, sysdir := simChip(t, "selfclose", []string{"STOA_LED", "STOA_BTN"})
	pull(t, sysdir, 1, false)
	g, err := OpenGPIO(map[string]board.GPIOLineDef{"occupancy": {Name: "STOA_BTN", DebounceMS: 5}})
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	closed := make(chan error, 1)
	var w interface{ Close() error }
	var mu sync.Mutex
	mu.Lock()
	w, err = g.Watch("occupancy", func(board.InputEvent) {
		mu.Lock()
		defer mu.Unlock()
		closed <- w.Close()
	})
	mu.Unlock()
	if err != nil {
		t.Fatal(err)
	}
	pull(t, sysdir, 1, true)
	select {
	case err := <-closed:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("no event in 30 s")
	}
}
