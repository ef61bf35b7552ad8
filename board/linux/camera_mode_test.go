package linux

import (
	"testing"
	"time"

	"github.com/stoa-rooms/stoa/board"
)

func TestChooseMode(t *testing.T) {
	m := func(f pixFmt, w, h, fps int) captureMode { return captureMode{f, w, h, fps} }
	hd30 := board.VideoMode{Width: 1280, Height: 720, FPS: 30}
	tests := []struct {
		name  string
		modes []captureMode
		want  board.VideoMode
		best  captureMode
	}{
		{"UVC: YUYV too slow at 720p, MJPEG wins", []captureMode{m(fmtYUYV, 1280, 720, 10), m(fmtMJPEG, 1280, 720, 30), m(fmtYUYV, 640, 360, 30)}, hd30, m(fmtMJPEG, 1280, 720, 30)},
		{"same size and rate: cheapest format", []captureMode{m(fmtMJPEG, 1280, 720, 30), m(fmtYUYV, 1280, 720, 30), m(fmtNV12, 1280, 720, 30)}, hd30, m(fmtNV12, 1280, 720, 30)},
		{"larger beats smaller", []captureMode{m(fmtYUYV, 640, 480, 30), m(fmtYUYV, 1920, 1080, 30)}, hd30, m(fmtYUYV, 1920, 1080, 30)},
		{"closest larger", []captureMode{m(fmtYUYV, 3840, 2160, 30), m(fmtYUYV, 1920, 1080, 30)}, hd30, m(fmtYUYV, 1920, 1080, 30)},
		{"rate before exact size", []captureMode{m(fmtYUYV, 1280, 720, 5), m(fmtMJPEG, 1920, 1080, 30)}, hd30, m(fmtMJPEG, 1920, 1080, 30)},
		{"only smaller: the closest", []captureMode{m(fmtYUYV, 320, 180, 30), m(fmtYUYV, 640, 360, 30)}, hd30, m(fmtYUYV, 640, 360, 30)},
		{"faster than wanted is fine", []captureMode{m(fmtYUYV, 1280, 720, 60), m(fmtYUYV, 1280, 720, 15)}, hd30, m(fmtYUYV, 1280, 720, 60)},
		{"unknown formats skipped", []captureMode{m(pixFmt(0x34424752), 1280, 720, 30), m(fmtYUYV, 640, 360, 30)}, hd30, m(fmtYUYV, 640, 360, 30)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := chooseMode(tc.modes, tc.want)
			if !ok || got != tc.best {
				t.Errorf("chooseMode = %v (ok %v), want %v", got, ok, tc.best)
			}
		})
	}
	t.Run("nothing usable", func(t *testing.T) {
		if got, ok := chooseMode([]captureMode{m(pixFmt(1), 640, 360, 30), m(fmtYUYV, 641, 360, 30)}, hd30); ok {
			t.Errorf("chose %v from unusable modes", got)
		}
	})
}

func TestClampStep(t *testing.T) {
	tests := []struct{ v, lo, hi, step, want int }{
		{1280, 16, 1920, 8, 1280}, {1283, 16, 1920, 8, 1280}, {4000, 16, 1920, 2, 1920}, {2, 16, 1920, 2, 16}, {100, 0, 200, 0, 100},
	}
	for _, tc := range tests {
		if got := clampStep(tc.v, tc.lo, tc.hi, tc.step); got != tc.want {
			t.Errorf("clampStep(%d, %d, %d, %d) = %d, want %d", tc.v, tc.lo, tc.hi, tc.step, got, tc.want)
		}
	}
}

func TestWallFromMono(t *testing.T) {
	wall := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	tests := []struct {
		name        string
		ts, monoNow time.Duration
		want        time.Time
	}{
		{"40 ms ago", 10 * time.Second, 10*time.Second + 40*time.Millisecond, wall.Add(-40 * time.Millisecond)},
		{"no timestamp", 0, time.Second, wall},
		{"from the future", 2 * time.Second, time.Second, wall},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := wallFromMono(tc.ts, tc.monoNow, wall); !got.Equal(tc.want) {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
}

func TestPixFmtString(t *testing.T) {
	if fmtMJPEG.String() != "MJPG" || fmtYUYV.String() != "YUYV" || fmtNV12.String() != "NV12" {
		t.Errorf("fourccs: %v %v %v", fmtMJPEG, fmtYUYV, fmtNV12)
	}
}
