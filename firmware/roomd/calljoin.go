//go:build cgo

package roomd

import (
	"context"
	"log/slog"

	"github.com/stoa-rooms/stoa/firmware/call"
	"github.com/stoa-rooms/stoa/firmware/control"
)

// CallJoiner is the room's Joiner: the agent's JoinMeeting (the portal's join answer over the
// management channel) starting a firmware/call call that draws on scr (nil: not drawn). Nil
// when roomd is built without cgo (no codecs, no calls).
func CallJoiner(a *Agent, scr call.Screen, log *slog.Logger) Joiner {
	return callJoiner(scr, log, func(ctx context.Context, r JoinRequest, o call.Options) (*call.Call, error) {
		return a.JoinMeeting(ctx, r.MeetingID, r.PIN, o)
	})
}

// callJoiner builds the call options from the room's request and starts the call with start.
func callJoiner(scr call.Screen, log *slog.Logger, start func(context.Context, JoinRequest, call.Options) (*call.Call, error)) Joiner {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return func(ctx context.Context, r JoinRequest) (CallSession, error) {
		o := call.Options{Board: r.Board, MicMuted: r.MicMuted, CameraMuted: r.CameraMuted,
			Volume: max(r.Volume, 1), Layout: r.Layout, OnChange: r.OnChange, Log: log}
		if scr != nil {
			o.Screen = scr
		}
		c, err := start(ctx, r, o)
		if err != nil {
			return nil, err
		}
		if r.Volume == 0 { // Options.Volume 0 means 100; a silenced room stays silent
			if err := c.SetVolume(0); err != nil {
				log.Warn("call volume", "err", err)
			}
		}
		return callSession{c}, nil
	}
}

// callSession adapts *call.Call to CallSession.
type callSession struct{ *call.Call }

func (s callSession) State() control.CallStatus {
	st := s.Call.State()
	out := control.CallStatus{State: st.State, Meeting: st.Meeting, Layout: st.Layout, Error: st.Error}
	for _, p := range st.Participants {
		out.Participants = append(out.Participants, control.Participant{ID: p.ID, Name: p.Name,
			MicMuted: p.MicMuted, CameraMuted: p.CameraMuted, Speaking: p.Speaking})
	}
	return out
}
