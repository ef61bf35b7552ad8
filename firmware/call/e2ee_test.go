package call_test

import (
	"context"
	"crypto/ecdh"
	"math"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/rtp/codecs"
	"github.com/pion/webrtc/v4/pkg/media/samplebuilder"

	"github.com/stoa-rooms/stoa/board/sim"
	"github.com/stoa-rooms/stoa/firmware/call"
	"github.com/stoa-rooms/stoa/firmware/call/calltest"
	"github.com/stoa-rooms/stoa/firmware/media"
	"github.com/stoa-rooms/stoa/services/api"
	"github.com/stoa-rooms/stoa/services/api/e2ee"
	"github.com/stoa-rooms/stoa/services/api/rtcclient"
	"github.com/stoa-rooms/stoa/services/router"
	"github.com/stoa-rooms/stoa/services/token"
)

// routerView keeps what the router forwards of each participant (router.Options.OnMedia):
// VP8 packets per simulcast layer and Opus payloads, bounded.
type routerView struct {
	mu    sync.Mutex
	video map[string]map[string][]*rtp.Packet // participant → RID → packets
	audio map[string][][]byte
}

const maxViewPackets = 4000

func newRouterView() *routerView {
	return &routerView{video: map[string]map[string][]*rtp.Packet{}, audio: map[string][][]byte{}}
}

func (v *routerView) hook(m router.MediaView) {
	v.mu.Lock()
	defer v.mu.Unlock()
	switch {
	case strings.EqualFold(m.Mime, "audio/opus"):
		if len(v.audio[m.Participant]) < maxViewPackets {
			v.audio[m.Participant] = append(v.audio[m.Participant], append([]byte(nil), m.Packet.Payload...))
		}
	case strings.EqualFold(m.Mime, "video/VP8"):
		layers := v.video[m.Participant]
		if layers == nil {
			layers = map[string][]*rtp.Packet{}
			v.video[m.Participant] = layers
		}
		if len(layers[m.RID]) < maxViewPackets {
			layers[m.RID] = append(layers[m.RID], m.Packet.Clone())
		}
	}
}

// frames reassembles participant's forwarded VP8 into frames, per layer.
func (v *routerView) frames(participant string) [][]byte {
	v.mu.Lock()
	defer v.mu.Unlock()
	var out [][]byte
	for _, pkts := range v.video[participant] {
		sb := samplebuilder.New(512, &codecs.VP8Packet{}, 90000)
		for _, p := range pkts {
			sb.Push(p)
			for s := sb.Pop(); s != nil; s = sb.Pop() {
				out = append(out, s.Data)
			}
		}
	}
	return out
}

func (v *routerView) opus(participant string) [][]byte {
	v.mu.Lock()
	defer v.mu.Unlock()
	return append([][]byte(nil), v.audio[participant]...)
}

