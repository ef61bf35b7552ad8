package linux

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"slices"
	"time"

	"github.com/stoa-rooms/stoa/board"
	"github.com/vladimirvivien/go4vl/device"
	"github.com/vladimirvivien/go4vl/v4l2"
)

// Camera is a V4L2 capture device (go4vl), found by node path or by driver/card name.
type Camera struct {
	def  board.CameraDef
	log  *slog.Logger
	now  func() time.Time
	mono func() time.Duration // CLOCK_MONOTONIC, the clock V4L2 buffer timestamps use
	// retry is how often a stream looks for its unplugged camera again.
	retry time.Duration
	// only restricts the formats chosen from (tests use it to capture each format); 0 = any.
	only pixFmt
}

// NewCamera returns the camera def names. It does not open the device: Open does, so a USB
// camera plugged in after boot is still found.
func NewCamera(def board.CameraDef, log *slog.Logger) *Camera {
	if log == nil {
		log = slog.Default()
	}
	return &Camera{def: def, log: log.With("device", "camera"), now: time.Now, mono: monotonicNow, retry: 250 * time.Millisecond}
}

// Path resolves the camera's device node now.
func (c *Camera) Path() (string, error) { return findCamera(c.def.Device, c.def.Match) }

// Controls returns the camera's V4L2 controls.
func (c *Camera) Controls() board.CameraControls { return &cameraControls{cam: c} }

// Open starts capturing in the mode closest to want.
func (c *Camera) Open(want board.VideoMode) (board.VideoStream, error) {
	if want.Width <= 0 || want.Height <= 0 || want.FPS <= 0 {
		return nil, fmt.Errorf("open camera: bad mode %v", want)
	}
	s := &stream{cam: c, want: want}
	if err := s.open(); err != nil {
		return nil, err
	}
	return s, nil
}

// stream is one open capture. ReadFrame is called from one goroutine (VideoStream's contract),
// so the stream's fields need no lock.
type stream struct {
	cam  *Camera
	want board.VideoMode

	dev    *device.Device
	path   string
	mode   captureMode
	stride int

	frame board.Frame
	// Seq continues across reopens: base is the Seq the first frame after an open gets,
	// first the driver's sequence number of that frame (-1 until it came).
	base  uint64
	first int64
	next  uint64
}

func (s *stream) Mode() board.VideoMode {
	return board.VideoMode{Width: s.mode.Width, Height: s.mode.Height, FPS: s.mode.FPS}
}

// open finds the device, chooses and sets the mode and starts streaming.
func (s *stream) open() error {
	path, err := s.cam.Path()
	if err != nil {
		return fmt.Errorf("open camera: %w", err)
	}
	dev, err := device.Open(path, device.WithBufferSize(4))
	if err != nil {
		return fmt.Errorf("open camera %s: %w", path, err)
	}
	mode, stride, err := configure(dev.Fd(), s.want, s.cam.only)
	if err == nil {
		err = dev.Start(context.Background())
	}
	if err != nil {
		_ = dev.Stop()
		_ = dev.Close()
		return fmt.Errorf("open camera %s: %w", path, err)
	}
	s.dev, s.path, s.mode, s.stride, s.first = dev, path, mode, stride, -1
	s.base = s.next
	s.cam.log.Info("camera streaming", "path", path, "mode", mode.String(), "want", s.want.String())
	return nil
}

// drop releases a device that went away; ReadFrame reopens it.
func (s *stream) drop(cause error) {
	s.cam.log.Warn("camera lost, waiting for it to come back", "path", s.path, "err", cause)
	_ = s.dev.Stop()
	_ = s.dev.Close()
	s.dev = nil
}

func (s *stream) Close() error {
	if s.dev == nil {
		return nil
	}
	errStop := s.dev.Stop()
	errClose := s.dev.Close()
	s.dev = nil
	if err := errors.Join(errStop, errClose); err != nil {
		return fmt.Errorf("close camera %s: %w", s.path, err)
	}
	return nil
}

