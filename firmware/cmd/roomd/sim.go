package main

import (
	"context"
	"log/slog"

	"github.com/stoa-rooms/stoa/board"
	"github.com/stoa-rooms/stoa/board/sim"
	"github.com/stoa-rooms/stoa/board/visca"
)

// simPeripherals puts a simulated VISCA camera on the far end of a sim board's "visca" cable,
// so presets and pan/tilt/zoom work in make run as on a real room.
func simPeripherals(ctx context.Context, b *board.Board, log *slog.Logger) {
	if b.Def.Driver != "sim" {
		return
	}
	peer := sim.Devices(b).SerialPeer("visca")
	if peer == nil {
		return
	}
	cam := visca.NewFake(peer, 1, log.With("part", "sim visca camera"))
	go func() { _ = cam.Serve() }()
	context.AfterFunc(ctx, func() { peer.Close() })
}
