package roomd

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stoa-rooms/stoa/board/sim"
	"github.com/stoa-rooms/stoa/provisioning/pairing"
	"github.com/stoa-rooms/stoa/rootfs/update/updatetest" // test only: real signed bundles
	"github.com/stoa-rooms/stoa/services/api"
)

// buildStoaUpdate builds the image's stoa-update CLI: roomd drives the real one.
func buildStoaUpdate(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "stoa-update")
	out, err := exec.Command("go", "build", "-o", bin, "github.com/stoa-rooms/stoa/rootfs/cmd/stoa-update").CombinedOutput()
	if err != nil {
		t.Fatalf("go build stoa-update: %v\n%s", err, out)
	}
	return bin
}

// updatePortal is the test portal serving offered bundles on its management listener.
type updatePortal struct {
	*testPortal
	mu      sync.Mutex
	bundles map[string][]byte // version → bundle
	served  map[string]int    // version → downloads started
	gate    bool              // hold the second half of a download until a progress report
}

func newUpdatePortal(t *testing.T) *updatePortal {
	up := &updatePortal{testPortal: newTestPortal(t), bundles: map[string][]byte{}, served: map[string]int{}}
	up.mgmt.Config.Handler.(*http.ServeMux).HandleFunc("GET /api/v1/room/update/{version}", up.serve)
	return up
}

func (up *updatePortal) serve(w http.ResponseWriter, r *http.Request) {
	id, v := up.roomID(r), r.PathValue("version")
	up.testPortal.mu.Lock()
	o := up.updates[id]
	up.testPortal.mu.Unlock()
	up.mu.Lock()
	data, gate := up.bundles[v], up.gate
	up.served[v]++
	up.mu.Unlock()
	if o == nil || o.Version != v || data == nil {
		apiError(w, http.StatusNotFound, "room.no_update")
		return
	}
	w.Header().Set("Content-Length", strconv.Itoa(len(data)))
	half := len(data) / 2
	if !gate {
		half = len(data)
	}
	_, _ = w.Write(data[:half])
	w.(http.Flusher).Flush()
	if gate {
		// The room reports what it has read so far before it gets the rest.
		deadline := time.Now().Add(10 * time.Second)
		for !up.saw(id, func(s api.RoomStatus) bool {
			return s.Update != nil && s.Update.State == api.UpdateDownloading && s.Update.Bytes > 0 && s.Update.Total == int64(len(data))
		}) && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
		_, _ = w.Write(data[half:])
	}
}

// offer offers version (its bundle) to room1, as the portal does after an admin's request.
func (up *updatePortal) offer(version string, data []byte) {
	sum := sha256.Sum256(data)
	up.mu.Lock()
	up.bundles[version] = data
	up.mu.Unlock()
	up.testPortal.mu.Lock()
	up.updates["room1"] = &api.UpdateOffer{Version: version, Board: "qemu-x86_64", Size: int64(len(data)),
		SHA256: hex.EncodeToString(sum[:]), Path: "/api/v1/room/update/" + version}
	up.testPortal.mu.Unlock()
}

// withdraw stops offering room1 an update (the portal saw it done or failed, or it was cancelled).
func (up *updatePortal) withdraw() {
	up.testPortal.mu.Lock()
	delete(up.updates, "room1")
	up.testPortal.mu.Unlock()
}

func (up *updatePortal) downloads(version string) int {
	up.mu.Lock()
	defer up.mu.Unlock()
	return up.served[version]
}

// saw says whether any poll of room id carried a status matching f.
func (up *updatePortal) saw(id string, f func(api.RoomStatus) bool) bool {
	up.testPortal.mu.Lock()
	defer up.testPortal.mu.Unlock()
	for _, s := range up.history[id] {
		if f(s) {
			return true
		}
	}
	return false
}

func (up *updatePortal) polls(id string) int {
	up.testPortal.mu.Lock()
	defer up.testPortal.mu.Unlock()
	return len(up.history[id])
}

