// Command roomd is the room agent: it pairs the room with a portal, keeps the management
// channel and serves the local API (roomctl). It runs as a systemd Type=notify service with a
// watchdog, or as a plain process on a developer machine (--board=sim).
package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/stoa-rooms/stoa/board"
	"github.com/stoa-rooms/stoa/board/sim"
	"github.com/stoa-rooms/stoa/firmware/roomd"
	"github.com/stoa-rooms/stoa/provisioning/pairing"
)

func main() {
	cfg, err := roomd.ParseArgs(os.Args[1:], os.Stderr)
	if err != nil {
		fmt.Fprintln(os.Stderr, "roomd:", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	if err := run(ctx, cfg, log, os.Stdout); err != nil {
		log.Error("roomd", "err", err)
		os.Exit(1)
	}
}

// boards lists the board definitions roomd knows.
func boards() board.Registry {
	return board.Registry{"sim": sim.New}
}

// run starts the agent and the local API and blocks until ctx ends.
func run(ctx context.Context, cfg roomd.Config, log *slog.Logger, stdout io.Writer) error {
	b, err := boards().Open(cfg.Board)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return fmt.Errorf("create data dir: %w", err)
	}
	host, _ := os.Hostname()
	agent, err := roomd.NewAgent(roomd.Options{
		Config:  cfg,
		Display: b.Display.(roomd.ScreenShower), // firmware/screen takes over rendering
		Log:     log,
		OnCode:  func(code string) { fmt.Fprintf(stdout, "Pairing code: %s\n", code) },
		Room:    pairing.RoomInfo{Model: b.Name(), Firmware: cfg.Firmware, Serial: machineID(), Hostname: host},
	})
	if err != nil {
		return err
	}
	ln, err := roomd.ListenLocal(cfg.Socket)
	if err != nil {
		return err
	}
	defer os.Remove(cfg.Socket)
	log.Info("roomd started", "board", b.Name(), "data_dir", cfg.DataDir, "socket", cfg.Socket, "firmware", cfg.Firmware)

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	errc := make(chan error, 2)
	go func() { errc <- roomd.ServeLocal(ctx, ln, agent, log) }()
	go func() { errc <- agent.Run(ctx) }()
	notifyReady(log)
	go watchdog(ctx, log)

	var first error
	select {
	case <-ctx.Done():
	case first = <-errc:
	}
	notifyStopping(log)
	cancel()
	second := <-errc
	if first == nil {
		first = second
	}
	log.Info("roomd stopped")
	return first
}

// machineID is the device serial stand-in: systemd's machine ID, when there is one.
func machineID() string {
	b, err := os.ReadFile("/etc/machine-id")
	if err != nil {
		return ""
	}
	id := strings.TrimSpace(string(b))
	if len(id) > 64 {
		id = id[:64]
	}
	return id
}
