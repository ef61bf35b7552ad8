// Package stoatest starts the real stoa-server binary for end-to-end tests: built from this
// checkout, on loopback ports chosen by the kernel, with its own data directory.
package stoatest

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/cookiejar"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Options tune a Stack.
type Options struct {
	Role    string   // default "all"
	DataDir string   // default t.TempDir(); reuse one to restart a stack on the same state
	Args    []string // extra flags
	// Wrap, when set, is a command prefix the server runs under (for example unshare(1) to
	// give it a private /etc/hosts); it must exec the server so the PID stays the server's.
	Wrap []string
}

// Stack is a running stoa-server.
type Stack struct {
	PortalURL     string // https://localhost:port
	PortalHost    string // 127.0.0.1:port of the HTTPS listener
	HTTPURL       string // http://127.0.0.1:port (redirect-only listener)
	InternalAddr  string
	ManagerAddr   string
	RouterAddr    string
	ProxyAddr     string
	AdminName     string
	AdminPassword string
	DataDir       string
	FQDN          string
	Stdout        *Buffer

	cmd  *exec.Cmd
	done chan error
}

// Buffer is a goroutine-safe output buffer.
type Buffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *Buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *Buffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// RepoRoot finds the module root from this source file's location.
func RepoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
}

// Build compiles stoa-server into dir and returns the binary's path.
func Build(t testing.TB, dir string) string {
	t.Helper()
	bin := filepath.Join(dir, "stoa-server")
	cmd := exec.Command("go", "build", "-o", bin, "./services/cmd/stoa-server")
	cmd.Dir = RepoRoot()
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build stoa-server: %v\n%s", err, out)
	}
	return bin
}

// Start builds and starts stoa-server and waits until its portal answers /healthz.
func Start(t testing.TB, o Options) *Stack {
	t.Helper()
	if o.Role == "" {
		o.Role = "all"
	}
	if o.DataDir == "" {
		o.DataDir = t.TempDir()
	}
	bin := Build(t, t.TempDir())
	s := &Stack{DataDir: o.DataDir, FQDN: "localhost", Stdout: &Buffer{}, done: make(chan error, 1)}
	args := []string{"--data-dir", o.DataDir, "--log-level", "debug",
		"--https-addr", "127.0.0.1:0", "--http-addr", "127.0.0.1:0", "--internal-addr", "127.0.0.1:0",
		"--manager-addr", "127.0.0.1:0", "--router-addr", "127.0.0.1:0", "--proxy-addr", "127.0.0.1:0",
		"--turn-udp-addr", "127.0.0.1:0", "--turn-tcp-addr", "127.0.0.1:0", "--turn-tls-addr", "127.0.0.1:0"}
	args = append(append(args, o.Args...), o.Role)
	_ = os.Remove(filepath.Join(o.DataDir, "addresses.json"))
	if len(o.Wrap) > 0 {
		s.cmd = exec.Command(o.Wrap[0], append(append(o.Wrap[1:len(o.Wrap):len(o.Wrap)], bin), args...)...)
	} else {
		s.cmd = exec.Command(bin, args...)
	}
	s.cmd.Stdout = s.Stdout
	s.cmd.Stderr = s.Stdout
	if err := s.cmd.Start(); err != nil {
		t.Fatalf("start stoa-server: %v", err)
	}
	go func() { s.done <- s.cmd.Wait() }()
	t.Cleanup(func() { s.Stop(t) })

	deadline := time.Now().Add(60 * time.Second)
	var addrs struct {
		PortalHTTPS, PortalHTTP, PortalInternal, Manager, Router, Proxy string
	}
	for {
		b, err := os.ReadFile(filepath.Join(o.DataDir, "addresses.json"))
		if err == nil {
			var raw map[string]string
			if json.Unmarshal(b, &raw) == nil {
				addrs.PortalHTTPS, addrs.PortalHTTP, addrs.PortalInternal = raw["portal_https"], raw["portal_http"], raw["portal_internal"]
				addrs.Manager, addrs.Router, addrs.Proxy = raw["manager"], raw["router"], raw["proxy"]
				break
			}
		}
		s.failIfExited(t)
		if time.Now().After(deadline) {
			t.Fatalf("stoa-server wrote no addresses.json within 60s; output:\n%s", s.Stdout)
		}
		time.Sleep(50 * time.Millisecond)
	}
	s.PortalHost = addrs.PortalHTTPS
	if addrs.PortalHTTPS != "" {
		_, port, _ := net.SplitHostPort(addrs.PortalHTTPS)
		s.PortalURL = "https://localhost:" + port
		s.HTTPURL = "http://" + addrs.PortalHTTP
	}
	s.InternalAddr, s.ManagerAddr, s.RouterAddr, s.ProxyAddr = addrs.PortalInternal, addrs.Manager, addrs.Router, addrs.Proxy
	if s.PortalURL != "" {
		s.WaitHealthy(t, s.PortalURL)
		s.AdminName, s.AdminPassword = ReadCredentials(t, filepath.Join(o.DataDir, "superadmin-credentials.txt"))
	}
	return s
}

