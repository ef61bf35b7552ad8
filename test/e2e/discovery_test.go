package e2e

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/cookiejar"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stoa-rooms/stoa/firmware/roomd"
	"github.com/stoa-rooms/stoa/services/api"
	"github.com/stoa-rooms/stoa/test/netns"
	"github.com/stoa-rooms/stoa/test/stoatest"
)

// The discovery test sends multicast only inside network namespaces it creates: stoa-server
// and roomd run under `ip netns exec`, and the admin's pairing call is this test binary
// re-executed inside the portal's namespace (TestMain turns it into the helper), because the
// portal's address exists only there. Nothing here announces or browses in the host namespace.
const (
	envHelper = "STOA_E2E_HELPER" // "pair"
	envPortal = "STOA_E2E_PORTAL" // portal base URL
	envCreds  = "STOA_E2E_CREDS"  // super admin credentials file
	envCode   = "STOA_E2E_CODE"   // the room's pairing code
	envName   = "STOA_E2E_NAME"   // the room's name
)

func TestMain(m *testing.M) {
	switch os.Getenv(envHelper) {
	case "":
	case "pair":
		os.Exit(pairHelper())
	default:
		fmt.Fprintf(os.Stderr, "unknown %s %q\n", envHelper, os.Getenv(envHelper))
		os.Exit(2)
	}
	os.Exit(m.Run())
}

// pairHelper signs in as the super admin and pairs the room with the given code, retrying
// briefly while the portal has not yet seen the room's hello. It prints the api.Room.
func pairHelper() int {
	base := os.Getenv(envPortal)
	user, pw, err := readCreds(os.Getenv(envCreds))
	if err != nil {
		fmt.Fprintln(os.Stderr, "pair helper:", err)
		return 2
	}
	c := stoatest.InsecureClient() // the first-start self-signed portal; the PAKE is what pairs
	c.Jar, _ = cookiejar.New(nil)
	body, _ := json.Marshal(map[string]string{"name": user, "password": pw})
	req, _ := http.NewRequest(http.MethodPost, base+"/api/v1/login", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Origin", base)
	resp, err := c.Do(req)
	if err != nil {
		fmt.Fprintln(os.Stderr, "pair helper: login:", err)
		return 1
	}
	var me struct {
		CSRF string `json:"csrf_token"`
	}
	err = json.NewDecoder(resp.Body).Decode(&me)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || err != nil {
		fmt.Fprintln(os.Stderr, "pair helper: login: status", resp.StatusCode, err)
		return 1
	}
	sess := &stoatest.Session{Base: base, HTTP: c, CSRF: me.CSRF}
	deadline := time.Now().Add(10 * time.Second)
	for {
		var room api.Room
		code, out, err := sess.Do(http.MethodPost, "/api/v1/rooms/pair", api.PairRequest{Code: os.Getenv(envCode), Name: os.Getenv(envName)}, "", &room)
		if err == nil && code == http.StatusOK {
			json.NewEncoder(os.Stdout).Encode(room)
			return 0
		}
		if time.Now().After(deadline) {
			fmt.Fprintf(os.Stderr, "pair helper: POST /api/v1/rooms/pair: %d %v %s\n", code, err, out)
			return 1
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func readCreds(path string) (user, pw string, err error) {
	f, err := os.Open(path)
	if err != nil {
		return "", "", fmt.Errorf("read credentials: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "user: "); ok {
			user = v
		}
		if v, ok := strings.CutPrefix(sc.Text(), "password: "); ok {
			pw = v
		}
	}
	if user == "" || pw == "" {
		return "", "", errors.New("read credentials: no user/password lines")
	}
	return user, pw, nil
}

// netnsHosts gives namespace ns its own /etc/hosts: `ip netns exec` bind-mounts the files in
// /etc/netns/<ns>/ over /etc for the commands it runs (ip-netns(8)). Removed when the test ends.
func netnsHosts(t *testing.T, ns, hosts string) {
	t.Helper()
	base := "/etc/netns"
	_, err := os.Stat(base)
	created := os.IsNotExist(err)
	dir := filepath.Join(base, ns)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatalf("netns hosts: %v", err)
	}
	t.Cleanup(func() {
		if err := os.RemoveAll(dir); err != nil {
			t.Errorf("netns hosts: %v", err)
		}
		if created {
			_ = os.Remove(base) // only if empty: another test may use it now
		}
	})
	if err := os.WriteFile(filepath.Join(dir, "hosts"), []byte("127.0.0.1 localhost\n::1 localhost\n"+hosts), 0o644); err != nil {
		t.Fatalf("netns hosts: %v", err)
	}
}

// startInNS starts cmd (from netns.Pair.Exec) with its output in out; t.Cleanup stops it with
// SIGTERM and expects a clean exit (the context kill from Exec is the fallback).
func startInNS(t *testing.T, name string, cmd *exec.Cmd, out *stoatest.Buffer) chan error {
	t.Helper()
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case err := <-done:
			done <- err
			if err != nil {
				t.Errorf("%s exited with %v after SIGTERM; output:\n%s", name, err, out)
			}
		case <-time.After(20 * time.Second):
			_ = cmd.Process.Kill()
			t.Errorf("%s did not stop within 20 s of SIGTERM; output:\n%s", name, out)
		}
	})
	return done
}

