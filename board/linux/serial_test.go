package linux_test

import (
	"context"
	"errors"
	"io"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/stoa-rooms/stoa/board"
	"github.com/stoa-rooms/stoa/board/linux"
	"github.com/stoa-rooms/stoa/board/visca"
)

// generous bounds the waits of a success path: a loaded TCG guest (or the race detector on a
// busy host) can delay an answer by far more than a real camera's; only the timeout cases want
// a short one.
const generous = 30 * time.Second

// viscaOverPTY wires a fake VISCA camera to the pty master and the camera client to the slave
// opened through NewSerial, as roomd opens the board's "visca" port. Timeouts left zero in o
// are generous.
func viscaOverPTY(t *testing.T, baud int, o visca.Options) (*visca.Camera, *visca.Fake, io.ReadWriteCloser, string) {
	t.Helper()
	master, pts := openPTY(t)
	port, err := linux.NewSerial(map[string]board.SerialDef{"visca": {Device: pts, Baud: baud}}).OpenSerial("visca")
	if err != nil {
		t.Fatal(err)
	}
	fake := visca.NewFake(master, 1, nil)
	go fake.Serve()
	o.Addr = 1
	if o.Timeout == 0 {
		o.Timeout = generous
	}
	if o.CompletionTimeout == 0 {
		o.CompletionTimeout = generous
	}
	cam := visca.New(port, o)
	t.Cleanup(func() { cam.Close() })
	return cam, fake, port, pts
}

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 3*generous)
	t.Cleanup(cancel)
	return ctx
}

func TestSerialPortIs8N1AtTheBaudRate(t *testing.T) {
	tests := []struct {
		baud  int
		speed uint32
	}{{9600, unix.B9600}, {38400, unix.B38400}, {115200, unix.B115200}}
	for _, tt := range tests {
		t.Run(strconv.Itoa(tt.baud), func(t *testing.T) {
			_, pts := openPTY(t)
			port, err := linux.NewSerial(map[string]board.SerialDef{"control": {Device: pts, Baud: tt.baud}}).OpenSerial("control")
			if err != nil {
				t.Fatal(err)
			}
			defer port.Close()
			fd, err := unix.Open(pts, unix.O_RDWR|unix.O_NOCTTY, 0)
			if err != nil {
				t.Fatal(err)
			}
			defer unix.Close(fd)
			tio, err := unix.IoctlGetTermios(fd, unix.TCGETS)
			if err != nil {
				t.Fatal(err)
			}
			if got := tio.Cflag & unix.CBAUD; got != tt.speed {
				t.Errorf("speed bits 0x%x, want 0x%x", got, tt.speed)
			}
			if tio.Cflag&unix.CSIZE != unix.CS8 || tio.Cflag&unix.PARENB != 0 || tio.Cflag&unix.CSTOPB != 0 {
				t.Errorf("cflag 0x%x is not 8N1", tio.Cflag)
			}
			if tio.Lflag&(unix.ICANON|unix.ECHO) != 0 {
				t.Errorf("lflag 0x%x: not raw", tio.Lflag)
			}
		})
	}
}

