package roomd

import (
	"bufio"
	"context"
	"io"
	"log/slog"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stoa-rooms/stoa/board"
	"github.com/stoa-rooms/stoa/board/sim"
	"github.com/stoa-rooms/stoa/board/visca"
	"github.com/stoa-rooms/stoa/firmware/control"
)

// simRoom is a Room on the sim board (no portal: the agent keeps retrying a closed port).
type simRoom struct {
	*Room
	hw     *sim.Hardware
	visca  *visca.Fake // the VISCA camera on the sim board's "visca" cable
	socket string
}

// startSimRoom runs a new sim room with its local API and waits until it is ready.
func startSimRoom(t *testing.T, mod func(*RoomOptions)) *simRoom {
	t.Helper()
	r := newSimRoom(t, mod)
	ln, err := ListenLocal(r.socket)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan struct{})
	done := make(chan struct{}, 2)
	go func() { _ = r.Run(ctx, func() { close(ready) }); done <- struct{}{} }()
	go func() { _ = ServeLocal(ctx, ln, r.Room, slog.New(slog.DiscardHandler)); done <- struct{}{} }()
	t.Cleanup(func() { cancel(); <-done; <-done })
	select {
	case <-ready:
	case <-time.After(10 * time.Second):
		t.Fatal("room not ready within 10 s")
	}
	return r
}

// newSimRoom builds a sim room (board, VISCA camera on its cable, configuration) without
// running it.
func newSimRoom(t *testing.T, mod func(*RoomOptions)) *simRoom {
	t.Helper()
	def, err := board.LoadDefinition("sim")
	if err != nil {
		t.Fatal(err)
	}
	b, err := sim.New(def)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	hw := sim.Devices(b)
	cam := visca.NewFake(hw.SerialPeer("visca"), 1, nil)
	go func() { _ = cam.Serve() }()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	portal := "https://" + ln.Addr().String()
	ln.Close()
	cfg := Defaults()
	cfg.DataDir, cfg.PortalURL, cfg.Discover = t.TempDir(), portal, false
	cfg.Socket = filepath.Join(cfg.DataDir, "r.sock")
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	o := RoomOptions{Agent: Options{Config: cfg, Log: slog.New(slog.DiscardHandler)}, Board: b, Screen: hw.Display,
		LongPress: time.Second, Beat: 50 * time.Millisecond, LightEvery: 50 * time.Millisecond}
	if mod != nil {
		mod(&o)
	}
	r, err := NewRoom(o)
	if err != nil {
		t.Fatal(err)
	}
	return &simRoom{Room: r, hw: hw, visca: cam, socket: cfg.Socket}
}

// events subscribes and returns a function that waits for the first event matching cond.
func (s *simRoom) events(t *testing.T) func(what string, cond func(control.Event) bool) control.Event {
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	sub := s.Hub().Subscribe(ctx)
	return func(what string, cond func(control.Event) bool) control.Event {
		t.Helper()
		timeout := time.After(5 * time.Second)
		for {
			select {
			case e, ok := <-sub.C():
				if !ok {
					t.Fatalf("subscription ended: %v", sub.Err())
				}
				if cond(e) {
					return e
				}
			case <-timeout:
				t.Fatalf("no %s event within 5 s", what)
			}
		}
	}
}

func changed(path string, v any) func(control.Event) bool {
	return func(e control.Event) bool {
		c, ok := e.Data.(control.StatusChange)
		if !ok {
			return false
		}
		got, ok := c.Changed[path]
		return ok && got == v
	}
}

func button(action string) func(control.Event) bool {
	return func(e control.Event) bool {
		b, ok := e.Data.(control.ButtonEvent)
		return ok && b.Button == LineMuteButton && b.Action == action
	}
}

