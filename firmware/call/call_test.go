package call_test

import (
	"context"
	"math"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/webrtc/v4"

	"github.com/stoa-rooms/stoa/board"
	"github.com/stoa-rooms/stoa/board/sim"
	"github.com/stoa-rooms/stoa/firmware/call"
	"github.com/stoa-rooms/stoa/firmware/call/calltest"
	"github.com/stoa-rooms/stoa/firmware/media"
	"github.com/stoa-rooms/stoa/services/api/rtcclient"
	"github.com/stoa-rooms/stoa/services/token"
)

// shownViews records what the call asked the screen to show (the screen renderer's own
// tests cover drawing; here the call's composition input is checked).
type shownViews struct {
	mu   sync.Mutex
	last call.CallView
	n    int
}

func (s *shownViews) ShowCall(v call.CallView) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.last, s.n = v, s.n+1
	return nil
}

func (s *shownViews) get() (call.CallView, int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.last, s.n
}

func simBoard(t testing.TB) (*board.Board, *sim.Hardware) {
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
	return b, sim.Devices(b)
}

func waitFor(t testing.TB, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s", what, within)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestCallWithParticipant puts the sim room and a Go participant in one meeting on the real
// router and checks every direction: the participant decodes the room's camera (sim stamps
// advancing) and microphone (the sim tone's frequency), the room shows the participant's
// picture and plays its tone, mute states reach the router and the other side, and Leave
// stops every goroutine.
func TestCallWithParticipant(t *testing.T) {
	baseline := runtime.NumGoroutine()
	r := startRouter(t)
	b, hw := simBoard(t)
	ctx, cancel := context.WithTimeout(t.Context(), 40*time.Second)
	defer cancel()

	shown := &shownViews{}
	var changes sync.WaitGroup
	changes.Add(1)
	var once sync.Once
	c, err := call.Start(ctx, call.Options{Join: r.join(t, "Boardroom", token.KindRoom), Meeting: "Weekly", Board: b, Screen: shown,
		OnChange: func() { once.Do(changes.Done) }})
	if err != nil {
		t.Fatal(err)
	}
	p, err := calltest.Join(ctx, calltest.Options{Client: rtcclient.Options{SignalURL: r.url, Token: r.join(t, "Alice", token.KindUser).Token}})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()

	t.Run("participant decodes the room's camera with advancing stamps", func(t *testing.T) {
		frames, err := p.WaitFrames(ctx, c.ID(), 20)
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
		if d := frames[len(frames)-1].Seq - frames[0].Seq; d < 10 {
			t.Fatalf("frame counter advanced by %d over %d frames", d, len(frames))
		}
	})
	t.Run("participant hears the room's tone", func(t *testing.T) {
		pcm, err := p.WaitAudio(ctx, c.ID(), 48000)
		if err != nil {
			t.Fatal(err)
		}
		if f := media.DominantFrequency(pcm[len(pcm)/2:], 48000); math.Abs(f-440) > 5 {
			t.Fatalf("dominant frequency of the room's audio %.1f Hz, want 440", f)
		}
	})
	t.Run("room shows the participant's picture and names", func(t *testing.T) {
		waitFor(t, 15*time.Second, "a tile with Alice's picture", func() bool {
			v, _ := shown.get()
			return len(v.Tiles) == 1 && v.Tiles[0].Name == "Alice" && v.Tiles[0].Picture != nil && v.Self != nil && v.Self.Picture != nil
		})
		v, n := shown.get()
		img := v.Tiles[0].Picture
		c := img.YCbCrAt(img.Bounds().Dx()/2, img.Bounds().Dy()/2)
		if absDiff(c.Y, 145) > 12 || absDiff(c.Cb, 54) > 12 || absDiff(c.Cr, 34) > 12 {
			t.Fatalf("Alice's picture centre %+v, want about Y145 Cb54 Cr34", c)
		}
		if v.Meeting != "Weekly" || v.Layout != call.LayoutSpeaker || n < 2 {
			t.Fatalf("view %+v after %d draws", v, n)
		}
	})
	t.Run("room plays the participant's tone", func(t *testing.T) {
		waitFor(t, 15*time.Second, "1000 Hz on the speaker", func() bool {
			f := media.DominantFrequency(hw.Speaker.Played(24000), 48000)
			return math.Abs(f-1000) < 5
		})
	})
	t.Run("state lists the participant", func(t *testing.T) {
		changes.Wait()
		waitFor(t, 5*time.Second, "Alice in the state", func() bool {
			st := c.State()
			return st.State == call.StateInCall && len(st.Participants) == 1 && st.Participants[0].Name == "Alice" &&
				!st.Participants[0].MicMuted && !st.Participants[0].CameraMuted
		})
	})
	t.Run("mutes reach the router and the others", func(t *testing.T) {
		roomTracks := func() map[string]bool {
			m := map[string]bool{}
			for _, sp := range p.Client().Participants() {
				if sp.ID == c.ID() {
					for _, tr := range sp.Tracks {
						m[tr.Kind] = tr.Muted
					}
				}
			}
			return m
		}
		for _, tc := range []struct {
			name      string
			mic, cam  bool
			wantAudio bool
			wantVideo bool
		}{
			{"mic muted", true, false, true, false},
			{"camera muted too", true, true, true, true},
			{"both unmuted", false, false, false, false},
		} {
			t.Run(tc.name, func(t *testing.T) {
				if err := c.SetMicMuted(tc.mic); err != nil {
					t.Fatal(err)
				}
				if err := c.SetCameraMuted(tc.cam); err != nil {
					t.Fatal(err)
				}
				waitFor(t, 5*time.Second, "the participant sees the room's mute states", func() bool {
					m := roomTracks()
					return m["audio"] == tc.wantAudio && m["video"] == tc.wantVideo
				})
				st := c.State()
				if st.MicMuted != tc.mic || st.CameraMuted != tc.cam {
					t.Fatalf("state %+v", st)
				}
			})
		}
		// Unmuted again: the stamps keep advancing past the mute.
		before := p.Frames(c.ID())
		last := before[len(before)-1].Seq
		waitFor(t, 10*time.Second, "fresh frames after unmute", func() bool {
			fs := p.Frames(c.ID())
			return fs[len(fs)-1].Stamped && fs[len(fs)-1].Seq > last+5
		})
	})
	t.Run("keyframe on PLI", func(t *testing.T) {
		keys := func() int {
			n := 0
			for _, f := range p.Frames(c.ID()) {
				if f.Key {
					n++
				}
			}
			return n
		}
		// The room's encoders make keyframes every 10 s on their own; the participant's PLI,
		// relayed by the router, makes one at once.
		pc := p.Client().PeerConnection()
		var ssrc uint32
		for _, rc := range pc.GetReceivers() {
			for _, tr := range rc.Tracks() {
				if tr.StreamID() == c.ID() && tr.Kind() == webrtc.RTPCodecTypeVideo {
					ssrc = uint32(tr.SSRC())
				}
			}
		}
		if ssrc == 0 {
			t.Fatal("no video track from the room at the participant")
		}
		for range 3 {
			// The router relays at most one PLI per 300 ms per layer: ask again until one lands.
			before, asked := keys(), time.Time{}
			waitFor(t, 3*time.Second, "a keyframe after the PLI", func() bool {
				if time.Since(asked) > 350*time.Millisecond {
					if err := pc.WriteRTCP([]rtcp.Packet{&rtcp.PictureLossIndication{MediaSSRC: ssrc}}); err != nil {
						t.Fatal(err)
					}
					asked = time.Now()
				}
				return keys() > before
			})
		}
		before := keys()
		c.RequestKeyframe()
		waitFor(t, 2*time.Second, "a keyframe after RequestKeyframe", func() bool { return keys() > before })
	})
	t.Run("layout and volume", func(t *testing.T) {
		if err := c.SetLayout("mosaic"); err == nil {
			t.Fatal("SetLayout accepted mosaic")
		}
		if err := c.SetLayout(call.LayoutGrid); err != nil {
			t.Fatal(err)
		}
		if err := c.SetVolume(150); err != nil {
			t.Fatal(err)
		}
		if st := c.State(); st.Layout != call.LayoutGrid || st.Volume != 100 {
			t.Fatalf("state %+v", st)
		}
		waitFor(t, 2*time.Second, "grid drawn", func() bool { v, _ := shown.get(); return v.Layout == call.LayoutGrid })
	})

	if err := c.Leave(); err != nil {
		t.Fatalf("leave: %v", err)
	}
	select {
	case <-c.Done():
	default:
		t.Fatal("Done not closed after Leave")
	}
	if st := c.State(); st.State != call.StateEnded || c.Err() != nil {
		t.Fatalf("after leave: %+v %v", st, c.Err())
	}
	if hw.Camera.IsOpen() {
		t.Fatal("camera still open after Leave")
	}
	p.Close()
	// Every goroutine of the call and the participant ends (pion's own wind down a moment later).
	waitFor(t, 10*time.Second, "goroutines back to the baseline", func() bool { return runtime.NumGoroutine() <= baseline+5 })
}

func absDiff(a, b uint8) int {
	if a > b {
		return int(a - b)
	}
	return int(b - a)
}
