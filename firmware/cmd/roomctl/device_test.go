package main

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stoa-rooms/stoa/board"
	"github.com/stoa-rooms/stoa/board/sim"
	"github.com/stoa-rooms/stoa/firmware/control"
	"github.com/stoa-rooms/stoa/firmware/roomd"
)

// startRoom runs a sim-board Room (no portal) with its local API.
func startRoom(t *testing.T) (string, *roomd.Room) {
	t.Helper()
	def, err := board.LoadDefinition("sim")
	if err != nil {
		t.Fatal(err)
	}
	b, err := sim.New(def)
	if err != nil {
		t.Fatal(err)
	}
	cfg := roomd.Defaults()
	cfg.DataDir, cfg.Discover, cfg.PortalURL = t.TempDir(), false, "https://127.0.0.1:1"
	cfg.Socket = filepath.Join(cfg.DataDir, "r.sock")
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	// No VISCA camera on the cable here: the room tests in firmware/roomd cover presets.
	def.Serial = nil
	b.Def = def
	r, err := roomd.NewRoom(roomd.RoomOptions{Agent: roomd.Options{Config: cfg}, Board: b, Screen: sim.Devices(b).Display})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := roomd.ListenLocal(cfg.Socket)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); _ = r.Run(ctx, nil) }()
	go func() { defer wg.Done(); _ = roomd.ServeLocal(ctx, ln, r, slog.New(slog.DiscardHandler)) }()
	t.Cleanup(func() { cancel(); wg.Wait(); b.Close() })
	return cfg.Socket, r
}

func TestRoomctlDeviceCommands(t *testing.T) {
	socket, room := startRoom(t)
	tests := []struct {
		args    []string
		wantOut string
		wantErr string
	}{
		{[]string{"mic", "mute"}, "OK mic mute\n", ""},
		{[]string{"status", "audio.mic_muted"}, "audio.mic_muted=true\n", ""},
		{[]string{"volume", "35"}, "OK volume 35\n", ""},
		{[]string{"status", "audio"}, "audio.mic_muted=true\naudio.volume=35\n", ""},
		{[]string{"volume", "300"}, "", `"300" is not valid`},
		{[]string{"mic"}, "", "argument action is required"},
		{[]string{"join", "weekly", "12x"}, "", `argument pin: "12x" is not valid`},
		{[]string{"--json", "camera", "mute"}, `"ok": true`, ""},
		// No VISCA port: the sim camera's V4L2-style controls move it.
		{[]string{"ptz", "pan", "3"}, "OK ptz pan 3\n", ""},
		{[]string{"status", "camera.control"}, "camera.control=v4l2\n", ""},
		{[]string{"preset", "store", "2"}, "OK preset store 2\n", ""},
		{[]string{"preset", "recall", "5"}, "", "preset 5 is not stored"},
		{[]string{"preset", "recall", "2"}, "OK preset recall 2\n", ""},
	}
	for _, tc := range tests {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			var out bytes.Buffer
			err := run(append([]string{"--socket", socket}, tc.args...), nil, &out, io.Discard)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil || !strings.Contains(out.String(), tc.wantOut) {
				t.Fatalf("out %q, err %v; want %q", out.String(), err, tc.wantOut)
			}
		})
	}
	if st := room.Hub().Status(); !st.Audio.MicMuted || st.Audio.Volume != 35 || !st.Video.CameraMuted {
		t.Fatalf("room status after roomctl: %+v %+v", st.Audio, st.Video)
	}
}

func TestRoomctlEvents(t *testing.T) {
	socket, room := startRoom(t)
	ctx, cancel := context.WithCancel(context.Background())
	out := &syncBuffer{}
	done := make(chan error, 1)
	go func() { done <- events(ctx, roomd.NewLocalClient(socket), false, out) }()
	// Publish until the stream is attached and the lines show.
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(out.String(), "EVENT button mute_button pressed") {
		if time.Now().After(deadline) {
			t.Fatalf("roomctl events printed %q", out.String())
		}
		room.Hub().Publish(control.Event{Type: control.EventButton, Data: control.ButtonEvent{Button: "mute_button", Action: "pressed"}})
		time.Sleep(20 * time.Millisecond)
	}
	room.Hub().Update(func(s *control.Status) { s.Audio.Volume = 12 })
	for !strings.Contains(out.String(), "audio.volume=12\n") {
		if time.Now().After(deadline) {
			t.Fatalf("roomctl events printed %q", out.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("events: %v", err)
	}
}

func TestRoomctlHashPassword(t *testing.T) {
	var out bytes.Buffer
	if err := run([]string{"hash-password"}, strings.NewReader("s3cret\n"), &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	h := strings.TrimSpace(out.String())
	ok, err := control.Credentials{User: "u", PasswordHash: h}.Check("u", "s3cret")
	if err != nil || !ok {
		t.Fatalf("hash %q does not check: %v %v", h, ok, err)
	}
	if err := run([]string{"hash-password"}, strings.NewReader("\n"), io.Discard, io.Discard); err == nil {
		t.Fatal("empty password hashed")
	}
}

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
