package visca

import (
	"context"
	"errors"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/stoa-rooms/stoa/board"
)

// socketPair is a kernel byte stream between the camera client and the fake (the HIL run wires a
// QEMU serial port to the fake through a unix socket the same way).
func socketPair(t *testing.T) (net.Conn, net.Conn) {
	t.Helper()
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	var conns [2]net.Conn
	for i, fd := range fds {
		f := os.NewFile(uintptr(fd), "visca-socketpair")
		c, err := net.FileConn(f)
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		conns[i] = c
	}
	return conns[0], conns[1]
}

// generous bounds a success path: the race detector on a loaded 2-core machine can delay an
// answer far beyond a real camera's, and only the timeout tests want a short one.
const generous = 30 * time.Second

// setup wires a client to a fake; timeouts left zero are generous (not the package defaults).
func setup(t *testing.T, o Options) (*Camera, *Fake) {
	t.Helper()
	if o.Timeout == 0 {
		o.Timeout = generous
	}
	if o.CompletionTimeout == 0 {
		o.CompletionTimeout = generous
	}
	a, b := socketPair(t)
	fake := NewFake(b, o.Addr, nil)
	go fake.Serve()
	cam := New(a, o)
	t.Cleanup(func() { cam.Close() })
	return cam, fake
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 2*generous)
	t.Cleanup(cancel)
	return ctx
}

func names(cmds []Command) []string {
	var out []string
	for _, c := range cmds {
		out = append(out, c.String())
	}
	return out
}

func TestCommandsReachTheFake(t *testing.T) {
	tests := []struct {
		name string
		do   func(context.Context, *Camera) error
		want []string
		pos  board.Position
	}{
		{"power on", func(ctx context.Context, c *Camera) error { return c.Power(ctx, true) }, []string{"power on"}, board.Position{}},
		{"drive left", func(ctx context.Context, c *Camera) error { return c.PanTilt(ctx, -5, 0) }, []string{"pantilt.drive left"}, board.Position{Pan: -50}},
		{"drive upright", func(ctx context.Context, c *Camera) error { return c.PanTilt(ctx, 3, 2) }, []string{"pantilt.drive upright"}, board.Position{Pan: 30, Tilt: 20}},
		{"drive down", func(ctx context.Context, c *Camera) error { return c.PanTilt(ctx, 0, -4) }, []string{"pantilt.drive down"}, board.Position{Tilt: -40}},
		{"stop", func(ctx context.Context, c *Camera) error { return c.PanTilt(ctx, 0, 0) }, []string{"pantilt.drive stop"}, board.Position{}},
		{"zoom tele", func(ctx context.Context, c *Camera) error { return c.Zoom(ctx, 3) }, []string{"zoom.tele 3"}, board.Position{Zoom: 0x400}},
		{"zoom stop", func(ctx context.Context, c *Camera) error { return c.Zoom(ctx, 0) }, []string{"zoom.stop"}, board.Position{}},
		{"goto", func(ctx context.Context, c *Camera) error {
			return c.Goto(ctx, board.Position{Pan: -1200, Tilt: 300, Zoom: 0x2000})
		}, []string{"pantilt.absolute pan=-1200 tilt=300", "zoom.direct 0x2000"}, board.Position{Pan: -1200, Tilt: 300, Zoom: 0x2000}},
		{"store and recall", func(ctx context.Context, c *Camera) error {
			if err := c.Goto(ctx, board.Position{Pan: 100, Tilt: -100, Zoom: 0x4000}); err != nil {
				return err
			}
			if err := c.PresetStore(ctx, 3); err != nil {
				return err
			}
			if err := c.Home(ctx); err != nil {
				return err
			}
			return c.PresetRecall(ctx, 3)
		}, []string{"pantilt.absolute pan=100 tilt=-100", "zoom.direct 0x4000", "preset.store 3", "pantilt.home", "preset.recall 3"}, board.Position{Pan: 100, Tilt: -100, Zoom: 0x4000}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := ctxT(t)
			cam, fake := setup(t, Options{Addr: 1})
			if err := tt.do(ctx, cam); err != nil {
				t.Fatal(err)
			}
			if got := names(fake.Commands()); strings.Join(got, "|") != strings.Join(tt.want, "|") {
				t.Errorf("fake received %q, want %q", got, tt.want)
			}
			pos, err := cam.Position(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if pos != tt.pos {
				t.Errorf("position %+v, want %+v", pos, tt.pos)
			}
		})
	}
}

