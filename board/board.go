// Package board puts the room hardware behind small interfaces, so firmware runs the same on a
// real board (board/linux) and in software (board/sim) for host runs and tests.
//
// Every device a board may lack is a nil field of Board: firmware checks before use. Which device
// node, ALSA name, GPIO line, serial port and I2C address a board uses is data (a Definition,
// one JSON file per board under board/defs), not code.
package board

import (
	"context"
	"errors"
	"fmt"
	"image"
	"io"
	"slices"
	"strings"
	"time"
)

// Screen is what the room's display shows when no call is on: a title, some lines of text, an
// optional pairing code shown large and an optional URL shown as a QR code. firmware/screen
// renders it into pixels for a Display.
type Screen struct {
	Title string   `json:"title"`
	Lines []string `json:"lines,omitempty"`
	Code  string   `json:"code,omitempty"`
	QR    string   `json:"qr,omitempty"` // text of a QR code (the portal's pairing URL)
}

// --- Video capture ---

// VideoMode is a capture size and frame rate.
type VideoMode struct {
	Width  int `json:"width"`
	Height int `json:"height"`
	FPS    int `json:"fps"`
}

func (m VideoMode) String() string { return fmt.Sprintf("%dx%d@%d", m.Width, m.Height, m.FPS) }

// Frame is one captured picture in I420 (planar YUV 4:2:0, BT.601 limited range): Y has
// Width*Height bytes with stride Width; Cb and Cr have (Width/2)*(Height/2) bytes with stride
// Width/2. Width and Height are even.
type Frame struct {
	Width, Height int
	Y, Cb, Cr     []byte
	// Seq counts frames from 0 since the stream opened; a gap means frames were dropped.
	Seq uint64
	// Captured is when the camera took the picture (the driver's timestamp where it has one).
	Captured time.Time
}

// Camera is a video source. Open starts capturing; one stream at a time.
type Camera interface {
	// Open starts capturing in the mode the camera offers that is closest to want (the driver
	// chooses the pixel format, preferring MJPEG, YUYV, NV12 in the order that serves want best)
	// and converts every frame to I420.
	Open(want VideoMode) (VideoStream, error)
	// Controls is the camera's adjustable controls; nil when it has none.
	Controls() CameraControls
}

// VideoStream is an open capture.
type VideoStream interface {
	// Mode is the mode the camera delivers (may differ from the one asked for).
	Mode() VideoMode
	// ReadFrame blocks until the next frame or ctx ends. The frame's buffers stay valid until
	// the next ReadFrame or Close. A USB camera unplugged mid-stream is reopened by the driver:
	// ReadFrame waits for it (until ctx ends) rather than failing.
	ReadFrame(ctx context.Context) (*Frame, error)
	Close() error
}

// Control names a camera control.
type Control string

// The camera controls firmware uses; a camera may support any subset.
const (
	ControlZoom       Control = "zoom"
	ControlPan        Control = "pan"
	ControlTilt       Control = "tilt"
	ControlFocus      Control = "focus"
	ControlBrightness Control = "brightness"
)

// ErrUnsupported is returned (wrapped) for a control or feature the device lacks.
var ErrUnsupported = errors.New("not supported by this device")

// ControlRange is what a control accepts.
type ControlRange struct {
	Min, Max, Step, Default int32
}

// CameraControls sets and reads camera controls (V4L2 controls on Linux).
type CameraControls interface {
	Range(c Control) (ControlRange, error)
	Set(c Control, v int32) error
	Get(c Control) (int32, error)
}

// --- Audio ---

// AudioFormat is signed 16-bit little-endian PCM, Channels interleaved.
type AudioFormat struct {
	Rate     int `json:"rate"`
	Channels int `json:"channels"`
}

// Microphone captures audio.
type Microphone interface {
	OpenCapture(f AudioFormat) (AudioReader, error)
}

// AudioReader reads captured samples; Read blocks until len(p) samples (a whole number of
// frames) are there and returns how many it filled.
type AudioReader interface {
	Read(p []int16) (int, error)
	Close() error
}

