package main

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stoa-rooms/stoa/rootfs/update/updatetest"
)

// fakeRoom is a fake room system (updatetest.System) the CLI runs against.
type fakeRoom struct{ *updatetest.System }

func newFakeRoom(t *testing.T, slot, version string, entries map[string]string) *fakeRoom {
	return &fakeRoom{updatetest.NewSystem(t, "root=PARTUUID=x stoa.slot="+slot+" ro", version, entries)}
}

func (r *fakeRoom) run(t *testing.T, stdin []byte, args ...string) (string, string, error) {
	t.Helper()
	var out, errOut bytes.Buffer
	err := run(context.Background(), append(args[:1:1], append(r.Args, args[1:]...)...), bytes.NewReader(stdin), &out, &errOut)
	return out.String(), errOut.String(), err
}

// TestStatusJSON reads the running slot, trial state and key of fake systems as roomd does.
func TestStatusJSON(t *testing.T) {
	tests := []struct {
		name    string
		slot    string
		version string
		entries map[string]string
		want    statusJSON // UpdateKey filled in by the test
	}{
		{"fresh", "a", "u1", map[string]string{"stoa-a.conf": "1-u1"}, statusJSON{Board: "qemu-x86_64", Slot: "a", Version: "u1"}},
		{"installed, waiting for its trial", "a", "u1", map[string]string{"stoa-a.conf": "1-u1", "stoa-b+3.conf": "2-u2"},
			statusJSON{Board: "qemu-x86_64", Slot: "a", Version: "u1", Pending: "u2"}},
		{"last try running", "b", "u2", map[string]string{"stoa-a.conf": "1-u1", "stoa-b+0-1.conf": "2-u2"},
			statusJSON{Board: "qemu-x86_64", Slot: "b", Version: "u2", OnTrial: true}},
		{"rolled back", "b", "u2", map[string]string{"stoa-a+0-1.conf": "3-u3", "stoa-b.conf": "2-u2"},
			statusJSON{Board: "qemu-x86_64", Slot: "b", Version: "u2", FailedTrial: "u3"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := newFakeRoom(t, tc.slot, tc.version, tc.entries)
			out, _, err := r.run(t, nil, "status", "--json")
			if err != nil {
				t.Fatalf("status --json: %v", err)
			}
			var got statusJSON
			if err := json.Unmarshal([]byte(out), &got); err != nil {
				t.Fatalf("status --json printed %q: %v", out, err)
			}
			tc.want.UpdateKey = hex.EncodeToString(r.Key.Public().(ed25519.PublicKey))
			if got != tc.want {
				t.Errorf("status --json = %+v, want %+v", got, tc.want)
			}
		})
	}
	t.Run("off the image", func(t *testing.T) {
		r := newFakeRoom(t, "a", "u1", map[string]string{"stoa-a.conf": "1-u1"})
		if err := os.WriteFile(filepath.Join(r.Dir, "cmdline"), []byte("root=/dev/sda1 ro quiet\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		out, _, err := r.run(t, nil, "status", "--json")
		if err == nil || exitCode(err) != exitNotImage || out != "" {
			t.Fatalf("status --json off the image = %q, %v (exit %d); want exit %d and no output", out, err, exitCode(err), exitNotImage)
		}
	})
	t.Run("unreadable key", func(t *testing.T) {
		r := newFakeRoom(t, "a", "u1", map[string]string{"stoa-a.conf": "1-u1"})
		if err := os.Remove(filepath.Join(r.Dir, "key.pub")); err != nil {
			t.Fatal(err)
		}
		out, errOut, err := r.run(t, nil, "status", "--json")
		if err != nil || !strings.Contains(out, `"update_key":""`) || !strings.Contains(errOut, "update key") {
			t.Fatalf("status --json without a key = %q, %q, %v; want the system with an empty key and a warning", out, errOut, err)
		}
	})
}

// TestInstallStdin installs bundles read from standard input into the fake slots.
func TestInstallStdin(t *testing.T) {
	root := bytes.Repeat([]byte("ext4"), 4096)
	_, otherKey, _ := ed25519.GenerateKey(rand.Reader)
	tests := []struct {
		name    string
		slot    string
		entries map[string]string
		tries   string // STOA_UPDATE_TRIES
		bundle  func(r *fakeRoom) []byte
		err     string
		want    string // entries after
	}{
		{"good", "a", map[string]string{"stoa-a.conf": "1-u1"}, "",
			func(r *fakeRoom) []byte { return updatetest.Bundle(t, r.Key, "u2", root) }, "", "stoa-a.conf,stoa-b+3.conf"},
		{"tries from the environment", "a", map[string]string{"stoa-a.conf": "1-u1"}, "1",
			func(r *fakeRoom) []byte { return updatetest.Bundle(t, r.Key, "u2", root) }, "", "stoa-a.conf,stoa-b+1.conf"},
		{"other key", "a", map[string]string{"stoa-a.conf": "1-u1"}, "",
			func(r *fakeRoom) []byte { return updatetest.Bundle(t, otherKey, "u2", root) }, "bad signature", "stoa-a.conf"},
		{"empty input", "a", map[string]string{"stoa-a.conf": "1-u1"}, "",
			func(r *fakeRoom) []byte { return nil }, "install", "stoa-a.conf"},
		// The running slot's last try (+0-1 with one try) is still a trial: installing would
		// overwrite the slot it falls back to.
		{"running slot on its last try", "b", map[string]string{"stoa-a.conf": "1-u1", "stoa-b+0-1.conf": "2-u2"}, "",
			func(r *fakeRoom) []byte { return updatetest.Bundle(t, r.Key, "u3", root) }, "on trial", "stoa-a.conf,stoa-b+0-1.conf"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("STOA_UPDATE_TRIES", tc.tries)
			r := newFakeRoom(t, tc.slot, "u1", tc.entries)
			if tc.slot == "b" {
				r = newFakeRoom(t, tc.slot, "u2", tc.entries)
			}
			out, _, err := r.run(t, tc.bundle(r), "install", "-")
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("install - = %v; want an error containing %q (output %s)", err, tc.err, out)
				}
			} else if err != nil {
				t.Fatalf("install -: %v (output %s)", err, out)
			}
			if got := r.Entries(t); got != tc.want {
				t.Errorf("entries %s, want %s", got, tc.want)
			}
			if tc.err != "" {
				return
			}
			got, _ := os.ReadFile(filepath.Join(r.Dir, "slots/root-b"))
			if !bytes.Equal(got[:len(root)], root) {
				t.Errorf("slot b does not hold the root image")
			}
			if k, _ := os.ReadFile(filepath.Join(r.Dir, "esp/stoa-b/vmlinuz")); string(k) != "kernel u2" {
				t.Errorf("stoa-b/vmlinuz = %q", k)
			}
			if !strings.Contains(out, "installed u2 in slot b") {
				t.Errorf("output lacks the result:\n%s", out)
			}
		})
	}
}
