package sim

import (
	"fmt"
	"math"
	"sync"

	"github.com/stoa-rooms/stoa/board"
)

// LightSensor returns the lux and presence a test set.
type LightSensor struct {
	clock Clock

	mu       sync.Mutex
	lux      float64
	presence *bool
	err      error
}

// Set sets the next readings; presence nil means the sensor cannot tell. A negative or
// non-finite lux is refused and changes nothing.
func (l *LightSensor) Set(lux float64, presence *bool) error {
	if lux < 0 || math.IsNaN(lux) || math.IsInf(lux, 0) {
		return fmt.Errorf("set sim light sensor: lux %v is not a finite non-negative number", lux)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lux = lux
	if presence != nil {
		p := *presence
		presence = &p
	}
	l.presence = presence
	return nil
}

// Fail makes Read return err (nil heals the sensor), to exercise a sensor that stops answering.
func (l *LightSensor) Fail(err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.err = err
}

// Read returns the reading set last, timed now.
func (l *LightSensor) Read() (board.Reading, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.err != nil {
		return board.Reading{}, fmt.Errorf("read sim light sensor: %w", l.err)
	}
	r := board.Reading{Lux: l.lux, Time: l.clock.Now()}
	if l.presence != nil {
		p := *l.presence
		r.Presence = &p
	}
	return r, nil
}

// CEC records the calls made to it.
type CEC struct {
	mu    sync.Mutex
	calls []string
	on    bool
	err   error
}

// PowerOn records "power_on".
func (c *CEC) PowerOn() error { return c.record("power_on", true) }

// Standby records "standby".
func (c *CEC) Standby() error { return c.record("standby", false) }

func (c *CEC) record(call string, on bool) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err != nil {
		return fmt.Errorf("sim cec %s: %w", call, c.err)
	}
	c.calls = append(c.calls, call)
	c.on = on
	return nil
}

// Calls lists the successful calls in order ("power_on", "standby").
func (c *CEC) Calls() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.calls...)
}

// On reports whether the TV was last told to power on.
func (c *CEC) On() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.on
}

// Fail makes later calls fail with err (nil heals), like a TV that does not answer.
func (c *CEC) Fail(err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.err = err
}
