package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stoa-rooms/stoa/rootfs/update"
)

// piSystem is a Raspberry Pi boot partition on files with slot b waiting for (or in) its
// trial, running the given slot.
func piSystem(t *testing.T, running, bState string) (update.System, string) {
	t.Helper()
	d := t.TempDir()
	esp := filepath.Join(d, "boot")
	os.MkdirAll(esp, 0o755)
	ab := update.TrybootState{Mode: update.TrybootFirmware, Slots: map[string]update.TrybootSlot{
		"a": {Version: "v1", Seq: 1, State: update.SlotGood}, "b": {Version: "v2", Seq: 2, State: bState}}}
	ver := map[string]string{"a": "v1", "b": "v2"}[running]
	for p, text := range map[string]string{
		filepath.Join(esp, update.TrybootConfig):    "arm_64bit=1\n" + update.TrybootInclude + "\n",
		filepath.Join(esp, update.TrybootSlotFile):  update.TrybootSlotText("a"),
		filepath.Join(esp, update.TrybootStateFile): string(ab.Encode()),
		filepath.Join(d, "cmdline"):                 "root=PARTUUID=x stoa.slot=" + running + " ro\n",
		filepath.Join(d, "release"):                 "BOARD=rpi4\nVERSION=" + ver + "\n",
	} {
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return update.System{ESP: esp, Cmdline: filepath.Join(d, "cmdline"), Release: filepath.Join(d, "release")}, filepath.Join(d, "run/stoa/trial")
}

func TestRun(t *testing.T) {
	tests := []struct {
		name, running, bState string
		args                  []string
		err, out              string
		marker                bool
		bootSlot              string // stoa-slot.txt afterwards
	}{
		{"trial boot", "b", update.SlotPending, []string{"boot"}, "", "trial boot", true, "a"},
		{"good slot", "a", update.SlotGood, []string{"boot"}, "", "booted the good slot", false, "a"},
		{"bless the trial", "b", update.SlotTrying, []string{"bless"}, "", "marked good", false, "b"},
		{"bless off a trial", "b", update.SlotBad, []string{"bless"}, "not on a trial boot", "", false, "a"},
		{"unknown command", "a", update.SlotGood, []string{"reboot"}, "unknown command", "", false, "a"},
		{"no command", "a", update.SlotGood, nil, "usage", "", false, "a"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			sys, marker := piSystem(t, tc.running, tc.bState)
			var out bytes.Buffer
			err := run(tc.args, &out, sys, marker)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("run %v = %v, want error containing %q", tc.args, err, tc.err)
				}
			} else if err != nil || !strings.Contains(out.String(), tc.out) {
				t.Fatalf("run %v = %v, output %q; want %q", tc.args, err, out.String(), tc.out)
			}
			if _, err := os.Stat(marker); (err == nil) != tc.marker {
				t.Errorf("trial marker exists %v, want %v", err == nil, tc.marker)
			}
			b, _ := os.ReadFile(filepath.Join(sys.ESP, update.TrybootSlotFile))
			if !strings.Contains(string(b), "cmdline="+tc.bootSlot+"/cmdline.txt") {
				t.Errorf("stoa-slot.txt boots %q, want slot %s", b, tc.bootSlot)
			}
		})
	}
}
