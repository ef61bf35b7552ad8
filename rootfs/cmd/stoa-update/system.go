package main

import (
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/stoa-rooms/stoa/rootfs/update"
)

// exitNotImage is the exit status of `status` off the appliance image (no stoa.slot= on the
// kernel command line): roomd then reports no system and ignores update offers.
const exitNotImage = 3

// errNotImage marks the not-on-the-image case for exitCode.
var errNotImage = errors.New("not running the appliance image")

// systemFlags lets every command look at another system than the running one: a test points
// them at files (an ESP directory, a command line, a release file, a key, slot images).
func systemFlags(fs *flag.FlagSet, sys *update.System) {
	fs.StringVar(&sys.ESP, "esp", sys.ESP, "mounted boot partition")
	fs.StringVar(&sys.Cmdline, "cmdline", sys.Cmdline, "kernel command line file (stoa.slot=)")
	fs.StringVar(&sys.Release, "release", sys.Release, "release file (BOARD=, VERSION=)")
	fs.StringVar(&sys.PubKey, "pubkey", sys.PubKey, "update public key (base64 Ed25519)")
	fs.StringVar(&sys.MachineID, "machine-id", sys.MachineID, "machine ID file new slots boot with (systemd.machine_id=)")
	fs.Func("slots", "directory whose files root-a and root-b stand in for the slot partitions (PARTUUID file-<slot>)", func(dir string) error {
		if dir == "" {
			return errors.New("empty directory")
		}
		sys.Slot = func(slot string) (string, string, error) {
			return filepath.Join(dir, "root-"+slot), "file-" + slot, nil
		}
		return nil
	})
}

// defaultTries is --tries' default: $STOA_UPDATE_TRIES when set (the image sets 1 under QEMU,
// where every boot costs minutes), else def.
func defaultTries(def int) int {
	if n, err := strconv.Atoi(os.Getenv("STOA_UPDATE_TRIES")); err == nil && n > 0 && n < 100 {
		return n
	}
	return def
}

func exitCode(err error) int {
	if errors.Is(err, errNotImage) {
		return exitNotImage
	}
	return 1
}

// statusJSON is `stoa-update status --json`: the room's system as roomd reports it to the
// portal (api.RoomSystem) plus the trial outcome roomd turns into an update report.
type statusJSON struct {
	Board   string `json:"board"`
	Slot    string `json:"slot"`
	Version string `json:"version"`
	OnTrial bool   `json:"on_trial"`
	// FailedTrial is the newest version whose trial boot failed: the room fell back from it.
	FailedTrial string `json:"failed_trial"`
	// Pending is a version installed in the other slot waiting for its first trial boot.
	Pending string `json:"pending"`
	// UpdateKey is the hex of the Ed25519 key bundles must be signed with ("" when unreadable).
	UpdateKey string `json:"update_key"`
}

func printStatusJSON(sys update.System, out, stderr io.Writer) error {
	cl, err := os.ReadFile(sys.Cmdline)
	if err != nil {
		return fmt.Errorf("status: %w", err)
	}
	if !strings.Contains(" "+string(cl), " stoa.slot=") {
		return fmt.Errorf("status: no stoa.slot= on the kernel command line: %w", errNotImage)
	}
	st, err := sys.ReadState()
	if err != nil {
		return fmt.Errorf("status: %w", err)
	}
	js := statusJSON{Board: st.Board, Slot: st.Slot, Version: st.Version, OnTrial: st.OnTrial()}
	js.FailedTrial, _ = st.FailedTrial()
	js.Pending, _ = st.Pending()
	// A room without a readable key still reports its slot and version; the portal refuses to
	// offer it bundles (no signature verifies with an empty key).
	if b, err := os.ReadFile(sys.PubKey); err != nil {
		fmt.Fprintf(stderr, "stoa-update: status: update key: %v\n", err)
	} else if pub, err := update.ParsePublicKey(b); err != nil {
		fmt.Fprintf(stderr, "stoa-update: status: %s: %v\n", sys.PubKey, err)
	} else {
		js.UpdateKey = hex.EncodeToString(pub)
	}
	enc := json.NewEncoder(out)
	if err := enc.Encode(js); err != nil {
		return fmt.Errorf("status: %w", err)
	}
	return nil
}
