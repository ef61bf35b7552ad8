package e2e

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/tls"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/rtp/codecs"
	"github.com/pion/webrtc/v4"
	"github.com/pion/webrtc/v4/pkg/media"
	"github.com/pion/webrtc/v4/pkg/media/samplebuilder"
	"golang.org/x/image/vp8"

	"github.com/stoa-rooms/stoa/services/api"
	"github.com/stoa-rooms/stoa/services/api/e2ee"
	"github.com/stoa-rooms/stoa/services/api/rtcclient"
	"github.com/stoa-rooms/stoa/test/browser"
	testmedia "github.com/stoa-rooms/stoa/test/media"
	"github.com/stoa-rooms/stoa/test/stoatest"
)

// TestBrowserSecuredE2EEWithGo: with the Secured option on in a running `stoa-server all`, a
// Chromium participant (the portal's web client, fake camera playing the frame-numbered
// pattern) and a Go participant (rtcclient with e2ee, keys bound into portal-signed tokens)
// share one meeting. Each decrypts and decodes the other: the Go side reads Chromium's frame
// numbers from decrypted VP8 key frames, Chromium shows the Go side's frame numbers on screen.
// What the router forwarded (the payloads as they reach the Go side, before decryption: the
// SFU relays payload bytes unchanged) never decodes as a picture although its VP8 key-frame
// header stays readable, and both media connections use AEAD_AES_128_GCM SRTP.
func TestBrowserSecuredE2EEWithGo(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 150*time.Second)
	defer cancel()
	set, err := testmedia.Load(ctx, testmedia.DefaultSpec())
	if err != nil {
		t.Fatal(err)
	}
	loop := set.Spec.Frames
	camera := cfPatternY4M(t, cfCameraW, cfCameraH, set.Spec.FPS, loop)
	stack := startSecuredStack(t, []string{api.LicenceOptionSecured})
	admin := stack.Login(t)
	deadline := time.Now().Add(30 * time.Second)
	for st := securedGet(t, admin); !st.Licensed; st = securedGet(t, admin) {
		if time.Now().After(deadline) {
			t.Fatalf("the portal never saw a licensed manager: %+v", st)
		}
		time.Sleep(200 * time.Millisecond)
	}
	m := cfCreateMeeting(t, admin, "Secured browser call", "")
	cfWaitRouter(t, admin, m.ID)
	conf := cfPortalTLS(t, stack, admin)

	// Chromium is in a plain call when the option goes on: the router ends the call with
	// policy_changed once it has learned the option (one component heartbeat), and the page
	// rejoins, this time with end-to-end encryption. No server restarts.
	chrome := cfOpenBrowser(t, stack, "Chromium", m.ID, "", camera)
	chrome.join(t)
	if !bsRun(t, chrome.ctx, chromedp.Evaluate[bool](`document.getElementById("e2ee-state").hidden`)) {
		t.Fatal("the page says end-to-end encrypted before the Secured option is on")
	}
	if status, body, err := admin.Do(http.MethodPut, "/api/v1/security/secured", api.SecuredChange{Enabled: true, Confirm: true}, "", nil); err != nil || status != http.StatusOK {
		t.Fatalf("turn the Secured option on: %d %v %s", status, err, body)
	}
	rejoinStart := time.Now()
	bsPollFor(t, chrome.ctx, 40*time.Second, `!document.getElementById("e2ee-state").hidden && window.stoaMeeting.state() === "connected"`, "Chromium back in the call with e2ee")
	t.Logf("option on to Chromium rejoined with e2ee: %v", time.Since(rejoinStart).Round(time.Millisecond))
	g := secJoinGo(ctx, t, admin, conf, m.ID, "Go")
	chromeID := ""
	waitUntil(t, 20*time.Second, "the Go participant hearing of Chromium", func() bool {
		for _, p := range g.c.Participants() {
			if p.Name == "Chromium" {
				chromeID = p.ID
				if p.Token == "" {
					t.Fatalf("Chromium joined the secured meeting without a relayed e2ee token: %+v", p)
				}
				return true
			}
		}
		return false
	})
	g.publish(ctx, t, set)
	g.requestKeyframes(ctx, t, chromeID, 400*time.Millisecond)

	t.Run("the meeting page says the call is end-to-end encrypted", func(t *testing.T) {
		if got := bsText(t, chrome.ctx, "#e2ee-state"); got != "End-to-end encrypted" {
			t.Errorf("indicator says %q", got)
		}
	})

	t.Run("Go decrypts and decodes Chromium's video and audio", func(t *testing.T) {
		waitUntil(t, 30*time.Second, "Go decoding Chromium's frame numbers", func() bool {
			st := g.stats(chromeID)
			return len(st.frames) >= 3 && st.audio >= 25
		})
		st := g.stats(chromeID)
		cfCheckAdvancing(t, "Go from Chromium", st.frames, loop)
		t.Logf("Go from Chromium: frame numbers %v, VP8 frames decrypted %d, Opus %d, undecryptable %d (last: %v)",
			st.frames, st.video, st.audio, st.failed, st.lastErr)
	})

	t.Run("Chromium decrypts and shows the Go participant's video", func(t *testing.T) {
		flows := chrome.waitMediaFlows(t, g.c.ID())
		seen := chrome.cfFramesAdvance(t, g.c.ID(), loop, 4)
		bsPoll(t, chrome.ctx, `(document.querySelector(`+jsString(`.tile[data-participant="`+g.c.ID()+`"] video`)+`)?.videoWidth || 0) > 0`, "the Go participant's video playing")
		t.Logf("Chromium from Go: %+v, frame numbers on screen %v", flows, seen)
	})

	t.Run("what the router forwards does not decode", func(t *testing.T) {
		st := g.stats(chromeID)
		if st.rawKeys == 0 {
			t.Fatalf("no forwarded Chromium frame had a readable VP8 key-frame header (%d frames)", st.video)
		}
		if st.rawDecoded != 0 {
			t.Fatalf("%d forwarded Chromium frames decode as the camera picture without the key", st.rawDecoded)
		}
		if st.rawOpusPlain != 0 {
			t.Fatalf("%d forwarded Opus packets equal their decrypted form", st.rawOpusPlain)
		}
		t.Logf("router's view of Chromium: %d key frames with a readable header, none decodes", st.rawKeys)
	})

	t.Run("SRTP is AES-128-GCM on both media connections", func(t *testing.T) {
		if got := g.c.SRTPProfile(); got != "SRTP_AEAD_AES_128_GCM" {
			t.Errorf("Go participant's SRTP profile %q, want SRTP_AEAD_AES_128_GCM", got)
		}
		cipher := bsRun(t, chrome.ctx, chromedp.Evaluate[string](`(async () => {
			const pcs = window.__stoaPCs.filter((pc) => pc.connectionState === "connected");
			if (pcs.length === 0) return "";
			let out = "";
			(await pcs[pcs.length - 1].getStats()).forEach((r) => { if (r.type === "transport" && r.srtpCipher) out = r.srtpCipher; });
			return out;
		})()`, chromedp.EvalAwaitPromise))
		// Chromium names the profile as RFC 7714 does (SRTP_AEAD_AES_128_GCM).
		if cipher != "SRTP_AEAD_AES_128_GCM" {
			// The router restricts SRTP per meeting through router.Options.Secured; Chromium
			// offers AES-CM too, so a router without that hook lets it fall back.
			t.Errorf("Chromium's SRTP cipher %q, want SRTP_AEAD_AES_128_GCM (is router.Options.Secured wired in stoa-server's router?)", cipher)
		}
	})
	t.Run("a leaver's key stops working, a newcomer is decoded", func(t *testing.T) {
		g2 := secJoinGo(ctx, t, admin, conf, m.ID, "Go 2")
		g2.publish(ctx, t, set)
		g2.requestKeyframes(ctx, t, chromeID, 400*time.Millisecond)
		chrome.waitMediaFlows(t, g2.c.ID())
		chrome.cfFramesAdvance(t, g2.c.ID(), loop, 3)
		waitUntil(t, 20*time.Second, "Go 2 decoding Chromium", func() bool { return len(g2.stats(chromeID).frames) >= 2 })
		before := g2.stats(chromeID).maxKID
		if err := g.c.Close(); err != nil {
			t.Fatal(err)
		}
		// Chromium rotates to a fresh key sealed only to Go 2: Go 2 decrypts frames of a
		// later epoch, which the leaver's keys cannot open.
		var frame []byte
		waitUntil(t, 20*time.Second, "Go 2 decrypting Chromium's frames after the rotation", func() bool {
			st := g2.stats(chromeID)
			frame = st.lastFrame
			return st.maxKID > before && len(frame) > 0
		})
		if _, err := g.s.DecryptFrame(chromeID, e2ee.CodecVP8, frame); !errors.Is(err, e2ee.ErrNoKey) {
			t.Fatalf("the leaver's keys on Chromium's frame after the rotation: %v, want no key", err)
		}
		g3 := secJoinGo(ctx, t, admin, conf, m.ID, "Go 3")
		g3.publish(ctx, t, set)
		seen := chrome.cfFramesAdvance(t, g3.c.ID(), loop, 3)
		t.Logf("Chromium's epoch went from %d to %d when Go left; Chromium reads Go 3's frame numbers %v", before, g2.stats(chromeID).maxKID, seen)
	})
	browser.RequireNoErrors(t, chrome.ctx)
}

