//go:build hw

package linux

import (
	"context"
	"errors"
	"fmt"
	"syscall"
	"testing"
	"time"

	"github.com/stoa-rooms/stoa/board"
	"github.com/vladimirvivien/go4vl/v4l2"
)

func vividCamera(t *testing.T) *Camera {
	t.Helper()
	needGuest(t)
	cam := NewCamera(board.CameraDef{Match: "vivid"}, nil)
	eventually(t, 30*time.Second, func() error { _, err := cam.Path(); return err })
	return cam
}

// lumaSpread is max-min of the Y plane: vivid's test pattern (colour bars) is far from flat.
func lumaSpread(f *board.Frame) int {
	lo, hi := 255, 0
	for _, v := range f.Y {
		lo, hi = min(lo, int(v)), max(hi, int(v))
	}
	return hi - lo
}

func TestCameraFormats(t *testing.T) {
	want := board.VideoMode{Width: 640, Height: 360, FPS: 30}
	for _, f := range []pixFmt{fmtYUYV, fmtNV12} {
		t.Run(f.String(), func(t *testing.T) {
			cam := vividCamera(t)
			cam.only = f
			s, err := cam.Open(want)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			if m := s.Mode(); m.Width != 640 || m.Height != 360 {
				t.Errorf("mode %v, want 640x360", m)
			}
			if got := s.(*stream).mode.Format; got != f {
				t.Fatalf("streaming %v, asked for %v", got, f)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			var last uint64
			var lastAt time.Time
			for i := range 8 {
				fr, err := s.ReadFrame(ctx)
				if err != nil {
					t.Fatalf("frame %d: %v", i, err)
				}
				if fr.Width != 640 || fr.Height != 360 || len(fr.Y) != 640*360 || len(fr.Cb) != 320*180 {
					t.Fatalf("frame %d: %dx%d with planes %d/%d", i, fr.Width, fr.Height, len(fr.Y), len(fr.Cb))
				}
				// Seq counts frames from 0: it rises by one per frame, more where frames were
				// dropped (a legal gap when the reader is late), and never repeats (vivid,
				// rendering late, gives two frames the same driver number: TestStreamSeq).
				if i == 0 && fr.Seq != 0 {
					t.Errorf("first frame: seq %d, want 0", fr.Seq)
				}
				if i > 0 && fr.Seq <= last {
					t.Errorf("frame %d: seq %d after %d", i, fr.Seq, last)
				}
				if d := time.Since(fr.Captured); d < -time.Second || d > 10*time.Second {
					t.Errorf("frame %d: captured %v ago", i, d)
				}
				if i > 0 && fr.Captured.Before(lastAt) {
					t.Errorf("frame %d: captured %v before the previous frame", i, lastAt.Sub(fr.Captured))
				}
				if sp := lumaSpread(fr); sp < 100 {
					t.Errorf("frame %d: luma spread %d, a flat picture (want vivid's colour bars)", i, sp)
				}
				last, lastAt = fr.Seq, fr.Captured
			}
			if last < 7 {
				t.Errorf("seq reached %d after 8 frames: want at least 7 (one per frame, more after drops)", last)
			}
		})
	}
}

func TestCameraChoosesCheapestFormat(t *testing.T) {
	cam := vividCamera(t)
	s, err := cam.Open(board.VideoMode{Width: 1280, Height: 720, FPS: 30})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	// vivid offers both YUYV and NV12 at every size: NV12 converts for the least CPU.
	if m := s.(*stream).mode; m.Format != fmtNV12 || m.Width != 1280 || m.Height != 720 {
		t.Errorf("chose %v for 1280x720@30", m)
	}
}

func TestCameraControls(t *testing.T) {
	cam := vividCamera(t)
	cc := cam.Controls()
	r, err := cc.Range(board.ControlBrightness)
	if err != nil {
		t.Fatal(err)
	}
	if r.Max <= r.Min {
		t.Fatalf("brightness range %+v", r)
	}
	for _, v := range []int32{r.Min, r.Max, (r.Min + r.Max) / 3} {
		if err := cc.Set(board.ControlBrightness, v); err != nil {
			t.Fatal(err)
		}
		got, err := cc.Get(board.ControlBrightness)
		if err != nil || got != v {
			t.Errorf("brightness set %d, read back %d (%v)", v, got, err)
		}
	}
	before, _ := cc.Get(board.ControlBrightness)
	if err := cc.Set(board.ControlBrightness, r.Max+1); err == nil {
		t.Error("brightness above max: no error")
	}
	if after, _ := cc.Get(board.ControlBrightness); after != before {
		t.Errorf("a refused set changed brightness %d → %d", before, after)
	}
	// vivid has no camera-class controls: zoom, pan, tilt and focus are unsupported, and say so.
	for _, c := range []board.Control{board.ControlZoom, board.ControlPan, board.ControlTilt, board.ControlFocus, "iris"} {
		if _, err := cc.Range(c); !errors.Is(err, board.ErrUnsupported) {
			t.Errorf("%s: %v, want ErrUnsupported", c, err)
		}
		if err := cc.Set(c, 1); !errors.Is(err, board.ErrUnsupported) {
			t.Errorf("set %s: %v, want ErrUnsupported", c, err)
		}
	}
}

// vividDisconnect presses vivid's "Disconnect" control: the node acts unplugged (ENODEV) until
// every file handle is closed, then comes back, as a USB camera replugged.
func vividDisconnect(path string) error {
	fd, err := v4l2.OpenDevice(path, syscall.O_RDWR|syscall.O_NONBLOCK, 0)
	if err != nil {
		return err
	}
	defer v4l2.CloseDevice(fd)
	ctrls, err := v4l2.QueryAllControls(fd)
	if err != nil {
		return err
	}
	for _, c := range ctrls {
		if c.Name == "Disconnect" {
			return v4l2.SetControlValue(fd, c.ID, 0) // a button: any value in its 0–0 range presses it
		}
	}
	return fmt.Errorf("vivid has no Disconnect control (%d controls)", len(ctrls))
}

func TestCameraSurvivesUnplug(t *testing.T) {
	cam := vividCamera(t)
	cam.retry = 50 * time.Millisecond
	s, err := cam.Open(board.VideoMode{Width: 640, Height: 360, FPS: 30})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var seq uint64
	for range 3 {
		f, err := s.ReadFrame(ctx)
		if err != nil {
			t.Fatal(err)
		}
		seq = f.Seq
	}
	path, _ := cam.Path()
	if err := vividDisconnect(path); err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		f, err := s.ReadFrame(ctx)
		if err != nil {
			t.Fatalf("frame %d after the unplug: %v", i, err)
		}
		if f.Seq <= seq {
			t.Fatalf("frame %d after the unplug: seq %d after %d (Seq must continue)", i, f.Seq, seq)
		}
		seq = f.Seq
	}
	if s.(*stream).base == 0 {
		t.Error("the stream never reopened: the disconnect went unnoticed")
	}
}