// ReadFrame returns the next frame, reopening the camera after an unplug.
func (s *stream) ReadFrame(ctx context.Context) (*board.Frame, error) {
	for {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if s.dev == nil {
			if err := s.open(); err != nil {
				select {
				case <-ctx.Done():
					return nil, ctx.Err()
				case <-time.After(s.cam.retry):
				}
				continue
			}
		}
		ready, err := waitReadable(int(s.dev.Fd()), 100*time.Millisecond)
		if err != nil {
			s.drop(err)
			continue
		}
		if !ready {
			continue
		}
		buf, err := v4l2.DequeueBuffer(s.dev.Fd(), s.dev.MemIOType(), s.dev.BufferType())
		if err != nil {
			if isTemporary(err) {
				continue
			}
			s.drop(err)
			continue
		}
		ok := s.convert(buf)
		if _, err := v4l2.QueueBuffer(s.dev.Fd(), s.dev.MemIOType(), s.dev.BufferType(), buf.Index); err != nil {
			s.drop(err)
		}
		if ok {
			return &s.frame, nil
		}
	}
}

// convert turns a dequeued buffer into s.frame; false when the buffer holds no good frame.
func (s *stream) convert(buf v4l2.Buffer) bool {
	bufs := s.dev.Buffers()
	if buf.Flags&v4l2.BufFlagError != 0 || buf.BytesUsed == 0 || int(buf.Index) >= len(bufs) {
		return false
	}
	data := bufs[buf.Index]
	data = data[:min(int(buf.BytesUsed), len(data))]
	var err error
	switch s.mode.Format {
	case fmtYUYV:
		err = yuyvToI420(&s.frame, data, s.mode.Width, s.mode.Height, s.stride)
	case fmtNV12:
		err = nv12ToI420(&s.frame, data, s.mode.Width, s.mode.Height, s.stride)
	case fmtMJPEG:
		err = mjpegToI420(&s.frame, data, s.mode.Width, s.mode.Height)
	default:
		err = fmt.Errorf("format %v", s.mode.Format)
	}
	if err != nil {
		s.cam.log.Debug("camera frame dropped", "path", s.path, "err", err)
		return false
	}
	s.frame.Seq = s.seq(buf.Sequence)
	ts := time.Duration(buf.Timestamp.Sec)*time.Second + time.Duration(buf.Timestamp.Usec)*time.Microsecond
	s.frame.Captured = wallFromMono(ts, s.cam.mono(), s.cam.now())
	return true
}

// seq turns the driver's sequence number of a frame into the stream's Seq. Seq must count
// frames (board.Frame): a driver that repeats a number (vivid does when it renders a frame late:
// its first two frames often both carry 0) or goes back (wrap, reset) gets the frame counted as
// the next one, and later numbers count on from there; a jump forward is a gap (dropped frames).
func (s *stream) seq(driver uint32) uint64 {
	switch {
	case s.first < 0:
		s.first = int64(driver)
	case int64(driver)-s.first < int64(s.next-s.base):
		s.base, s.first = s.next, int64(driver)
	}
	n := s.base + uint64(int64(driver)-s.first)
	s.next = n + 1
	return n
}

// wallFromMono converts a CLOCK_MONOTONIC timestamp to wall time, given both clocks read now.
// A zero timestamp (drivers without one) means "now".
func wallFromMono(ts, monoNow time.Duration, wallNow time.Time) time.Time {
	if ts <= 0 || ts > monoNow {
		return wallNow
	}
	return wallNow.Add(ts - monoNow)
}

