package update

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
)

// The Raspberry Pi backend (rpi4, rpi5): the Pi firmware has no boot counting, but it has
// tryboot, a one-shot flag: on the next reboot only, it reads tryboot.txt instead of
// config.txt. The boot partition (mounted where System.ESP says) holds
//
//	config.txt          board settings + "include stoa-slot.txt"
//	stoa-slot.txt       kernel=, initramfs, cmdline= of the good slot (the firmware's default)
//	tryboot.txt         config.txt with "include stoa-tryboot.txt": only while a trial waits
//	stoa-tryboot.txt    the same lines for the slot on trial
//	a/ b/               vmlinuz, initrd.img, cmdline.txt (root=PARTUUID=… stoa.slot=…) per slot
//	stoa-ab.json        per slot: version, install sequence, trial state (TrybootState)
//
// An install writes the other slot, its a|b/ files, the tryboot files, marks the slot pending
// and leaves "0 tryboot" in systemd's reboot parameter, so the next plain `systemctl reboot`
// asks the firmware (through the kernel's Raspberry Pi firmware driver) for one trial boot.
// On that boot stoa-tryboot boot marks the slot trying; once healthy stoa-tryboot bless
// rewrites stoa-slot.txt to it (marked good). Anything else — unhealthy, a crash, a power
// cut — reboots without the flag into config.txt: the old slot, which then marks the trial bad.

// Boot partition files of the tryboot backend.
const (
	TrybootConfig    = "config.txt"
	TrybootSlotFile  = "stoa-slot.txt"
	TrybootTrialFile = "stoa-tryboot.txt"
	TrybootTxt       = "tryboot.txt"
	TrybootStateFile = "stoa-ab.json"
	// TrybootInclude is the line of config.txt that tryboot.txt swaps for the trial slot's.
	TrybootInclude = "include " + TrybootSlotFile
)

// Trial states of a slot in stoa-ab.json.
const (
	SlotGood       = "good"       // booted and healthy (or the image's first slot)
	SlotInstalling = "installing" // being written: not bootable
	SlotPending    = "pending"    // written, waiting for its trial boot
	SlotTrying     = "trying"     // its trial boot started
	SlotBad        = "bad"        // its trial ended without being marked good
)

// TrybootSlot is one slot's record.
type TrybootSlot struct {
	Version string `json:"version"`
	Seq     int    `json:"seq"`
	State   string `json:"state"`
}

// TrybootState is stoa-ab.json: what each slot holds. Which slot the firmware boots by
// default is not stored here but read from stoa-slot.txt, the file the firmware itself reads.
type TrybootState struct {
	Format int `json:"format"`
	// Mode is how a trial boot is started: TrybootFirmware ("" too) or TrybootCommit.
	Mode  string                 `json:"mode,omitempty"`
	Slots map[string]TrybootSlot `json:"slots"`
}

// Trial modes.
//
// TrybootFirmware relies on the kernel turning reboot "0 tryboot" into the firmware's flag
// (Raspberry Pi's kernel does). Debian's kernel (mainline) has no such notifier, so its images
// use TrybootCommit: the install makes stoa-slot.txt boot the new slot and the trial boot's
// first step (stoa-tryboot boot, early in userspace) points it back at the old slot before
// anything can fail — the one-shot done by the system instead of the firmware. The window
// it cannot cover is a new kernel or initramfs that never reaches userspace.
const (
	TrybootFirmware = "firmware"
	TrybootCommit   = "commit"
)

var reTrybootVersion = regexp.MustCompile(`^[A-Za-z0-9._+~-]{1,64}$`)

// ParseTrybootState decodes stoa-ab.json strictly: format 1, slots a and b only, known states.
func ParseTrybootState(b []byte) (TrybootState, error) {
	var st TrybootState
	d := json.NewDecoder(bytes.NewReader(b))
	d.DisallowUnknownFields()
	if err := d.Decode(&st); err != nil {
		return TrybootState{}, fmt.Errorf("%s: %w", TrybootStateFile, err)
	}
	if d.More() {
		return TrybootState{}, fmt.Errorf("%s: trailing data", TrybootStateFile)
	}
	if st.Format != 1 {
		return TrybootState{}, fmt.Errorf("%s: format %d, want 1", TrybootStateFile, st.Format)
	}
	if st.Mode != "" && st.Mode != TrybootFirmware && st.Mode != TrybootCommit {
		return TrybootState{}, fmt.Errorf("%s: unknown mode %q", TrybootStateFile, st.Mode)
	}
	for slot, s := range st.Slots {
		if slot != "a" && slot != "b" {
			return TrybootState{}, fmt.Errorf("%s: slot %q is not a or b", TrybootStateFile, slot)
		}
		switch s.State {
		case SlotGood, SlotInstalling, SlotPending, SlotTrying, SlotBad:
		default:
			return TrybootState{}, fmt.Errorf("%s: slot %s: unknown state %q", TrybootStateFile, slot, s.State)
		}
		if !reTrybootVersion.MatchString(s.Version) || s.Seq < 0 {
			return TrybootState{}, fmt.Errorf("%s: slot %s: bad version %q or sequence %d", TrybootStateFile, slot, s.Version, s.Seq)
		}
	}
	if st.Slots == nil {
		st.Slots = map[string]TrybootSlot{}
	}
	return st, nil
}

