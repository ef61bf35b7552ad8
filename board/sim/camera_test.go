package sim

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stoa-rooms/stoa/board"
)

func TestCameraPacing(t *testing.T) {
	t0 := time.UnixMilli(1_760_000_000_000)
	clk := NewManualClock(t0)
	cam := NewCamera(clk, board.VideoMode{Width: 640, Height: 360, FPS: 30})
	s, err := cam.Open(board.VideoMode{Width: 320, Height: 180, FPS: 10})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if m := s.Mode(); m != (board.VideoMode{Width: 320, Height: 180, FPS: 10}) {
		t.Fatalf("Mode() = %v", m)
	}
	if _, err := cam.Open(board.VideoMode{}); err == nil {
		t.Fatal("a second Open succeeded while streaming")
	}
	ctx := context.Background()
	// Frame 0 is due at once.
	f, err := s.ReadFrame(ctx)
	if err != nil || f.Seq != 0 || !f.Captured.Equal(t0) {
		t.Fatalf("first frame: %+v %v", f, err)
	}
	// Frame 1 waits for the clock.
	got := make(chan *board.Frame, 1)
	go func() {
		f, err := s.ReadFrame(ctx)
		if err != nil {
			t.Error(err)
		}
		got <- f
	}()
	waitFor(t, "ReadFrame to wait on the clock", func() bool { return clk.Waiters() == 1 })
	select {
	case f := <-got:
		t.Fatalf("frame %d delivered before its time", f.Seq)
	default:
	}
	clk.Advance(100 * time.Millisecond)
	f = <-got
	if f.Seq != 1 || !f.Captured.Equal(t0.Add(100*time.Millisecond)) {
		t.Fatalf("second frame: seq %d at %v", f.Seq, f.Captured)
	}
	if seq, at, ok := ReadStamp(frameImage(f)); !ok || seq != 1 || !at.Equal(f.Captured) {
		t.Fatalf("stamp of frame 1: %d %v %v", seq, at, ok)
	}
	// A reader that falls 3.5 frames behind gets the newest frame and a gap.
	clk.Advance(350 * time.Millisecond)
	f, err = s.ReadFrame(ctx)
	if err != nil || f.Seq != 4 {
		t.Fatalf("after a stall: seq %d, %v; want 4", f.Seq, err)
	}
	// ReadFrame ends with its context.
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := s.ReadFrame(cctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("ReadFrame on a cancelled context: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := s.ReadFrame(ctx); err == nil {
		t.Fatal("ReadFrame after Close succeeded")
	}
	s2, err := cam.Open(board.VideoMode{Width: 7, Height: 3})
	if err != nil {
		t.Fatalf("reopen after Close: %v", err)
	}
	defer s2.Close()
	if m := s2.Mode(); m != cam.Default {
		t.Fatalf("bad mode falls back to %v, want %v", m, cam.Default)
	}
}

func TestCameraRealClock(t *testing.T) {
	cam := NewCamera(RealClock{}, board.VideoMode{Width: 160, Height: 90, FPS: 60})
	s, err := cam.Open(board.VideoMode{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var last uint32
	for i := range 5 {
		f, err := s.ReadFrame(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		seq, _, ok := ReadStamp(frameImage(f))
		if !ok || (i > 0 && seq <= last) || uint64(seq) != f.Seq {
			t.Fatalf("frame %d: stamp %d ok=%v, Seq %d, previous %d", i, seq, ok, f.Seq, last)
		}
		last = seq
	}
}

func TestCameraControls(t *testing.T) {
	c := NewCamera(RealClock{}, board.VideoMode{Width: 64, Height: 36, FPS: 5}).Controls()
	tests := []struct {
		name string
		ctl  board.Control
		v    int32
		ok   bool
	}{
		{"zoom in range", board.ControlZoom, 250, true},
		{"zoom too far", board.ControlZoom, 9999, false},
		{"pan left", board.ControlPan, -3600, true},
		{"brightness", board.ControlBrightness, 200, true},
		{"unknown", board.Control("gain"), 1, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before, _ := c.Get(tc.ctl)
			err := c.Set(tc.ctl, tc.v)
			if (err == nil) != tc.ok {
				t.Fatalf("Set(%s, %d) = %v", tc.ctl, tc.v, err)
			}
			got, _ := c.Get(tc.ctl)
			if tc.ok && got != tc.v || !tc.ok && got != before {
				t.Fatalf("Get(%s) = %d after Set(%d) err=%v", tc.ctl, got, tc.v, err)
			}
		})
	}
	if _, err := c.Range("gain"); !errors.Is(err, board.ErrUnsupported) {
		t.Fatalf("Range(gain) = %v, want ErrUnsupported", err)
	}
}

// BenchmarkPatternFrame measures drawing one 640x360 frame against copying a frame's worth of
// planes (the floor any frame source pays), reporting the ratio.
func BenchmarkPatternFrame(b *testing.B) {
	p := newPainter(640, 360)
	dst := make([]byte, 640*360*3/2)
	src := make([]byte, 640*360*3/2)
	const n = 200
	start := time.Now()
	for range n {
		copy(dst, src)
	}
	copyNs := float64(time.Since(start).Nanoseconds()) / n
	t0 := time.Now()
	b.ResetTimer()
	for i := range b.N {
		p.frame(uint64(i), t0)
	}
	b.StopTimer()
	perFrame := float64(b.Elapsed().Nanoseconds()) / float64(b.N)
	b.ReportMetric(copyNs, "copy-ns/frame")
	b.ReportMetric(perFrame/copyNs, "x-copy")
}
