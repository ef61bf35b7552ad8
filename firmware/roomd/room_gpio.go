package roomd

import (
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/stoa-rooms/stoa/board"
	"github.com/stoa-rooms/stoa/firmware/control"
)

// GPIO line roles the room uses (board definition "gpio" keys).
const (
	LineMuteButton = "mute_button"
	LineMuteLED    = "mute_led"
	LineCallLED    = "call_led"
	LineOccupancy  = "occupancy"
)

// openGPIO watches the inputs and opens the LEDs the board definition names.
func (r *Room) openGPIO() error {
	g := r.o.Board.GPIO
	if g == nil {
		return nil
	}
	def := r.o.Board.Def.GPIO
	var closers []io.Closer
	fail := func(err error) error {
		for _, c := range closers {
			c.Close()
		}
		return err
	}
	// The LEDs are opened under r.mu, which commands hold while they change what the LEDs show
	// (setMicMuted, the call): a command racing Run's start finds either no LED yet, and the
	// LED then opens in the state it left, or the LED.
	r.mu.Lock()
	leds, err := r.openLEDsLocked(g, def)
	r.mu.Unlock()
	closers = append(closers, leds...)
	if err != nil {
		return fail(err)
	}
	if _, ok := def[LineMuteButton]; ok {
		c, err := g.Watch(LineMuteButton, func(e board.InputEvent) { r.post(func() { r.muteButton(e) }) })
		if err != nil {
			return fail(fmt.Errorf("watch mute button: %w", err))
		}
		closers = append(closers, c)
	}
	if _, ok := def[LineOccupancy]; ok {
		c, err := g.Watch(LineOccupancy, func(e board.InputEvent) { r.post(func() { r.occupancy(e) }) })
		if err != nil {
			return fail(fmt.Errorf("watch occupancy: %w", err))
		}
		closers = append(closers, c)
	}
	r.gpioClosers = closers
	return nil
}

// openLEDsLocked opens the LEDs the board definition names, showing the current state.
func (r *Room) openLEDsLocked(g board.GPIO, def map[string]board.GPIOLineDef) ([]io.Closer, error) {
	var opened []io.Closer
	if _, ok := def[LineMuteLED]; ok {
		l, err := g.Output(LineMuteLED, r.hub.Status().Audio.MicMuted)
		if err != nil {
			return opened, fmt.Errorf("open mute LED: %w", err)
		}
		r.muteLED = l
		opened = append(opened, l)
	}
	if _, ok := def[LineCallLED]; ok {
		l, err := g.Output(LineCallLED, r.call != nil)
		if err != nil {
			return opened, fmt.Errorf("open call LED: %w", err)
		}
		r.callLED = l
		opened = append(opened, l)
	}
	return opened, nil
}

// setCallLED lights the call LED while the room is in a call.
func (r *Room) setCallLED(on bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := setLED(r.callLED, on); err != nil {
		r.log.Warn("call LED", "err", err)
	}
}

func (r *Room) closeGPIO() {
	r.mu.Lock()
	r.muteLED, r.callLED = nil, nil // closed below: commands from now on drive no LED
	r.mu.Unlock()
	var errs []error
	for i := len(r.gpioClosers) - 1; i >= 0; i-- {
		errs = append(errs, r.gpioClosers[i].Close())
	}
	if err := errors.Join(errs...); err != nil {
		r.log.Warn("close gpio", "err", err)
	}
}

// muteButton: a short press toggles the microphone on release; held LongPress or longer it
// toggles camera privacy instead. Each edge is also an event.
func (r *Room) muteButton(e board.InputEvent) {
	if e.Active {
		r.pressAt = e.Time
		r.hub.Publish(control.Event{Type: control.EventButton, Data: control.ButtonEvent{Button: LineMuteButton, Action: "pressed"}})
		return
	}
	r.hub.Publish(control.Event{Type: control.EventButton, Data: control.ButtonEvent{Button: LineMuteButton, Action: "released"}})
	if r.pressAt.IsZero() {
		return // a release without a press seen (roomd started with the button held)
	}
	held := e.Time.Sub(r.pressAt)
	r.pressAt = time.Time{}
	if held >= r.o.LongPress {
		r.hub.Publish(control.Event{Type: control.EventButton, Data: control.ButtonEvent{Button: LineMuteButton, Action: "long_press"}})
		if err := r.setCameraMuted(!r.hub.Status().Video.CameraMuted); err != nil {
			r.log.Warn("mute button: camera privacy", "err", err)
		}
		return
	}
	if err := r.setMicMuted(!r.hub.Status().Audio.MicMuted); err != nil {
		r.log.Warn("mute button: microphone", "err", err)
	}
}

// occupancy mirrors the PIR input; someone arriving wakes the room.
func (r *Room) occupancy(e board.InputEvent) {
	r.hub.Update(func(s *control.Status) { s.Sensors.Occupied = e.Active })
	r.hub.Publish(control.Event{Type: control.EventOccupancy, Data: map[string]bool{"occupied": e.Active}})
	if e.Active {
		r.occupied(LineOccupancy)
	}
}

// occupied wakes the room when someone is there.
func (r *Room) occupied(by string) {
	if !r.hub.Status().Standby {
		return
	}
	r.log.Info("presence; waking from standby", "by", by)
	if err := r.wake(); err != nil {
		r.log.Warn("wake on presence", "err", err)
	}
}

func setLED(l board.OutputLine, on bool) error {
	if l == nil {
		return nil
	}
	return l.Set(on)
}
