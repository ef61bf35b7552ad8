// Command roomd is the room agent: it pairs the room with a portal, keeps the management
// channel, drives the room's hardware (buttons, LEDs, camera head, sensors, display, calls) and
// serves the device API on the local socket (roomctl) and the serial control port. It runs as
// a systemd Type=notify service with a watchdog, or as a plain process on a developer machine
// (--board=sim).
package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
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
	log := newLogger(os.Stderr, os.Getenv("JOURNAL_STREAM") != "")
	if err := run(ctx, cfg, log, os.Stdout); err != nil {
		log.Error("roomd", "err", err)
		os.Exit(1)
	}
}

// newLogger logs key=value text; under journald (JOURNAL_STREAM set) without the time, which
// the journal records itself.
func newLogger(w io.Writer, journald bool) *slog.Logger {
	o := &slog.HandlerOptions{}
	if journald {
		o.ReplaceAttr = func(groups []string, a slog.Attr) slog.Attr {
			if len(groups) == 0 && a.Key == slog.TimeKey {
				return slog.Attr{}
			}
			return a
		}
	}
	return slog.New(slog.NewTextHandler(w, o))
}

// boards lists the board drivers built into roomd (linux is added by boards_linux.go).
func boards() board.Registry {
	r := board.Registry{"sim": sim.New}
	addLinux(r)
	return r
}

// deps are what run builds on; tests swap the board registry and speed up the loops.
type deps struct {
	boards board.Registry
	tune   func(*roomd.RoomOptions)
}

// run starts the room and the local API and blocks until ctx ends.
func run(ctx context.Context, cfg roomd.Config, log *slog.Logger, stdout io.Writer) error {
	return runWith(ctx, cfg, log, stdout, deps{boards: boards()})
}

func runWith(ctx context.Context, cfg roomd.Config, log *slog.Logger, stdout io.Writer, d deps) error {
	b, err := d.boards.Open(cfg.Board)
	if err != nil {
		return err
	}
	defer b.Close()
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return fmt.Errorf("create data dir: %w", err)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	simPeripherals(ctx, b, log)
	scr := newScreen(b, log)
	pscr := roomd.NewPanelScreen(scr) // idle screens plus the touch-panel PIN while a panel pairs
	host, _ := os.Hostname()
	serial, err := deviceSerial(cfg.DataDir, dtSerialPath)
	if err != nil {
		return err
	}
	o := roomd.RoomOptions{
		Agent: roomd.Options{
			Config: cfg,
			Log:    log,
			OnCode: func(code string) { fmt.Fprintf(stdout, "Pairing code: %s\n", code) },
			Room:   pairing.RoomInfo{Model: b.Name(), Firmware: cfg.Firmware, Serial: serial, Hostname: host},
		},
		Board:        b,
		Screen:       pscr,
		ControlLogin: cfg.ControlLogin,
	}
	if d.tune != nil {
		d.tune(&o)
	}
	room, err := roomd.NewRoom(o)
	if err != nil {
		return err
	}
	room.SetJoiner(joiner(room, scr, log))
	// The touch panel (firmware/panel) on cfg.PanelAddr; the room runs without it.
	if cfg.PanelAddr == "off" {
		log.Info("touch panel off (panel_addr)")
	} else if pnl, err := roomd.NewPanel(room, pscr, roomd.PanelOptions{Addr: cfg.PanelAddr, DataDir: cfg.DataDir, Log: log}); err != nil {
		log.Error("touch panel disabled", "err", err)
	} else {
		fmt.Fprintf(stdout, "Touch panel: https://%s/\n", pnl.Addr())
		go func() {
			if err := pnl.Serve(ctx); err != nil {
				log.Error("touch panel", "err", err)
			}
		}()
	}
	ln, err := roomd.ListenLocal(cfg.Socket)
	if err != nil {
		return err
	}
	defer os.Remove(cfg.Socket)
	log.Info("roomd started", "board", b.Name(), "data_dir", cfg.DataDir, "socket", cfg.Socket, "firmware", cfg.Firmware)

	errc := make(chan error, 2)
	go func() { errc <- roomd.ServeLocal(ctx, ln, room, log) }()
	// READY once the hardware is open (Run calls back) and the local API listens (above).
	go func() {
		errc <- room.Run(ctx, func() {
			notifyReady(log)
			go watchdog(ctx, log, room.Healthy)
		})
	}()

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
