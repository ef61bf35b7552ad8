package roomd

import (
	"context"
	"errors"
	"fmt"

	"github.com/stoa-rooms/stoa/firmware/control"
)

func (r *Room) cmdJoin(ctx context.Context, a control.Args) (any, error) {
	if r.o.Join == nil {
		return nil, errors.New("calls are not built into this roomd")
	}
	r.mu.Lock()
	if r.call != nil || r.joining {
		r.mu.Unlock()
		return nil, errors.New("the room is already in a call; leave it first")
	}
	r.joining = true
	r.mu.Unlock()
	if err := r.wake(); err != nil {
		r.log.Warn("wake for a call", "err", err)
	}
	st := r.hub.Status()
	r.hub.Update(func(s *control.Status) {
		s.Call = control.CallStatus{State: control.CallJoining, Meeting: a["meeting_id"], Layout: s.Call.Layout}
	})
	r.hub.Publish(control.Event{Type: control.EventCall, Data: control.CallEvent{State: control.CallJoining, Meeting: a["meeting_id"]}})
	b := *r.o.Board
	if r.cam != nil {
		b.Camera = r.cam
	}
	var sess CallSession
	sess, err := r.o.Join(context.WithoutCancel(ctx), JoinRequest{
		MeetingID: a["meeting_id"], PIN: a["pin"], Board: &b,
		MicMuted: st.Audio.MicMuted, CameraMuted: st.Video.CameraMuted, Volume: st.Audio.Volume, Layout: st.Call.Layout,
		OnChange: func() { r.mirrorCall() },
	})
	r.mu.Lock()
	r.joining = false
	if err == nil {
		r.call = sess
	}
	r.mu.Unlock()
	if err != nil {
		r.hub.Update(func(s *control.Status) {
			s.Call.State, s.Call.Error = control.CallFailed, err.Error()
		})
		r.hub.Publish(control.Event{Type: control.EventCall, Data: control.CallEvent{State: control.CallFailed, Meeting: a["meeting_id"], Error: err.Error()}})
		_ = r.showIdle()
		return nil, fmt.Errorf("join: %w", err)
	}
	r.setCallLED(true)
	r.mirrorCall()
	go r.watchCall(sess)
	return nil, nil
}

// mirrorCall copies the call's state into the status tree, with a "call" event when the
// call's state changes.
func (r *Room) mirrorCall() {
	r.mu.Lock()
	sess := r.call
	r.mu.Unlock()
	if sess == nil {
		return
	}
	cs := sess.State()
	var was string
	r.hub.Update(func(s *control.Status) {
		was = s.Call.State
		cs.Layout = s.Call.Layout
		s.Call = cs
	})
	if was != cs.State {
		r.hub.Publish(control.Event{Type: control.EventCall, Data: control.CallEvent{State: cs.State, Meeting: cs.Meeting, Error: cs.Error}})
	}
}

// watchCall waits for the call to end, then returns the room to idle.
func (r *Room) watchCall(sess CallSession) {
	<-sess.Done()
	r.mirrorCall()
	r.mu.Lock()
	if r.call == sess {
		r.call = nil
	}
	r.mu.Unlock()
	r.setCallLED(false)
	r.hub.Update(func(s *control.Status) {
		if s.Call.State != control.CallFailed {
			s.Call.State = control.CallIdle
		}
		s.Call.Participants = nil
	})
	if err := r.showIdle(); err != nil {
		r.log.Warn("display", "err", err)
	}
}

// leave ends the call.
func (r *Room) leave() error {
	r.mu.Lock()
	sess := r.call
	r.mu.Unlock()
	if sess == nil {
		return errors.New("the room is not in a call")
	}
	if err := sess.Leave(); err != nil {
		return err
	}
	<-sess.Done()
	return nil
}

// leaveCall ends any call on shutdown.
func (r *Room) leaveCall() {
	r.mu.Lock()
	in := r.call != nil
	r.mu.Unlock()
	if in {
		if err := r.leave(); err != nil {
			r.log.Warn("leave on shutdown", "err", err)
		}
	}
}
