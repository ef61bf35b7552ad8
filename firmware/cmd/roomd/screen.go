package main

import (
	"log/slog"

	"github.com/stoa-rooms/stoa/board"
	"github.com/stoa-rooms/stoa/firmware/roomd"
)

// newScreen is what shows the idle and pairing screens on the board's display.
func newScreen(b *board.Board, log *slog.Logger) roomd.ScreenShower {
	if s, ok := b.Display.(roomd.ScreenShower); ok {
		return s
	}
	return logScreen{log}
}

// logScreen stands in for a board without a display: screens go to the log.
type logScreen struct{ log *slog.Logger }

func (l logScreen) Show(s board.Screen) error {
	l.log.Info("screen", "title", s.Title, "lines", s.Lines)
	return nil
}
