package main

import (
	"log/slog"

	"github.com/stoa-rooms/stoa/board"
	"github.com/stoa-rooms/stoa/firmware/roomd"
	"github.com/stoa-rooms/stoa/firmware/screen"
)

// newScreen renders the idle and pairing screens on the board's display.
func newScreen(b *board.Board, log *slog.Logger) roomd.ScreenShower {
	if b.Display == nil {
		return logScreen{log}
	}
	return screen.New(b.Display, screen.Options{})
}

// logScreen stands in for a board without a display: screens go to the log.
type logScreen struct{ log *slog.Logger }

func (l logScreen) Show(s board.Screen) error {
	l.log.Info("screen", "title", s.Title, "lines", s.Lines)
	return nil
}