// TestRoomFindsPortalByDNSSD: a real stoa-server announcing itself (--announce) in one network
// namespace, a real roomd with no portal configured in the other; the room finds the portal's
// URL by DNS-SD, greets it, and pairing with its code through the portal's admin API succeeds.
func TestRoomFindsPortalByDNSSD(t *testing.T) {
	start := time.Now()
	p := netns.NewPair(t)
	serverBin := stoatest.Build(t, t.TempDir())
	roomdBin, roomctlBin := buildRoom(t)
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	// The portal's FQDN is a name, not IP1: the internal CA (which certifies the management
	// listener rooms use after pairing) refuses IP addresses. Both namespaces resolve it
	// through ip-netns's per-namespace /etc/hosts.
	const fqdn = "portal.stoa.test"
	for _, ns := range []string{p.NS1, p.NS2} {
		netnsHosts(t, ns, p.IP1.String()+" "+fqdn+"\n")
	}
	ip1 := p.IP1.String()
	at := func(port string) string { return net.JoinHostPort(ip1, port) }
	wantURL := "https://" + net.JoinHostPort(fqdn, "8443")

	// The portal, announcing, on the first namespace's address only.
	data := t.TempDir()
	srvOut := &stoatest.Buffer{}
	srvDone := startInNS(t, "stoa-server", p.Exec(t, p.NS1, nil, serverBin,
		"--data-dir", data, "--log-level", "debug", "--fqdn", fqdn,
		"--https-addr", at("8443"), "--http-addr", at("8080"), "--internal-addr", at("8447"),
		"--manager-addr", at("8444"), "--router-addr", at("8445"), "--proxy-addr", at("8446"),
		"--announce", "all"), srvOut)
	deadline := time.Now().Add(30 * time.Second)
	for {
		if b, err := os.ReadFile(filepath.Join(data, "addresses.json")); err == nil && json.Valid(b) {
			break
		}
		select {
		case err := <-srvDone:
			srvDone <- err
			t.Fatalf("stoa-server exited early: %v; output:\n%s", err, srvOut)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("stoa-server wrote no addresses.json within 30 s; output:\n%s", srvOut)
		}
		time.Sleep(20 * time.Millisecond)
	}

	// The room: no portal URL, discovery on. Its socket is on the shared filesystem, so
	// roomctl runs here in the host namespace.
	dir := t.TempDir()
	room := &roomProc{dir: dir, socket: filepath.Join(dir, "roomd.sock"), roomctl: roomctlBin, out: &stoatest.Buffer{}}
	room.done = startInNS(t, "roomd", p.Exec(t, p.NS2, nil, roomdBin,
		"--board=sim", "--data-dir", dir, "--discover=true", "--firmware", "e2e-dnssd", "--panel-addr", "127.0.0.1:0"), room.out)

	st := room.waitStatus(t, "the announced portal and a pairing code", 20*time.Second, func(s roomd.Status) bool {
		return s.PortalURL != "" && s.Code != ""
	})
	if st.PortalURL != wantURL || st.State != roomd.StateUnpaired {
		t.Fatalf("roomd status %+v, want portal_url %s while unpaired; output:\n%s", st, wantURL, room.out)
	}
	found := time.Since(start)
	for _, want := range []struct{ who, line string }{
		// Announced on the veth that holds the listener's address, with that address only.
		{"stoa-server", fmt.Sprintf(`msg="announcing the portal by DNS-SD" role=portal component=discovery url=%s ips=[%s] interface=%s`, wantURL, ip1, p.Veth1)},
		{"roomd", "portal found by DNS-SD"},
	} {
		// The status can change a moment before the line reaches the log: poll briefly.
		out := func() string {
			if want.who == "roomd" {
				return room.out.String()
			}
			return srvOut.String()
		}
		logDeadline := time.Now().Add(5 * time.Second)
		for !strings.Contains(out(), want.line) {
			if time.Now().After(logDeadline) {
				t.Fatalf("%s did not log %q; output:\n%s", want.who, want.line, out())
			}
			time.Sleep(20 * time.Millisecond)
		}
	}

	// The room really reached that portal: pair it from inside the portal's namespace.
	pairCmd := p.Exec(t, p.NS1, []string{envHelper + "=pair", envPortal + "=" + wantURL,
		envCreds + "=" + filepath.Join(data, "superadmin-credentials.txt"), envCode + "=" + st.Code, envName + "=Found by DNS-SD"}, exe)
	var pairErr strings.Builder
	pairCmd.Stderr = &pairErr
	out, err := pairCmd.Output()
	if err != nil {
		t.Fatalf("pairing through the portal: %v: %s; roomd output:\n%s", err, pairErr.String(), room.out)
	}
	var paired api.Room
	if err := json.Unmarshal(out, &paired); err != nil || paired.ID == "" || paired.Name != "Found by DNS-SD" {
		t.Fatalf("pair answer %q: %v", out, err)
	}
	rs := room.waitStatus(t, "paired and online", 10*time.Second, func(s roomd.Status) bool {
		return s.State == roomd.StatePaired && s.Online
	})
	if rs.RoomID != paired.ID || rs.PortalURL != wantURL || rs.BundleVersion == 0 {
		t.Fatalf("roomd status after pairing %+v, want room %s of %s holding a bundle", rs, paired.ID, wantURL)
	}
	t.Logf("portal found by DNS-SD %v after the test began (namespaces, builds, start-up); paired and online after %v",
		found.Round(time.Millisecond), time.Since(start).Round(time.Millisecond))
}
