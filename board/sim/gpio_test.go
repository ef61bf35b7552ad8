package sim

import (
	"sync"
	"testing"
	"time"

	"github.com/stoa-rooms/stoa/board"
)

type eventLog struct {
	mu sync.Mutex
	ev []board.InputEvent
}

func (l *eventLog) add(e board.InputEvent) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.ev = append(l.ev, e)
}

func (l *eventLog) get() []board.InputEvent {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]board.InputEvent(nil), l.ev...)
}

func TestGPIODebounce(t *testing.T) {
	// Steps on the mute button (debounce 20 ms): set the level, then advance the clock.
	type step struct {
		active  bool
		advance time.Duration
	}
	tests := []struct {
		name  string
		steps []step
		want  []bool // the Active of each event
	}{
		{"press", []step{{true, 25 * time.Millisecond}}, []bool{true}},
		{"press and release", []step{{true, 30 * time.Millisecond}, {false, 30 * time.Millisecond}}, []bool{true, false}},
		{"glitch shorter than debounce", []step{{true, 5 * time.Millisecond}, {false, 50 * time.Millisecond}}, nil},
		{"bouncy press", []step{{true, 2 * time.Millisecond}, {false, 3 * time.Millisecond}, {true, 2 * time.Millisecond}, {false, 1 * time.Millisecond}, {true, 40 * time.Millisecond}}, []bool{true}},
		{"not yet stable", []step{{true, 19 * time.Millisecond}}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t0 := time.Unix(1000, 0)
			clk := NewManualClock(t0)
			b, hw := simBoard(t, clk)
			var log eventLog
			w, err := b.GPIO.Watch("mute_button", log.add)
			if err != nil {
				t.Fatal(err)
			}
			defer w.Close()
			var edges []time.Time
			for _, s := range tc.steps {
				if err := hw.GPIO.SetInput("mute_button", s.active); err != nil {
					t.Fatal(err)
				}
				edges = append(edges, clk.Now())
				clk.Advance(s.advance) // timers run inside Advance
			}
			got := log.get()
			if len(got) != len(tc.want) {
				t.Fatalf("events %+v, want actives %v", got, tc.want)
			}
			for i, e := range got {
				if e.Active != tc.want[i] || e.Line != "mute_button" {
					t.Fatalf("event %d = %+v, want active %v", i, e, tc.want[i])
				}
			}
			if len(got) > 0 && !got[len(got)-1].Time.Equal(edges[len(edges)-1]) {
				t.Fatalf("event time %v, want the edge at %v", got[len(got)-1].Time, edges[len(edges)-1])
			}
		})
	}
}

func TestGPIOPressRealClock(t *testing.T) {
	b, hw := simBoard(t, nil)
	var log eventLog
	w, err := b.GPIO.Watch("occupancy", log.add)
	if err != nil {
		t.Fatal(err)
	}
	if err := hw.GPIO.Press("occupancy"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the occupancy event", func() bool { return len(log.get()) == 1 })
	w.Close()
	if err := hw.GPIO.Release("occupancy"); err != nil {
		t.Fatal(err)
	}
	time.Sleep(80 * time.Millisecond) // longer than the 50 ms debounce: a closed watch hears nothing
	if n := len(log.get()); n != 1 {
		t.Fatalf("%d events after the watch closed", n)
	}
}

func TestGPIOOutputs(t *testing.T) {
	b, hw := simBoard(t, NewManualClock(time.Unix(0, 0)))
	led, err := b.GPIO.Output("mute_led", true)
	if err != nil {
		t.Fatal(err)
	}
	if !hw.GPIO.OutputValue("mute_led") {
		t.Fatal("initial true not shown")
	}
	if err := led.Set(false); err != nil || hw.GPIO.OutputValue("mute_led") {
		t.Fatalf("Set(false): %v, value %v", err, hw.GPIO.OutputValue("mute_led"))
	}
	led.Set(true)
	tests := []struct {
		name string
		do   func() error
	}{
		{"output twice", func() error { _, err := b.GPIO.Output("mute_led", false); return err }},
		{"watch an output", func() error { _, err := b.GPIO.Watch("mute_led", func(board.InputEvent) {}); return err }},
		{"unknown line", func() error { _, err := b.GPIO.Output("fan", false); return err }},
		{"press an output", func() error { return hw.GPIO.Press("mute_led") }},
		{"press unknown", func() error { return hw.GPIO.Press("nope") }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.do(); err == nil {
				t.Fatal("succeeded")
			}
			if !hw.GPIO.OutputValue("mute_led") {
				t.Fatal("a refused call changed the LED")
			}
		})
	}
	led.Close()
	if hw.GPIO.OutputValue("mute_led") || led.Set(true) == nil {
		t.Fatal("closed output still drives the line")
	}
	if _, err := b.GPIO.Output("mute_led", false); err != nil {
		t.Fatalf("reopen after close: %v", err)
	}
}