func (s *Stack) failIfExited(t testing.TB) {
	t.Helper()
	select {
	case err := <-s.done:
		s.done <- err
		t.Fatalf("stoa-server exited early: %v; output:\n%s", err, s.Stdout)
	default:
	}
}

// WaitHealthy polls base+/healthz until it answers 200.
func (s *Stack) WaitHealthy(t testing.TB, base string) {
	t.Helper()
	c := InsecureClient()
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := c.Get(base + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		s.failIfExited(t)
		if time.Now().After(deadline) {
			t.Fatalf("%s/healthz not healthy within 30s (last error %v); output:\n%s", base, err, s.Stdout)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Stop sends SIGTERM and waits for a clean exit.
func (s *Stack) Stop(t testing.TB) {
	t.Helper()
	if s.cmd == nil || s.cmd.Process == nil {
		return
	}
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-s.done:
		s.done <- err
		if err != nil && !strings.Contains(err.Error(), "signal") {
			t.Errorf("stoa-server exited with %v after SIGTERM; output:\n%s", err, s.Stdout)
		}
	case <-time.After(20 * time.Second):
		_ = s.cmd.Process.Kill()
		t.Errorf("stoa-server did not stop within 20s of SIGTERM")
	}
	s.cmd = nil
}

// Kill ends the process with SIGKILL (a crash: no clean shutdown, sockets reset by the
// kernel) and waits for it to be gone.
func (s *Stack) Kill(t testing.TB) {
	t.Helper()
	if s.cmd == nil || s.cmd.Process == nil {
		return
	}
	if err := s.cmd.Process.Kill(); err != nil {
		t.Fatalf("kill stoa-server: %v", err)
	}
	select {
	case err := <-s.done:
		s.done <- err
	case <-time.After(10 * time.Second):
		t.Fatalf("stoa-server still running 10s after SIGKILL")
	}
	s.cmd = nil
}

// ExitErr waits for the process to end on its own and returns its exit error.
func (s *Stack) ExitErr(timeout time.Duration) error {
	select {
	case err := <-s.done:
		s.done <- err
		return err
	case <-time.After(timeout):
		return errors.New("still running")
	}
}

// ReadCredentials parses a credentials file written 0600 by the server.
func ReadCredentials(t testing.TB, path string) (user, pw string) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatalf("read credentials: %v", err)
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
		t.Fatalf("credentials file %s has no user/password lines", path)
	}
	return user, pw
}

// InsecureClient trusts any certificate: only for reaching the self-signed first-start portal.
func InsecureClient() *http.Client {
	tr := &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true, MinVersion: tls.VersionTLS12}} //nolint:gosec // test client for a self-signed portal
	return &http.Client{Transport: tr, Timeout: 30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

// Client returns a cookie-keeping client for the portal (insecure TLS, see InsecureClient).
func (s *Stack) Client() *http.Client {
	c := InsecureClient()
	c.Jar, _ = cookiejar.New(nil)
	return c
}

// Session is a signed-in API client.
type Session struct {
	Base string
	HTTP *http.Client
	CSRF string
}

// Login signs in as the super admin and returns a session.
func (s *Stack) Login(t testing.TB) *Session {
	t.Helper()
	return LoginAs(t, s.PortalURL, s.Client(), s.AdminName, s.AdminPassword)
}

// LoginAs signs in through POST /api/v1/login.
func LoginAs(t testing.TB, base string, c *http.Client, name, pw string) *Session {
	t.Helper()
	body, _ := json.Marshal(map[string]string{"name": name, "password": pw})
	req, _ := http.NewRequestWithContext(context.Background(), http.MethodPost, base+"/api/v1/login", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Origin", base)
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("login: %v", err)
	}
	defer resp.Body.Close()
	var me struct {
		CSRF string `json:"csrf_token"`
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("login: status %d", resp.StatusCode)
	}
	if err := json.NewDecoder(resp.Body).Decode(&me); err != nil {
		t.Fatalf("login: %v", err)
	}
	return &Session{Base: base, HTTP: c, CSRF: me.CSRF}
}

// Do sends a request with the CSRF token and same-origin headers; body may be nil, []byte
// (with contentType) or any JSON-encodable value. out, when not nil, receives the JSON answer.
func (s *Session) Do(method, path string, body any, contentType string, out any) (int, []byte, error) {
	var rd *bytes.Reader
	switch b := body.(type) {
	case nil:
		rd = bytes.NewReader(nil)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			return 0, nil, err
		}
		rd = bytes.NewReader(j)
		contentType = "application/json"
	}
	req, err := http.NewRequest(method, s.Base+path, rd)
	if err != nil {
		return 0, nil, err
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	req.Header.Set("X-CSRF-Token", s.CSRF)
	req.Header.Set("Origin", s.Base)
	resp, err := s.HTTP.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	var buf bytes.Buffer
	if _, err := buf.ReadFrom(resp.Body); err != nil {
		return resp.StatusCode, nil, err
	}
	if out != nil && resp.StatusCode < 300 {
		if err := json.Unmarshal(buf.Bytes(), out); err != nil {
			return resp.StatusCode, buf.Bytes(), fmt.Errorf("decode %s %s: %w", method, path, err)
		}
	}
	return resp.StatusCode, buf.Bytes(), nil
}
