// Package sim implements board's interfaces in software, for host runs and tests: a test-pattern
// camera whose frames carry their counter and capture time (ReadStamp), a microphone hearing a
// tone or speech plus an echo of the speaker, a speaker that records, an in-memory display,
// scriptable GPIO lines, serial ports with test-side peers, a settable light sensor and a CEC
// recorder. Tests reach the concrete devices through Devices.
package sim

import (
	"fmt"
	"io"
	"slices"
	"time"

	"github.com/stoa-rooms/stoa/board"
)

// Options tune the simulated board.
type Options struct {
	// Clock paces the camera and audio and times debouncing; nil = the real clock.
	Clock Clock
}

// Hardware is the simulated board's devices as their concrete types; a device the definition
// does not name is nil.
type Hardware struct {
	Clock      Clock
	Camera     *Camera
	Air        *Air // the echo path and the microphone's source
	Microphone *Microphone
	Speaker    *Speaker
	Display    *Display
	GPIO       *GPIO
	Serial     *Serial
	Light      *LightSensor
	CEC        *CEC
}

// New builds the simulated board for def on the real clock.
func New(def board.Definition) (*board.Board, error) { return NewWithOptions(def, Options{}) }

// NewWithOptions builds the simulated board for def: every device the definition names.
func NewWithOptions(def board.Definition, o Options) (*board.Board, error) {
	if def.Driver != "sim" {
		return nil, fmt.Errorf("build sim board %q: its driver is %q, not \"sim\"", def.Name, def.Driver)
	}
	clk := o.Clock
	if clk == nil {
		clk = RealClock{}
	}
	b := &board.Board{Def: def}
	if c := def.Camera; c != nil {
		b.Camera = NewCamera(clk, c.Mode)
	}
	if a := def.Audio; a != nil {
		air := newAir(clk, a.Rate)
		if a.Capture != "" {
			b.Microphone = &Microphone{air: air}
		}
		if a.Playback != "" {
			b.Speaker = &Speaker{air: air, buffer: 60 * time.Millisecond}
		}
		if b.Microphone == nil && b.Speaker == nil {
			return nil, fmt.Errorf("build sim board %q: audio names neither capture nor playback", def.Name)
		}
	}
	if d := def.Display; d != nil {
		b.Display = &Display{W: d.Width, H: d.Height}
	}
	if len(def.GPIO) > 0 {
		g := NewGPIO(clk, def.GPIO)
		b.GPIO = g
		b.Closers = append(b.Closers, g)
	}
	if len(def.Serial) > 0 {
		roles := make([]string, 0, len(def.Serial))
		for r := range def.Serial {
			roles = append(roles, r)
		}
		slices.Sort(roles)
		b.Serial = NewSerial(roles)
	}
	if def.I2C != nil {
		b.Light = &LightSensor{clock: clk, lux: 300}
	}
	if def.CEC != nil {
		b.CEC = &CEC{}
	}
	return b, nil
}

// Devices returns the concrete sim devices of b (which New built). Fields for devices b lacks,
// or that are not sim devices, are nil.
func Devices(b *board.Board) *Hardware {
	h := &Hardware{Clock: RealClock{}}
	h.Camera, _ = b.Camera.(*Camera)
	if h.Camera != nil && h.Camera.Clock != nil {
		h.Clock = h.Camera.Clock
	}
	h.Microphone, _ = b.Microphone.(*Microphone)
	h.Speaker, _ = b.Speaker.(*Speaker)
	switch {
	case h.Microphone != nil:
		h.Air = h.Microphone.air
	case h.Speaker != nil:
		h.Air = h.Speaker.air
	}
	if h.Air != nil {
		h.Clock = h.Air.clock
	}
	h.Display, _ = b.Display.(*Display)
	h.GPIO, _ = b.GPIO.(*GPIO)
	h.Serial, _ = b.Serial.(*Serial)
	h.Light, _ = b.Light.(*LightSensor)
	h.CEC, _ = b.CEC.(*CEC)
	return h
}

// SerialPeer is the far end of serial port role (nil when the board has none).
func (h *Hardware) SerialPeer(role string) io.ReadWriteCloser {
	if h.Serial == nil {
		return nil
	}
	return h.Serial.SerialPeer(role)
}