// Encode is the file's content.
func (st TrybootState) Encode() []byte {
	st.Format = 1
	b, _ := json.MarshalIndent(st, "", "  ")
	return append(b, '\n')
}

// TrybootSlotText is the firmware's configuration lines booting slot: kernel, initramfs and
// command line from the slot's directory. (The firmware loads Debian's gzip-compressed arm64
// kernel as it is.)
func TrybootSlotText(slot string) string {
	return fmt.Sprintf("# Stoa slot %s (written by stoa-update)\nkernel=%s/vmlinuz\ninitramfs %s/initrd.img followkernel\ncmdline=%s/cmdline.txt\n", strings.ToUpper(slot), slot, slot, slot)
}

// TrybootCmdline is a slot's cmdline.txt: one line, root by PARTUUID.
func TrybootCmdline(slot, partUUID, args string) string {
	return fmt.Sprintf("root=PARTUUID=%s stoa.slot=%s %s\n", partUUID, slot, strings.TrimSpace(args))
}

var reSlotCmdline = regexp.MustCompile(`(?m)^cmdline=([ab])/cmdline\.txt\s*$`)

// isTryboot says whether esp is a Raspberry Pi boot partition of this backend.
func isTryboot(esp string) bool {
	_, err := os.Stat(filepath.Join(esp, TrybootSlotFile))
	return err == nil
}

// trybootBootSlot is the slot stoa-slot.txt boots: the good one.
func trybootBootSlot(esp string) (string, error) {
	b, err := os.ReadFile(filepath.Join(esp, TrybootSlotFile))
	if err != nil {
		return "", fmt.Errorf("read boot slot: %w", err)
	}
	m := reSlotCmdline.FindSubmatch(b)
	if m == nil {
		return "", fmt.Errorf("read boot slot: %s names no cmdline=<a|b>/cmdline.txt", TrybootSlotFile)
	}
	return string(m[1]), nil
}

func readTrybootState(esp string) (TrybootState, error) {
	b, err := os.ReadFile(filepath.Join(esp, TrybootStateFile))
	if err != nil {
		return TrybootState{}, fmt.Errorf("read slot state: %w", err)
	}
	return ParseTrybootState(b)
}

// trybootEntries renders the Pi's slot records as loader entries, so State's trial questions
// (trial.go) answer the same way on both backends: a slot not yet marked good counts as an
// entry with a counter, a slot whose trial started (or ended bad) as one with its tries used.
func trybootEntries(esp, running string) ([]Entry, error) {
	boot, err := trybootBootSlot(esp)
	if err != nil {
		return nil, err
	}
	st, err := readTrybootState(esp)
	if err != nil {
		return nil, err
	}
	var out []Entry
	for _, slot := range []string{"a", "b"} {
		s, ok := st.Slots[slot]
		if !ok {
			continue
		}
		e := Entry{File: EntryName{Slot: slot}, Seq: s.Seq, Ver: s.Version}
		switch {
		case s.State == SlotInstalling:
			continue // not bootable
		case s.State == SlotPending:
			e.File.Counting, e.File.Left = true, 1
		case s.State == SlotTrying || s.State == SlotBad:
			e.File.Counting, e.File.Done = true, 1
		case slot == running && slot != boot && st.Slots[boot].State != SlotPending:
			// Good but not what the firmware boots by default (a bless cut short): still on
			// trial. (Not when the default is a committed install waiting for its reboot.)
			e.File.Counting, e.File.Done = true, 1
		}
		out = append(out, e)
	}
	return out, nil
}

// writeTrybootState replaces stoa-ab.json.
func writeTrybootState(esp string, st TrybootState) error {
	if err := writeFile(filepath.Join(esp, TrybootStateFile), bytes.NewReader(st.Encode())); err != nil {
		return fmt.Errorf("write slot state: %w", err)
	}
	return nil
}

// trybootFiles are the files that make the firmware's tryboot boot a slot.
var trybootFiles = []string{TrybootTxt, TrybootTrialFile}

func removeTrybootFiles(esp string) error {
	for _, f := range trybootFiles {
		if err := os.Remove(filepath.Join(esp, f)); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("remove %s: %w", f, err)
		}
	}
	return nil
}

// trybootTxt is config.txt with the slot include swapped for the trial slot's.
func trybootTxt(esp string) ([]byte, error) {
	cfg, err := os.ReadFile(filepath.Join(esp, TrybootConfig))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", TrybootConfig, err)
	}
	lines := strings.Split(string(cfg), "\n")
	n := 0
	for i, ln := range lines {
		if strings.TrimSpace(ln) == TrybootInclude {
			lines[i] = "include " + TrybootTrialFile
			n++
		}
	}
	if n != 1 {
		return nil, fmt.Errorf("%s has %d %q lines, want 1", TrybootConfig, n, TrybootInclude)
	}
	return []byte(strings.Join(lines, "\n")), nil
}