// TestBrowserSecuredE2EEUnsupported: a browser without WebRTC encoded transforms is told, at
// join, that the meeting is end-to-end encrypted and what it lacks, instead of being admitted.
func TestBrowserSecuredE2EEUnsupported(t *testing.T) {
	stack := startSecuredStack(t, []string{api.LicenceOptionSecured})
	admin := stack.Login(t)
	deadline := time.Now().Add(30 * time.Second)
	for st := securedGet(t, admin); !st.Licensed; st = securedGet(t, admin) {
		if time.Now().After(deadline) {
			t.Fatalf("the portal never saw a licensed manager: %+v", st)
		}
		time.Sleep(200 * time.Millisecond)
	}
	m := cfCreateMeeting(t, admin, "Secured, old browser", "")
	cfWaitRouter(t, admin, m.ID)
	if status, body, err := admin.Do(http.MethodPut, "/api/v1/security/secured", api.SecuredChange{Enabled: true, Confirm: true}, "", nil); err != nil || status != http.StatusOK {
		t.Fatalf("turn the Secured option on: %d %v %s", status, err, body)
	}
	ctx := browser.New(t, browser.IgnoreCertificateErrors())
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	// What a browser without encoded transforms looks like to the page.
	const noTransforms = `delete RTCRtpSender.prototype.createEncodedStreams; delete RTCRtpReceiver.prototype.createEncodedStreams; delete window.RTCRtpScriptTransform;`
	bsDo(t, ctx,
		chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			_, err := cdp.Call(ctx, tg, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{Source: noTransforms})
			return err
		}),
		chromedp.Navigate(stack.PortalURL+"/ui/"),
		chromedp.WaitVisible(chromedp.CSS("#login-name")),
		chromedp.SendKeys(chromedp.CSS("#login-name"), stack.AdminName),
		chromedp.SendKeys(chromedp.CSS("#login-password"), stack.AdminPassword),
		chromedp.Click(chromedp.CSS("#login-submit")),
		chromedp.WaitVisible(chromedp.CSS("#app-header")),
		chromedp.Navigate(stack.PortalURL+"/ui/meeting.html?id="+m.ID),
		chromedp.WaitVisible(chromedp.CSS("#join-submit")),
		chromedp.SetValue(chromedp.CSS("#join-name"), "Old browser"),
		chromedp.Click(chromedp.CSS("#join-submit")),
	)
	bsPoll(t, ctx, `!document.getElementById("join-error").hidden`, "the join error")
	msg := bsText(t, ctx, "#join-error")
	for _, want := range []string{"end-to-end encrypted (Secured option)", "encoded transforms"} {
		if !strings.Contains(msg, want) {
			t.Errorf("join error %q does not say %q", msg, want)
		}
	}
	if state := bsRun(t, ctx, chromedp.Evaluate[string](`window.stoaMeeting.state()`)); state == "connected" {
		t.Errorf("call state %q in a secured meeting without e2ee", state)
	}
	browser.RequireNoErrors(t, ctx)
}

