package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stoa-rooms/stoa/firmware/roomd"
	"github.com/stoa-rooms/stoa/services/api"
	"github.com/stoa-rooms/stoa/test/stoatest"
)

// buildRoom compiles roomd and roomctl from this checkout.
func buildRoom(t *testing.T) (roomdBin, roomctlBin string) {
	t.Helper()
	dir := t.TempDir()
	for _, name := range []string{"roomd", "roomctl"} {
		cmd := exec.Command("go", "build", "-o", filepath.Join(dir, name), "./firmware/cmd/"+name)
		cmd.Dir = stoatest.RepoRoot()
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("build %s: %v\n%s", name, err, out)
		}
	}
	return filepath.Join(dir, "roomd"), filepath.Join(dir, "roomctl")
}

// roomProc is a running roomd --board=sim.
type roomProc struct {
	dir, socket, roomctl string
	out                  *stoatest.Buffer
	cmd                  *exec.Cmd
	done                 chan error
	stopped              bool
}

func startRoomd(t *testing.T, roomdBin, roomctlBin, portalURL string) *roomProc {
	t.Helper()
	return startRoomdIn(t, t.TempDir(), roomdBin, roomctlBin, portalURL)
}

// startRoomdIn starts roomd on an existing data directory (a restart keeps its identity).
func startRoomdIn(t *testing.T, dir, roomdBin, roomctlBin, portalURL string) *roomProc {
	t.Helper()
	r := &roomProc{dir: dir, socket: filepath.Join(dir, "roomd.sock"), roomctl: roomctlBin, out: &stoatest.Buffer{}, done: make(chan error, 1)}
	r.cmd = exec.Command(roomdBin, "--board=sim", "--data-dir", dir, "--portal-url", portalURL, "--discover=false", "--firmware", "e2e-1", "--panel-addr", "127.0.0.1:0")
	r.cmd.Stdout, r.cmd.Stderr = r.out, r.out
	if err := r.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { r.done <- r.cmd.Wait() }()
	t.Cleanup(func() { r.stop(t) })
	return r
}

// stop sends SIGTERM and waits for a clean exit; calling it again does nothing.
func (r *roomProc) stop(t *testing.T) {
	t.Helper()
	if r.stopped {
		return
	}
	r.stopped = true
	_ = r.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-r.done:
		if err != nil {
			t.Errorf("roomd exited with %v after SIGTERM; output:\n%s", err, r.out)
		}
	case <-time.After(10 * time.Second):
		_ = r.cmd.Process.Kill()
		t.Errorf("roomd did not stop within 10 s of SIGTERM")
	}
}

// status runs `roomctl --json status`.
func (r *roomProc) status(t *testing.T) (roomd.Status, error) {
	t.Helper()
	out, err := exec.Command(r.roomctl, "--socket", r.socket, "--json", "status").Output()
	if err != nil {
		return roomd.Status{}, fmt.Errorf("roomctl status: %w", err)
	}
	var s roomd.Status
	if err := json.Unmarshal(out, &s); err != nil {
		return roomd.Status{}, fmt.Errorf("roomctl status output %q: %w", out, err)
	}
	return s, nil
}