func TestSerialOpenErrors(t *testing.T) {
	ports := linux.NewSerial(map[string]board.SerialDef{"visca": {Device: "/dev/ttyNOPE9", Baud: 9600}})
	tests := []struct {
		role string
		want []string
	}{
		{"control", []string{`"control"`, "no such port", "have: visca"}},
		{"visca", []string{`"visca"`, "/dev/ttyNOPE9", "9600"}},
	}
	for _, tt := range tests {
		t.Run(tt.role, func(t *testing.T) {
			p, err := ports.OpenSerial(tt.role)
			if err == nil {
				p.Close()
				t.Fatal("opened")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
}

func TestVISCAOverPTY(t *testing.T) {
	tests := []struct {
		name string
		do   func(context.Context, *visca.Camera) error
		want []string
	}{
		{"preset store and recall", func(ctx context.Context, c *visca.Camera) error {
			if err := c.PresetStore(ctx, 3); err != nil {
				return err
			}
			return c.PresetRecall(ctx, 3)
		}, []string{"preset.store 3", "preset.recall 3"}},
		{"pan tilt", func(ctx context.Context, c *visca.Camera) error {
			if err := c.PanTilt(ctx, -8, 0); err != nil {
				return err
			}
			return c.PanTilt(ctx, 0, 0)
		}, []string{"pantilt.drive left", "pantilt.drive stop"}},
		{"zoom and goto", func(ctx context.Context, c *visca.Camera) error {
			if err := c.Zoom(ctx, 2); err != nil {
				return err
			}
			return c.Goto(ctx, board.Position{Pan: 500, Tilt: -200, Zoom: 0x4000})
		}, []string{"zoom.tele 2", "pantilt.absolute pan=500 tilt=-200", "zoom.direct 0x4000"}},
		{"power", func(ctx context.Context, c *visca.Camera) error {
			if err := c.Power(ctx, false); err != nil {
				return err
			}
			return c.Power(ctx, true)
		}, []string{"power off", "power on"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := testCtx(t)
			cam, fake, _, _ := viscaOverPTY(t, 9600, visca.Options{})
			if err := tt.do(ctx, cam); err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, c := range fake.Commands() {
				got = append(got, c.String())
			}
			if strings.Join(got, "|") != strings.Join(tt.want, "|") {
				t.Errorf("fake received %q, want %q", got, tt.want)
			}
		})
	}
}

func TestVISCAOverPTYPositionRoundTrip(t *testing.T) {
	ctx := testCtx(t)
	cam, _, _, _ := viscaOverPTY(t, 9600, visca.Options{})
	want := board.Position{Pan: -2400, Tilt: 900, Zoom: 0x1234}
	if err := cam.Goto(ctx, want); err != nil {
		t.Fatal(err)
	}
	got, err := cam.Position(ctx)
	if err != nil || got != want {
		t.Fatalf("position %+v, %v; want %+v", got, err, want)
	}
}

func TestVISCAOverPTYFailures(t *testing.T) {
	// Only the wait under test is short; every answer the fake does give is waited for generously.
	const short = 300 * time.Millisecond
	tests := []struct {
		name    string
		mode    visca.FakeMode
		code    byte
		garbage []byte
		o       visca.Options
		want    error
		text    string
	}{
		{"not executable", visca.FakeError, visca.CodeNotExecutable, nil, visca.Options{}, visca.ErrNotExecutable, "visca preset.recall 7: camera: command not executable"},
		{"syntax", visca.FakeError, visca.CodeSyntax, nil, visca.Options{}, visca.ErrSyntax, "visca preset.recall 7: camera: syntax error"},
		{"buffer full", visca.FakeError, visca.CodeBufferFull, nil, visca.Options{}, visca.ErrBufferFull, "buffer full"},
		{"silence", visca.FakeSilent, 0, nil, visca.Options{Timeout: short}, visca.ErrTimeout, "visca preset.recall 7: no ACK within 300ms"},
		{"no completion", visca.FakeAckOnly, 0, nil, visca.Options{CompletionTimeout: short}, visca.ErrTimeout, "visca preset.recall 7: no completion within 300ms"},
		{"garbage then success", visca.FakeNormal, 0, []byte("\x00\x13junk\xff\x90\x41"), visca.Options{}, nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := testCtx(t)
			cam, fake, _, _ := viscaOverPTY(t, 9600, tt.o)
			fake.SetMode(tt.mode, tt.code)
			fake.SendGarbage(tt.garbage)
			err := cam.PresetRecall(ctx, 7)
			switch {
			case tt.want == nil && err != nil:
				t.Fatalf("recall: %v", err)
			case tt.want != nil && (!errors.Is(err, tt.want) || !strings.Contains(err.Error(), tt.text)):
				t.Fatalf("recall: %v, want %v containing %q", err, tt.want, tt.text)
			}
			// The link recovers: a following command succeeds and the fake saw both. Where
			// this client's timeout is the short one under test, an answer the loaded guest
			// delivers late is a timeout too (the behaviour just tested), so the command is
			// repeated until one goes through; with generous timeouts the first must.
			fake.SetMode(visca.FakeNormal, 0)
			shortened := tt.o.Timeout != 0 || tt.o.CompletionTimeout != 0
			tries := 1
			for {
				err := cam.PresetRecall(ctx, 8)
				if err == nil {
					break
				}
				if !shortened || !errors.Is(err, visca.ErrTimeout) {
					t.Fatalf("after (try %d): %v", tries, err)
				}
				t.Logf("after, try %d: %v (late answer under load; repeating)", tries, err)
				tries++
			}
			cmds, err := fake.WaitCommands(ctx, 1+tries)
			if err != nil {
				t.Fatal(err)
			}
			if cmds[0].String() != "preset.recall 7" || cmds[len(cmds)-1].String() != "preset.recall 8" {
				t.Errorf("fake received %v", cmds)
			}
		})
	}
}
