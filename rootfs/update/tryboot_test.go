package update

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// piRoom is a Raspberry Pi room on files: a boot partition directory as the image tool
// writes it (config.txt, stoa-slot.txt booting A, stoa-ab.json), files as root slots, a
// command line and release file that a "reboot" rewrites.
type piRoom struct {
	*room
	dir string
}

const piConfig = "# Stoa room\narm_64bit=1\nenable_uart=1\n[all]\ninclude stoa-slot.txt\n"

func newPiRoom(t *testing.T, mode string) *piRoom {
	t.Helper()
	r := newRoom(t, "a", "v1")
	dir := filepath.Dir(r.sys.ESP)
	esp := r.sys.ESP
	os.RemoveAll(esp)
	os.MkdirAll(filepath.Join(esp, "a"), 0o755)
	ab := TrybootState{Mode: mode, Slots: map[string]TrybootSlot{"a": {Version: "v1", Seq: 1, State: SlotGood}}}
	for name, text := range map[string]string{
		TrybootConfig:         piConfig,
		TrybootSlotFile:       TrybootSlotText("a"),
		TrybootStateFile:      string(ab.Encode()),
		"a/cmdline.txt":       TrybootCmdline("a", "uuid-a", "ro"),
		"a/vmlinuz":           "kernel v1",
		"a/initrd.img":        "initrd v1",
		"bcm2711-rpi-4-b.dtb": "dtb",
	} {
		if err := os.WriteFile(filepath.Join(esp, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	r.sys.RebootParam = filepath.Join(dir, "run/systemd/reboot-param")
	p := &piRoom{room: r, dir: dir}
	p.boot(t, "a", "v1")
	return p
}

// boot is what the firmware and the root file system tell a booted system: the slot on the
// command line, the version in the release file. /run is empty again.
func (p *piRoom) boot(t *testing.T, slot, version string) {
	t.Helper()
	os.WriteFile(p.sys.Cmdline, []byte("root=PARTUUID=uuid-"+slot+" stoa.slot="+slot+" ro\n"), 0o644)
	os.WriteFile(p.sys.Release, []byte("BOARD=rpi4\nVERSION="+version+"\n"), 0o644)
	os.RemoveAll(filepath.Join(p.dir, "run"))
}

// firmwareBootsSlot is the slot the firmware boots with the tryboot flag set or not: it reads
// tryboot.txt (when present and flagged) or config.txt, and follows the include.
func (p *piRoom) firmwareBootsSlot(t *testing.T, tryboot bool) string {
	t.Helper()
	cfg := TrybootConfig
	if _, err := os.Stat(filepath.Join(p.sys.ESP, TrybootTxt)); err == nil && tryboot {
		cfg = TrybootTxt
	}
	b, err := os.ReadFile(filepath.Join(p.sys.ESP, cfg))
	if err != nil {
		t.Fatal(err)
	}
	for _, ln := range strings.Split(string(b), "\n") {
		if inc, ok := strings.CutPrefix(ln, "include "); ok {
			m := reSlotCmdline.FindStringSubmatch(readFile(t, filepath.Join(p.sys.ESP, inc)))
			if m == nil {
				t.Fatalf("%s names no slot", inc)
			}
			return m[1]
		}
	}
	t.Fatalf("%s includes no slot file", cfg)
	return ""
}

func readFile(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// espSum digests every file on the boot partition and the reboot parameter.
func (p *piRoom) espSum(t *testing.T) string {
	t.Helper()
	h := sha256.New()
	filepath.WalkDir(p.dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || strings.Contains(path, "root-") {
			return err
		}
		h.Write([]byte(path + "\x00" + readFile(t, path) + "\x00"))
		return nil
	})
	return hex.EncodeToString(h.Sum(nil))
}

func (p *piRoom) state(t *testing.T) State {
	t.Helper()
	st, err := p.sys.ReadState()
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func (p *piRoom) install(t *testing.T, version string) Result {
	t.Helper()
	res, err := p.sys.Install(bytes.NewReader(makeBundle(t, p.key, "rpi4", version, []byte("root "+version))))
	if err != nil {
		t.Fatalf("Install %s: %v", version, err)
	}
	return res
}

// TestTrybootUpdateKept: install v2 → the firmware's default still boots A, a tryboot boots
// B → the trial boot is recorded → healthy, blessed: the firmware boots B by default.
func TestTrybootUpdateKept(t *testing.T) {
	for _, mode := range []string{TrybootFirmware, TrybootCommit} {
		t.Run(mode, func(t *testing.T) { testTrybootUpdateKept(t, mode) })
	}
}

// rebootAfterInstall is the slot the firmware boots on the reboot after an install: with the
// tryboot flag in firmware mode, without it (Debian's kernel ignores "0 tryboot") in commit mode.
func (p *piRoom) rebootAfterInstall(t *testing.T, mode string) string {
	return p.firmwareBootsSlot(t, mode == TrybootFirmware)
}

func testTrybootUpdateKept(t *testing.T, mode string) {
	p := newPiRoom(t, mode)
	res := p.install(t, "v2")
	if res.Slot != "b" || res.Pending {
		t.Fatalf("Install = %+v", res)
	}
	if v, ok := p.state(t).Pending(); !ok || v != "v2" {
		t.Fatalf("Pending = %q %v, want v2", v, ok)
	}
	if got := readFile(t, p.sys.RebootParam); strings.TrimSpace(got) != TrybootRebootParam {
		t.Errorf("reboot parameter %q", got)
	}
	if got := readFile(t, filepath.Join(p.sys.ESP, "b/cmdline.txt")); !strings.Contains(got, "root=PARTUUID=uuid-b stoa.slot=b ro console=ttyS0") {
		t.Errorf("b/cmdline.txt = %q", got)
	}
	if got := readFile(t, filepath.Join(p.sys.ESP, "b/vmlinuz")); got != "kernel v2" {
		t.Errorf("b/vmlinuz = %q", got)
	}
	if got := readFile(t, p.slots["b"]); !strings.HasPrefix(got, "root v2") {
		t.Errorf("slot b starts %q", got[:10])
	}
	if got := p.rebootAfterInstall(t, mode); got != "b" {
		t.Fatalf("the reboot after the install boots %s, want b", got)
	}
	if st := p.state(t); st.OnTrial() {
		t.Fatalf("A on trial before the reboot: %s", st)
	}
	// Installing the same bundle again only re-arms the trial.
	if res := p.install(t, "v2"); !res.Pending {
		t.Errorf("second install = %+v, want pending", res)
	}

	p.boot(t, p.rebootAfterInstall(t, mode), "v2") // the trial boot
	onTrial, err := p.sys.TrybootBoot()
	if err != nil || !onTrial {
		t.Fatalf("TrybootBoot = %v, %v; want on trial", onTrial, err)
	}
	if got := p.firmwareBootsSlot(t, false); got != "a" {
		t.Fatalf("during the trial a plain reboot boots %s, want a", got)
	}
	if st := p.state(t); !st.OnTrial() {
		t.Fatalf("state %s: not on trial", st)
	}
	if _, err := p.sys.Install(bytes.NewReader(makeBundle(t, p.key, "rpi4", "v3", []byte("root v3")))); err == nil || !strings.Contains(err.Error(), "on trial") {
		t.Errorf("install on a trial boot: %v, want refused", err)
	}
	if err := p.sys.TrybootBless(); err != nil {
		t.Fatal(err)
	}
	st := p.state(t)
	if st.OnTrial() {
		t.Errorf("still on trial after bless: %s", st)
	}
	if v, ok := st.FailedTrial(); ok {
		t.Errorf("FailedTrial = %s", v)
	}
	if got := p.firmwareBootsSlot(t, false); got != "b" {
		t.Errorf("after bless the firmware boots %s, want b", got)
	}
	if _, err := os.Stat(filepath.Join(p.sys.ESP, TrybootTxt)); !os.IsNotExist(err) {
		t.Errorf("tryboot.txt left after bless: %v", err)
	}
	// The next boot (no flag) is B, not on trial; bless again changes nothing.
	p.boot(t, "b", "v2")
	if onTrial, err := p.sys.TrybootBoot(); err != nil || onTrial {
		t.Errorf("TrybootBoot after bless = %v, %v", onTrial, err)
	}
	before := p.espSum(t)
	if err := p.sys.TrybootBless(); err != nil {
		t.Fatal(err)
	}
	if p.espSum(t) != before {
		t.Error("bless of a good slot changed the boot partition")
	}
	// And the next update goes to A.
	if res := p.install(t, "v3"); res.Slot != "a" {
		t.Errorf("next install went to %s", res.Slot)
	}
}

// TestTrybootRollback: the trial boot never becomes healthy; the reboot without the flag
// boots A, which reports v2's failed trial and refuses v2 again but takes v3.
func TestTrybootRollback(t *testing.T) {
	for _, mode := range []string{TrybootFirmware, TrybootCommit} {
		t.Run(mode, func(t *testing.T) { testTrybootRollback(t, mode) })
	}
}

func testTrybootRollback(t *testing.T, mode string) {
	p := newPiRoom(t, mode)
	p.install(t, "v2")
	p.boot(t, p.rebootAfterInstall(t, mode), "v2")
	if _, err := p.sys.TrybootBoot(); err != nil {
		t.Fatal(err)
	}
	// Unhealthy: stoa-healthy fails, the room reboots; /run (and the flag request) is gone.
	p.boot(t, p.firmwareBootsSlot(t, false), "v1")
	st := p.state(t)
	if st.Slot != "a" || st.OnTrial() {
		t.Fatalf("after the failed trial: %s", st)
	}
	if v, ok := st.FailedTrial(); !ok || v != "v2" {
		t.Fatalf("FailedTrial = %q %v, want v2", v, ok)
	}
	if onTrial, err := p.sys.TrybootBoot(); err != nil || onTrial {
		t.Fatalf("TrybootBoot on A = %v, %v", onTrial, err)
	}
	if _, err := os.Stat(filepath.Join(p.sys.ESP, TrybootTxt)); !os.IsNotExist(err) {
		t.Errorf("tryboot.txt left after a failed trial: %v", err)
	}
	if v, ok := p.state(t).FailedTrial(); !ok || v != "v2" {
		t.Errorf("FailedTrial after marking bad = %q %v", v, ok)
	}
	if _, err := p.sys.Install(bytes.NewReader(makeBundle(t, p.key, "rpi4", "v2", []byte("root v2")))); err == nil || !strings.Contains(err.Error(), "failed its trial") {
		t.Errorf("reinstall of the failed version: %v", err)
	}
	if res := p.install(t, "v3"); res.Slot != "b" {
		t.Errorf("v3 went to %s", res.Slot)
	}
	if v, ok := p.state(t).Pending(); !ok || v != "v3" {
		t.Errorf("Pending = %q %v, want v3", v, ok)
	}
}

// TestTrybootTrialNeverStarted: the reboot after an install did not carry the flag (or the
// power went first): A boots, the update stays pending, nothing is marked failed.
func TestTrybootTrialNeverStarted(t *testing.T) {
	p := newPiRoom(t, TrybootFirmware)
	p.install(t, "v2")
	p.boot(t, "a", "v1")
	if _, err := p.sys.TrybootBoot(); err != nil {
		t.Fatal(err)
	}
	st := p.state(t)
	if v, ok := st.Pending(); !ok || v != "v2" {
		t.Errorf("Pending = %q %v", v, ok)
	}
	if _, ok := st.FailedTrial(); ok || st.OnTrial() {
		t.Errorf("state %s", st)
	}
}

// TestTrybootBadInput: a refused bundle leaves the boot partition as it was; one failing in
// its payload leaves the running slot's boot files and arms no trial.
func TestTrybootBadInput(t *testing.T) {
	rootImg := []byte("root v2")
	_, otherKey, _ := ed25519.GenerateKey(rand.Reader)
	tests := []struct {
		name      string
		bundle    func(p *piRoom) []byte
		untouched bool // the whole boot partition stays byte for byte
		err       string
	}{
		{"other key", func(p *piRoom) []byte { return makeBundle(t, otherKey, "rpi4", "v2", rootImg) }, true, "bad signature"},
		{"other board", func(p *piRoom) []byte { return makeBundle(t, p.key, "rpi5", "v2", rootImg) }, true, "for board"},
		{"running version", func(p *piRoom) []byte { return makeBundle(t, p.key, "rpi4", "v1", rootImg) }, true, "already runs"},
		{"truncated", func(p *piRoom) []byte { return makeBundle(t, p.key, "rpi4", "v2", rootImg)[:1000] }, true, "install"},
		{"too large for slot", func(p *piRoom) []byte { return makeBundle(t, p.key, "rpi4", "v2", make([]byte, 2<<20)) }, false, "does not fit"},
		{"payload tampered", func(p *piRoom) []byte {
			b := makeBundle(t, p.key, "rpi4", "v2", rootImg)
			i := bytes.Index(b, []byte("kernel v2"))
			b[i] = 'K'
			return b
		}, false, "does not match the signed manifest"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := newPiRoom(t, TrybootCommit)
			before := p.espSum(t)
			_, err := p.sys.Install(bytes.NewReader(tc.bundle(p)))
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Fatalf("Install: %v, want error containing %q", err, tc.err)
			}
			if tc.untouched && p.espSum(t) != before {
				t.Error("a refused bundle changed the boot partition")
			}
			for _, f := range []string{TrybootConfig, TrybootSlotFile, "a/cmdline.txt", "a/vmlinuz"} {
				if _, err := os.Stat(filepath.Join(p.sys.ESP, f)); err != nil {
					t.Errorf("%s: %v", f, err)
				}
			}
			if _, err := os.Stat(filepath.Join(p.sys.ESP, TrybootTxt)); !os.IsNotExist(err) {
				t.Errorf("a failed install armed a trial: %v", err)
			}
			if _, err := os.Stat(p.sys.RebootParam); !os.IsNotExist(err) {
				t.Errorf("a failed install asked for a tryboot: %v", err)
			}
			st := p.state(t)
			if _, ok := st.Pending(); ok || st.OnTrial() {
				t.Errorf("state after a failed install: %s", st)
			}
			if got := p.firmwareBootsSlot(t, true); got != "a" {
				t.Errorf("firmware boots %s after a failed install", got)
			}
		})
	}
	t.Run("config.txt without the slot include", func(t *testing.T) {
		p := newPiRoom(t, TrybootCommit)
		os.WriteFile(filepath.Join(p.sys.ESP, TrybootConfig), []byte("kernel=a/vmlinuz\n"), 0o644)
		before := p.espSum(t)
		if _, err := p.sys.Install(bytes.NewReader(makeBundle(t, p.key, "rpi4", "v2", rootImg))); err == nil || !strings.Contains(err.Error(), TrybootInclude) {
			t.Fatalf("Install: %v", err)
		}
		if p.espSum(t) != before {
			t.Error("boot partition changed")
		}
	})
}

func FuzzParseTrybootState(f *testing.F) {
	f.Add([]byte(`{"format":1,"slots":{"a":{"version":"v1","seq":1,"state":"good"}}}`))
	f.Add([]byte(`{"format":1,"slots":{"a":{"version":"v1","seq":1,"state":"good"},"b":{"version":"v2","seq":2,"state":"trying"}}}`))
	f.Add([]byte(`{"format":2,"slots":{}}`))
	f.Add([]byte(`{"format":1,"mode":"commit","slots":{"b":{"version":"v2","seq":2,"state":"pending"}}}`))
	f.Add([]byte(`{"format":1,"slots":{"c":{"version":"v1","seq":1,"state":"good"}}}`))
	f.Add([]byte(`{"format":1} {}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		st, err := ParseTrybootState(b)
		if err != nil {
			return
		}
		again, err := ParseTrybootState(st.Encode())
		if err != nil {
			t.Fatalf("re-parse of %q: %v", st.Encode(), err)
		}
		if !bytes.Equal(again.Encode(), st.Encode()) {
			t.Fatalf("encode not stable: %q vs %q", again.Encode(), st.Encode())
		}
	})
}
