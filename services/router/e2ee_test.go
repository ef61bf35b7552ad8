package router

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pion/dtls/v3"
	"github.com/pion/rtp"
	"github.com/pion/rtp/codecs"
	"github.com/pion/webrtc/v4"
	"github.com/pion/webrtc/v4/pkg/media"
	"github.com/pion/webrtc/v4/pkg/media/samplebuilder"
	"golang.org/x/image/vp8"

	"github.com/stoa-rooms/stoa/services/api"
	"github.com/stoa-rooms/stoa/services/api/e2ee"
	"github.com/stoa-rooms/stoa/services/api/rtcclient"
	"github.com/stoa-rooms/stoa/services/token"
	testmedia "github.com/stoa-rooms/stoa/test/media"
)

// e2eePeer is a Go participant (rtcclient) with end-to-end encryption.
type e2eePeer struct {
	id string
	s  *e2ee.Session
	c  *rtcclient.Client

	mu      sync.Mutex
	frames  map[string][]int // publisher → fixture frame numbers decoded from its video
	audio   map[string]int   // publisher → Opus frames decrypted
	readers map[string]*rtcclient.FrameReader
	// videoFrames counts decrypted video frames per publisher, decodable or not.
	videoFrames map[string]int
}

// dropped reports the frames from each publisher's tracks that did not decrypt.
func (p *e2eePeer) dropped() map[string]string {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := map[string]string{}
	for k, r := range p.readers {
		n, err := r.Dropped()
		out[k] = fmt.Sprintf("%d (%v)", n, err)
	}
	return out
}

func (p *e2eePeer) decoded(from string) (int, int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.frames[from]), p.audio[from]
}

