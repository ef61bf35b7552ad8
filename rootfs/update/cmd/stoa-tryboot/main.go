// Command stoa-tryboot is the Raspberry Pi half of the A/B trial (rootfs/update/tryboot.go),
// run by units of the rpi4/rpi5 images:
//
//	stoa-tryboot boot    early every boot: on a trial boot record that the trial started and
//	                     create /run/stoa/trial (stoa-healthy.service's condition); back on
//	                     the good slot mark an unfinished trial bad
//	stoa-tryboot bless   after stoa-healthy.service passed on a trial boot: make the running
//	                     slot the firmware's default (stoa-slot.txt), drop the tryboot files
package main

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/stoa-rooms/stoa/rootfs/update"
)

// trialMarker exists for the length of a trial boot.
const trialMarker = "/run/stoa/trial"

func main() {
	if err := run(os.Args[1:], os.Stdout, update.Device(), trialMarker); err != nil {
		fmt.Fprintln(os.Stderr, "stoa-tryboot:", err)
		os.Exit(1)
	}
}

func run(args []string, out io.Writer, sys update.System, marker string) error {
	sys.Log = slog.New(slog.NewTextHandler(out, nil))
	if len(args) != 1 {
		return errors.New("usage: stoa-tryboot boot|bless")
	}
	switch args[0] {
	case "boot":
		onTrial, err := sys.TrybootBoot()
		if err != nil {
			return err
		}
		if !onTrial {
			fmt.Fprintln(out, "stoa-tryboot: booted the good slot")
			return nil
		}
		if err := os.MkdirAll(filepath.Dir(marker), 0o755); err != nil {
			return fmt.Errorf("boot: %w", err)
		}
		if err := os.WriteFile(marker, nil, 0o644); err != nil {
			return fmt.Errorf("boot: %w", err)
		}
		fmt.Fprintln(out, "stoa-tryboot: trial boot: waiting for the room to become healthy")
		return nil
	case "bless":
		if err := sys.TrybootBless(); err != nil {
			return err
		}
		fmt.Fprintln(out, "stoa-tryboot: slot marked good: the firmware boots it from now on")
		return nil
	}
	return fmt.Errorf("unknown command %q (boot, bless)", args[0])
}