func TestRoomMuteButton(t *testing.T) {
	r := startSimRoom(t, nil)
	next := r.events(t)
	g := r.hw.GPIO
	if g.OutputValue(LineMuteLED) {
		t.Fatal("mute LED on at start")
	}
	t.Run("short press mutes the mic and lights the LED", func(t *testing.T) {
		if err := g.Press(LineMuteButton); err != nil {
			t.Fatal(err)
		}
		next("button pressed", button("pressed"))
		if err := g.Release(LineMuteButton); err != nil {
			t.Fatal(err)
		}
		next("mic muted", changed("audio.mic_muted", true))
		if !r.Hub().Status().Audio.MicMuted || !g.OutputValue(LineMuteLED) {
			t.Fatalf("mic muted %v, LED %v", r.Hub().Status().Audio.MicMuted, g.OutputValue(LineMuteLED))
		}
	})
	t.Run("short press again unmutes", func(t *testing.T) {
		_ = g.Press(LineMuteButton)
		next("button pressed", button("pressed"))
		_ = g.Release(LineMuteButton)
		next("mic unmuted", changed("audio.mic_muted", false))
		if g.OutputValue(LineMuteLED) {
			t.Fatal("mute LED still on")
		}
	})
	t.Run("long press toggles camera privacy, not the mic", func(t *testing.T) {
		_ = g.Press(LineMuteButton)
		next("button pressed", button("pressed"))
		time.Sleep(1100 * time.Millisecond) // held past LongPress (1 s in this room)
		_ = g.Release(LineMuteButton)
		next("long press", button("long_press"))
		next("camera muted", changed("video.camera_muted", true))
		if st := r.Hub().Status(); st.Audio.MicMuted || !st.Video.CameraMuted {
			t.Fatalf("after long press: mic %v camera %v", st.Audio.MicMuted, st.Video.CameraMuted)
		}
	})
}

func TestRoomOccupancyWakesFromStandby(t *testing.T) {
	r := startSimRoom(t, nil)
	next := r.events(t)
	if rep := r.Dispatcher().Dispatch(context.Background(), control.Command{Name: "standby"}); !rep.OK {
		t.Fatalf("standby: %+v", rep)
	}
	next("standby", changed("standby", true))
	if calls := r.hw.CEC.Calls(); len(calls) == 0 || calls[len(calls)-1] != "standby" {
		t.Fatalf("CEC calls %v, want standby last", calls)
	}
	if err := r.hw.GPIO.Press(LineOccupancy); err != nil {
		t.Fatal(err)
	}
	next("awake", changed("standby", false))
	if st := r.Hub().Status(); !st.Sensors.Occupied {
		t.Fatalf("occupied = false after PIR")
	}
	if calls := r.hw.CEC.Calls(); calls[len(calls)-1] != "power_on" {
		t.Fatalf("CEC calls %v, want power_on last", calls)
	}
}

func TestRoomLightSensorInStatus(t *testing.T) {
	r := startSimRoom(t, nil)
	next := r.events(t)
	if err := r.hw.Light.Set(123.4, nil); err != nil {
		t.Fatal(err)
	}
	next("lux", changed("sensors.lux", 123.4))
}

