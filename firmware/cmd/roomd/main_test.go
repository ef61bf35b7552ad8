package main

import (
	"bytes"
	"context"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stoa-rooms/stoa/firmware/roomd"
)

type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) { s.mu.Lock(); defer s.mu.Unlock(); return s.b.Write(p) }
func (s *syncBuf) String() string              { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

// TestSdNotifyProtocol runs roomd with a unixgram socket as NOTIFY_SOCKET, the way systemd
// does for Type=notify: READY=1 once the local API listens, WATCHDOG=1 at half of
// WATCHDOG_USEC, STOPPING=1 on shutdown.
func TestSdNotifyProtocol(t *testing.T) {
	dir := t.TempDir()
	notify := filepath.Join(dir, "notify.sock")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: notify, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	t.Setenv("NOTIFY_SOCKET", notify)
	t.Setenv("WATCHDOG_USEC", "200000") // 200 ms: pings every 100 ms
	t.Setenv("WATCHDOG_PID", "")

	// A portal nobody listens on: roomd still makes and prints a code, then retries.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	ln.Close()
	cfg, err := roomd.ParseArgs([]string{"--data-dir", filepath.Join(dir, "data"), "--board", "sim", "--panel-addr", "127.0.0.1:0",
		"--portal-url", "https://localhost:" + port, "--discover=false"}, os.Stderr)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	out := &syncBuf{}
	done := make(chan error, 1)
	go func() { done <- run(ctx, cfg, slog.New(slog.DiscardHandler), out) }()

	msgs := make(chan string, 100)
	go func() {
		buf := make([]byte, 4096)
		for {
			n, err := conn.Read(buf)
			if err != nil {
				close(msgs)
				return
			}
			msgs <- string(buf[:n])
		}
	}()
	next := func(want string) time.Time {
		t.Helper()
		timeout := time.After(10 * time.Second)
		for {
			select {
			case m := <-msgs:
				if strings.Contains(m, want) {
					return time.Now()
				}
			case <-timeout:
				t.Fatalf("no %q on NOTIFY_SOCKET within 10 s", want)
			}
		}
	}
	next("READY=1")
	// READY means the local API answers.
	if st, err := roomd.NewLocalClient(cfg.Socket).Status(context.Background()); err != nil || st.State == "" {
		t.Fatalf("local API after READY: %+v %v", st, err)
	}
	first := next("WATCHDOG=1")
	var last time.Time
	for range 6 {
		last = next("WATCHDOG=1")
	}
	// The mean over six intervals tolerates one tick lost to a loaded machine, but not a
	// ping at the full WATCHDOG_USEC (which would let systemd kill a healthy roomd).
	if gap := last.Sub(first) / 6; gap < 50*time.Millisecond || gap > 170*time.Millisecond {
		t.Fatalf("watchdog pings every %s, want about 100ms (half of WATCHDOG_USEC)", gap)
	}
	deadline := time.Now().Add(10 * time.Second)
	for !regexp.MustCompile(`(?m)^Pairing code: \d{4} \d{4} \d{4}$`).MatchString(out.String()) {
		if time.Now().After(deadline) {
			t.Fatalf("no pairing code line on stdout: %q", out.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	next("STOPPING=1")
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("run: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("run did not return within 10 s of shutdown")
	}
	if _, err := os.Stat(cfg.Socket); !os.IsNotExist(err) {
		t.Fatalf("socket left behind: %v", err)
	}
}

func TestRunRefusesUnknownBoard(t *testing.T) {
	cfg := roomd.Defaults()
	cfg.DataDir, cfg.Board = t.TempDir(), "rpi9"
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	err := run(context.Background(), cfg, slog.New(slog.DiscardHandler), &syncBuf{})
	if err == nil || !strings.Contains(err.Error(), `unknown board "rpi9"`) {
		t.Fatalf("err = %v", err)
	}
}
