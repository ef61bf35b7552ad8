package e2e

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/pion/rtp"
	"github.com/pion/rtp/codecs"
	"github.com/pion/webrtc/v4/pkg/media/samplebuilder"

	"github.com/stoa-rooms/stoa/services/api"
	"github.com/stoa-rooms/stoa/services/api/e2ee"
	"github.com/stoa-rooms/stoa/services/api/rtcclient"
	"github.com/stoa-rooms/stoa/services/portal/web"
	"github.com/stoa-rooms/stoa/services/router"
	"github.com/stoa-rooms/stoa/services/token"
	"github.com/stoa-rooms/stoa/test/browser"
	testmedia "github.com/stoa-rooms/stoa/test/media"
)

// TestBrowserE2EERouterView puts the portal's meeting client (meetingrtc.js, in Chromium) and
// a Go e2ee participant on an in-process router under the Secured option, so the router's own
// view of the media (its OnMedia test hook) can be inspected: Chromium's VP8 keeps the readable
// key-frame header the router needs, yet no frame the router forwards decodes as a picture,
// while the Go participant decrypts Chromium's frames to the camera's frame numbers and
// Chromium decodes the Go participant's video. A minimal join endpoint stands in for the
// portal: it binds each participant's e2ee key into a token it signs, as the portal does.
func TestBrowserE2EERouterView(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 90*time.Second)
	defer cancel()
	set, err := testmedia.Load(ctx, testmedia.DefaultSpec())
	if err != nil {
		t.Fatal(err)
	}
	loop := set.Spec.Frames
	camera := cfPatternY4M(t, cfCameraW, cfCameraH, set.Spec.FPS, loop)
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	view := &rvView{}
	rig := startRVRig(t, camera, priv, pub, view.hook)
	chromeID := rig.startCall(t)
	view.setWatch(chromeID)
	const goID = "go-participant"
	bctx := rig.bctx

	g, err := rig.goParticipant(ctx, t, goID, pub)
	if err != nil {
		t.Fatal(err)
	}
	g.publish(ctx, t, set)
	g.requestKeyframes(ctx, t, chromeID, 400*time.Millisecond)

	t.Run("Go decrypts Chromium's frames to the camera's frame numbers", func(t *testing.T) {
		waitUntil(t, 30*time.Second, "Go decoding Chromium", func() bool { return len(g.stats(chromeID).frames) >= 3 })
		cfCheckAdvancing(t, "Go from Chromium", g.stats(chromeID).frames, loop)
	})
	t.Run("Chromium decodes the Go participant's video", func(t *testing.T) {
		first := -1
		bsPollFor(t, bctx, 20*time.Second, `window.call.participantStats().then((s) => (s["`+goID+`"]?.framesDecoded || 0) > 0)`, "Chromium decoding Go")
		waitUntil(t, 20*time.Second, "Chromium's decoded frames from Go growing", func() bool {
			n := bsRun(t, bctx, chromedp.Evaluate[int](`window.call.participantStats().then((s) => s["`+goID+`"]?.framesDecoded || 0)`, chromedp.EvalAwaitPromise))
			if first < 0 {
				first = n
			}
			return n >= first+10
		})
	})
	t.Run("the router's own view of Chromium's video never decodes", func(t *testing.T) {
		frames := view.frames()
		keys, decoded := 0, 0
		for _, f := range frames {
			if len(f) >= 10 && f[0]&1 == 0 && f[3] == 0x9d && f[4] == 0x01 && f[5] == 0x2a {
				keys++
			}
			if _, ok := secReadVP8(f); ok {
				decoded++
			}
		}
		if len(frames) < 10 || keys == 0 || decoded != 0 {
			t.Fatalf("router view: %d VP8 frames, %d with a readable key-frame header, %d decode to the picture; want ≥10, ≥1, 0", len(frames), keys, decoded)
		}
		t.Logf("router view of Chromium: %d VP8 frames, %d key frames with a readable header, none decodes; %d Opus packets", len(frames), keys, view.opusCount())
	})
	browser.RequireNoErrors(t, bctx)
}