// states lists the update states room id reported, repeats collapsed.
func (up *updatePortal) states(id string) []string {
	up.testPortal.mu.Lock()
	defer up.testPortal.mu.Unlock()
	var out []string
	for _, s := range up.history[id] {
		st := "-"
		if s.Update != nil {
			st = s.Update.Version + ":" + s.Update.State
		}
		if len(out) == 0 || out[len(out)-1] != st {
			out = append(out, st)
		}
	}
	return out
}

// startUpdateAgent runs an agent with u as its updater and pairs it with p as room1.
func startUpdateAgent(t *testing.T, p *testPortal, u Updater) *Agent {
	t.Helper()
	cfg := Defaults()
	cfg.DataDir, cfg.PortalURL, cfg.Discover, cfg.Firmware = t.TempDir(), p.URL(), false, "test-1"
	codes := make(chan string, 100)
	a, err := NewAgent(Options{Config: cfg, Display: &sim.Display{}, OnCode: func(c string) { codes <- c }, Updater: u,
		Log:  slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
		Room: pairing.RoomInfo{Model: "sim", Hostname: "test"}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Error("agent did not stop within 10 s")
		}
	})
	select {
	case c := <-codes:
		if err := p.pair(c); err != nil {
			t.Fatalf("pair: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no pairing code within 10 s")
	}
	return a
}

