// Package linux builds a board.Board from kernel devices: V4L2 cameras (go4vl), ALSA audio
// (malgo), DRM/KMS or fbdev displays, GPIO character devices, serial ports, I2C sensors and
// CEC adapters, each named by the board definition.
package linux

import (
	"fmt"
	"io"
	"log/slog"

	"github.com/stoa-rooms/stoa/board"
)

// Open builds the board def describes. It fails, naming the device, when a device the
// definition names is missing, and releases what it opened so far. Open has the signature of
// board.Registry's constructors: register it as board.Registry{"linux": linux.Open}.
func Open(def board.Definition) (*board.Board, error) {
	return OpenWithLog(def, slog.Default())
}

// OpenWithLog is Open with the logger the drivers report to.
func OpenWithLog(def board.Definition, log *slog.Logger) (_ *board.Board, err error) {
	if err := def.Validate(); err != nil {
		return nil, fmt.Errorf("open linux board: %w", err)
	}
	b := &board.Board{Def: def}
	defer func() {
		if err != nil {
			_ = b.Close() // what opened before the failure
		}
	}()
	if c := def.Camera; c != nil {
		cam := NewCamera(*c, log)
		if _, err := cam.Path(); err != nil {
			return nil, fmt.Errorf("open camera: %w", err)
		}
		b.Camera = cam
	}
	if a := def.Audio; a != nil {
		for _, name := range []string{a.Capture, a.Playback} {
			if err := alsaCardPresent(name, "/proc/asound"); err != nil {
				return nil, fmt.Errorf("open audio: %w", err)
			}
		}
		au := NewAudio(*a, log)
		if m := au.Microphone(); m != nil {
			b.Microphone = m
		}
		if s := au.Speaker(); s != nil {
			b.Speaker = s
		}
	}
	if d := def.Display; d != nil {
		disp, closer, err := openDisplay(*d, log)
		if err != nil {
			return nil, err
		}
		b.Display = disp
		b.Closers = append(b.Closers, closer)
	}
	if len(def.GPIO) > 0 {
		g, err := OpenGPIO(def.GPIO)
		if err != nil {
			return nil, fmt.Errorf("open gpio: %w", err)
		}
		b.GPIO = g
		b.Closers = append(b.Closers, g)
	}
	if len(def.Serial) > 0 {
		b.Serial = NewSerial(def.Serial)
	}
	if i := def.I2C; i != nil {
		l, err := OpenLightSensor(*i)
		if err != nil {
			return nil, fmt.Errorf("open light sensor: %w", err)
		}
		b.Light = l
		if c, ok := l.(io.Closer); ok {
			b.Closers = append(b.Closers, c)
		}
	}
	if c := def.CEC; c != nil {
		a, err := OpenCEC(c.Device, log)
		if err != nil {
			return nil, err
		}
		b.CEC = a
		b.Closers = append(b.Closers, a)
	}
	log.Info("board open", "board", def.Name, "camera", b.Camera != nil, "mic", b.Microphone != nil,
		"speaker", b.Speaker != nil, "display", b.Display != nil, "gpio", b.GPIO != nil,
		"serial", b.Serial != nil, "light", b.Light != nil, "cec", b.CEC != nil)
	return b, nil
}