const rvRouterID, rvMeeting = "router-view", "5550002222"

// rvRig is an in-process router under the Secured option, a minimal join endpoint and
// Chromium running the portal's meeting client against them.
type rvRig struct {
	srv  *httptest.Server
	bctx context.Context
	sign func(t *testing.T, participant, name, key string) string
}

// startRVRig signs tokens with priv; the router trusts priv's key, and join answers tell
// clients that the portal's token key is told (a router minting keys of its own is a rig
// whose told key differs from priv's).
func startRVRig(t *testing.T, camera string, priv ed25519.PrivateKey, told ed25519.PublicKey, onMedia func(router.MediaView)) *rvRig {
	t.Helper()
	signer := priv.Public().(ed25519.PublicKey)
	sfu := router.New(router.Options{ID: rvRouterID, TokenKey: func() ed25519.PublicKey { return signer },
		Secured: func(string) bool { return true }, OnMedia: onMedia})
	t.Cleanup(sfu.Close)
	sign := func(t *testing.T, participant, name, key string) string {
		now := time.Now()
		tok, err := token.Sign(token.Claims{Meeting: rvMeeting, Participant: participant, Name: name, Kind: token.KindUser,
			Perms: []string{token.PermPublish, token.PermSubscribe}, Router: rvRouterID,
			IssuedAt: now.Unix(), Expires: now.Add(time.Minute).Unix(), Nonce: rand.Text(), E2EEKey: key}, priv)
		if err != nil {
			t.Error(err)
		}
		return tok
	}
	mux := http.NewServeMux()
	mux.Handle("/ui/", web.Handler())
	mux.Handle("GET /rtc", sfu.Handler())
	mux.HandleFunc("GET /blank", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Write([]byte(`<!doctype html><title>router view</title><body></body>`))
	})
	mux.HandleFunc("/favicon.ico", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) })
	mux.HandleFunc("POST /api/v1/meetings/{id}/join", func(w http.ResponseWriter, r *http.Request) {
		var req api.MeetingJoinRequest
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil || req.E2EEKey == "" {
			http.Error(w, `{"code":"request.invalid","message":"join without an e2ee key"}`, http.StatusBadRequest)
			return
		}
		id := strings.ToLower(rand.Text())
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(api.MeetingJoinResponse{Token: sign(t, id, req.Name, req.E2EEKey), SignalURL: "/rtc",
			ParticipantID: id, RouterID: rvRouterID, ICEServers: []api.ICEServer{}, Secured: true, TokenKey: told})
	})
	srv := httptest.NewServer(mux) // http://127.0.0.1 is a secure context: Web Crypto works
	t.Cleanup(srv.Close)
	bctx := browser.New(t, browser.Flag("use-file-for-fake-video-capture", camera), browser.Flag("autoplay-policy", "no-user-gesture-required"))
	bctx, bcancel := context.WithTimeout(bctx, 80*time.Second)
	t.Cleanup(bcancel)
	bsDo(t, bctx, chromedp.Navigate(srv.URL+"/blank"))
	return &rvRig{srv: srv, bctx: bctx, sign: sign}
}

// startCall joins Chromium (window.call; its errors and states in window.callErrors and
// window.callStates) and returns its participant ID.
func (r *rvRig) startCall(t *testing.T) string {
	t.Helper()
	return bsRun(t, r.bctx, chromedp.Evaluate[string](`(async () => {
		const { Call } = await import("/ui/js/meetingrtc.js");
		const stream = await navigator.mediaDevices.getUserMedia({ audio: true, video: { width: 640, height: 360 } });
		window.callErrors = [];
		window.callStates = [];
		const ui = { error: (m) => window.callErrors.push(m), state: (s) => window.callStates.push(s) };
		const call = new Call({ meetingID: "`+rvMeeting+`", name: "Chromium", pin: "", stream, relay: false, ui });
		window.call = call;
		await call.start();
		return call.selfID;
	})()`, chromedp.EvalAwaitPromise))
}

