package e2e

import (
	"context"
	"log/slog"
	"math"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/stoa-rooms/stoa/board"
	"github.com/stoa-rooms/stoa/board/sim"
	"github.com/stoa-rooms/stoa/firmware/call"
	"github.com/stoa-rooms/stoa/firmware/call/calltest"
	"github.com/stoa-rooms/stoa/firmware/control"
	"github.com/stoa-rooms/stoa/firmware/media"
	"github.com/stoa-rooms/stoa/firmware/roomd"
	"github.com/stoa-rooms/stoa/firmware/screen"
	"github.com/stoa-rooms/stoa/provisioning/pairing"
	"github.com/stoa-rooms/stoa/services/api"
	"github.com/stoa-rooms/stoa/services/api/rtcclient"
	"github.com/stoa-rooms/stoa/test/stoatest"
)

// rcDisplayView draws the call views the room composes on the sim display through the screen
// renderer, and keeps the last one.
type rcDisplayView struct {
	r    *screen.Renderer
	last chan call.CallView
}

func (r *rcDisplayView) ShowCall(v call.CallView) error {
	err := r.r.ShowCall(v)
	select {
	case <-r.last:
	default:
	}
	r.last <- v
	return err
}

// TestRoomCall: stoa-server all; a room agent on the sim board is paired through the portal
// API; it joins a meeting through the portal's management channel (JoinMeeting); a Go
// participant joins the same meeting as a user and decodes the room's camera (the sim frame
// counter advancing) and microphone (the sim tone's frequency), and the room receives the
// participant's solid green picture (drawn by the screen renderer: the sim display's pixels
// are checked) and its 1000 Hz tone. Glass-to-glass latency (sim capture
// time to the participant's decoded frame) is logged as median and p95.
func TestRoomCall(t *testing.T) {
	s := stoatest.Start(t, stoatest.Options{})
	sess := s.Login(t)
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()

	def, err := board.LoadDefinition("sim")
	if err != nil {
		t.Fatal(err)
	}
	b, err := sim.New(def)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	hw := sim.Devices(b)

	// The room agent, in process, paired through the portal API with the code it shows.
	cfg := roomd.Defaults()
	cfg.DataDir, cfg.PortalURL, cfg.Discover, cfg.Firmware = t.TempDir(), s.PortalURL, false, "e2e-call"
	codes := make(chan string, 10)
	agent, err := roomd.NewAgent(roomd.Options{Config: cfg, Display: hw.Display, OnCode: func(c string) {
		select {
		case codes <- c:
		default:
		}
	}, Log: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
		Room: pairing.RoomInfo{Model: "sim", Hostname: "e2e"}})
	if err != nil {
		t.Fatal(err)
	}
	actx, acancel := context.WithCancel(context.Background())
	agentDone := make(chan error, 1)
	go func() { agentDone <- agent.Run(actx) }()
	defer func() { acancel(); <-agentDone }()

	var code string
	select {
	case code = <-codes:
	case <-ctx.Done():
		t.Fatal("no pairing code")
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		st, body, err := sess.Do(http.MethodPost, "/api/v1/rooms/pair", api.PairRequest{Code: code, Name: "Boardroom"}, "", nil)
		if err == nil && st == http.StatusOK {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("pair: %d %v %s", st, err, body)
		}
		time.Sleep(100 * time.Millisecond)
	}
	meeting := cfCreateMeeting(t, sess, "Room call", "")
	cfWaitRouter(t, sess, meeting.ID)

	// The room joins (retrying while its management channel comes up).
	view := &rcDisplayView{r: screen.New(hw.Display, screen.Options{}), last: make(chan call.CallView, 1)}
	var room *call.Call
	deadline = time.Now().Add(20 * time.Second)
	for {
		room, err = agent.JoinMeeting(ctx, meeting.ID, "", call.Options{Board: b, Screen: view, Meeting: meeting.Name})
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("room join: %v", err)
		}
		time.Sleep(200 * time.Millisecond)
	}
	defer room.Leave()

	conf := cfPortalTLS(t, s, sess)
	st, jr, ae, err := cfJoin(sess, meeting.ID, "Alice", "")
	if err != nil || st != http.StatusOK {
		t.Fatalf("participant join: %d %v %+v", st, err, ae)
	}
	p, err := calltest.Join(ctx, calltest.Options{Client: rtcclient.Options{SignalURL: jr.SignalURL, Token: jr.Token, TLS: conf, ICEServers: jr.ICEServers}})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()

	t.Run("participant decodes the room's camera, frame counter advancing", func(t *testing.T) {
		frames, err := p.WaitFrames(ctx, room.ID(), 60)
		if err != nil {
			t.Fatal(err)
		}
		// Within a simulcast layer (picture width) the counter only goes up; a layer switch
		// may show the same capture again at the new size.
		last := map[int]uint32{}
		for _, f := range frames {
			if l, ok := last[f.Width]; ok && f.Seq <= l {
				t.Fatalf("frame counter at width %d went from %d to %d", f.Width, l, f.Seq)
			}
			last[f.Width] = f.Seq
		}
		lat := make([]time.Duration, 0, len(frames))
		for _, f := range frames[len(frames)/2:] { // after the start-up keyframe exchange
			lat = append(lat, f.Decoded.Sub(f.Captured))
		}
		slices.Sort(lat)
		t.Logf("glass-to-glass (sim capture → participant decoded, via stoa-server all): median %.1f ms, p95 %.1f ms over %d frames",
			ms(lat[len(lat)/2]), ms(lat[len(lat)*95/100]), len(lat))
	})
	t.Run("participant hears the room's tone", func(t *testing.T) {
		pcm, err := p.WaitAudio(ctx, room.ID(), 48000)
		if err != nil {
			t.Fatal(err)
		}
		if f := media.DominantFrequency(pcm[len(pcm)/2:], 48000); math.Abs(f-440) > 5 {
			t.Fatalf("room's audio at %.1f Hz, want the sim tone's 440", f)
		}
	})
	t.Run("room's display shows the participant's picture", func(t *testing.T) {
		for {
			var v call.CallView
			select {
			case v = <-view.last:
			case <-ctx.Done():
				t.Fatal("the room never showed Alice's picture")
			}
			if len(v.Tiles) != 1 || v.Tiles[0].Name != "Alice" || v.Tiles[0].Picture == nil {
				continue
			}
			img := v.Tiles[0].Picture
			c := img.YCbCrAt(img.Bounds().Dx()/2, img.Bounds().Dy()/2)
			if absDiff8(c.Y, 145) > 12 || absDiff8(c.Cb, 54) > 12 || absDiff8(c.Cr, 34) > 12 {
				t.Fatalf("Alice's picture centre %+v, want about Y145 Cb54 Cr34", c)
			}
			break
		}
		// The pixels on the sim display: Alice's solid green fills the large tile of the
		// speaker layout (the rest is the self view in the filmstrip, names, background).
		pic := hw.Display.Picture()
		share, err := calltest.ColourShare(pic, 145, 54, 34, 16)
		if err != nil {
			t.Fatal(err)
		}
		w, h := pic.Bounds().Dx(), pic.Bounds().Dy()
		t.Logf("Alice's green covers %.0f%% of the room's %dx%d display", share*100, w, h)
		// The large tile of a 16:9 picture on a 16:9 display above the filmstrip is 64%.
		if share < 0.5 {
			t.Fatalf("Alice's green covers %.1f%% of the room's display, want at least 50%%", share*100)
		}
	})
	t.Run("room plays the participant's tone", func(t *testing.T) {
		for {
			if f := media.DominantFrequency(hw.Speaker.Played(24000), 48000); math.Abs(f-1000) < 5 {
				return
			}
			select {
			case <-ctx.Done():
				t.Fatal("the room's speaker never played Alice's 1000 Hz tone")
			case <-time.After(50 * time.Millisecond):
			}
		}
	})
	if err := room.Leave(); err != nil {
		t.Fatalf("room leave: %v", err)
	}
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func absDiff8(a, b uint8) int {
	if a > b {
		return int(a - b)
	}
	return int(b - a)
}