func (e *testEnv) e2eeToken(t *testing.T, meeting, participant, key string) string {
	t.Helper()
	now := time.Now()
	tok, err := token.Sign(token.Claims{
		Meeting: meeting, Participant: participant, Name: participant, Kind: token.KindUser,
		Perms: []string{token.PermPublish, token.PermSubscribe}, Router: testRouterID,
		IssuedAt: now.Unix(), Expires: now.Add(time.Minute).Unix(), Nonce: rand.Text(), E2EEKey: key,
	}, e.key)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func dialE2EE(t *testing.T, ctx context.Context, e *testEnv, meeting, id string) *e2eePeer {
	t.Helper()
	priv, err := e2ee.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	s, err := e2ee.NewSession(e2ee.Config{Meeting: meeting, Self: id, Private: priv, PortalKey: e.key.Public().(ed25519.PublicKey)})
	if err != nil {
		t.Fatal(err)
	}
	p := &e2eePeer{id: id, s: s, frames: map[string][]int{}, audio: map[string]int{}, readers: map[string]*rtcclient.FrameReader{}, videoFrames: map[string]int{}}
	c, err := rtcclient.Dial(ctx, rtcclient.Options{SignalURL: e.url, Token: e.e2eeToken(t, meeting, id, s.PublicKey()), E2EE: s,
		OnTrack: func(tr *webrtc.TrackRemote, from string) {
			r, err := rtcclient.NewFrameReader(tr, from, s)
			if err != nil {
				t.Errorf("%s: %v", id, err)
				return
			}
			p.mu.Lock()
			p.readers[from+"/"+tr.ID()] = r
			p.mu.Unlock()
			for {
				f, err := r.ReadFrame()
				if err != nil {
					return
				}
				if tr.Kind() == webrtc.RTPCodecTypeAudio {
					p.mu.Lock()
					p.audio[from]++
					p.mu.Unlock()
					continue
				}
				p.mu.Lock()
				p.videoFrames[from]++
				p.mu.Unlock()
				if n, ok := readVP8Pattern(f.Data); ok {
					p.mu.Lock()
					p.frames[from] = append(p.frames[from], n)
					p.mu.Unlock()
				}
			}
		}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	p.c = c
	if _, err := c.Publish(); err != nil { // receive even before publishing
		t.Fatal(err)
	}
	return p
}

// readVP8Pattern decodes a VP8 frame and reads the fixture's frame number from the picture.
func readVP8Pattern(frame []byte) (int, bool) {
	d := vp8.NewDecoder()
	d.Init(bytes.NewReader(frame), len(frame))
	if _, err := d.DecodeFrameHeader(); err != nil {
		return 0, false
	}
	img, err := d.DecodeFrame()
	if err != nil {
		return 0, false
	}
	return testmedia.ReadPattern(img)
}

// routerView collects a publisher's video packets as the router forwards them.
type routerView struct {
	mu    sync.Mutex
	pkts  []*rtp.Packet
	audio [][]byte // Opus payloads
}

func (v *routerView) hook(participant string) func(MediaView) {
	return func(m MediaView) {
		if m.Participant != participant {
			return
		}
		if m.Mime == mimeOpus {
			v.mu.Lock()
			v.audio = append(v.audio, append([]byte(nil), m.Packet.Payload...))
			v.mu.Unlock()
			return
		}
		if m.Mime != mimeVP8 {
			return
		}
		c := m.Packet.Clone()
		v.mu.Lock()
		v.pkts = append(v.pkts, c)
		v.mu.Unlock()
	}
}

// frames reassembles the collected packets into frames and forgets them.
// packets counts the video packets seen since the last frames call.
func (v *routerView) packets() int {
	v.mu.Lock()
	defer v.mu.Unlock()
	return len(v.pkts)
}

func (v *routerView) frames() [][]byte {
	v.mu.Lock()
	pkts := v.pkts
	v.pkts = nil
	v.mu.Unlock()
	sb := samplebuilder.New(512, &codecs.VP8Packet{}, 90000)
	var out [][]byte
	for _, p := range pkts {
		sb.Push(p)
		for s := sb.Pop(); s != nil; s = sb.Pop() {
			out = append(out, s.Data)
		}
	}
	return out
}

// TestE2EEThroughRouter: three Go participants with e2ee in a secured meeting on the real
// router. Receivers decrypt alice's VP8 and Opus; the router's own view of her video still
// shows key frames (the readable VP8 header) but never decodes to a picture; carol leaving
// rotates alice's key, and what alice sends next is beyond carol's keys; a client without
// e2ee is refused with the secured option message; SRTP is AES-128-GCM.
func TestE2EEThroughRouter(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Second)
	defer cancel()
	set, err := testmedia.Load(ctx, testmedia.DefaultSpec())
	if err != nil {
		t.Fatal(err)
	}
	view := &routerView{}
	e := newTestEnv(t, func(o *Options) {
		o.Secured = func(string) bool { return true }
		o.OnMedia = view.hook("alice")
	})
	const meeting = "5550001111"

	t.Run("client without e2ee refused", func(t *testing.T) {
		_, err := rtcclient.Dial(ctx, rtcclient.Options{SignalURL: e.url, Token: e.token(t, meeting, "plain", testRouterID)})
		var re *rtcclient.RouterError
		if !errors.As(err, &re) || re.Code != codeSecured || !bytes.Contains([]byte(re.Message), []byte("secured option")) {
			t.Fatalf("plain client: %v, want a %s error naming the secured option", err, codeSecured)
		}
	})

	alice := dialE2EE(t, ctx, e, meeting, "alice")
	bob := dialE2EE(t, ctx, e, meeting, "bob")
	carol := dialE2EE(t, ctx, e, meeting, "carol")
	video, err := rtcclient.NewSampleTrack(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8, ClockRate: 90000}, "video-alice", "alice", alice.s)
	if err != nil {
		t.Fatal(err)
	}
	audio, err := rtcclient.NewSampleTrack(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2}, "audio-alice", "alice", alice.s)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := alice.c.Publish(video, audio); err != nil {
		t.Fatal(err)
	}
	frames := set.Video[0].Frames
	go func() {
		tick := time.NewTicker(time.Second / 15)
		defer tick.Stop()
		for n := 0; ctx.Err() == nil; n++ {
			<-tick.C
			_ = video.WriteSample(media.Sample{Data: frames[n%len(frames)], Duration: time.Second / 15})
			for i := range 3 {
				_ = audio.WriteSample(media.Sample{Data: set.Audio[(3*n+i)%len(set.Audio)], Duration: 20 * time.Millisecond})
			}
		}
	}()
	defer func() {
		if t.Failed() {
			for _, p := range []*e2eePeer{bob, carol} {
				dropped := p.dropped()
				p.mu.Lock()
				t.Logf("%s: video frames decrypted %v, decoded %v; undecryptable %v", p.id, p.videoFrames, p.frames, dropped)
				p.mu.Unlock()
			}
		}
	}()
	for _, p := range []*e2eePeer{bob, carol} {
		waitFor(t, 20*time.Second, p.id+" decrypting alice's video and audio", func() bool {
			v, a := p.decoded("alice")
			return v >= 10 && a >= 10
		})
	}
	if got := alice.c.SRTPProfile(); got != "SRTP_AEAD_AES_128_GCM" {
		t.Errorf("SRTP profile %q, want SRTP_AEAD_AES_128_GCM", got)
	}

	t.Run("router cannot decode the media", func(t *testing.T) {
		fs := view.frames()
		keys := 0
		for _, f := range fs {
			if len(f) >= 10 && f[0]&1 == 0 && f[3] == 0x9d && f[4] == 0x01 && f[5] == 0x2a {
				keys++
			}
			if n, ok := readVP8Pattern(f); ok {
				t.Fatalf("the router decoded fixture frame %d from alice's encrypted video", n)
			}
		}
		if len(fs) < 10 || keys == 0 {
			t.Fatalf("router view: %d frames, %d with a readable key-frame header", len(fs), keys)
		}
		view.mu.Lock()
		opus := view.audio
		view.mu.Unlock()
		if len(opus) < 10 {
			t.Fatalf("router saw %d Opus packets", len(opus))
		}
		for _, p := range opus {
			for _, plain := range set.Audio {
				if len(plain) > 8 && bytes.Contains(p, plain[1:]) {
					t.Fatalf("router view of an Opus packet (%d bytes) holds the plain packet", len(p))
				}
			}
		}
	})

	t.Run("leave rotates the sender's key", func(t *testing.T) {
		epoch := alice.s.Epoch()
		if err := carol.c.Close(); err != nil {
			t.Fatal(err)
		}
		waitFor(t, 10*time.Second, "alice rotating her key after carol left", func() bool { return alice.s.Epoch() > epoch })
		newEpoch := alice.s.Epoch()
		v0, _ := bob.decoded("alice")
		waitFor(t, 10*time.Second, "bob decoding alice after the rotation", func() bool { v, _ := bob.decoded("alice"); return v >= v0+10 })
		view.frames() // forget what was sent before or around the rotation
		// Collect packets first and assemble frames once: a frame is only complete when the
		// next one has begun, so assembling at every poll would drop each poll's last frame.
		waitFor(t, 10*time.Second, "packets sent under the new key", func() bool { return view.packets() >= 80 })
		fs := view.frames()
		if len(fs) < 5 {
			t.Fatalf("%d frames assembled from the router's view after the rotation", len(fs))
		}
		checked := 0
		for _, f := range fs {
			h, _, err := e2ee.ParseHeader(f[10:])
			if err != nil {
				t.Fatal(err)
			}
			if h.KID < newEpoch {
				continue
			}
			checked++
			if _, err := carol.s.DecryptFrame("alice", e2ee.CodecVP8, f); !errors.Is(err, e2ee.ErrNoKey) && !errors.Is(err, e2ee.ErrUnknownPeer) {
				t.Fatalf("carol's keys on alice's frame KID %d after she left: %v, want no key", h.KID, err)
			}
		}
		if checked == 0 {
			t.Fatalf("none of %d frames used alice's new key (epoch %d)", len(fs), newEpoch)
		}
	})
}

