package call

import (
	"slices"
	"strings"

	"github.com/stoa-rooms/stoa/services/api"
)

// onSignal sees the router's messages rtcclient does not consume (it keeps the participant
// list itself); the call records the active speaker and tells the control layer.
func (c *Call) onSignal(m api.SigMessage) {
	switch m.Type {
	case api.SigTypeActiveSpeaker:
		as, err := api.DecodeSigActiveSpeaker(m)
		if err != nil {
			return
		}
		c.mu.Lock()
		c.speaker = as.ParticipantID
		c.mu.Unlock()
	case api.SigTypeParticipantLeft:
		if pl, err := api.DecodeSigParticipantLeft(m); err == nil {
			c.mu.Lock()
			if c.speaker == pl.ID {
				c.speaker = ""
			}
			c.mu.Unlock()
		}
	case api.SigTypeParticipantJoined, api.SigTypeTrack:
	default:
		return
	}
	c.notify()
}

// participants turns the signaled participants into the control layer's view, sorted by
// name: a track muted or absent counts as muted.
func participants(sps []api.SigParticipant, speaker string) []Participant {
	out := make([]Participant, 0, len(sps))
	for _, sp := range sps {
		p := Participant{ID: sp.ID, Name: sp.Name, MicMuted: true, CameraMuted: true, Speaking: sp.ID == speaker}
		for _, t := range sp.Tracks {
			switch t.Kind {
			case "audio":
				p.MicMuted = p.MicMuted && t.Muted
			case "video":
				p.CameraMuted = p.CameraMuted && t.Muted
			}
		}
		out = append(out, p)
	}
	slices.SortFunc(out, func(a, b Participant) int {
		if c := strings.Compare(a.Name, b.Name); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	return out
}