// Speaker plays audio.
type Speaker interface {
	OpenPlayback(f AudioFormat) (AudioWriter, error)
}

// AudioWriter plays samples; Write blocks while the device's buffer is full.
type AudioWriter interface {
	Write(p []int16) (int, error)
	Close() error
}

// --- Display ---

// Display is a screen the firmware draws whole pictures on.
type Display interface {
	// Size is the picture size Draw expects.
	Size() (width, height int)
	// Draw shows img (bounds (0,0)-Size()) from the next refresh on, replacing what was shown:
	// on DRM/KMS it is drawn into the back buffer and page-flipped, so no torn picture is seen.
	Draw(img *image.RGBA) error
}

// --- GPIO ---

// InputEvent is a debounced change of an input line.
type InputEvent struct {
	Line   string    // the line's role name from the board definition ("mute_button")
	Active bool      // true when asserted (pressed, occupied), after active-low inversion
	Time   time.Time // when the edge happened (kernel timestamp where there is one)
}

// GPIO drives the board's named lines.
type GPIO interface {
	// Watch reports every debounced change of input line name to fn (on the driver's own
	// goroutine; keep fn short) until the returned Closer is closed.
	Watch(name string, fn func(InputEvent)) (io.Closer, error)
	// Output opens output line name, driving it to initial.
	Output(name string, initial bool) (OutputLine, error)
	Close() error
}

// OutputLine is an output (an LED).
type OutputLine interface {
	Set(on bool) error
	Close() error
}

// --- Serial, I2C, CEC ---

// SerialOpener opens the board's named serial ports ("visca", "control").
type SerialOpener interface {
	OpenSerial(name string) (io.ReadWriteCloser, error)
}

// Reading is one ambient-light/presence sensor reading.
type Reading struct {
	Lux      float64   `json:"lux"`
	Presence *bool     `json:"presence,omitempty"` // nil when the sensor cannot tell
	Time     time.Time `json:"time"`
}

// LightSensor is an I2C ambient-light (and possibly presence) sensor.
type LightSensor interface {
	Read() (Reading, error)
}

// CEC controls the display over HDMI-CEC.
type CEC interface {
	// PowerOn wakes the TV (Image View On) and makes us the active source.
	PowerOn() error
	// Standby puts the TV into standby.
	Standby() error
}

// Board is one room device's hardware. Fields for hardware the board lacks are nil.
type Board struct {
	Def        Definition
	Camera     Camera
	Microphone Microphone
	Speaker    Speaker
	Display    Display
	GPIO       GPIO
	Serial     SerialOpener
	Light      LightSensor
	CEC        CEC
	// Closers release what the drivers hold, in reverse order, on Close.
	Closers []io.Closer
}

// Name is the board definition's name.
func (b *Board) Name() string { return b.Def.Name }

// Close releases the board's devices.
func (b *Board) Close() error {
	var errs []error
	for i := len(b.Closers) - 1; i >= 0; i-- {
		errs = append(errs, b.Closers[i].Close())
	}
	return errors.Join(errs...)
}

// Registry maps a driver name ("sim", "linux") to the constructor that builds a Board from a
// definition. The caller builds it, since board must not import its implementations.
type Registry map[string]func(Definition) (*Board, error)

// Open loads the definition called name and builds its board with the driver it names.
func (r Registry) Open(name string) (*Board, error) {
	def, err := LoadDefinition(name)
	if err != nil {
		return nil, err
	}
	mk, ok := r[def.Driver]
	if !ok {
		return nil, fmt.Errorf("open board %q: driver %q is not built into this program (have: %s)", name, def.Driver, strings.Join(r.Drivers(), ", "))
	}
	b, err := mk(def)
	if err != nil {
		return nil, fmt.Errorf("open board %q: %w", name, err)
	}
	return b, nil
}

// Drivers lists the registered drivers, sorted.
func (r Registry) Drivers() []string {
	names := make([]string, 0, len(r))
	for n := range r {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}
