package call

import (
	"time"
)

// composeLoop draws the call ComposeFPS times a second until it ends.
func (c *Call) composeLoop() {
	defer c.wg.Done()
	if c.o.Screen == nil {
		return
	}
	tick := time.NewTicker(time.Second / time.Duration(c.o.ComposeFPS))
	defer tick.Stop()
	for {
		select {
		case <-c.ctx.Done():
			return
		case <-tick.C:
		}
		if err := c.o.Screen.ShowCall(c.view()); err != nil {
			c.log.Debug("show call", "err", err)
		}
	}
}

// view is the call as the screen draws it: the others (the active speaker marked), the self
// view, and the meeting name.
func (c *Call) view() CallView {
	st := c.State()
	v := CallView{Meeting: st.Meeting, Layout: st.Layout}
	for _, p := range st.Participants {
		t := Tile{ID: p.ID, Name: p.Name, MicMuted: p.MicMuted, CameraMuted: p.CameraMuted, Speaking: p.Speaking}
		if !p.CameraMuted {
			t.Picture = c.picture(p.ID)
		}
		v.Tiles = append(v.Tiles, t)
	}
	self := Tile{ID: c.client.ID(), Name: "You", MicMuted: st.MicMuted, CameraMuted: st.CameraMuted}
	if !st.CameraMuted {
		self.Picture = c.self.get()
	}
	v.Self = &self
	if len(v.Tiles) == 0 {
		v.Banner = "Waiting for others to join"
	}
	return v
}
