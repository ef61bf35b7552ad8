package roomd

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"

	"github.com/stoa-rooms/stoa/board"
)

// presetsFile keeps the presets of a camera moved through V4L2 controls (a VISCA camera keeps
// its own).
const presetsFile = "camera-presets.json"

// controlsPTZ moves a camera through its V4L2 pan/tilt/zoom controls. V4L2 has no motion at
// a speed, so a speed nudges the control by speed steps; presets are positions stored in the
// data directory.
type controlsPTZ struct {
	ctl  board.CameraControls
	path string

	mu sync.Mutex
}

func newControlsPTZ(ctl board.CameraControls, dataDir string) *controlsPTZ {
	return &controlsPTZ{ctl: ctl, path: filepath.Join(dataDir, presetsFile)}
}

// nudge adds speed steps to control c, clamped to its range; unsupported controls are an error.
func (p *controlsPTZ) nudge(c board.Control, speed int) error {
	if speed == 0 {
		return nil
	}
	r, err := p.ctl.Range(c)
	if err != nil {
		return fmt.Errorf("camera %s: %w", c, err)
	}
	v, err := p.ctl.Get(c)
	if err != nil {
		return fmt.Errorf("camera %s: %w", c, err)
	}
	step := max(r.Step, 1)
	nv := min(max(int64(v)+int64(speed)*int64(step), int64(r.Min)), int64(r.Max))
	if err := p.ctl.Set(c, int32(nv)); err != nil {
		return fmt.Errorf("camera %s: %w", c, err)
	}
	return nil
}

func (p *controlsPTZ) PanTilt(_ context.Context, panSpeed, tiltSpeed int) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return errors.Join(p.nudge(board.ControlPan, panSpeed), p.nudge(board.ControlTilt, tiltSpeed))
}

func (p *controlsPTZ) Zoom(_ context.Context, speed int) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.nudge(board.ControlZoom, speed)
}

func (p *controlsPTZ) Goto(_ context.Context, pos board.Position) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.set(pos)
}

// set moves every control the camera has; ones it lacks are skipped.
func (p *controlsPTZ) set(pos board.Position) error {
	var errs []error
	for c, v := range map[board.Control]int{board.ControlPan: pos.Pan, board.ControlTilt: pos.Tilt, board.ControlZoom: pos.Zoom} {
		if _, err := p.ctl.Range(c); errors.Is(err, board.ErrUnsupported) {
			continue
		}
		if err := p.ctl.Set(c, int32(v)); err != nil {
			errs = append(errs, fmt.Errorf("camera %s: %w", c, err))
		}
	}
	return errors.Join(errs...)
}

func (p *controlsPTZ) Position(context.Context) (board.Position, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	var pos board.Position
	for c, dst := range map[board.Control]*int{board.ControlPan: &pos.Pan, board.ControlTilt: &pos.Tilt, board.ControlZoom: &pos.Zoom} {
		v, err := p.ctl.Get(c)
		if errors.Is(err, board.ErrUnsupported) {
			continue
		}
		if err != nil {
			return board.Position{}, fmt.Errorf("camera %s: %w", c, err)
		}
		*dst = int(v)
	}
	return pos, nil
}

func (p *controlsPTZ) PresetStore(ctx context.Context, n int) error {
	pos, err := p.Position(ctx)
	if err != nil {
		return err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	ps, err := loadPresets(p.path)
	if err != nil {
		return err
	}
	ps[strconv.Itoa(n)] = pos
	return savePresets(p.path, ps)
}

func (p *controlsPTZ) PresetRecall(_ context.Context, n int) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	ps, err := loadPresets(p.path)
	if err != nil {
		return err
	}
	pos, ok := ps[strconv.Itoa(n)]
	if !ok {
		return fmt.Errorf("preset %d is not stored", n)
	}
	return p.set(pos)
}

// Power: a USB camera has no standby of its own.
func (p *controlsPTZ) Power(context.Context, bool) error { return nil }

// Presets lists the stored preset numbers.
func (p *controlsPTZ) Presets() []int {
	p.mu.Lock()
	defer p.mu.Unlock()
	ps, err := loadPresets(p.path)
	if err != nil {
		return nil
	}
	var out []int
	for k := range ps {
		if n, err := strconv.Atoi(k); err == nil {
			out = append(out, n)
		}
	}
	slices.Sort(out)
	return out
}

// DecodePresets strictly reads the presets file: preset number → position.
func DecodePresets(data []byte) (map[string]board.Position, error) {
	ps := map[string]board.Position{}
	if len(data) > 64<<10 {
		return nil, errors.New("decode presets: larger than 64 KiB")
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&ps); err != nil {
		return nil, fmt.Errorf("decode presets: %w", err)
	}
	for k := range ps {
		if n, err := strconv.Atoi(k); err != nil || n < 0 || n > 255 || strconv.Itoa(n) != k {
			return nil, fmt.Errorf("decode presets: %q is not a preset number", k)
		}
	}
	return ps, nil
}

func loadPresets(path string) (map[string]board.Position, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return map[string]board.Position{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("load presets: %w", err)
	}
	return DecodePresets(data)
}

// savePresets writes the file atomically (temp, fsync, rename).
func savePresets(path string, ps map[string]board.Position) error {
	data, err := json.MarshalIndent(ps, "", "  ")
	if err != nil {
		return fmt.Errorf("save presets: %w", err)
	}
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return fmt.Errorf("save presets: %w", err)
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("save presets: %w", err)
	}
	return nil
}
