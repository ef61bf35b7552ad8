package update

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
)

// System is where the installer finds the room's parts; Device() gives the defaults.
type System struct {
	ESP     string // mounted boot partition: /efi
	Cmdline string // /proc/cmdline: stoa.slot= says which slot runs
	Release string // /etc/stoa-release: BOARD=, VERSION=
	// MachineID is /etc/machine-id: new slots boot with it (machineid.go). "" leaves it out.
	MachineID string
	PubKey    string // /usr/lib/stoa/update-key.pub
	Tries     int    // boot counter of a new entry (systemd-boot tries before falling back)
	// Slot returns the block device and GPT partition UUID of a root slot.
	Slot func(slot string) (dev, partUUID string, err error)
	Log  *slog.Logger
	// RebootParam is systemd's reboot parameter file: a Raspberry Pi install leaves the
	// tryboot request there for the next reboot (tryboot.go). "" writes none.
	RebootParam string
}

// Device is the System of a running room.
func Device() System {
	return System{ESP: "/efi", Cmdline: "/proc/cmdline", Release: "/etc/stoa-release", MachineID: "/etc/machine-id",
		PubKey: "/usr/lib/stoa/update-key.pub", Tries: 3, Slot: slotByPartLabel, Log: slog.Default(),
		RebootParam: "/run/systemd/reboot-param"}
}

// slotByPartLabel finds root-<slot> by its GPT partition name and its PARTUUID by the udev links.
func slotByPartLabel(slot string) (string, string, error) {
	dev, err := filepath.EvalSymlinks("/dev/disk/by-partlabel/root-" + slot)
	if err != nil {
		return "", "", fmt.Errorf("find slot %s: %w", slot, err)
	}
	links, _ := filepath.Glob("/dev/disk/by-partuuid/*")
	for _, l := range links {
		if d, err := filepath.EvalSymlinks(l); err == nil && d == dev {
			return dev, filepath.Base(l), nil
		}
	}
	return "", "", fmt.Errorf("find slot %s: no PARTUUID link for %s", slot, dev)
}

// State is what runs and what the boot loader holds.
type State struct {
	Board, Slot, Version string
	Entries              []Entry
}

func (s State) String() string {
	var names []string
	for _, e := range s.Entries {
		names = append(names, fmt.Sprintf("%s(%d-%s)", e.File, e.Seq, e.Ver))
	}
	return fmt.Sprintf("slot=%s version=%s board=%s entries=%s", s.Slot, s.Version, s.Board, strings.Join(names, ","))
}

// ReadState reads the running slot, version and the loader entries.
func (s System) ReadState() (State, error) {
	var st State
	cl, err := os.ReadFile(s.Cmdline)
	if err != nil {
		return st, fmt.Errorf("read state: %w", err)
	}
	for _, f := range strings.Fields(string(cl)) {
		if v, ok := strings.CutPrefix(f, "stoa.slot="); ok && (v == "a" || v == "b") {
			st.Slot = v
		}
	}
	if st.Slot == "" {
		return st, errors.New("read state: no stoa.slot=a|b on the kernel command line")
	}
	rel, err := os.Open(s.Release)
	if err != nil {
		return st, fmt.Errorf("read state: %w", err)
	}
	defer rel.Close()
	sc := bufio.NewScanner(rel)
	for sc.Scan() {
		k, v, _ := strings.Cut(sc.Text(), "=")
		switch k {
		case "BOARD":
			st.Board = v
		case "VERSION":
			st.Version = v
		}
	}
	// A Raspberry Pi boot partition (tryboot.go) has no loader entries: its slot records
	// stand in for them.
	if isTryboot(s.ESP) {
		st.Entries, err = trybootEntries(s.ESP, st.Slot)
	} else {
		st.Entries, err = ReadEntries(s.ESP)
	}
	if err != nil {
		return st, fmt.Errorf("read state: %w", err)
	}
	return st, nil
}

// Result says what Install did.
type Result struct {
	Slot, Version string
	Entry         string // the new loader entry's file name
	Pending       bool   // already installed earlier, waiting for its trial boot: nothing written
}

// ErrRunning is returned for a bundle of the version that already runs.
var ErrRunning = errors.New("this version already runs")