// e2eeParticipant joins a calltest participant with its own e2ee session.
func e2eeParticipant(t *testing.T, ctx context.Context, r *testRouter, name string) *calltest.Participant {
	t.Helper()
	key, err := e2ee.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	j := r.joinE2EE(t, name, token.KindUser, e2ee.EncodePublicKey(key.PublicKey()))
	claim, err := e2ee.VerifyKeyClaim(j.Token, j.TokenKey)
	if err != nil {
		t.Fatal(err)
	}
	s, err := e2ee.NewSession(e2ee.Config{Meeting: claim.Meeting, Self: j.ParticipantID, Private: key, PortalKey: j.TokenKey})
	if err != nil {
		t.Fatal(err)
	}
	p, err := calltest.Join(ctx, calltest.Options{Client: rtcclient.Options{SignalURL: j.SignalURL, Token: j.Token, E2EE: s}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

// TestCallE2EE: the sim room and a Go participant in a secured meeting on the real router
// (non-e2ee clients refused, SRTP AES-128-GCM only). Each decodes the other only after SFrame
// decryption: the participant reads the room camera's stamps and hears its 440 Hz tone, the
// room shows the participant's green picture; the router's own view of the room's media keeps
// readable VP8 key-frame headers (simulcast and keyframe requests work) but decodes to no
// stamped picture and no tone.
func TestCallE2EE(t *testing.T) {
	view := newRouterView()
	r := startRouterWith(t, func(o *router.Options) {
		o.Secured = func(string) bool { return true }
		o.OnMedia = view.hook
	})
	b, _ := simBoard(t)
	ctx, cancel := context.WithTimeout(t.Context(), 45*time.Second)
	defer cancel()

	key, err := call.GenerateE2EEKey()
	if err != nil {
		t.Fatal(err)
	}
	shown := &shownViews{}
	c, err := call.Start(ctx, call.Options{Join: r.joinE2EE(t, "Boardroom", token.KindRoom, e2ee.EncodePublicKey(key.PublicKey())),
		E2EEKey: key, Board: b, Screen: shown})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Leave()
	p := e2eeParticipant(t, ctx, r, "Alice")

	t.Run("participant decrypts and decodes the room's camera", func(t *testing.T) {
		frames, err := p.WaitFrames(ctx, c.ID(), 20)
		if err != nil {
			t.Fatalf("%v (undecryptable frames from the room: %d)", err, p.Undecrypted(c.ID()))
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
	t.Run("room decrypts and shows the participant's picture", func(t *testing.T) {
		waitFor(t, 20*time.Second, "a tile with Alice's picture", func() bool {
			v, _ := shown.get()
			return len(v.Tiles) == 1 && v.Tiles[0].Picture != nil
		})
		v, _ := shown.get()
		img := v.Tiles[0].Picture
		col := img.YCbCrAt(img.Bounds().Dx()/2, img.Bounds().Dy()/2)
		if absDiff(col.Y, 145) > 12 || absDiff(col.Cb, 54) > 12 || absDiff(col.Cr, 34) > 12 {
			t.Fatalf("Alice's picture centre %+v, want about Y145 Cb54 Cr34", col)
		}
		if st := c.State(); !st.E2EE {
			t.Fatalf("state %+v does not say end-to-end encrypted", st)
		}
	})
	t.Run("SRTP is AES-128-GCM", func(t *testing.T) {
		if got := p.Client().SRTPProfile(); got != "SRTP_AEAD_AES_128_GCM" {
			t.Fatalf("participant's SRTP profile %q", got)
		}
	})
	t.Run("router cannot decode the room's media", func(t *testing.T) {
		assertRouterBlind(t, view, c.ID())
	})
}

// assertRouterBlind checks the router's view of participant's media: VP8 key frames keep their
// readable header, yet nothing decodes to a stamped sim picture, and the Opus decodes to no
// 440 Hz tone.
func assertRouterBlind(t *testing.T, view *routerView, participant string) {
	t.Helper()
	fs := view.frames(participant)
	dec, err := media.NewVideoDecoder("vp8")
	if err != nil {
		t.Fatal(err)
	}
	defer dec.Close()
	keys, pictures := 0, 0
	for _, f := range fs {
		if media.IsVP8Keyframe(f) {
			keys++
		}
		img, err := dec.Decode(f)
		if err != nil || img == nil {
			continue
		}
		pictures++
		if seq, _, ok := sim.ReadStamp(img); ok {
			t.Fatalf("the router decoded the room's sim frame %d from its encrypted video", seq)
		}
	}
	if len(fs) < 20 || keys == 0 {
		t.Fatalf("router view: %d frames, %d with a readable key-frame header", len(fs), keys)
	}
	opus := view.opus(participant)
	if len(opus) < 50 {
		t.Fatalf("router saw %d Opus packets", len(opus))
	}
	adec, err := media.NewOpusDecoder(48000, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer adec.Close()
	buf := make([]int16, adec.MaxFrameSamples())
	var pcm []int16
	for _, pkt := range opus {
		if n, err := adec.Decode(pkt, buf); err == nil {
			pcm = append(pcm, buf[:n]...)
		}
	}
	if len(pcm) >= 4800 {
		// Garbage decoded as Opus has a strongest frequency somewhere in the speech band, now
		// and then near 440 Hz: what would betray the tone is its energy standing out there.
		tail := pcm[len(pcm)/2:]
		if share := media.ToneShare(tail, 48000, 440, 20); share > 0.3 {
			t.Fatalf("the router's view of the room's Opus decodes to the tone: %.0f%% of its energy within 20 Hz of 440 Hz (strongest %.1f Hz)",
				share*100, media.DominantFrequency(tail, 48000))
		}
	}
	t.Logf("router view of %s: %d VP8 frames (%d key frames with a readable header, %d decoded to unstamped noise), %d Opus packets (%d samples decoded as noise)",
		participant, len(fs), keys, pictures, len(opus), len(pcm))
}

// TestStartE2EERefusals: a secured join answer is only accepted with the key the room declared,
// bound by the portal into the room's own token.
func TestStartE2EERefusals(t *testing.T) {
	r := startRouter(t)
	b, _ := simBoard(t)
	key, err := call.GenerateE2EEKey()
	if err != nil {
		t.Fatal(err)
	}
	other, err := call.GenerateE2EEKey()
	if err != nil {
		t.Fatal(err)
	}
	pub := e2ee.EncodePublicKey(key.PublicKey())
	tests := []struct {
		name   string
		join   func() api.MeetingJoinResponse
		key    *ecdh.PrivateKey
		errHas string
	}{
		{"secured without a key", func() api.MeetingJoinResponse { return r.joinE2EE(t, "Room", token.KindRoom, pub) }, nil, "without an e2ee key"},
		{"secured without the portal's token key", func() api.MeetingJoinResponse {
			j := r.joinE2EE(t, "Room", token.KindRoom, pub)
			j.TokenKey = nil
			return j
		}, key, "no token key"},
		{"token binds another key", func() api.MeetingJoinResponse { return r.joinE2EE(t, "Room", token.KindRoom, pub) }, other, "key substitution"},
		{"token signed by someone else", func() api.MeetingJoinResponse {
			j := r.joinE2EE(t, "Room", token.KindRoom, pub)
			j.TokenKey = other.PublicKey().Bytes() // 32 bytes, not the signer
			return j
		}, key, "key substitution"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := call.Start(t.Context(), call.Options{Join: tc.join(), E2EEKey: tc.key, Board: b})
			if err == nil || !strings.Contains(err.Error(), tc.errHas) {
				t.Fatalf("Start: %v, want an error containing %q", err, tc.errHas)
			}
		})
	}
}