// secGo is a Go participant with end-to-end encryption that keeps, per remote participant,
// what arrived as forwarded by the router and what it decrypted to.
type secGo struct {
	s *e2ee.Session
	c *rtcclient.Client

	mu     sync.Mutex
	remote map[string]*secRemote
}

type secRemote struct {
	frames               []int // pattern numbers read from decrypted key frames
	video, audio, failed int   // frames decrypted, undecryptable
	rawKeys, rawDecoded  int   // forwarded VP8 frames: readable key-frame headers, decodable pictures
	rawOpusPlain         int   // forwarded Opus packets that were not encrypted
	maxKID               uint64
	lastFrame            []byte // the last forwarded VP8 frame that decrypted
	lastErr              error
}

func secJoinGo(ctx context.Context, t *testing.T, sess *stoatest.Session, conf *tls.Config, meetingID, name string) *secGo {
	t.Helper()
	priv, err := e2ee.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	var jr api.MeetingJoinResponse
	req := api.MeetingJoinRequest{Name: name, E2EEKey: e2ee.EncodePublicKey(priv.PublicKey())}
	if status, body, err := sess.Do(http.MethodPost, "/api/v1/meetings/"+meetingID+"/join", req, "", &jr); err != nil || status != http.StatusOK {
		t.Fatalf("%s: join: %d %v %s", name, status, err, body)
	}
	if !jr.Secured {
		t.Fatalf("%s: join answer does not say secured", name)
	}
	claim, err := e2ee.VerifyKeyClaim(jr.Token, ed25519.PublicKey(jr.TokenKey))
	if err != nil {
		t.Fatalf("%s: own token: %v", name, err)
	}
	s, err := e2ee.NewSession(e2ee.Config{Meeting: claim.Meeting, Self: jr.ParticipantID, Private: priv, PortalKey: jr.TokenKey})
	if err != nil {
		t.Fatal(err)
	}
	g := &secGo{s: s, remote: map[string]*secRemote{}}
	c, err := rtcclient.Dial(ctx, rtcclient.Options{SignalURL: jr.SignalURL, Token: jr.Token, TLS: conf, ICEServers: jr.ICEServers, E2EE: s, OnTrack: g.read})
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	t.Cleanup(func() { c.Close() })
	g.c = c
	return g
}

