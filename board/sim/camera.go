package sim

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/stoa-rooms/stoa/board"
)

// Camera is a test-pattern camera: every frame carries its counter and capture time as a stamp
// (ReadStamp reads them back) above colour bars with a box that moves one step per frame.
// Frames come at the mode's rate on the Clock; a reader that falls behind gets the newest frame
// and a gap in Seq, as from a real driver that dropped frames.
type Camera struct {
	Clock Clock
	// Default is the mode used when Open is asked for one the camera cannot deliver.
	Default board.VideoMode

	mu       sync.Mutex
	open     bool
	controls *Controls
}

// NewCamera returns a camera whose fallback mode is def.
func NewCamera(c Clock, def board.VideoMode) *Camera {
	return &Camera{Clock: c, Default: def, controls: newControls()}
}

// IsOpen reports whether a stream is open.
func (c *Camera) IsOpen() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.open
}

// Open starts a stream in want when it is a valid mode (even size 16x16–1920x1080, 1–60 fps),
// else in the camera's default mode. One stream at a time.
func (c *Camera) Open(want board.VideoMode) (board.VideoStream, error) {
	m := want
	if m.Width < 16 || m.Height < 16 || m.Width > 1920 || m.Height > 1080 || m.Width%2 != 0 || m.Height%2 != 0 || m.FPS < 1 || m.FPS > 60 {
		m = c.Default
	}
	if m.Width < 16 || m.Height < 16 || m.Width%2 != 0 || m.Height%2 != 0 || m.FPS < 1 {
		return nil, fmt.Errorf("open sim camera: no usable mode (asked %v, default %v)", want, c.Default)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.open {
		return nil, errors.New("open sim camera: already streaming")
	}
	c.open = true
	clk := c.Clock
	if clk == nil {
		clk = RealClock{}
	}
	return &stream{cam: c, clock: clk, mode: m, start: clk.Now(), period: time.Second / time.Duration(m.FPS),
		next: 0, paint: newPainter(m.Width, m.Height)}, nil
}

// Controls returns the camera's controls (zoom, pan, tilt, focus, brightness).
func (c *Camera) Controls() board.CameraControls {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.controls == nil {
		c.controls = newControls()
	}
	return c.controls
}

type stream struct {
	cam    *Camera
	clock  Clock
	mode   board.VideoMode
	start  time.Time
	period time.Duration
	paint  *painter

	mu     sync.Mutex // one ReadFrame at a time; Close waits for it
	next   uint64     // the first frame index not yet delivered
	closed bool
}

func (s *stream) Mode() board.VideoMode { return s.mode }

// ReadFrame waits for frame next's due time, then delivers the newest frame due by now.
func (s *stream) ReadFrame(ctx context.Context) (*board.Frame, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, errors.New("read sim camera: stream closed")
	}
	due := s.start.Add(time.Duration(s.next) * s.period)
	if err := sleep(ctx, s.clock, due.Sub(s.clock.Now())); err != nil {
		return nil, fmt.Errorf("read sim camera: %w", err)
	}
	k := uint64(s.clock.Now().Sub(s.start) / s.period)
	if k < s.next {
		k = s.next
	}
	s.next = k + 1
	return s.paint.frame(k, s.start.Add(time.Duration(k)*s.period)), nil
}

func (s *stream) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	s.cam.mu.Lock()
	s.cam.open = false
	s.cam.mu.Unlock()
	return nil
}

// Controls are the sim camera's controls: values kept in range, read back as set.
type Controls struct {
	mu     sync.Mutex
	ranges map[board.Control]board.ControlRange
	values map[board.Control]int32
}

func newControls() *Controls {
	r := map[board.Control]board.ControlRange{
		board.ControlZoom:       {Min: 100, Max: 500, Step: 1, Default: 100},
		board.ControlPan:        {Min: -36000, Max: 36000, Step: 3600, Default: 0},
		board.ControlTilt:       {Min: -36000, Max: 36000, Step: 3600, Default: 0},
		board.ControlFocus:      {Min: 0, Max: 255, Step: 1, Default: 0},
		board.ControlBrightness: {Min: 0, Max: 255, Step: 1, Default: 128},
	}
	v := map[board.Control]int32{}
	for c, cr := range r {
		v[c] = cr.Default
	}
	return &Controls{ranges: r, values: v}
}

// Range is what control c accepts.
func (c *Controls) Range(ctl board.Control) (board.ControlRange, error) {
	r, ok := c.ranges[ctl]
	if !ok {
		return board.ControlRange{}, fmt.Errorf("sim camera control %q: %w", ctl, board.ErrUnsupported)
	}
	return r, nil
}

// Set sets control c; a value out of range is an error and changes nothing.
func (c *Controls) Set(ctl board.Control, v int32) error {
	r, err := c.Range(ctl)
	if err != nil {
		return err
	}
	if v < r.Min || v > r.Max {
		return fmt.Errorf("set sim camera control %q: %d is outside %d..%d", ctl, v, r.Min, r.Max)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.values[ctl] = v
	return nil
}

// Get reads control c.
func (c *Controls) Get(ctl board.Control) (int32, error) {
	if _, err := c.Range(ctl); err != nil {
		return 0, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.values[ctl], nil
}