func TestPowerState(t *testing.T) {
	ctx := ctxT(t)
	cam, _ := setup(t, Options{Addr: 2})
	for _, on := range []bool{false, true} {
		if err := cam.Power(ctx, on); err != nil {
			t.Fatal(err)
		}
		got, err := cam.PowerState(ctx)
		if err != nil || got != on {
			t.Fatalf("power state %v, %v; want %v", got, err, on)
		}
	}
}

func TestStandbyRefusesMotion(t *testing.T) {
	ctx := ctxT(t)
	cam, _ := setup(t, Options{Addr: 1})
	if err := cam.Power(ctx, false); err != nil {
		t.Fatal(err)
	}
	err := cam.PresetRecall(ctx, 1)
	if !errors.Is(err, ErrNotExecutable) || !strings.Contains(err.Error(), "preset.recall 1") {
		t.Fatalf("recall in standby: %v, want not executable naming the command", err)
	}
}

func TestErrorReplies(t *testing.T) {
	tests := []struct {
		code byte
		want error
	}{
		{CodeMessageLength, ErrMessageLength},
		{CodeSyntax, ErrSyntax},
		{CodeBufferFull, ErrBufferFull},
		{CodeCancelled, ErrCancelled},
		{CodeNoSocket, ErrNoSocket},
		{CodeNotExecutable, ErrNotExecutable},
		{0x7E, ErrUnknownError},
	}
	for _, tt := range tests {
		t.Run(tt.want.Error(), func(t *testing.T) {
			ctx := ctxT(t)
			cam, fake := setup(t, Options{Addr: 1})
			fake.SetMode(FakeError, tt.code)
			err := cam.PresetRecall(ctx, 5)
			if !errors.Is(err, tt.want) {
				t.Fatalf("error %v, want %v", err, tt.want)
			}
			if !strings.Contains(err.Error(), "preset.recall 5") {
				t.Errorf("error %q does not name the command", err)
			}
			// The camera is usable again once it answers normally.
			fake.SetMode(FakeNormal, 0)
			if err := cam.PresetRecall(ctx, 5); err != nil {
				t.Fatalf("after the error: %v", err)
			}
		})
	}
}

func TestTimeouts(t *testing.T) {
	// Only the wait under test is short; the answers the fake does give (the ACK in "ack only")
	// get a generous bound, so a late one under load is no failure.
	const short = 150 * time.Millisecond
	tests := []struct {
		name string
		mode FakeMode
		o    Options
		do   func(context.Context, *Camera) error
		want string
	}{
		{"silent command", FakeSilent, Options{Addr: 1, Timeout: short}, func(ctx context.Context, c *Camera) error { return c.PresetRecall(ctx, 2) }, "visca preset.recall 2: no ACK within 150ms"},
		{"silent inquiry", FakeSilent, Options{Addr: 1, Timeout: short}, func(ctx context.Context, c *Camera) error { _, err := c.Position(ctx); return err }, "visca inquiry.pantilt: no answer within 150ms"},
		{"ack only", FakeAckOnly, Options{Addr: 1, CompletionTimeout: short}, func(ctx context.Context, c *Camera) error { return c.Power(ctx, true) }, "visca power on: no completion within 150ms"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := ctxT(t)
			cam, fake := setup(t, tt.o)
			fake.SetMode(tt.mode, 0)
			err := tt.do(ctx, cam)
			if !errors.Is(err, ErrTimeout) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want a timeout starting %q", err, tt.want)
			}
			// The same client recovers: its next command succeeds. The short timeout was the
			// behaviour under test; the recovery is a success path and gets generous ones.
			cam.setTimeouts(generous, generous)
			fake.SetMode(FakeNormal, 0)
			if err := cam.PanTilt(ctx, 1, 0); err != nil {
				t.Fatalf("after the timeout: %v", err)
			}
		})
	}
}

