package rtcclient_test

import (
	"bytes"
	"context"
	"errors"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pion/rtp/codecs"
	"github.com/pion/webrtc/v4"
	"github.com/pion/webrtc/v4/pkg/media"
	"github.com/pion/webrtc/v4/pkg/media/samplebuilder"
	"golang.org/x/image/vp8"

	"github.com/stoa-rooms/stoa/services/api"
	"github.com/stoa-rooms/stoa/services/api/rtcclient"
	testmedia "github.com/stoa-rooms/stoa/test/media"
)

func startFake(t *testing.T) (*fakeRouter, string, func() rtcclient.Options) {
	t.Helper()
	f := newFakeRouter(t, "good-token")
	srv := httptest.NewTLSServer(f)
	t.Cleanup(srv.Close)
	url := "wss" + strings.TrimPrefix(srv.URL, "https")
	return f, url, func() rtcclient.Options {
		return rtcclient.Options{SignalURL: url, Token: "good-token", TLS: srvTLS(srv)}
	}
}

func waitFor(t *testing.T, what string, d time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// sendLoop writes the fixture frames to the tracks at 15 fps until ctx ends.
func sendLoop(ctx context.Context, set *testmedia.Set, video []*rtcclient.SimulcastLayer, audio *webrtc.TrackLocalStaticSample) {
	go func() {
		tick := time.NewTicker(time.Second / 15)
		defer tick.Stop()
		for n := 0; ; n++ {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			for i, tr := range video {
				frames := set.Video[i].Frames
				_ = tr.WriteSample(media.Sample{Data: frames[n%len(frames)], Duration: time.Second / 15})
			}
		}
	}()
	go func() {
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for n := 0; ; n++ {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			_ = audio.WriteSample(media.Sample{Data: set.Audio[n%len(set.Audio)], Duration: 20 * time.Millisecond})
		}
	}()
}

// TestPublishSimulcastReceiveEcho publishes the three simulcast layers and audio through a real
// pion peer playing the router: the router gets every layer (rids q, h, f), renegotiates to send
// the "f" layer and the audio back as another participant, and the client decodes the echoed
// VP8 keyframes to the fixture's frame numbers. DTLS-SRTP must settle on AES-128-GCM.
func TestPublishSimulcastReceiveEcho(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 40*time.Second)
	defer cancel()
	set, err := testmedia.Load(ctx, testmedia.DefaultSpec())
	if err != nil {
		t.Fatal(err)
	}
	f, _, opts := startFake(t)

	var mu sync.Mutex
	frames := map[string][]int{} // participant → decoded frame numbers
	audio := map[string]int{}
	o := opts()
	o.OnTrack = func(tr *webrtc.TrackRemote, participant string) {
		if tr.Kind() == webrtc.RTPCodecTypeAudio {
			for {
				if _, _, err := tr.ReadRTP(); err != nil {
					return
				}
				mu.Lock()
				audio[participant]++
				mu.Unlock()
			}
		}
		sb := samplebuilder.New(128, &codecs.VP8Packet{}, 90000)
		for {
			p, _, err := tr.ReadRTP()
			if err != nil {
				return
			}
			sb.Push(p)
			for s := sb.Pop(); s != nil; s = sb.Pop() {
				d := vp8.NewDecoder()
				d.Init(bytes.NewReader(s.Data), len(s.Data))
				if _, err := d.DecodeFrameHeader(); err != nil {
					continue
				}
				img, err := d.DecodeFrame()
				if err != nil {
					continue
				}
				if n, ok := testmedia.ReadPattern(img); ok {
					mu.Lock()
					frames[participant] = append(frames[participant], n)
					mu.Unlock()
				}
			}
		}
	}
	c, err := rtcclient.Dial(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if c.ID() != "p-client" || len(c.Joined().Participants) != 1 {
		t.Fatalf("joined as %q with %+v", c.ID(), c.Joined())
	}
	var layers []*rtcclient.SimulcastLayer
	for _, rid := range []string{"q", "h", "f"} {
		tr, err := rtcclient.NewSimulcastLayer("camera", c.ID(), rid)
		if err != nil {
			t.Fatal(err)
		}
		layers = append(layers, tr)
	}
	mic, err := webrtc.NewTrackLocalStaticSample(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus}, "mic", c.ID())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.PublishSimulcast(layers...); err != nil {
		t.Fatal(err)
	}
	// A second publish while the first exchange or the router's echo offer may be in flight:
	// exercises the client's queued offer and glare rollback.
	if _, err := c.Publish(mic); err != nil {
		t.Fatal(err)
	}
	sendLoop(ctx, set, layers, mic)

	defer func() { f.mu.Lock(); t.Logf("router got %v", f.rids); f.mu.Unlock() }()
	waitFor(t, "router receiving every layer and audio", 15*time.Second, func() bool {
		return f.packets("q") > 10 && f.packets("h") > 10 && f.packets("f") > 10 && f.packets("") > 10
	})
	defer func() {
		mu.Lock()
		t.Logf("client got frames %v audio %v; transceivers %d", frames, audio, len(c.PeerConnection().GetTransceivers()))
		mu.Unlock()
	}()
	waitFor(t, "echoed video frames and audio", 15*time.Second, func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(frames["echo-peer"]) >= 10 && audio["echo-peer"] >= 25
	})
	mu.Lock()
	got := append([]int(nil), frames["echo-peer"]...)
	mu.Unlock()
	for i := 1; i < len(got); i++ {
		// Frame numbers increase, except where the sender loops its 75 frames.
		if got[i] <= got[i-1] && !(got[i-1]-got[i] > 37) {
			t.Fatalf("frame numbers out of order: %v", got)
		}
	}
	if p := c.SRTPProfile(); p != "SRTP_AEAD_AES_128_GCM" {
		t.Fatalf("SRTP profile %q, want SRTP_AEAD_AES_128_GCM", p)
	}

	if err := c.Mute("mic", true); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "mute reaching the router", 5*time.Second, func() bool {
		f.mu.Lock()
		defer f.mu.Unlock()
		return len(f.mutes) == 1 && f.mutes[0] == api.SigMute{TrackID: "mic", Muted: true}
	})
	c.Close()
	<-c.Done()
	if !errors.Is(c.Err(), rtcclient.ErrClosed) {
		t.Fatalf("Err after Close = %v", c.Err())
	}
	waitFor(t, "leave reaching the router", 5*time.Second, func() bool {
		f.mu.Lock()
		defer f.mu.Unlock()
		return f.leaves == 1
	})
}