// buildRoomdCgo compiles roomd with cgo, as `make build` does: calls need the codecs
// (buildRoom's cgo-less roomd has no calls).
func buildRoomdCgo(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "roomd")
	cmd := exec.Command("go", "build", "-o", bin, "./firmware/cmd/roomd")
	cmd.Dir = stoatest.RepoRoot()
	cmd.Env = append(os.Environ(), "CGO_ENABLED=1")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build roomd with cgo: %v\n%s", err, out)
	}
	return bin
}

// TestRoomCallProcess: the same call with the room as it runs on the appliance — `roomd
// --board=sim` as its own process, paired to stoa-server all through the portal API, told to
// join the meeting through its local API (`roomctl join`, the unix socket). A Go participant
// decodes the room's camera (the sim frame counter advancing) and microphone (the sim tone's
// 440 Hz), and the room's status lists the participant. The room's display is in the other
// process, so its pixels are checked by TestRoomCall (in process) only.
func TestRoomCallProcess(t *testing.T) {
	s := stoatest.Start(t, stoatest.Options{})
	sess := s.Login(t)
	_, roomctlBin := buildRoom(t)
	room := startRoomd(t, buildRoomdCgo(t), roomctlBin, s.PortalURL)
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()

	st := room.waitStatus(t, "a pairing code", 30*time.Second, func(s roomd.Status) bool { return s.State == roomd.StateUnpaired && s.Code != "" })
	deadline := time.Now().Add(20 * time.Second)
	for {
		code, body, err := sess.Do(http.MethodPost, "/api/v1/rooms/pair", api.PairRequest{Code: st.Code, Name: "Boardroom"}, "", nil)
		if err == nil && code == http.StatusOK {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("pair: %d %v %s; roomd output:\n%s", code, err, body, room.out)
		}
		time.Sleep(100 * time.Millisecond)
	}
	room.waitStatus(t, "paired and online", 20*time.Second, func(s roomd.Status) bool { return s.State == roomd.StatePaired && s.Online })
	meeting := cfCreateMeeting(t, sess, "Process call", "")
	cfWaitRouter(t, sess, meeting.ID)

	roomctl := func(args ...string) (string, error) {
		out, err := exec.Command(room.roomctl, append([]string{"--socket", room.socket}, args...)...).CombinedOutput()
		return string(out), err
	}
	// The room joins from its local API (retrying while its management channel comes up).
	deadline = time.Now().Add(30 * time.Second)
	for {
		out, err := roomctl("join", meeting.ID)
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("roomctl join: %v\n%s\nroomd output:\n%s", err, out, room.out)
		}
		time.Sleep(500 * time.Millisecond)
	}
	room.waitStatus(t, "in the call", 30*time.Second, func(s roomd.Status) bool {
		return s.Status != nil && s.Call.State == control.CallInCall
	})

	conf := cfPortalTLS(t, s, sess)
	code, jr, ae, err := cfJoin(sess, meeting.ID, "Alice", "")
	if err != nil || code != http.StatusOK {
		t.Fatalf("participant join: %d %v %+v", code, err, ae)
	}
	p, err := calltest.Join(ctx, calltest.Options{Client: rtcclient.Options{SignalURL: jr.SignalURL, Token: jr.Token, TLS: conf, ICEServers: jr.ICEServers}})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()

	// The room as the participant sees it in signaling.
	var roomID string
	for roomID == "" {
		for _, sp := range p.Client().Participants() {
			if sp.Name == "Boardroom" {
				roomID = sp.ID
			}
		}
		select {
		case <-ctx.Done():
			t.Fatalf("the room never appeared to the participant; roomd output:\n%s", room.out)
		case <-time.After(20 * time.Millisecond):
		}
	}

	t.Run("participant decodes the room's camera, frame counter advancing", func(t *testing.T) {
		frames, err := p.WaitFrames(ctx, roomID, 40)
		if err != nil {
			t.Fatalf("%v; roomd output:\n%s", err, room.out)
		}
		last := map[int]uint32{}
		for _, f := range frames {
			if l, ok := last[f.Width]; ok && f.Seq <= l {
				t.Fatalf("frame counter at width %d went from %d to %d", f.Width, l, f.Seq)
			}
			last[f.Width] = f.Seq
		}
		if d := frames[len(frames)-1].Seq - frames[0].Seq; d < 20 {
			t.Fatalf("frame counter advanced by %d over %d frames", d, len(frames))
		}
		lat := make([]time.Duration, 0, len(frames))
		for _, f := range frames[len(frames)/2:] {
			lat = append(lat, f.Decoded.Sub(f.Captured))
		}
		slices.Sort(lat)
		t.Logf("glass-to-glass (roomd process sim capture → participant decoded): median %.1f ms, p95 %.1f ms over %d frames",
			ms(lat[len(lat)/2]), ms(lat[len(lat)*95/100]), len(lat))
	})
	t.Run("participant hears the room's tone", func(t *testing.T) {
		pcm, err := p.WaitAudio(ctx, roomID, 48000)
		if err != nil {
			t.Fatal(err)
		}
		if f := media.DominantFrequency(pcm[len(pcm)/2:], 48000); math.Abs(f-440) > 5 {
			t.Fatalf("room's audio at %.1f Hz, want the sim tone's 440", f)
		}
	})
	t.Run("room's status lists the participant", func(t *testing.T) {
		room.waitStatus(t, "Alice in the call status", 15*time.Second, func(s roomd.Status) bool {
			return s.Status != nil && len(s.Call.Participants) == 1 && s.Call.Participants[0].Name == "Alice"
		})
	})
	if out, err := roomctl("leave"); err != nil {
		t.Fatalf("roomctl leave: %v\n%s", err, out)
	}
	room.waitStatus(t, "out of the call", 15*time.Second, func(s roomd.Status) bool {
		return s.Status != nil && s.Call.State != control.CallInCall && s.Call.State != control.CallJoining
	})
}