// Install verifies the bundle read from r and writes it to the slot that is not running:
// root image, kernel, initrd, then a loader entry with s.Tries tries. Nothing boots the slot
// until the entry is written, which happens only after every byte matched the signed manifest.
func (s System) Install(r io.Reader) (Result, error) {
	st, err := s.ReadState()
	if err != nil {
		return Result{}, fmt.Errorf("install: %w", err)
	}
	pubB, err := os.ReadFile(s.PubKey)
	if err != nil {
		return Result{}, fmt.Errorf("install: %w", err)
	}
	pub, err := ParsePublicKey(pubB)
	if err != nil {
		return Result{}, fmt.Errorf("install: %w", err)
	}
	b, err := OpenBundle(r, pub)
	if err != nil {
		return Result{}, fmt.Errorf("install: %w", err)
	}
	m := b.Manifest
	target := map[string]string{"a": "b", "b": "a"}[st.Slot]
	res := Result{Slot: target, Version: m.Version}
	switch {
	case m.Board != st.Board:
		return res, fmt.Errorf("install: bundle is for board %q, this room is %q", m.Board, st.Board)
	case m.Version == st.Version:
		return res, fmt.Errorf("install %s: %w", m.Version, ErrRunning)
	case st.OnTrial():
		// The running slot on trial (its last try included: +0-N) may yet fall back to the
		// other slot, the very one an install would overwrite.
		return res, fmt.Errorf("install: the running slot %s is on trial: not marked good yet", st.Slot)
	}
	if isTryboot(s.ESP) {
		res.Entry = TrybootTxt
		return s.installTryboot(b, res)
	}
	seq := 0
	for _, e := range st.Entries {
		seq = max(seq, e.Seq)
		switch {
		case e.Ver == m.Version && e.File.Bad():
			return res, fmt.Errorf("install: version %s failed its trial boot (%s): not installing it again", m.Version, e.File)
		case e.Ver == m.Version && e.File.Slot == target && e.File.Counting:
			res.Entry, res.Pending = e.File.String(), true
			return res, nil
		}
	}
	// From here the target slot is being overwritten: first make sure nothing boots it.
	for _, e := range st.Entries {
		if e.File.Slot == target {
			if err := os.Remove(filepath.Join(s.ESP, "loader/entries", e.File.String())); err != nil {
				return res, fmt.Errorf("install: remove old entry: %w", err)
			}
		}
	}
	dev, partUUID, err := s.Slot(target)
	if err != nil {
		return res, fmt.Errorf("install: %w", err)
	}
	log := s.Log
	if log == nil {
		log = slog.Default()
	}
	log.Info("installing update", "version", m.Version, "slot", target, "device", dev)
	kdir := filepath.Join(s.ESP, "stoa-"+target)
	if err := os.MkdirAll(kdir, 0o755); err != nil {
		return res, fmt.Errorf("install: %w", err)
	}
	if err := writePayload(b, dev, kdir, log); err != nil {
		return res, err
	}
	tries := max(s.Tries, 1)
	name := EntryName{Slot: target, Counting: true, Left: tries}
	text := EntryText(target, seq+1, m.Version, partUUID, s.installArgs(m.Cmdline))
	if err := writeFile(filepath.Join(s.ESP, "loader/entries", name.String()), strings.NewReader(text)); err != nil {
		return res, fmt.Errorf("install: loader entry: %w", err)
	}
	res.Entry = name.String()
	log.Info("update installed", "version", m.Version, "slot", target, "entry", res.Entry)
	return res, nil
}

// writeDevice copies the root image onto the slot's block device (or a file standing in for
// one), refusing an image larger than the slot.
func writeDevice(dev string, size int64, r io.Reader) error {
	f, err := os.OpenFile(dev, os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	if n, err := f.Seek(0, io.SeekEnd); err != nil {
		return err
	} else if n < size {
		return fmt.Errorf("root image of %d bytes does not fit the %d-byte slot %s", size, n, dev)
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return err
	}
	if _, err := io.Copy(f, r); err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		return err
	}
	return f.Close()
}

// writeFile writes path through a temporary file renamed into place once r has been read to
// its verified end.
func writeFile(path string, r io.Reader) error {
	tmp := path + ".new"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, r); err != nil {
		f.Close()
		os.Remove(tmp)
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		os.Remove(tmp)
		return err
	}
	if err := f.Close(); err != nil {
		os.Remove(tmp)
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return err
	}
	if d, err := os.Open(filepath.Dir(path)); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
}

// writePayload streams the bundle's payload into place: the root image onto the slot's device,
// the kernel and initrd into kdir (each verified against the signed manifest as it is read).
func writePayload(b *Reader, dev, kdir string, log *slog.Logger) error {
	for {
		f, rd, err := b.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("install: %w", err)
		}
		if f.Name == MemberRoot {
			err = writeDevice(dev, f.Size, rd)
		} else {
			err = writeFile(filepath.Join(kdir, f.Name), rd)
		}
		if err != nil {
			return fmt.Errorf("install %s: %w", f.Name, err)
		}
		log.Info("update member written", "name", f.Name, "bytes", f.Size)
	}
}