// rvGo dials a Go e2ee participant into the rig's router with a token from sign.
func (r *rvRig) goParticipant(ctx context.Context, t *testing.T, id string, portal ed25519.PublicKey) (*secGo, error) {
	t.Helper()
	priv, err := e2ee.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	s, err := e2ee.NewSession(e2ee.Config{Meeting: rvMeeting, Self: id, Private: priv, PortalKey: portal})
	if err != nil {
		t.Fatal(err)
	}
	g := &secGo{s: s, remote: map[string]*secRemote{}}
	c, err := rtcclient.Dial(ctx, rtcclient.Options{SignalURL: "ws" + strings.TrimPrefix(r.srv.URL, "http") + "/rtc",
		Token: r.sign(t, id, "Go", s.PublicKey()), E2EE: s, OnTrack: g.read})
	if err != nil {
		return nil, err
	}
	t.Cleanup(func() { c.Close() })
	g.c = c
	return g, nil
}

// TestBrowserE2EERefusesRouterKeys: a router that mints participants' keys itself (tokens it
// signed, not the portal) is caught by the browser: the portal's token key does not verify the
// other participant's key claim, so the call ends with the key-substitution refusal and no
// frame of that participant is ever decrypted.
func TestBrowserE2EERefusesRouterKeys(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	portal, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	_, routerPriv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	camera := cfPatternY4M(t, cfCameraW, cfCameraH, 15, 30)
	rig := startRVRig(t, camera, routerPriv, portal, nil)
	rig.startCall(t)
	// The Go participant is the router's accomplice: it trusts the router's key, so it stays
	// in the call and sends its key; only the browser, told the portal's key, refuses.
	if _, err := rig.goParticipant(ctx, t, "minted", routerPriv.Public().(ed25519.PublicKey)); err != nil {
		t.Fatal(err)
	}
	bsPollFor(t, rig.bctx, 20*time.Second, `window.callStates.includes("left")`, "the call ended")
	msgs := bsRun(t, rig.bctx, chromedp.Evaluate[string](`window.callErrors.join(" | ")`))
	if !strings.Contains(msgs, "key substitution refused") {
		t.Fatalf("call errors %q, want the key-substitution refusal", msgs)
	}
	if n := bsRun(t, rig.bctx, chromedp.Evaluate[int](`window.call.e2eeStats.decrypted`)); n != 0 {
		t.Fatalf("Chromium decrypted %d frames of a participant whose key the portal did not sign", n)
	}
	t.Logf("Chromium ended the call: %s", msgs)
}

// rvView collects one participant's media as the router forwards it.
type rvView struct {
	mu    sync.Mutex
	watch string
	pkts  []*rtp.Packet
	opus  int
}

func (v *rvView) setWatch(id string) {
	v.mu.Lock()
	v.watch = id
	v.mu.Unlock()
}

func (v *rvView) hook(m router.MediaView) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if m.Participant != v.watch || v.watch == "" {
		return
	}
	switch strings.ToLower(m.Mime) {
	case "video/vp8":
		if len(v.pkts) < 20000 {
			v.pkts = append(v.pkts, m.Packet.Clone())
		}
	case "audio/opus":
		v.opus++
	}
}

func (v *rvView) opusCount() int {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.opus
}

// frames reassembles the VP8 packets of one simulcast layer (RID) at a time into frames.
func (v *rvView) frames() [][]byte {
	v.mu.Lock()
	pkts := append([]*rtp.Packet(nil), v.pkts...)
	v.mu.Unlock()
	bySSRC := map[uint32][]*rtp.Packet{}
	for _, p := range pkts {
		bySSRC[p.SSRC] = append(bySSRC[p.SSRC], p)
	}
	var out [][]byte
	for _, ps := range bySSRC {
		sb := samplebuilder.New(512, &codecs.VP8Packet{}, 90000)
		for _, p := range ps {
			sb.Push(p)
			for s := sb.Pop(); s != nil; s = sb.Pop() {
				out = append(out, s.Data)
			}
		}
	}
	return out
}
