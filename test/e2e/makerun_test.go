package e2e

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"net"
	"net/http"
	"net/http/cookiejar"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stoa-rooms/stoa/rootfs/qemu"
	"github.com/stoa-rooms/stoa/services/api"
	"github.com/stoa-rooms/stoa/test/stoatest"
)

// syncBuffer collects a child's output while the test reads it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}
func (s *syncBuffer) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

// TestMakeRun is the newcomer's first minute: `make run` brings up every role on the default
// loopback ports, prints the portal URL and where the credentials are, `curl -k` reaches
// /healthz over HTTPS, plain HTTP only redirects, and Ctrl-C stops it cleanly. The portal is
// named qemu.DevPortalName (the name the make qemu image knows it by): its certificate verifies
// for that name, stoa-qemu's forwards point at this stack's listeners, and the sim room pairs.
func TestMakeRun(t *testing.T) {
	if testing.Short() {
		t.Skip("make run builds and starts the whole stack; run without -short")
	}
	if _, err := exec.LookPath("curl"); err != nil {
		t.Fatal("curl is missing: run `make deps`")
	}
	data := filepath.Join(t.TempDir(), "stoa")
	cmd := exec.Command("make", "run", "DATA="+data)
	cmd.Dir = stoatest.RepoRoot()
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	out := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	stopped := false
	t.Cleanup(func() {
		if !stopped {
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-done
		}
	})

	urlRe := regexp.MustCompile(`Stoa portal:\s+(https://` + regexp.QuoteMeta(qemu.DevPortalName) + `:\d+)`)
	var portal string
	deadline := time.Now().Add(5 * time.Minute) // first run may build from a cold cache
	for portal == "" {
		if m := urlRe.FindStringSubmatch(out.String()); m != nil {
			portal = m[1]
			break
		}
		select {
		case err := <-done:
			stopped = true
			t.Fatalf("make run exited early (%v):\n%s", err, out)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("make run printed no portal URL:\n%s", out)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if !strings.Contains(out.String(), filepath.Join(data, "superadmin-credentials.txt")) {
		t.Errorf("make run did not say where the credentials are:\n%s", out)
	}
	if fi, err := os.Stat(filepath.Join(data, "superadmin-credentials.txt")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("credentials file: %v %v", fi, err)
	}

	var health string
	waitCurl := time.Now().Add(30 * time.Second)
	for {
		b, err := exec.Command("curl", "-sk", "--max-time", "5", portal+"/healthz").Output()
		health = string(b)
		if err == nil && strings.TrimSpace(health) == "ok" {
			break
		}
		if time.Now().After(waitCurl) {
			t.Fatalf("curl -k %s/healthz: %q %v", portal, health, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	for _, role := range []string{"manager", "router", "proxy"} {
		m := regexp.MustCompile(`Stoa ` + role + `:\s+(https://[0-9.:]+)/`).FindStringSubmatch(out.String())
		if m == nil {
			t.Fatalf("make run did not start the %s:\n%s", role, out)
		}
		b, err := exec.Command("curl", "-sk", "--max-time", "5", m[1]+"/healthz").Output()
		if err != nil || strings.TrimSpace(string(b)) != "ok" {
			t.Errorf("%s /healthz: %q %v", role, b, err)
		}
	}
	b, err := exec.Command("curl", "-s", "-o", "/dev/null", "-w", "%{http_code} %{redirect_url}", "http://127.0.0.1:8080/healthz").Output()
	if err != nil || !strings.HasPrefix(string(b), "301 https://"+qemu.DevPortalName+":") {
		t.Errorf("plain http: %q %v, want a 301 to https", b, err)
	}

	devImageWiring(t, data)

	// The simulated room shows a code; pairing it through the portal API brings it online.
	codeRe := regexp.MustCompile(`Pairing code: (\d{4} \d{4} \d{4})`)
	var code string
	waitCode := time.Now().Add(30 * time.Second)
	for {
		if m := codeRe.FindStringSubmatch(out.String()); m != nil {
			code = m[1]
			break
		}
		if time.Now().After(waitCode) {
			t.Fatalf("make run printed no pairing code:\n%s", out)
		}
		time.Sleep(100 * time.Millisecond)
	}
	user, pw := stoatest.ReadCredentials(t, filepath.Join(data, "superadmin-credentials.txt"))
	c := stoatest.InsecureClient()
	c.Jar, _ = cookiejar.New(nil)
	// This process resolves the *.localhost name itself (make run's processes have a private
	// /etc/hosts; browsers and curl know *.localhost is loopback).
	c.Transport.(*http.Transport).DialContext = loopbackDial
	sess := stoatest.LoginAs(t, portal, c, user, pw)
	var room api.Room
	var status int
	for attempt := 0; attempt < 50; attempt++ { // the room re-sends its hello while it waits
		status, _, err = sess.Do("POST", "/api/v1/rooms/pair", api.PairRequest{Code: code, Name: "First room"}, "", &room)
		if status == 200 || status == 201 {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if status != 200 && status != 201 {
		t.Fatalf("pairing the make-run room with code %s: status %d %v", code, status, err)
	}
	waitOnline := time.Now().Add(10 * time.Second)
	for {
		var rooms []api.Room
		if st, _, _ := sess.Do("GET", "/api/v1/rooms", nil, "", &rooms); st == 200 && len(rooms) == 1 && rooms[0].Online {
			break
		}
		if time.Now().After(waitOnline) {
			t.Fatalf("the make-run room never came online:\n%s", out)
		}
		time.Sleep(100 * time.Millisecond)
	}

	_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGINT) // Ctrl-C in the terminal
	select {
	case <-done:
		stopped = true
	case <-time.After(30 * time.Second):
		t.Fatalf("make run did not stop on SIGINT:\n%s", out)
	}
	if !strings.Contains(out.String(), "stoa-server stopped") {
		t.Errorf("no clean shutdown logged:\n%s", out)
	}
}

// loopbackDial dials qemu.DevPortalName on 127.0.0.1 and everything else as given.
func loopbackDial(ctx context.Context, network, addr string) (net.Conn, error) {
	if h, p, err := net.SplitHostPort(addr); err == nil && strings.EqualFold(h, qemu.DevPortalName) {
		addr = net.JoinHostPort("127.0.0.1", p)
	}
	return (&net.Dialer{}).DialContext(ctx, network, addr)
}

// devImageWiring checks what make qemu relies on: the stack's portal certificate verifies for
// the dev image's portal name (self-signed: the room pins it at pairing, so it is its own root
// here), and stoa-qemu's forwards (qemu.Stack.DevForwards, from addresses.json) reach this
// stack's portal, management listener and TURN over TCP.
func devImageWiring(t *testing.T, data string) {
	t.Helper()
	st, err := qemu.ReadStack(data)
	if err != nil {
		t.Fatal(err)
	}
	fw, err := st.DevForwards(qemu.DefaultTURNTCP)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		qemu.GuestPortal + ":443":                                        st.PortalHTTPS,
		net.JoinHostPort(qemu.GuestPortal, port(t, st.PortalHTTPS)):      st.PortalHTTPS,
		net.JoinHostPort(qemu.GuestPortal, port(t, st.PortalInternal)):   st.PortalInternal,
		net.JoinHostPort(qemu.GuestPortal, port(t, qemu.DefaultTURNTCP)): qemu.DefaultTURNTCP,
	}
	got := map[string]string{}
	for _, f := range fw {
		got[f.Guest] = f.Host
	}
	if len(got) != len(want) {
		t.Errorf("forwards %+v, want %v", fw, want)
	}
	for g, h := range want {
		if got[g] != h {
			t.Errorf("forward %s → %q, want %q (forwards %+v)", g, got[g], h, fw)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := st.CheckStack(ctx, fw); err != nil {
		t.Fatalf("stoa-qemu's check of the make run stack: %v", err)
	}
	conn, err := tls.Dial("tcp", st.PortalHTTPS, &tls.Config{ServerName: qemu.DevPortalName, InsecureSkipVerify: true}) //nolint:gosec // verified below
	if err != nil {
		t.Fatal(err)
	}
	leaf := conn.ConnectionState().PeerCertificates[0]
	conn.Close()
	roots := x509.NewCertPool()
	roots.AddCert(leaf)
	if _, err := leaf.Verify(x509.VerifyOptions{DNSName: qemu.DevPortalName, Roots: roots}); err != nil {
		t.Errorf("the portal certificate does not verify for %s: %v", qemu.DevPortalName, err)
	}
}

func port(t *testing.T, addr string) string {
	t.Helper()
	_, p, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	return p
}