func TestJoinRefused(t *testing.T) {
	_, _, opts := startFake(t)
	cases := []struct {
		name  string
		token string
		want  string
	}{
		{"wrong token", "forged", "token.invalid"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			o := opts()
			o.Token = tc.token
			_, err := rtcclient.Dial(t.Context(), o)
			var re *rtcclient.RouterError
			if !errors.As(err, &re) || re.Code != tc.want {
				t.Fatalf("Dial = %v, want router error %s", err, tc.want)
			}
		})
	}
	for _, o := range []rtcclient.Options{{}, {SignalURL: "wss://127.0.0.1:1/rtc"}, {Token: "x"}} {
		if _, err := rtcclient.Dial(t.Context(), o); err == nil {
			t.Fatalf("Dial(%+v) succeeded", o)
		}
	}
}

// TestSignalingDropEndsSession: when the router goes away the client's Done closes with the reason,
// and a subscribe-only client (Publish with no tracks) negotiates first.
func TestSignalingDropEndsSession(t *testing.T) {
	f, _, opts := startFake(t)
	c, err := rtcclient.Dial(t.Context(), opts())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Publish(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "ICE+DTLS connected", 10*time.Second, func() bool {
		return c.PeerConnection().ConnectionState() == webrtc.PeerConnectionStateConnected
	})
	f.dropAll()
	select {
	case <-c.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("Done not closed after the router dropped signaling")
	}
	if err := c.Err(); err == nil || errors.Is(err, rtcclient.ErrClosed) {
		t.Fatalf("Err = %v, want a signaling error", err)
	}
}
