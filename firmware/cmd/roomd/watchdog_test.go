package main

import (
	"context"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stoa-rooms/stoa/board"
	"github.com/stoa-rooms/stoa/board/sim"
	"github.com/stoa-rooms/stoa/firmware/roomd"
)

// hungSensor is the sim light sensor behind an I2C bus that can hang: while hung, Read blocks
// (as a read on a wedged bus does) until the bus is freed.
type hungSensor struct {
	board.LightSensor
	mu   sync.Mutex
	free chan struct{} // nil while the bus works
}

func (h *hungSensor) Read() (board.Reading, error) {
	h.mu.Lock()
	free := h.free
	h.mu.Unlock()
	if free != nil {
		<-free
	}
	return h.LightSensor.Read()
}

func (h *hungSensor) hang() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.free = make(chan struct{})
}

func (h *hungSensor) release() {
	h.mu.Lock()
	defer h.mu.Unlock()
	close(h.free)
	h.free = nil
}

// TestWatchdogStopsWhileALoopStalls: with the light sensor loop stuck in a read, roomd stops
// sending WATCHDOG=1 (so systemd would restart it) and reports why in its status; once the
// read returns, the pings resume.
func TestWatchdogStopsWhileALoopStalls(t *testing.T) {
	dir := t.TempDir()
	notify := filepath.Join(dir, "notify.sock")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: notify, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	t.Setenv("NOTIFY_SOCKET", notify)
	t.Setenv("WATCHDOG_USEC", "100000") // pings every 50 ms
	t.Setenv("WATCHDOG_PID", "")

	sensor := &hungSensor{}
	reg := board.Registry{"sim": func(def board.Definition) (*board.Board, error) {
		b, err := sim.New(def)
		if err != nil {
			return nil, err
		}
		sensor.LightSensor = b.Light
		b.Light = sensor
		return b, nil
	}}
	cfg, err := roomd.ParseArgs([]string{"--data-dir", filepath.Join(dir, "data"), "--board", "sim", "--panel-addr", "127.0.0.1:0",
		"--portal-url", "https://127.0.0.1:1", "--discover=false"}, os.Stderr)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- runWith(ctx, cfg, slog.New(slog.DiscardHandler), &syncBuf{}, deps{boards: reg, tune: func(o *roomd.RoomOptions) {
			o.Beat, o.LightEvery = 50*time.Millisecond, 50*time.Millisecond
		}})
	}()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("run: %v", err)
		}
	}()

	pings := make(chan time.Time, 1000)
	go func() {
		buf := make([]byte, 4096)
		for {
			n, err := conn.Read(buf)
			if err != nil {
				return
			}
			if strings.Contains(string(buf[:n]), "WATCHDOG=1") {
				pings <- time.Now()
			}
		}
	}()
	waitPings := func(n int, within time.Duration) {
		t.Helper()
		deadline := time.After(within)
		for range n {
			select {
			case <-pings:
			case <-deadline:
				t.Fatalf("fewer than %d WATCHDOG=1 within %s", n, within)
			}
		}
	}
	waitPings(3, 10*time.Second)

	sensor.hang()
	client := roomd.NewLocalClient(cfg.Socket)
	var problems []string
	deadline := time.Now().Add(10 * time.Second)
	for {
		st, err := client.Status(context.Background())
		if err == nil && st.Status != nil && !st.Health.OK {
			problems = st.Health.Problems
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("status never reported the stalled loop: %+v %v", st, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if len(problems) == 0 || !strings.Contains(strings.Join(problems, ";"), "light loop silent") {
		t.Fatalf("health problems %q, want the light loop named", problems)
	}
	// Drain what was sent before the stall was noticed, then expect silence for 10 intervals.
	for len(pings) > 0 {
		<-pings
	}
	time.Sleep(60 * time.Millisecond)
	for len(pings) > 0 {
		<-pings
	}
	select {
	case p := <-pings:
		t.Fatalf("WATCHDOG=1 at %s while the light loop was stalled", p.Format(time.StampMilli))
	case <-time.After(500 * time.Millisecond):
	}

	sensor.release()
	waitPings(3, 10*time.Second)
}
