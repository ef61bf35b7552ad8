//go:build cgo

package main

import (
	"log/slog"

	"github.com/stoa-rooms/stoa/firmware/call"
	"github.com/stoa-rooms/stoa/firmware/roomd"
	"github.com/stoa-rooms/stoa/firmware/screen"
)

// joiner takes the room into calls drawn by the screen renderer.
func joiner(room *roomd.Room, scr roomd.ScreenShower, log *slog.Logger) roomd.Joiner {
	if r, ok := scr.(*screen.Renderer); ok {
		return roomd.CallJoiner(room.Agent(), callScreen{r}, log)
	}
	return roomd.CallJoiner(room.Agent(), nil, log)
}

// callScreen draws firmware/call's view with the renderer.
type callScreen struct{ r *screen.Renderer }

func (c callScreen) ShowCall(v call.CallView) error {
	sv := screen.CallView{Meeting: v.Meeting, Layout: v.Layout, Banner: v.Banner}
	for _, t := range v.Tiles {
		sv.Tiles = append(sv.Tiles, screen.Tile(t))
	}
	if v.Self != nil {
		self := screen.Tile(*v.Self)
		sv.Self = &self
	}
	return c.r.ShowCall(sv)
}