// TestLocalAPICommandsAndEvents drives the room through its unix socket: POST /v1/command and
// the GET /v1/events WebSocket, and GET /v1/status keeps the pairing fields beside the tree.
func TestLocalAPICommandsAndEvents(t *testing.T) {
	r := startSimRoom(t, nil)
	c := NewLocalClient(r.socket)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ev, err := c.Events(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer ev.Close()
	m, err := ev.Next(ctx)
	if err != nil || m.Status == nil || m.Status.Versions.Board != "sim" {
		t.Fatalf("first events message %+v %v", m, err)
	}
	tests := []struct {
		cmd     control.Command
		wantErr string
		path    string
		want    any
	}{
		{control.Command{Name: "mic", Args: map[string]string{"action": "mute"}}, "", "audio.mic_muted", true},
		{control.Command{Name: "volume", Args: map[string]string{"level": "80"}}, "", "audio.volume", float64(80)},
		{control.Command{Name: "volume", Args: map[string]string{"level": "up"}}, "", "audio.volume", float64(90)},
		{control.Command{Name: "layout", Args: map[string]string{"layout": "grid"}}, "", "call.layout", "grid"},
		{control.Command{Name: "preset", Args: map[string]string{"action": "store", "n": "3"}}, "", "camera.presets.0", float64(3)},
		{control.Command{Name: "volume", Args: map[string]string{"level": "-1"}}, `"-1" is not valid`, "", nil},
		{control.Command{Name: "leave"}, "not in a call", "", nil},
	}
	for _, tc := range tests {
		t.Run(tc.cmd.Name+" "+tc.wantErr, func(t *testing.T) {
			before := r.Hub().Status()
			rep, err := c.Command(ctx, tc.cmd)
			if err != nil {
				t.Fatal(err)
			}
			if tc.wantErr != "" {
				if rep.OK || !strings.Contains(rep.Error, tc.wantErr) {
					t.Fatalf("reply %+v, want error %q", rep, tc.wantErr)
				}
				if d := control.Diff(before, r.Hub().Status()); len(d) > 0 && d["health.ok"] == nil && d["network.addresses"] == nil {
					for k := range d {
						if k != "sensors.lux" {
							t.Fatalf("refused command changed %v", d)
						}
					}
				}
				return
			}
			if !rep.OK {
				t.Fatalf("reply %+v", rep)
			}
			for {
				m, err := ev.Next(ctx)
				if err != nil {
					t.Fatal(err)
				}
				if m.Event == nil || m.Event.Type != control.EventStatus {
					continue
				}
				ch, _ := m.Event.Data.(map[string]any)["changed"].(map[string]any)
				if v, ok := ch[tc.path]; ok && v == tc.want {
					break
				}
			}
		})
	}
	if cmds := r.visca.Commands(); len(cmds) == 0 || cmds[0].String() != "preset.store 3" {
		t.Fatalf("VISCA camera received %v, want preset.store 3 first", cmds)
	}
	st, err := c.Status(ctx)
	if err != nil || st.State != StateUnpaired || st.Status == nil || !st.Audio.MicMuted || st.Pairing.State != StateUnpaired {
		t.Fatalf("GET /v1/status: %+v %v", st, err)
	}
}

// TestRoomSerialControlPort drives the room over the sim board's "control" serial cable with
// the line protocol, as a room-control system would.
func TestRoomSerialControlPort(t *testing.T) {
	r := startSimRoom(t, nil)
	peer := r.hw.SerialPeer("control")
	lines := make(chan string, 100)
	go func() {
		sc := bufio.NewScanner(peer)
		for sc.Scan() {
			lines <- strings.TrimSuffix(sc.Text(), "\r")
		}
		close(lines)
	}()
	expect := func(want string) {
		t.Helper()
		timeout := time.After(5 * time.Second)
		for {
			select {
			case l := <-lines:
				if l == want {
					return
				}
			case <-timeout:
				t.Fatalf("no line %q within 5 s", want)
			}
		}
	}
	// The room opens the port on its own goroutine, and a tty drops what arrived before it was
	// opened: ask until it answers.
	deadline := time.Now().Add(5 * time.Second)
answered:
	for {
		if _, err := io.WriteString(peer, "help\r\n"); err != nil {
			t.Fatal(err)
		}
		select {
		case l := <-lines:
			if strings.HasPrefix(l, "OK help ") {
				break answered
			}
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatal("the serial control port did not answer within 5 s")
		}
	}
	steps := []struct{ send, want string }{
		{"mic mute", "OK mic mute"},
		{"get audio.mic_muted", "audio.mic_muted=true"},
		{"layout grid", "OK layout grid"},
		{"volume 500", `ERROR volume: argument level: "500" is not valid (up, down, 0..100)`},
		{"standby", "OK standby"},
		{"get standby", "standby=true"},
	}
	for _, s := range steps {
		if _, err := io.WriteString(peer, s.send+"\r\n"); err != nil {
			t.Fatal(err)
		}
		expect(s.want)
	}
	// A button press on the room shows up on the serial line unsolicited.
	_ = r.hw.GPIO.Press(LineMuteButton)
	expect("EVENT button mute_button pressed")
	if st := r.Hub().Status(); st.Audio.Volume != 50 || st.Call.Layout != "grid" {
		t.Fatalf("status %+v %+v", st.Audio, st.Call)
	}
}