func TestGarbageIsSkipped(t *testing.T) {
	tests := []struct {
		name    string
		garbage []byte
	}{
		{"text", []byte("hello\r\n")},
		{"terminators", []byte{0xFF, 0xFF, 0x00, 0xFF}},
		{"cut off reply", []byte{0x90, 0x41}},
		{"overlong", append([]byte{0x90}, make([]byte, 20)...)},
		{"reply from another camera", []byte{0xA0, 0x41, 0xFF, 0xA0, 0x51, 0xFF}},
		{"unknown message", []byte{0x90, 0x71, 0xFF}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := ctxT(t)
			cam, fake := setup(t, Options{Addr: 1})
			fake.SendGarbage(tt.garbage)
			if err := cam.PresetStore(ctx, 4); err != nil {
				t.Fatal(err)
			}
			if _, _, presets := fake.State(); len(presets) != 1 {
				t.Errorf("fake has presets %v, want preset 4", presets)
			}
		})
	}
}

func TestBadInputSendsNothing(t *testing.T) {
	tests := []struct {
		name string
		do   func(context.Context, *Camera) error
		want string
	}{
		{"pan speed", func(ctx context.Context, c *Camera) error { return c.PanTilt(ctx, 25, 0) }, "pan speed 25"},
		{"tilt speed", func(ctx context.Context, c *Camera) error { return c.PanTilt(ctx, 0, -24) }, "tilt speed -24"},
		{"zoom speed", func(ctx context.Context, c *Camera) error { return c.Zoom(ctx, 9) }, "zoom speed 9"},
		{"preset", func(ctx context.Context, c *Camera) error { return c.PresetRecall(ctx, 128) }, "preset 128"},
		{"zoom position", func(ctx context.Context, c *Camera) error { return c.Goto(ctx, board.Position{Zoom: -1}) }, "zoom position -1"},
		{"pan position", func(ctx context.Context, c *Camera) error { return c.Goto(ctx, board.Position{Pan: 40000}) }, "out of the signed 16-bit range"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := ctxT(t)
			cam, fake := setup(t, Options{Addr: 1})
			err := tt.do(ctx, cam)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want one containing %q", err, tt.want)
			}
			// A following good command is the first thing the fake sees.
			if err := cam.Power(ctx, true); err != nil {
				t.Fatal(err)
			}
			if got := names(fake.Commands()); len(got) != 1 || got[0] != "power on" {
				t.Errorf("fake received %q, want only the power command", got)
			}
		})
	}
}

func TestContextCancel(t *testing.T) {
	cam, fake := setup(t, Options{Addr: 1})
	fake.SetMode(FakeSilent, 0)
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- cam.Power(ctx, true) }()
	if _, err := fake.WaitCommands(ctxT(t), 1); err != nil {
		t.Fatal(err)
	}
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Fatalf("error %v, want context.Canceled", err)
	}
}

func TestClosedPort(t *testing.T) {
	cam, _ := setup(t, Options{Addr: 1})
	cam.Close()
	if err := cam.Power(ctxT(t), true); err == nil || !strings.Contains(err.Error(), "visca power on") {
		t.Fatalf("error %v, want one naming the command", err)
	}
}

// setTimeouts changes the client's timeouts between commands (tests only).
func (c *Camera) setTimeouts(ack, completion time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.o.Timeout, c.o.CompletionTimeout = ack, completion
}