// read reassembles a remote track's frames and records each as forwarded and as decrypted.
func (g *secGo) read(tr *webrtc.TrackRemote, from string) {
	codec, err := e2ee.CodecFromMime(tr.Codec().MimeType)
	if err != nil {
		return
	}
	var dep rtp.Depacketizer = &codecs.OpusPacket{}
	if codec == e2ee.CodecVP8 {
		dep = &codecs.VP8Packet{}
	}
	sb := samplebuilder.New(256, dep, tr.Codec().ClockRate)
	for {
		p, _, err := tr.ReadRTP()
		if err != nil {
			return
		}
		sb.Push(p)
		for s := sb.Pop(); s != nil; s = sb.Pop() {
			g.frame(from, codec, s.Data)
		}
	}
}

func (g *secGo) frame(from string, codec e2ee.Codec, raw []byte) {
	plain, err := g.s.DecryptFrame(from, codec, raw)
	var n int
	var decoded, rawDecoded bool
	if codec == e2ee.CodecVP8 {
		_, rawDecoded = secReadVP8(raw)
		if err == nil {
			n, decoded = secReadVP8(plain)
		}
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	r := g.remote[from]
	if r == nil {
		r = &secRemote{}
		g.remote[from] = r
	}
	if codec == e2ee.CodecVP8 {
		if len(raw) >= 10 && raw[0]&1 == 0 && raw[3] == 0x9d && raw[4] == 0x01 && raw[5] == 0x2a {
			r.rawKeys++
		}
		if rawDecoded {
			r.rawDecoded++
		}
	}
	if err != nil {
		r.failed++
		r.lastErr = fmt.Errorf("%v frame of %d bytes (first byte %#x): %w", codec, len(raw), raw[0], err)
		return
	}
	switch codec {
	case e2ee.CodecVP8:
		r.video++
		clear := 3
		if raw[0]&1 == 0 {
			clear = 10
		}
		if h, _, err := e2ee.ParseHeader(raw[clear:]); err == nil && h.KID >= r.maxKID {
			r.maxKID = h.KID
			r.lastFrame = raw
		}
		if decoded {
			r.frames = append(r.frames, n)
		}
	case e2ee.CodecOpus:
		r.audio++
		if bytes.Equal(raw, plain) {
			r.rawOpusPlain++
		}
	}
}

func (g *secGo) stats(from string) secRemote {
	g.mu.Lock()
	defer g.mu.Unlock()
	if r := g.remote[from]; r != nil {
		out := *r
		out.frames = append([]int(nil), r.frames...)
		out.lastFrame = append([]byte(nil), r.lastFrame...)
		return out
	}
	return secRemote{}
}

// publish sends the fixture's VP8 pattern and Opus tone, each frame SFrame-encrypted.
func (g *secGo) publish(ctx context.Context, t *testing.T, set *testmedia.Set) {
	t.Helper()
	stream := g.c.ID()
	video, err := rtcclient.NewSampleTrack(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8, ClockRate: 90000}, "video-"+stream, stream, g.s)
	if err != nil {
		t.Fatal(err)
	}
	audio, err := rtcclient.NewSampleTrack(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2}, "audio-"+stream, stream, g.s)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := g.c.Publish(video, audio); err != nil {
		t.Fatal(err)
	}
	frames := set.Video[len(set.Video)-1].Frames
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	t.Cleanup(func() { close(stop); wg.Wait() })
	go func() {
		defer wg.Done()
		tick := time.NewTicker(time.Second / time.Duration(set.Spec.FPS))
		defer tick.Stop()
		per := 1000 / set.Spec.FPS / 20 // 20 ms Opus packets per video frame
		for n := 0; ; n++ {
			select {
			case <-ctx.Done():
				return
			case <-stop:
				return
			case <-g.c.Done():
				return
			case <-tick.C:
			}
			_ = video.WriteSample(media.Sample{Data: frames[n%len(frames)], Duration: time.Second / time.Duration(set.Spec.FPS)})
			for i := range max(per, 1) {
				_ = audio.WriteSample(media.Sample{Data: set.Audio[(n*max(per, 1)+i)%len(set.Audio)], Duration: 20 * time.Millisecond})
			}
		}
	}()
}