// TestSecuredRefusesAESCM: under the Secured option a client whose DTLS offers only
// AES-CM SRTP gets no media connection, and the router tells it why.
func TestSecuredRefusesAESCM(t *testing.T) {
	// Long enough for a DTLS handshake timeout (30 s) should the failure alert be lost.
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Second)
	defer cancel()
	e := newTestEnv(t, func(o *Options) { o.Secured = func(string) bool { return true } })
	priv, err := e2ee.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	s, err := e2ee.NewSession(e2ee.Config{Meeting: "777", Self: "cm", Private: priv, PortalKey: e.key.Public().(ed25519.PublicKey)})
	if err != nil {
		t.Fatal(err)
	}
	errs := make(chan api.Error, 4)
	c, err := rtcclient.Dial(ctx, rtcclient.Options{SignalURL: e.url, Token: e.e2eeToken(t, "777", "cm", s.PublicKey()), E2EE: s,
		SettingEngine: func(se *webrtc.SettingEngine) { se.SetSRTPProtectionProfiles(dtls.SRTP_AES128_CM_HMAC_SHA1_80) },
		OnSignal: func(m api.SigMessage) {
			if m.Type == api.SigTypeError {
				if ae, err := api.DecodeSigError(m); err == nil {
					errs <- ae
				}
			}
		}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Publish(); err != nil {
		t.Fatal(err)
	}
	select {
	case ae := <-errs:
		if ae.Code != codeSecured || !strings.Contains(ae.Message, "AEAD_AES_128_GCM") {
			t.Fatalf("router error %+v", ae)
		}
	case <-ctx.Done():
		t.Fatal("no secured option error")
	}
	select {
	case <-c.Done():
	case <-ctx.Done():
		t.Fatal("session still up after the refusal")
	}
}

// TestSecuredByToken: a token the portal minted under the Secured option makes the router
// enforce it for that join even while the router's own view of the option (one heartbeat
// behind the portal) still says off: a client without e2ee is refused, one offering only
// AES-CM SRTP cannot connect.
func TestSecuredByToken(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Second)
	defer cancel()
	e := newTestEnv(t, func(o *Options) { o.Secured = func(string) bool { return false } })
	signed := func(c token.Claims) string {
		now := time.Now()
		c.Perms, c.Router, c.Kind = []string{token.PermPublish, token.PermSubscribe}, testRouterID, token.KindUser
		c.IssuedAt, c.Expires, c.Nonce, c.Secured = now.Unix(), now.Add(time.Minute).Unix(), rand.Text(), true
		tok, err := token.Sign(c, e.key)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	t.Run("client without e2ee refused", func(t *testing.T) {
		_, err := rtcclient.Dial(ctx, rtcclient.Options{SignalURL: e.url, Token: signed(token.Claims{Meeting: "888", Participant: "plain", Name: "plain"})})
		var re *rtcclient.RouterError
		if !errors.As(err, &re) || re.Code != codeSecured {
			t.Fatalf("plain client with a secured token: %v, want %s", err, codeSecured)
		}
	})
	t.Run("AES-CM only refused", func(t *testing.T) {
		priv, err := e2ee.GenerateKey()
		if err != nil {
			t.Fatal(err)
		}
		s, err := e2ee.NewSession(e2ee.Config{Meeting: "888", Self: "cm", Private: priv, PortalKey: e.key.Public().(ed25519.PublicKey)})
		if err != nil {
			t.Fatal(err)
		}
		errs := make(chan api.Error, 4)
		c, err := rtcclient.Dial(ctx, rtcclient.Options{SignalURL: e.url, E2EE: s,
			Token:         signed(token.Claims{Meeting: "888", Participant: "cm", Name: "cm", E2EEKey: s.PublicKey()}),
			SettingEngine: func(se *webrtc.SettingEngine) { se.SetSRTPProtectionProfiles(dtls.SRTP_AES128_CM_HMAC_SHA1_80) },
			OnSignal: func(m api.SigMessage) {
				if ae, err := api.DecodeSigError(m); m.Type == api.SigTypeError && err == nil {
					errs <- ae
				}
			}})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if _, err := c.Publish(); err != nil {
			t.Fatal(err)
		}
		select {
		case ae := <-errs:
			if ae.Code != codeSecured {
				t.Fatalf("router error %+v, want %s", ae, codeSecured)
			}
		case <-ctx.Done():
			t.Fatal("an AES-CM-only client with a secured token was not refused")
		}
	})
}
