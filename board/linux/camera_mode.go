package linux

import (
	"fmt"
	"math"

	"github.com/stoa-rooms/stoa/board"
)

// pixFmt is a capture pixel format this driver converts to I420.
type pixFmt uint32

// V4L2 fourcc codes (videodev2.h v4l2_fourcc(a, b, c, d)).
const (
	fmtMJPEG pixFmt = 'M' | 'J'<<8 | 'P'<<16 | 'G'<<24
	fmtYUYV  pixFmt = 'Y' | 'U'<<8 | 'Y'<<16 | 'V'<<24
	fmtNV12  pixFmt = 'N' | 'V'<<8 | '1'<<16 | '2'<<24
)

func (f pixFmt) String() string {
	return string([]byte{byte(f), byte(f >> 8), byte(f >> 16), byte(f >> 24)})
}

// formatCost ranks the formats by the CPU each frame costs us: NV12 is nearly a copy, YUYV a
// repack, MJPEG a full decode. It only breaks ties between modes that serve want equally.
func formatCost(f pixFmt) int {
	switch f {
	case fmtNV12:
		return 0
	case fmtYUYV:
		return 1
	case fmtMJPEG:
		return 2
	}
	return -1
}

// captureMode is one concrete way to run the camera: format, size and frame rate.
type captureMode struct {
	Format        pixFmt
	Width, Height int
	FPS           int
}

func (m captureMode) String() string {
	return fmt.Sprintf("%v %dx%d@%d", m.Format, m.Width, m.Height, m.FPS)
}

// modeCost scores how well m serves want; lower is better. The order of concerns: a size
// that covers want (we can scale down, not up), then the frame rate (at least the wanted one;
// short of it, as close as possible), then how little the size is off, then the format's CPU cost.
func modeCost(m captureMode, want board.VideoMode) float64 {
	wantArea := float64(want.Width * want.Height)
	area := float64(m.Width * m.Height)
	tier := 0.0
	if m.Width < want.Width || m.Height < want.Height {
		tier = 1
	}
	off := min(math.Abs(area-wantArea)/wantArea, 99)
	fps := 0.0
	if m.FPS < want.FPS {
		fps = float64(want.FPS-m.FPS) / float64(want.FPS)
	}
	// Weights keep the concerns in order: tier ≫ frame rate ≫ size ≫ format.
	return tier*1e8 + fps*1e6 + off*1e3 + float64(formatCost(m.Format))
}

// chooseMode picks the best of modes for want; ok is false when none is usable.
func chooseMode(modes []captureMode, want board.VideoMode) (best captureMode, ok bool) {
	bestCost := math.Inf(1)
	for _, m := range modes {
		if formatCost(m.Format) < 0 || m.Width <= 0 || m.Height <= 0 || m.FPS <= 0 || m.Width%2 != 0 || m.Height%2 != 0 {
			continue
		}
		if c := modeCost(m, want); c < bestCost {
			best, bestCost, ok = m, c, true
		}
	}
	return best, ok
}

// clampStep returns v clamped to [lo, hi] on the grid lo + k*step.
func clampStep(v, lo, hi, step int) int {
	if step <= 0 {
		step = 1
	}
	v = max(lo, min(hi, v))
	return lo + (v-lo)/step*step
}
