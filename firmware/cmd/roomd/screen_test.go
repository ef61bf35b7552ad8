package main

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stoa-rooms/stoa/board"
	"github.com/stoa-rooms/stoa/board/sim"
	"github.com/stoa-rooms/stoa/firmware/roomd"
)

// TestRunDrawsPairingScreen: roomd renders the pairing screen (firmware/screen) on the board's
// display: the code large, and the portal's Rooms page as the QR code.
func TestRunDrawsPairingScreen(t *testing.T) {
	dir := t.TempDir()
	var mu sync.Mutex
	var hw *sim.Hardware
	reg := board.Registry{"sim": func(def board.Definition) (*board.Board, error) {
		b, err := sim.New(def)
		if err == nil {
			mu.Lock()
			hw = sim.Devices(b)
			mu.Unlock()
		}
		return b, err
	}}
	cfg, err := roomd.ParseArgs([]string{"--data-dir", filepath.Join(dir, "data"), "--board", "sim", "--panel-addr", "127.0.0.1:0",
		"--portal-url", "https://127.0.0.1:1", "--discover=false"}, os.Stderr)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- runWith(ctx, cfg, slog.New(slog.DiscardHandler), &syncBuf{}, deps{boards: reg}) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("run: %v", err)
		}
	}()
	deadline := time.Now().Add(10 * time.Second)
	for {
		mu.Lock()
		h := hw
		mu.Unlock()
		if h != nil {
			s := h.Display.Last()
			if s.Code != "" && s.QR == "https://127.0.0.1:1/rooms.html" && h.Display.Picture() != nil {
				if !strings.Contains(s.Title, "Pair") {
					t.Fatalf("screen %+v", s)
				}
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatal("no pairing screen drawn within 10 s")
		}
		time.Sleep(20 * time.Millisecond)
	}
}