// configure enumerates the device's modes, sets the best one for want and returns what the
// driver actually set and the line stride.
func configure(fd uintptr, want board.VideoMode, only pixFmt) (captureMode, int, error) {
	modes, err := enumModes(fd, want)
	if err != nil {
		return captureMode{}, 0, err
	}
	if only != 0 {
		modes = slices.DeleteFunc(modes, func(m captureMode) bool { return m.Format != only })
	}
	m, ok := chooseMode(modes, want)
	if !ok {
		return captureMode{}, 0, fmt.Errorf("no MJPEG, YUYV or NV12 mode (device offers %v)", modes)
	}
	if err := v4l2.SetPixFormat(fd, v4l2.PixFormat{Width: uint32(m.Width), Height: uint32(m.Height), PixelFormat: v4l2.FourCCType(m.Format), Field: v4l2.FieldNone}); err != nil {
		return captureMode{}, 0, fmt.Errorf("set format %v: %w", m, err)
	}
	pf, err := v4l2.GetPixFormat(fd)
	if err != nil {
		return captureMode{}, 0, fmt.Errorf("get format: %w", err)
	}
	got := captureMode{Format: pixFmt(pf.PixelFormat), Width: int(pf.Width), Height: int(pf.Height), FPS: m.FPS}
	if got.Format != m.Format || got.Width%2 != 0 || got.Height%2 != 0 {
		return captureMode{}, 0, fmt.Errorf("driver set %v when asked for %v", got, m)
	}
	param := v4l2.StreamParam{Capture: v4l2.CaptureParam{TimePerFrame: v4l2.Fract{Numerator: 1, Denominator: uint32(m.FPS)}}}
	if err := v4l2.SetStreamParam(fd, v4l2.BufTypeVideoCapture, param); err == nil {
		if p, err := v4l2.GetStreamParam(fd, v4l2.BufTypeVideoCapture); err == nil && p.Capture.TimePerFrame.Numerator > 0 {
			got.FPS = int(math.Round(float64(p.Capture.TimePerFrame.Denominator) / float64(p.Capture.TimePerFrame.Numerator)))
		}
	}
	stride := int(pf.BytesPerLine)
	if stride == 0 {
		stride = got.Width * map[pixFmt]int{fmtYUYV: 2, fmtNV12: 1, fmtMJPEG: 0}[got.Format]
	}
	return got, stride, nil
}

// enumModes lists the modes of the formats we convert. Stepwise sizes and rates are clamped
// to want, so each format contributes its best fit.
func enumModes(fd uintptr, want board.VideoMode) ([]captureMode, error) {
	descs, err := v4l2.GetAllFormatDescriptions(fd)
	if err != nil {
		return nil, fmt.Errorf("list formats: %w", err)
	}
	var modes []captureMode
	for _, d := range descs {
		f := pixFmt(d.PixelFormat)
		if formatCost(f) < 0 {
			continue
		}
		sizes, err := v4l2.GetFormatFrameSizes(fd, d.PixelFormat)
		if err != nil || len(sizes) == 0 {
			// No size enumeration: offer want and let S_FMT adjust it.
			modes = append(modes, captureMode{Format: f, Width: want.Width, Height: want.Height, FPS: want.FPS})
			continue
		}
		for _, s := range sizes {
			w, h := int(s.Size.MinWidth), int(s.Size.MinHeight)
			if s.Type != v4l2.FrameSizeTypeDiscrete {
				w = clampStep(want.Width, int(s.Size.MinWidth), int(s.Size.MaxWidth), int(s.Size.StepWidth))
				h = clampStep(want.Height, int(s.Size.MinHeight), int(s.Size.MaxHeight), int(s.Size.StepHeight))
			}
			for _, fps := range enumRates(fd, d.PixelFormat, w, h, want.FPS) {
				modes = append(modes, captureMode{Format: f, Width: w, Height: h, FPS: fps})
			}
		}
	}
	return modes, nil
}

// enumRates lists the frame rates of one format and size.
func enumRates(fd uintptr, pf v4l2.FourCCType, w, h, want int) []int {
	var rates []int
	for i := uint32(0); i < 64; i++ {
		iv, err := v4l2.GetFormatFrameInterval(fd, i, pf, uint32(w), uint32(h))
		if err != nil {
			break
		}
		fps := func(f v4l2.Fract) int {
			if f.Numerator == 0 {
				return 0
			}
			return int(math.Round(float64(f.Denominator) / float64(f.Numerator)))
		}
		if iv.Type == v4l2.FrameIntervalTypeDiscrete {
			rates = append(rates, fps(iv.Interval.Min))
			continue
		}
		// Stepwise intervals: the shortest interval is the highest rate.
		rates = append(rates, max(1, min(want, fps(iv.Interval.Min))))
		break
	}
	if len(rates) == 0 {
		rates = []int{want}
	}
	return rates
}
