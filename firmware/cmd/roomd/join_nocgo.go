//go:build !cgo

package main

import (
	"log/slog"

	"github.com/stoa-rooms/stoa/firmware/roomd"
)

// joiner: without cgo there are no codecs, so no calls; join is refused with a clear error.
func joiner(*roomd.Room, roomd.ScreenShower, *slog.Logger) roomd.Joiner { return nil }
