package update

import (
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// The image's root is read-only and the same in every room, so its /etc/machine-id is empty
// and systemd makes up a transient ID on every boot (machine-id(5)). A new ID each boot means
// a new persistent journal directory each boot (journald vacuums only its own), and a room
// whose identity changes under it. The one writable place systemd reads before mounting
// anything is the kernel command line (systemd.machine_id=, kernel-command-line(7)): the first
// boot pins its ID there in every slot's command line (PinMachineID), and Install writes it
// into the command line of each slot it installs.
const machineIDParam = "systemd.machine_id="

// ErrMachineIDPinned says the running kernel command line already names the machine ID.
var ErrMachineIDPinned = errors.New("the machine ID is already on the kernel command line")

// readMachineID reads a valid 128-bit machine ID (32 lowercase hex digits, not all zero).
func readMachineID(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("read machine id: %w", err)
	}
	id := strings.TrimSpace(string(b))
	if !validMachineID(id) {
		return "", fmt.Errorf("read machine id: %s holds %q, not 32 lowercase hex digits", path, id)
	}
	return id, nil
}

func validMachineID(id string) bool {
	if len(id) != 32 || strings.Trim(id, "0") == "" || strings.ToLower(id) != id {
		return false
	}
	_, err := hex.DecodeString(id)
	return err == nil
}

// withMachineID returns the kernel arguments args with systemd.machine_id=id, replacing any
// other machine ID they name.
func withMachineID(args, id string) string {
	var out []string
	for _, f := range strings.Fields(args) {
		if !strings.HasPrefix(f, machineIDParam) {
			out = append(out, f)
		}
	}
	return strings.Join(append(out, machineIDParam+id), " ")
}

// installArgs are the kernel arguments of a slot being installed: the bundle's, plus the
// machine ID when the system has a valid one (an install never fails for want of it).
func (s System) installArgs(bundleArgs string) string {
	if s.MachineID == "" {
		return bundleArgs
	}
	id, err := readMachineID(s.MachineID)
	if err != nil {
		if s.Log != nil {
			s.Log.Warn("installing without a pinned machine ID", "err", err)
		}
		return bundleArgs
	}
	return withMachineID(bundleArgs, id)
}

// PinMachineID writes the running machine ID into the kernel command line of every slot the
// boot loader holds, so the next boots keep it. It returns the files it rewrote, or
// ErrMachineIDPinned when the running command line already names an ID.
func (s System) PinMachineID() ([]string, error) {
	cl, err := os.ReadFile(s.Cmdline)
	if err != nil {
		return nil, fmt.Errorf("pin machine id: %w", err)
	}
	for _, f := range strings.Fields(string(cl)) {
		if strings.HasPrefix(f, machineIDParam) {
			return nil, ErrMachineIDPinned
		}
	}
	id, err := readMachineID(s.MachineID)
	if err != nil {
		return nil, fmt.Errorf("pin machine id: %w", err)
	}
	var files []string
	if isTryboot(s.ESP) {
		for _, slot := range []string{"a", "b"} {
			files = append(files, filepath.Join(s.ESP, slot, "cmdline.txt"))
		}
	} else {
		files, _ = filepath.Glob(filepath.Join(s.ESP, "loader/entries/stoa-*.conf"))
	}
	var done []string
	for _, p := range files {
		b, err := os.ReadFile(p)
		if errors.Is(err, os.ErrNotExist) {
			continue // a slot never installed
		}
		if err != nil {
			return done, fmt.Errorf("pin machine id: %w", err)
		}
		text, ok := pinText(string(b), id, isTryboot(s.ESP))
		if !ok {
			return done, fmt.Errorf("pin machine id: %s has no kernel command line", p)
		}
		if text == string(b) {
			continue
		}
		if err := writeFile(p, strings.NewReader(text)); err != nil {
			return done, fmt.Errorf("pin machine id: %w", err)
		}
		done = append(done, p)
	}
	return done, nil
}

// pinText puts the machine ID into a loader entry's options line, or into a Raspberry Pi
// cmdline.txt (one line); false when there is no command line to put it in.
func pinText(text, id string, cmdlineTxt bool) (string, bool) {
	if cmdlineTxt {
		line := strings.TrimSpace(text)
		if line == "" || strings.Contains(line, "\n") {
			return "", false
		}
		return withMachineID(line, id) + "\n", true
	}
	lines := strings.SplitAfter(text, "\n")
	for i, l := range lines {
		if rest, ok := strings.CutPrefix(l, "options "); ok {
			nl := ""
			if strings.HasSuffix(rest, "\n") {
				nl = "\n"
			}
			lines[i] = "options " + withMachineID(rest, id) + nl
			return strings.Join(lines, ""), true
		}
	}
	return "", false
}
