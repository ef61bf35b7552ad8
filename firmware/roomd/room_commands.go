package roomd

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/stoa-rooms/stoa/board"
	"github.com/stoa-rooms/stoa/firmware/control"
)

// ptzTimeout bounds one camera head command (VISCA has its own shorter timeouts).
const ptzTimeout = 10 * time.Second

// register binds a handler to every standard command.
func (r *Room) register() error {
	hs := map[string]control.Handler{
		control.CmdJoin:    r.cmdJoin,
		control.CmdLeave:   func(context.Context, control.Args) (any, error) { return nil, r.leave() },
		control.CmdMic:     r.cmdMic,
		control.CmdCamera:  r.cmdCamera,
		control.CmdVolume:  r.cmdVolume,
		control.CmdPreset:  r.cmdPreset,
		control.CmdPTZ:     r.cmdPTZ,
		control.CmdStandby: func(context.Context, control.Args) (any, error) { return nil, r.standby() },
		control.CmdWake:    func(context.Context, control.Args) (any, error) { return nil, r.wake() },
		control.CmdLayout:  r.cmdLayout,
		control.CmdStatus: func(_ context.Context, a control.Args) (any, error) {
			return r.hub.Status().Get(a["path"])
		},
	}
	for name, spec := range control.Specs() {
		h, ok := hs[name]
		if !ok {
			return fmt.Errorf("new room: no handler for command %q", name)
		}
		if err := r.disp.Register(name, spec, h); err != nil {
			return err
		}
	}
	return nil
}

// toggle resolves mute|unmute|toggle against the current value.
func toggle(action string, cur bool) bool {
	switch action {
	case "mute":
		return true
	case "unmute":
		return false
	}
	return !cur
}

func (r *Room) cmdMic(_ context.Context, a control.Args) (any, error) {
	return nil, r.setMicMuted(toggle(a["action"], r.hub.Status().Audio.MicMuted))
}

func (r *Room) cmdCamera(_ context.Context, a control.Args) (any, error) {
	return nil, r.setCameraMuted(toggle(a["action"], r.hub.Status().Video.CameraMuted))
}

// setMicMuted applies the microphone mute to the call, the status and the mute LED.
func (r *Room) setMicMuted(m bool) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.call != nil {
		if err := r.call.SetMicMuted(m); err != nil {
			return fmt.Errorf("mute the call's microphone: %w", err)
		}
	}
	// The LED first: whoever sees the status change finds the LED already following.
	if err := setLED(r.muteLED, m); err != nil {
		r.log.Warn("mute LED", "err", err)
	}
	r.hub.Update(func(s *control.Status) { s.Audio.MicMuted = m })
	return nil
}

// setCameraMuted applies camera privacy (no video sent) to the call and the status.
func (r *Room) setCameraMuted(m bool) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.call != nil {
		if err := r.call.SetCameraMuted(m); err != nil {
			return fmt.Errorf("mute the call's camera: %w", err)
		}
	}
	r.hub.Update(func(s *control.Status) { s.Video.CameraMuted = m })
	return nil
}