// requestKeyframes asks for a key frame of from's video every interval (Chromium sends delta
// frames, and only key frames decode on their own with x/image/vp8).
func (g *secGo) requestKeyframes(ctx context.Context, t *testing.T, from string, interval time.Duration) {
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	t.Cleanup(func() { close(stop); wg.Wait() })
	go func() {
		defer wg.Done()
		tick := time.NewTicker(interval)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-stop:
				return
			case <-g.c.Done():
				return
			case <-tick.C:
			}
			pc := g.c.PeerConnection()
			var pkts []rtcp.Packet
			for _, r := range pc.GetReceivers() {
				for _, tr := range r.Tracks() {
					if tr.Kind() == webrtc.RTPCodecTypeVideo && tr.StreamID() == from {
						pkts = append(pkts, &rtcp.PictureLossIndication{MediaSSRC: uint32(tr.SSRC())})
					}
				}
			}
			if len(pkts) > 0 {
				_ = pc.WriteRTCP(pkts) // best effort; the next tick retries
			}
		}
	}()
}

// secReadVP8 decodes a VP8 key frame and reads the pattern's frame number from the picture.
func secReadVP8(frame []byte) (int, bool) {
	d := vp8.NewDecoder()
	d.Init(bytes.NewReader(frame), len(frame))
	fh, err := d.DecodeFrameHeader()
	if err != nil || !fh.KeyFrame {
		return 0, false
	}
	img, err := d.DecodeFrame()
	if err != nil {
		return 0, false
	}
	return testmedia.ReadPattern(img)
}

func waitUntil(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", d, what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// bsPollFor is bsPoll with its own time limit (bsPoll allows 20 s).
func bsPollFor(t *testing.T, ctx context.Context, d time.Duration, expr, what string) {
	t.Helper()
	pctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	if _, err := chromedp.Run(pctx, chromedp.Poll[bool](expr)); err != nil {
		t.Fatalf("waiting %s for %s: %v (console: %v)", d, what, err, browser.Console(ctx))
	}
}
