package roomd

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stoa-rooms/stoa/board"
	"github.com/stoa-rooms/stoa/board/sim"
)

// TestWatchedCameraHealth: frames arriving keep the camera healthy; an open stream nobody
// gets frames from for longer than maxWait is a problem (the watchdog stops); closing the
// stream clears it.
func TestWatchedCameraHealth(t *testing.T) {
	hb := NewHeartbeats(time.Now, time.Hour)
	c := &watchedCamera{Camera: sim.NewCamera(sim.RealClock{}, board.VideoMode{Width: 160, Height: 90, FPS: 30}),
		hb: hb, now: time.Now, maxWait: 150 * time.Millisecond}
	s, err := c.Open(board.VideoMode{Width: 160, Height: 90, FPS: 30})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for range 10 {
		if _, err := s.ReadFrame(ctx); err != nil {
			t.Fatal(err)
		}
		c.check()
		if p := hb.Problems(); len(p) > 0 {
			t.Fatalf("problems while frames arrive: %v", p)
		}
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		c.check()
		if p := hb.Problems(); len(p) == 1 && strings.HasPrefix(p[0], "camera: no frames for") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no camera problem after frames stopped: %v", hb.Problems())
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	c.check()
	if p := hb.Problems(); len(p) > 0 {
		t.Fatalf("problems after the stream closed: %v", p)
	}
}

func TestHeartbeatsNameSilentLoops(t *testing.T) {
	now := time.Unix(1000, 0)
	hb := NewHeartbeats(func() time.Time { return now }, 3*time.Second)
	hb.Beat("events")
	hb.Beat("light")
	now = now.Add(2 * time.Second)
	hb.Beat("events")
	if p := hb.Problems(); len(p) != 0 {
		t.Fatalf("problems %v", p)
	}
	now = now.Add(2 * time.Second)
	if p := hb.Problems(); len(p) != 1 || p[0] != "light loop silent for 4s" {
		t.Fatalf("problems %v, want the light loop", p)
	}
	hb.Stop("light")
	if p := hb.Problems(); len(p) != 0 {
		t.Fatalf("problems after stop %v", p)
	}
}