func (r *Room) cmdVolume(_ context.Context, a control.Args) (any, error) {
	cur := r.hub.Status().Audio.Volume
	var v int
	switch a["level"] {
	case "up":
		v = min(cur+10, 100)
	case "down":
		v = max(cur-10, 0)
	default:
		n, err := a.Int("level")
		if err != nil {
			return nil, err
		}
		v = n
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.call != nil {
		if err := r.call.SetVolume(v); err != nil {
			return nil, fmt.Errorf("set the call's volume: %w", err)
		}
	}
	r.hub.Update(func(s *control.Status) { s.Audio.Volume = v })
	return nil, nil
}

func (r *Room) cmdLayout(_ context.Context, a control.Args) (any, error) {
	l := a["layout"]
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.call != nil {
		if err := r.call.SetLayout(l); err != nil {
			return nil, fmt.Errorf("set the call's layout: %w", err)
		}
	}
	r.hub.Update(func(s *control.Status) { s.Call.Layout = l })
	return nil, nil
}

// standby blanks the display, puts the TV and the camera to sleep. Not during a call.
func (r *Room) standby() error {
	r.mu.Lock()
	busy := r.call != nil || r.joining
	r.mu.Unlock()
	if busy {
		return errors.New("the room is in a call; leave it first")
	}
	if r.hub.Status().Standby {
		return nil
	}
	r.hub.Update(func(s *control.Status) { s.Standby = true })
	r.blank()
	if c := r.o.Board.CEC; c != nil {
		if err := c.Standby(); err != nil {
			r.log.Warn("cec standby", "err", err)
		}
	}
	r.cameraPower(false)
	r.log.Info("standby")
	return nil
}

// wake undoes standby: TV on, camera on, the idle screen back.
func (r *Room) wake() error {
	if !r.hub.Status().Standby {
		return nil
	}
	if c := r.o.Board.CEC; c != nil {
		if err := c.PowerOn(); err != nil {
			r.log.Warn("cec power on", "err", err)
		}
	}
	r.cameraPower(true)
	r.hub.Update(func(s *control.Status) { s.Standby = false })
	r.log.Info("awake")
	return r.showIdle()
}

func (r *Room) cameraPower(on bool) {
	// In the background: a VISCA camera takes seconds to power up and must not hold standby.
	go func() {
		r.ptzMu.Lock()
		defer r.ptzMu.Unlock()
		if r.ptz == nil {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), ptzTimeout)
		defer cancel()
		if err := r.ptz.Power(ctx, on); err != nil {
			r.log.Warn("camera power", "on", on, "err", err)
		}
	}()
}

func (r *Room) cmdPreset(ctx context.Context, a control.Args) (any, error) {
	n, err := a.Int("n")
	if err != nil {
		return nil, err
	}
	return nil, r.withPTZ(ctx, func(ctx context.Context, p board.PTZ) error {
		if a["action"] == "store" {
			if err := p.PresetStore(ctx, n); err != nil {
				return err
			}
			r.presets[n] = true
			return nil
		}
		if !r.presets[n] && r.hub.Status().Camera.Control == "v4l2" {
			return fmt.Errorf("preset %d is not stored", n)
		}
		return p.PresetRecall(ctx, n)
	})
}

func (r *Room) cmdPTZ(ctx context.Context, a control.Args) (any, error) {
	speed := 0
	if _, ok := a["speed"]; ok {
		speed, _ = a.Int("speed")
	}
	return nil, r.withPTZ(ctx, func(ctx context.Context, p board.PTZ) error {
		switch a["action"] {
		case "pan":
			return p.PanTilt(ctx, speed, 0)
		case "tilt":
			return p.PanTilt(ctx, 0, speed)
		case "zoom":
			return p.Zoom(ctx, speed)
		case "stop":
			return errors.Join(p.PanTilt(ctx, 0, 0), p.Zoom(ctx, 0))
		}
		var pos board.Position
		for name, dst := range map[string]*int{"pan": &pos.Pan, "tilt": &pos.Tilt, "zoom": &pos.Zoom} {
			v, err := a.Int(name)
			if err != nil {
				return fmt.Errorf("goto: %w", err)
			}
			*dst = v
		}
		return p.Goto(ctx, pos)
	})
}

// withPTZ runs f on the camera head (one command at a time) and mirrors where it went.
func (r *Room) withPTZ(ctx context.Context, f func(context.Context, board.PTZ) error) error {
	r.ptzMu.Lock()
	defer r.ptzMu.Unlock()
	if r.ptz == nil {
		return errors.New("this room's camera cannot be moved")
	}
	ctx, cancel := context.WithTimeout(ctx, ptzTimeout)
	defer cancel()
	if err := f(ctx, r.ptz); err != nil {
		return err
	}
	pos, err := r.ptz.Position(ctx)
	presets := r.presetList()
	r.hub.Update(func(s *control.Status) {
		if err == nil {
			s.Camera.Position = control.Position{Pan: pos.Pan, Tilt: pos.Tilt, Zoom: pos.Zoom}
		}
		s.Camera.Presets = presets
	})
	if err != nil {
		r.log.Warn("camera position", "err", err)
	}
	return nil
}