// waitStatus polls roomctl until cond holds.
func (r *roomProc) waitStatus(t *testing.T, what string, within time.Duration, cond func(roomd.Status) bool) roomd.Status {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		s, err := r.status(t)
		if err == nil && cond(s) {
			return s
		}
		if time.Now().After(deadline) {
			t.Fatalf("roomd: %s not reached within %s (last %+v, %v); output:\n%s", what, within, s, err, r.out)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func listRooms(t *testing.T, sess *stoatest.Session) []api.Room {
	t.Helper()
	var rooms []api.Room
	code, body, err := sess.Do(http.MethodGet, "/api/v1/rooms", nil, "", &rooms)
	if err != nil || code != http.StatusOK {
		t.Fatalf("GET /api/v1/rooms: %d %v %s", code, err, body)
	}
	return rooms
}

// TestPairRoomEndToEnd: stoa-server all + roomd --board=sim → the code shows → the admin
// enters it through the portal API → the room is online within 2 s holding the bundle and a
// client certificate; unpair → the room forgets it and shows a new code.
func TestPairRoomEndToEnd(t *testing.T) {
	s := stoatest.Start(t, stoatest.Options{})
	roomdBin, roomctlBin := buildRoom(t)
	room := startRoomd(t, roomdBin, roomctlBin, s.PortalURL)

	st := room.waitStatus(t, "a pairing code", 30*time.Second, func(s roomd.Status) bool { return s.State == roomd.StateUnpaired && s.Code != "" })
	if !strings.Contains(room.out.String(), "Pairing code: "+st.Code+"\n") {
		t.Fatalf("roomd did not print the code %q; output:\n%s", st.Code, room.out)
	}
	human, err := exec.Command(roomctlBin, "--socket", room.socket, "status").Output()
	if err != nil || !regexp.MustCompile(`Pairing code:\s+`+st.Code).Match(human) {
		t.Fatalf("roomctl status: %v\n%s", err, human)
	}

	sess := s.Login(t)
	// A wrong code with the room's locator fails and stores nothing on either side.
	wrong := st.Code[:4] + " 7391 8264"
	if strings.ReplaceAll(st.Code, " ", "") == strings.ReplaceAll(wrong, " ", "") {
		wrong = st.Code[:4] + " 2846 1937"
	}
	if code, body, _ := sess.Do(http.MethodPost, "/api/v1/rooms/pair", api.PairRequest{Code: wrong, Name: "Wrong"}, "", nil); code != http.StatusUnprocessableEntity {
		t.Fatalf("pair with a wrong code: %d %s", code, body)
	}
	if n := len(listRooms(t, sess)); n != 0 {
		t.Fatalf("%d rooms after a wrong code", n)
	}
	if _, err := os.Stat(filepath.Join(room.dir, "room.json")); !os.IsNotExist(err) {
		t.Fatalf("room stored an identity after a wrong code: %v", err)
	}

	// The room greets the portal again after the failed attempt; retry until the portal sees it.
	var paired api.Room
	deadline := time.Now().Add(15 * time.Second)
	for {
		code, body, err := sess.Do(http.MethodPost, "/api/v1/rooms/pair", api.PairRequest{Code: st.Code, Name: "Boardroom"}, "", &paired)
		if err == nil && code == http.StatusOK {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("pair: %d %v %s; roomd output:\n%s", code, err, body, room.out)
		}
		time.Sleep(100 * time.Millisecond)
	}
	pairedAt := time.Now()
	var online api.Room
	for {
		for _, r := range listRooms(t, sess) {
			if r.ID == paired.ID && r.Online {
				online = r
			}
		}
		if online.ID != "" {
			break
		}
		if time.Since(pairedAt) > 2*time.Second {
			t.Fatalf("room %s not online within 2 s of the pair call; rooms %+v; roomd output:\n%s", paired.ID, listRooms(t, sess), room.out)
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Logf("room online %s after the pair call returned", time.Since(pairedAt).Round(time.Millisecond))
	if online.Name != "Boardroom" {
		t.Fatalf("room %+v", online)
	}
	rs := room.waitStatus(t, "paired and online", 10*time.Second, func(s roomd.Status) bool { return s.State == roomd.StatePaired && s.Online && s.BundleVersion > 0 })
	if rs.RoomID != paired.ID || rs.Code != "" || rs.CertNotAfter.IsZero() {
		t.Fatalf("roomctl status after pairing: %+v", rs)
	}
	for _, f := range []string{"key.pem", "cert.pem", "device-ca.pem", "bundle.json", "room.json"} {
		fi, err := os.Stat(filepath.Join(room.dir, f))
		if err != nil {
			t.Fatalf("room holds no %s: %v", f, err)
		}
		if f == "key.pem" && fi.Mode().Perm() != 0o600 {
			t.Fatalf("key.pem mode %v", fi.Mode().Perm())
		}
	}
	// The portal sees the room's report: bundle acknowledged and the public HTTPS trusted.
	deadline = time.Now().Add(30 * time.Second)
	for {
		var got api.Room
		for _, r := range listRooms(t, sess) {
			if r.ID == paired.ID {
				got = r
			}
		}
		if got.BundleVersion == rs.BundleVersion && got.PortalHTTPSTrusted && got.Firmware == "e2e-1" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("portal's view of the room: %+v", got)
		}
		time.Sleep(50 * time.Millisecond)
	}
	// The same code cannot be used again.
	if code, body, _ := sess.Do(http.MethodPost, "/api/v1/rooms/pair", api.PairRequest{Code: st.Code, Name: "Again"}, "", nil); code < 400 {
		t.Fatalf("reusing the code: %d %s", code, body)
	}

	// Unpair on the portal: the room is refused, forgets its identity and shows a new code.
	if code, body, err := sess.Do(http.MethodDelete, "/api/v1/rooms/"+paired.ID, nil, "", nil); err != nil || code >= 300 {
		t.Fatalf("DELETE room: %d %v %s", code, err, body)
	}
	next := room.waitStatus(t, "a new code after unpair", 15*time.Second, func(s roomd.Status) bool {
		return s.State == roomd.StateUnpaired && s.Code != "" && s.Code != st.Code
	})
	if _, err := os.Stat(filepath.Join(room.dir, "room.json")); !os.IsNotExist(err) {
		t.Fatalf("room.json still there after unpair: %v", err)
	}
	if !strings.Contains(room.out.String(), "Pairing code: "+next.Code+"\n") {
		t.Fatalf("new code not printed; output:\n%s", room.out)
	}
}
