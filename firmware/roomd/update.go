package roomd

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/stoa-rooms/stoa/services/api"
)

// Updater is the room's A/B system as roomd sees it: what runs, installing a bundle into the
// other slot, rebooting into it. On the image it is the stoa-update CLI (CLIUpdater): roomd
// does not import rootfs/, the image's side of the bundle format.
type Updater interface {
	// System reads what runs. failedTrial is the newest version whose trial boot failed (the
	// room fell back from it), "" if none. Off the appliance image it returns ErrNoSystem.
	System(ctx context.Context) (sys *api.RoomSystem, failedTrial string, err error)
	// Install verifies the signed bundle read from r and writes it to the other slot; the
	// error names the refusal (bad signature, other board, …).
	Install(ctx context.Context, r io.Reader) error
	// Reboot reboots the room (into the new slot, on trial).
	Reboot(ctx context.Context) error
}

// ErrNoSystem: roomd does not run on the appliance image (no stoa-update, or no stoa.slot= on
// the kernel command line): it reports no system and ignores update offers.
var ErrNoSystem = errors.New("not running on the appliance image")

// updatePathPrefix is where the management listener serves offered bundles; an offer naming
// any other path is refused.
const updatePathPrefix = "/api/v1/room/update/"

// systemStatus is `stoa-update status --json`.
type systemStatus struct {
	Board       string `json:"board"`
	Slot        string `json:"slot"`
	Version     string `json:"version"`
	OnTrial     bool   `json:"on_trial"`
	FailedTrial string `json:"failed_trial"`
	Pending     string `json:"pending"`
	UpdateKey   string `json:"update_key"`
}

// DecodeSystemStatus reads `stoa-update status --json` strictly: one object, known fields,
// slot a or b, a board and a version.
func DecodeSystemStatus(data []byte) (sys *api.RoomSystem, failedTrial string, err error) {
	var s systemStatus
	if len(data) > 64<<10 {
		return nil, "", errors.New("decode system status: larger than 64 KiB")
	}
	if err := decodeStrict(data, &s); err != nil {
		return nil, "", fmt.Errorf("decode system status: %w", err)
	}
	switch {
	case s.Slot != "a" && s.Slot != "b":
		return nil, "", fmt.Errorf("decode system status: slot %q is not a or b", s.Slot)
	case s.Board == "" || s.Version == "":
		return nil, "", errors.New("decode system status: board or version is empty")
	}
	return &api.RoomSystem{Board: s.Board, Slot: s.Slot, Version: s.Version, OnTrial: s.OnTrial, UpdateKey: s.UpdateKey}, s.FailedTrial, nil
}

// rollbackError is what the room reports for a version whose trial boot failed.
func rollbackError(failed string, sys *api.RoomSystem) string {
	return fmt.Sprintf("%s did not become healthy on its trial boot; rolled back to %s (slot %s)",
		failed, sys.Version, strings.ToUpper(sys.Slot))
}
