package update

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const testMachineID = "0f1e2d3c4b5a69788796a5b4c3d2e1f0"

// withMachineIDFile gives the room a /etc/machine-id holding content.
func (r *room) withMachineIDFile(t *testing.T, content string) {
	t.Helper()
	r.sys.MachineID = filepath.Join(filepath.Dir(r.sys.ESP), "machine-id")
	if err := os.WriteFile(r.sys.MachineID, []byte(content), 0o444); err != nil {
		t.Fatal(err)
	}
}

// kernelArgs is the command line each slot boots with: loader entry options or cmdline.txt.
func kernelArgs(t *testing.T, sys System) map[string]string {
	t.Helper()
	out := map[string]string{}
	if isTryboot(sys.ESP) {
		for _, slot := range []string{"a", "b"} {
			if b, err := os.ReadFile(filepath.Join(sys.ESP, slot, "cmdline.txt")); err == nil {
				out[slot] = strings.TrimSpace(string(b))
			}
		}
		return out
	}
	es, err := ReadEntries(sys.ESP)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range es {
		b := readFile(t, filepath.Join(sys.ESP, "loader/entries", e.File.String()))
		for _, l := range strings.Split(b, "\n") {
			if rest, ok := strings.CutPrefix(l, "options "); ok {
				out[e.File.Slot] = rest
			}
		}
	}
	return out
}

func TestPinMachineID(t *testing.T) {
	for _, backend := range []string{"systemd-boot", "tryboot"} {
		t.Run(backend, func(t *testing.T) {
			var r *room
			if backend == "tryboot" {
				r = newPiRoom(t, TrybootCommit).room
			} else {
				r = newRoom(t, "a", "v1")
			}
			r.withMachineIDFile(t, testMachineID+"\n")
			files, err := r.sys.PinMachineID()
			if err != nil || len(files) != 1 {
				t.Fatalf("PinMachineID: %v, %v; want the one slot's command line rewritten", files, err)
			}
			args := kernelArgs(t, r.sys)["a"]
			if !strings.HasSuffix(args, " systemd.machine_id="+testMachineID) || strings.Count(args, "systemd.machine_id=") != 1 {
				t.Fatalf("slot A boots with %q", args)
			}
			if !strings.Contains(args, "stoa.slot=a") {
				t.Fatalf("slot A lost its slot: %q", args)
			}
			// Pinning again changes nothing; so does a boot whose command line names the ID.
			before := readFile(t, files[0])
			if again, err := r.sys.PinMachineID(); err != nil || len(again) != 0 {
				t.Fatalf("second PinMachineID: %v, %v; want nothing rewritten", again, err)
			}
			os.WriteFile(r.sys.Cmdline, []byte("root=PARTUUID=x stoa.slot=a ro systemd.machine_id="+testMachineID+"\n"), 0o644)
			if _, err := r.sys.PinMachineID(); !errors.Is(err, ErrMachineIDPinned) {
				t.Fatalf("PinMachineID on a pinned boot: %v, want ErrMachineIDPinned", err)
			}
			if readFile(t, files[0]) != before {
				t.Fatal("the command line changed on a pinned boot")
			}
			// The slot an update installs boots with the same ID (the bundle's own arguments too).
			var bundle []byte
			board := map[string]string{"tryboot": "rpi4", "systemd-boot": "qemu-x86_64"}[backend]
			bundle = makeBundle(t, r.key, board, "v2", []byte("root v2"))
			if _, err := r.sys.Install(bytes.NewReader(bundle)); err != nil {
				t.Fatalf("Install: %v", err)
			}
			if b := kernelArgs(t, r.sys)["b"]; !strings.Contains(b, "console=ttyS0") || !strings.HasSuffix(b, " systemd.machine_id="+testMachineID) {
				t.Fatalf("the installed slot B boots with %q", b)
			}
		})
	}
}

func TestPinMachineIDRefusesBadInput(t *testing.T) {
	tests := []struct {
		name, machineID, entry, want string
	}{
		{"uninitialized", "uninitialized\n", "", "not 32 lowercase hex digits"},
		{"empty", "", "", "not 32 lowercase hex digits"},
		{"all zero", strings.Repeat("0", 32) + "\n", "", "not 32 lowercase hex digits"},
		{"upper case", strings.ToUpper(testMachineID), "", "not 32 lowercase hex digits"},
		{"entry without options", testMachineID, "title x\nversion 1-v1\nlinux /stoa-a/vmlinuz\n", "has no kernel command line"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := newRoom(t, "a", "v1")
			r.withMachineIDFile(t, tc.machineID)
			entry := filepath.Join(r.sys.ESP, "loader/entries/stoa-a.conf")
			if tc.entry != "" {
				os.WriteFile(entry, []byte(tc.entry), 0o644)
			}
			before := readFile(t, entry)
			_, err := r.sys.PinMachineID()
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("PinMachineID: %v, want an error saying %q", err, tc.want)
			}
			if readFile(t, entry) != before {
				t.Fatal("the entry changed although pinning failed")
			}
			// An install does not fail for want of a machine ID: it leaves it out.
			if tc.entry == "" {
				if _, err := r.sys.Install(bytes.NewReader(makeBundle(t, r.key, "qemu-x86_64", "v2", []byte("root v2")))); err != nil {
					t.Fatalf("Install: %v", err)
				}
				if b := kernelArgs(t, r.sys)["b"]; strings.Contains(b, "systemd.machine_id=") {
					t.Fatalf("slot B boots with %q", b)
				}
			}
		})
	}
}

func TestWithMachineID(t *testing.T) {
	for in, want := range map[string]string{
		"ro":                                  "ro systemd.machine_id=" + testMachineID,
		"ro systemd.machine_id=aaaa quiet":    "ro quiet systemd.machine_id=" + testMachineID,
		"":                                    "systemd.machine_id=" + testMachineID,
		" ro  console=ttyS0\n":                "ro console=ttyS0 systemd.machine_id=" + testMachineID,
		"systemd.machine_id=" + testMachineID: "systemd.machine_id=" + testMachineID,
	} {
		if got := withMachineID(in, testMachineID); got != want {
			t.Errorf("withMachineID(%q) = %q, want %q", in, got, want)
		}
	}
}
