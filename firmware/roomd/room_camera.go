package roomd

import (
	"context"
	"sync"
	"time"

	"github.com/stoa-rooms/stoa/board"
)

// watchedCamera wraps the board camera handed to a call, so the room sees frames arrive
// while a stream is open: the watchdog's "camera frames arriving" check.
type watchedCamera struct {
	board.Camera
	hb      *Heartbeats
	now     func() time.Time
	maxWait time.Duration

	mu   sync.Mutex
	open int
	last time.Time
}

func (c *watchedCamera) Open(want board.VideoMode) (board.VideoStream, error) {
	s, err := c.Camera.Open(want)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	c.open++
	c.last = c.now()
	c.mu.Unlock()
	return &watchedStream{VideoStream: s, c: c}, nil
}

// check reports whether frames arrive while a stream is open.
func (c *watchedCamera) check() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.open > 0 && c.now().Sub(c.last) > c.maxWait {
		c.hb.SetProblem("camera", "no frames for "+c.now().Sub(c.last).Round(100*time.Millisecond).String())
		return
	}
	c.hb.SetProblem("camera", "")
}

type watchedStream struct {
	board.VideoStream
	c    *watchedCamera
	once sync.Once
}

func (s *watchedStream) ReadFrame(ctx context.Context) (*board.Frame, error) {
	f, err := s.VideoStream.ReadFrame(ctx)
	if err == nil {
		s.c.mu.Lock()
		s.c.last = s.c.now()
		s.c.mu.Unlock()
	}
	return f, err
}

func (s *watchedStream) Close() error {
	s.once.Do(func() {
		s.c.mu.Lock()
		s.c.open--
		s.c.mu.Unlock()
	})
	return s.VideoStream.Close()
}