// TestPortalOfferedUpdate drives the real stoa-update CLI on a system in files through offers
// from the test portal over the mutual-TLS management channel.
func TestPortalOfferedUpdate(t *testing.T) {
	bin := buildStoaUpdate(t)
	t.Setenv("STOA_UPDATE_TRIES", "1") // stoa-update's default tries (QEMU's)
	root := bytes.Repeat([]byte("ext4 root "), 40_000)

	t.Run("installs, reports progress and reboots once", func(t *testing.T) {
		fs := updatetest.NewSystem(t, "root=PARTUUID=x stoa.slot=a ro", "u1", map[string]string{"stoa-a.conf": "1-u1"})
		var reboots atomic.Int32
		p := newUpdatePortal(t)
		p.gate = true
		a := startUpdateAgent(t, p.testPortal, &CLIUpdater{Command: bin, Args: fs.Args,
			RebootFunc: func(context.Context) error { reboots.Add(1); return nil }})
		wantSys := api.RoomSystem{Board: "qemu-x86_64", Slot: "a", Version: "u1", UpdateKey: hex.EncodeToString(fs.Key.Public().(ed25519.PublicKey))}
		waitFor(t, "the room's system in a poll", func() bool {
			return p.saw("room1", func(s api.RoomStatus) bool { return s.System != nil && *s.System == wantSys && s.Update == nil })
		})
		if s := a.Status(); s.System == nil || *s.System != wantSys {
			t.Errorf("local status system %+v, want %+v", s.System, wantSys)
		}
		p.offer("u2", updatetest.Bundle(t, fs.Key, "u2", root))
		waitFor(t, "the reboot", func() bool { return reboots.Load() == 1 })
		if !p.saw("room1", func(s api.RoomStatus) bool { return s.Update != nil && s.Update.State == api.UpdateRebooting }) {
			t.Errorf("rebooted before a poll reported rebooting: %v", p.states("room1"))
		}
		got := p.states("room1")
		if want := []string{"-", "u2:downloading", "u2:rebooting"}; strings.Join(got, " ") != strings.Join(want, " ") {
			t.Errorf("reported states %v, want %v", got, want)
		}
		slot, _ := os.ReadFile(filepath.Join(fs.Dir, "slots/root-b"))
		if !bytes.Equal(slot[:len(root)], root) {
			t.Errorf("slot b does not hold the bundle's root image")
		}
		if e := fs.Entries(t); e != "stoa-a.conf,stoa-b+1.conf" {
			t.Errorf("loader entries %s, want stoa-a.conf,stoa-b+1.conf", e)
		}
		// The offer stays until the room runs u2: it is neither downloaded nor rebooted again.
		n := p.polls("room1")
		waitFor(t, "three more polls", func() bool { return p.polls("room1") >= n+3 })
		if r, d := reboots.Load(), p.downloads("u2"); r != 1 || d != 1 {
			t.Errorf("%d reboots and %d downloads, want 1 each", r, d)
		}
	})

	t.Run("bad signature fails without reboot or retry", func(t *testing.T) {
		fs := updatetest.NewSystem(t, "root=PARTUUID=x stoa.slot=a ro", "u1", map[string]string{"stoa-a.conf": "1-u1"})
		_, otherKey, _ := ed25519.GenerateKey(rand.Reader)
		var reboots atomic.Int32
		p := newUpdatePortal(t)
		startUpdateAgent(t, p.testPortal, &CLIUpdater{Command: bin, Args: fs.Args,
			RebootFunc: func(context.Context) error { reboots.Add(1); return nil }})
		waitFor(t, "the room's system", func() bool {
			return p.saw("room1", func(s api.RoomStatus) bool { return s.System != nil })
		})
		p.offer("u2", updatetest.Bundle(t, otherKey, "u2", root))
		var failed *api.RoomUpdate
		waitFor(t, "a failed report", func() bool {
			return p.saw("room1", func(s api.RoomStatus) bool {
				if s.Update != nil && s.Update.State == api.UpdateFailed {
					failed = s.Update
				}
				return failed != nil
			})
		})
		if failed.Version != "u2" || !strings.Contains(failed.Error, "bad signature") {
			t.Errorf("failed report %+v, want u2 with the CLI's bad signature error", failed)
		}
		n := p.polls("room1")
		waitFor(t, "three more polls", func() bool { return p.polls("room1") >= n+3 })
		if r, d := reboots.Load(), p.downloads("u2"); r != 0 || d != 1 {
			t.Errorf("%d reboots and %d downloads after a refused bundle, want 0 and 1", r, d)
		}
		if e := fs.Entries(t); e != "stoa-a.conf" {
			t.Errorf("loader entries %s after a refused bundle, want stoa-a.conf", e)
		}
		// Once the portal stops offering it (it saw the failure), offering it again is a new
		// request from an admin: the room tries once more.
		p.withdraw()
		n = p.polls("room1")
		waitFor(t, "two polls without an offer", func() bool { return p.polls("room1") >= n+2 })
		p.offer("u2", updatetest.Bundle(t, otherKey, "u2", root))
		waitFor(t, "a second download", func() bool { return p.downloads("u2") == 2 })
	})

	for _, tc := range []struct {
		name  string
		offer func(o *api.UpdateOffer)
		err   string
	}{
		{"offer for another board", func(o *api.UpdateOffer) { o.Board = "pc" }, `the update is for board "pc", this room is "qemu-x86_64"`},
		{"offer outside the update path", func(o *api.UpdateOffer) { o.Path = "/api/v1/room/poll" }, "is not under /api/v1/room/update/"},
		{"portal serves another size", func(o *api.UpdateOffer) { o.Size-- }, "the portal serves"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fs := updatetest.NewSystem(t, "root=PARTUUID=x stoa.slot=a ro", "u1", map[string]string{"stoa-a.conf": "1-u1"})
			p := newUpdatePortal(t)
			p.offer("u2", updatetest.Bundle(t, fs.Key, "u2", root))
			p.testPortal.mu.Lock()
			tc.offer(p.updates["room1"])
			p.testPortal.mu.Unlock()
			startUpdateAgent(t, p.testPortal, &CLIUpdater{Command: bin, Args: fs.Args,
				RebootFunc: func(context.Context) error { t.Error("rebooted"); return nil }})
			var failed *api.RoomUpdate
			waitFor(t, "a failed report", func() bool {
				return p.saw("room1", func(s api.RoomStatus) bool {
					if s.Update != nil && s.Update.State == api.UpdateFailed {
						failed = s.Update
					}
					return failed != nil
				})
			})
			if failed.Version != "u2" || !strings.Contains(failed.Error, tc.err) {
				t.Errorf("failed report %+v, want an error containing %q", failed, tc.err)
			}
			if e := fs.Entries(t); e != "stoa-a.conf" {
				t.Errorf("loader entries %s after a refused offer, want stoa-a.conf", e)
			}
		})
	}

	t.Run("failed trial is reported and not offered again", func(t *testing.T) {
		fs := updatetest.NewSystem(t, "root=PARTUUID=x stoa.slot=b ro", "u2", map[string]string{"stoa-a+0-1.conf": "3-u3", "stoa-b.conf": "2-u2"})
		p := newUpdatePortal(t)
		startUpdateAgent(t, p.testPortal, &CLIUpdater{Command: bin, Args: fs.Args,
			RebootFunc: func(context.Context) error { t.Error("rebooted"); return nil }})
		p.offer("u3", updatetest.Bundle(t, fs.Key, "u3", root))
		want := api.RoomUpdate{Version: "u3", State: api.UpdateFailed,
			Error: "u3 did not become healthy on its trial boot; rolled back to u2 (slot B)"}
		waitFor(t, "the rollback report", func() bool {
			return p.saw("room1", func(s api.RoomStatus) bool {
				return s.Update != nil && *s.Update == want && s.System != nil && s.System.Slot == "b" && !s.System.OnTrial
			})
		})
		n := p.polls("room1")
		waitFor(t, "three more polls", func() bool { return p.polls("room1") >= n+3 })
		if d := p.downloads("u3"); d != 0 {
			t.Errorf("the failed version was downloaded %d times", d)
		}
	})

	for _, tc := range []struct{ name, command, cmdline string }{
		{"off the image: no stoa.slot=", bin, "root=/dev/sda1 ro"},
		{"off the image: no stoa-update", filepath.Join(t.TempDir(), "absent"), "root=PARTUUID=x stoa.slot=a ro"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fs := updatetest.NewSystem(t, tc.cmdline, "u1", map[string]string{"stoa-a.conf": "1-u1"})
			p := newUpdatePortal(t)
			p.offer("u2", updatetest.Bundle(t, fs.Key, "u2", root))
			startUpdateAgent(t, p.testPortal, &CLIUpdater{Command: tc.command, Args: fs.Args,
				RebootFunc: func(context.Context) error { t.Error("rebooted"); return nil }})
			waitFor(t, "four polls", func() bool { return p.polls("room1") >= 4 })
			if p.saw("room1", func(s api.RoomStatus) bool { return s.System != nil || s.Update != nil }) {
				t.Errorf("a room off the image reported a system or an update: %v", p.states("room1"))
			}
			if d := p.downloads("u2"); d != 0 {
				t.Errorf("a room off the image downloaded the offer %d times", d)
			}
		})
	}
}

// FuzzDecodeSystemStatus: stoa-update's status decodes or is refused; what decodes is sane.
func FuzzDecodeSystemStatus(f *testing.F) {
	f.Add([]byte(`{"board":"pc","slot":"a","version":"u1","on_trial":false,"failed_trial":"","pending":"","update_key":"ab"}`))
	f.Add([]byte(`{"board":"pc","slot":"c","version":"u1"}`))
	f.Add([]byte(`{"board":"pc","slot":"b","version":"u2","failed_trial":"u3"} {}`))
	f.Add([]byte(`null`))
	f.Fuzz(func(t *testing.T, b []byte) {
		sys, _, err := DecodeSystemStatus(b)
		if err != nil {
			return
		}
		if sys == nil || (sys.Slot != "a" && sys.Slot != "b") || sys.Board == "" || sys.Version == "" {
			t.Fatalf("decoded %+v from %q", sys, b)
		}
	})
}
