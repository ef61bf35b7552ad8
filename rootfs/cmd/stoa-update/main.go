// Command stoa-update installs signed A/B update bundles on a room and reports its slots.
//
//	stoa-update install FILE            verify FILE and write it to the inactive slot
//	stoa-update install -               the same from standard input (roomd pipes a bundle
//	                                    the portal offered into it)
//	stoa-update install --media DEV     the same from stoa-update.bundle on a USB stick
//	                                    (stoa-update-media@.service, started by udev for a
//	                                    file system labelled STOA-UPDATE)
//	stoa-update status [--json]         slot, version, loader entries (--json: what roomd
//	                                    reports to the portal, see statusJSON)
//	stoa-update check-health            wait for roomd READY (+ management channel when paired)
//	stoa-update pin-machine-id          write this boot's machine ID into every slot's kernel
//	                                    command line (stoa-machine-id.service, first boot)
//
// Every command takes --esp, --cmdline, --release, --pubkey, --machine-id and --slots to point it at another
// system than the running one (tests use files standing in for the partitions).
//
// Exit status: 0 done, 1 failed, 3 (status) not running the appliance image: no stoa.slot= on
// the kernel command line.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/stoa-rooms/stoa/rootfs/update"
)

// MediaBundle is the bundle's file name at the top of an update stick.
const MediaBundle = "stoa-update.bundle"

func main() {
	if err := run(context.Background(), os.Args[1:], os.Stdin, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "stoa-update:", err)
		os.Exit(exitCode(err))
	}
}

func run(ctx context.Context, args []string, stdin io.Reader, out, stderr io.Writer) error {
	if len(args) == 0 {
		return errors.New("usage: stoa-update install|status|check-health|pin-machine-id [flags]")
	}
	sys := update.Device()
	sys.Tries = defaultTries(sys.Tries)
	fs := flag.NewFlagSet("stoa-update "+args[0], flag.ContinueOnError)
	fs.SetOutput(stderr)
	systemFlags(fs, &sys)
	switch args[0] {
	case "status":
		asJSON := fs.Bool("json", false, "print the room's system as JSON (roomd reads it)")
		if err := fs.Parse(args[1:]); err != nil {
			return err
		}
		if *asJSON {
			return printStatusJSON(sys, out, stderr)
		}
		st, err := sys.ReadState()
		if err != nil {
			return err
		}
		fmt.Fprintf(out, "stoa-update: %s\n", st)
		return nil
	case "pin-machine-id":
		if err := fs.Parse(args[1:]); err != nil {
			return err
		}
		files, err := sys.PinMachineID()
		switch {
		case errors.Is(err, update.ErrMachineIDPinned):
			fmt.Fprintln(out, "stoa-update: machine ID already pinned on the kernel command line")
			return nil
		case err != nil:
			return err
		}
		fmt.Fprintf(out, "stoa-update: machine ID pinned in %d boot entries: %s\n", len(files), strings.Join(files, " "))
		return nil
	case "check-health":
		sock := fs.String("socket", "/data/roomd/roomd.sock", "roomd's local API socket")
		timeout := fs.Duration("timeout", 5*time.Minute, "give up (and fail boot-complete.target) after this long")
		if err := fs.Parse(args[1:]); err != nil {
			return err
		}
		ctx, cancel := context.WithTimeout(ctx, *timeout)
		defer cancel()
		t0 := time.Now()
		if err := (update.Health{Socket: *sock}).Wait(ctx); err != nil {
			fmt.Fprintf(out, "stoa-update: UNHEALTHY after %s: %v\n", time.Since(t0).Round(time.Second), err)
			return err
		}
		fmt.Fprintf(out, "stoa-update: healthy after %s\n", time.Since(t0).Round(time.Second))
		return nil
	case "install":
		media := fs.String("media", "", "block device of an update stick holding "+MediaBundle)
		reboot := fs.Bool("reboot", false, "reboot into the new slot once installed")
		fs.IntVar(&sys.Tries, "tries", sys.Tries, "boot tries of the new slot before systemd-boot falls back")
		if err := fs.Parse(args[1:]); err != nil {
			return err
		}
		path := fs.Arg(0)
		if *media != "" {
			mnt, umount, err := mountMedia(*media)
			if err != nil {
				return err
			}
			defer umount()
			path = filepath.Join(mnt, MediaBundle)
		}
		if path == "" {
			return errors.New("install: give a bundle file, - (standard input) or --media DEV")
		}
		// Progress and results go to out; with the bundle on standard input the caller (roomd)
		// reads them from its journal, and the error from stderr.
		sys.Log = slog.New(slog.NewTextHandler(out, nil))
		var in io.Reader = stdin
		if path != "-" {
			f, err := os.Open(path)
			if err != nil {
				return fmt.Errorf("install: %w", err)
			}
			defer f.Close()
			in = f
		}
		res, err := sys.Install(in)
		if errors.Is(err, update.ErrRunning) {
			fmt.Fprintf(out, "stoa-update: %s already runs; nothing to do\n", res.Version)
			return nil
		}
		if err != nil {
			fmt.Fprintf(out, "stoa-update: install FAILED: %v\n", err)
			return err
		}
		if res.Pending {
			fmt.Fprintf(out, "stoa-update: %s is already installed in slot %s (%s), waiting for its trial boot\n", res.Version, res.Slot, res.Entry)
		} else {
			fmt.Fprintf(out, "stoa-update: installed %s in slot %s (%s)\n", res.Version, res.Slot, res.Entry)
		}
		if *reboot {
			fmt.Fprintln(out, "stoa-update: rebooting into the new slot")
			return exec.CommandContext(ctx, "systemctl", "--no-block", "reboot").Run()
		}
		return nil
	}
	return fmt.Errorf("unknown command %q (install, status, check-health)", args[0])
}

// mountMedia mounts an update stick read-only under /run (vfat, the usual stick, or ext4).
func mountMedia(dev string) (string, func(), error) {
	mnt := "/run/stoa-update/media"
	if err := os.MkdirAll(mnt, 0o700); err != nil {
		return "", nil, fmt.Errorf("mount %s: %w", dev, err)
	}
	var errs []error
	for _, fstype := range []string{"vfat", "ext4"} {
		err := syscall.Mount(dev, mnt, fstype, syscall.MS_RDONLY|syscall.MS_NOSUID|syscall.MS_NODEV|syscall.MS_NOEXEC, "")
		if err == nil {
			return mnt, func() { syscall.Unmount(mnt, 0) }, nil
		}
		errs = append(errs, fmt.Errorf("%s: %w", fstype, err))
	}
	return "", nil, fmt.Errorf("mount %s: %w", dev, errors.Join(errs...))
}
