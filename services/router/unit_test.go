package router

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pion/interceptor/pkg/cc"
	"github.com/pion/sdp/v3"
	"github.com/pion/webrtc/v4"

	"github.com/stoa-rooms/stoa/services/api"
)

func TestChooseLayer(t *testing.T) {
	layers := []Layer{{"f", 1_500_000}, {"q", 150_000}, {"h", 500_000}}
	tests := []struct {
		name    string
		budget  int
		layers  []Layer
		current string
		want    string
	}{
		{"nothing fits: lowest", 50_000, layers, "h", "q"},
		{"only q fits", 400_000, layers, "q", "q"},
		{"h fits with headroom", 600_000, layers, "q", "h"},
		{"h fits without headroom: no upgrade", 520_000, layers, "q", "q"},
		{"staying on h needs no headroom", 510_000, layers, "h", "h"},
		{"down from f when budget drops", 700_000, layers, "f", "h"},
		{"everything fits", 5_000_000, layers, "q", "f"},
		{"inactive layers ignored", 5_000_000, []Layer{{"q", 150_000}, {"h", 0}, {"f", 0}}, "f", "q"},
		{"no layer arriving keeps current", 5_000_000, []Layer{{"q", 0}}, "h", "h"},
		{"no layers", 1, nil, "", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := ChooseLayer(tc.budget, tc.layers, tc.current); got != tc.want {
				t.Errorf("ChooseLayer(%d, %v, %q) = %q, want %q", tc.budget, tc.layers, tc.current, got, tc.want)
			}
		})
	}
}

func TestVideoBudget(t *testing.T) {
	tests := []struct{ est, audio, video, want int }{
		{1_000_000, 0, 1, 1_000_000},
		{1_000_000, 2, 2, (1_000_000 - 128_000) / 2},
		{100_000, 2, 1, 0},
		{100_000, 0, 0, 100_000},
	}
	for _, tc := range tests {
		if got := VideoBudget(tc.est, tc.audio, tc.video); got != tc.want {
			t.Errorf("VideoBudget(%d, %d, %d) = %d, want %d", tc.est, tc.audio, tc.video, got, tc.want)
		}
	}
}

func TestRateMeter(t *testing.T) {
	var m rateMeter
	t0 := time.Unix(1000, 0)
	for i := 0; i < 30; i++ { // 3 s of 1250 bytes every 100 ms = 100 kbit/s
		m.add(1250, t0.Add(time.Duration(i)*100*time.Millisecond))
	}
	if got := m.bitrate(t0.Add(3 * time.Second)); got != 100_000 {
		t.Errorf("bitrate = %d, want 100000", got)
	}
	if got := m.bitrate(t0.Add(10 * time.Second)); got != 0 {
		t.Errorf("bitrate after silence = %d, want 0", got)
	}
}

func TestSpeakerDetector(t *testing.T) {
	t0 := time.Unix(1000, 0)
	feed := func(d *speakerDetector, from time.Time, levels map[string]uint8, n int) time.Time {
		for i := 0; i < n; i++ {
			at := from.Add(time.Duration(i) * 20 * time.Millisecond)
			for id, l := range levels {
				d.observe(id, l, at)
			}
		}
		return from.Add(time.Duration(n) * 20 * time.Millisecond)
	}
	t.Run("loudest wins", func(t *testing.T) {
		d := newSpeakerDetector()
		now := feed(d, t0, map[string]uint8{"a": 30, "b": 50, "c": 127}, 20)
		if id, changed := d.evaluate(now); id != "a" || !changed {
			t.Errorf("evaluate = %q %v, want a true", id, changed)
		}
		if _, changed := d.evaluate(now); changed {
			t.Error("unchanged speaker reported as a change")
		}
	})
	t.Run("silence names nobody", func(t *testing.T) {
		d := newSpeakerDetector()
		now := feed(d, t0, map[string]uint8{"a": 127, "b": 100}, 20)
		if id, changed := d.evaluate(now); id != "" || changed {
			t.Errorf("evaluate = %q %v, want none", id, changed)
		}
	})
	t.Run("challenger must beat margin", func(t *testing.T) {
		d := newSpeakerDetector()
		now := feed(d, t0, map[string]uint8{"a": 40, "b": 60}, 20)
		d.evaluate(now)
		now = feed(d, now, map[string]uint8{"a": 40, "b": 39}, 100)
		if id, _ := d.evaluate(now); id != "a" {
			t.Errorf("speaker = %q, want a kept (b only 1 dB louder)", id)
		}
		now = feed(d, now, map[string]uint8{"a": 40, "b": 20}, 100)
		if id, changed := d.evaluate(now); id != "b" || !changed {
			t.Errorf("speaker = %q %v, want b", id, changed)
		}
	})
	t.Run("silent speaker keeps floor until someone speaks", func(t *testing.T) {
		d := newSpeakerDetector()
		now := feed(d, t0, map[string]uint8{"a": 30, "b": 127}, 20)
		d.evaluate(now)
		now = feed(d, now, map[string]uint8{"a": 127, "b": 127}, 100)
		if id, _ := d.evaluate(now); id != "a" {
			t.Errorf("speaker = %q, want a kept", id)
		}
	})
	t.Run("forget drops the speaker", func(t *testing.T) {
		d := newSpeakerDetector()
		now := feed(d, t0, map[string]uint8{"a": 30}, 20)
		d.evaluate(now)
		d.forget("a")
		if id, _ := d.evaluate(now); id != "" {
			t.Errorf("speaker = %q after forget", id)
		}
	})
}

func TestRewriterKeepsNumbersContinuous(t *testing.T) {
	var r rewriter
	t0 := time.Unix(1000, 0)
	r.resync(100, 5000, t0, 90000)
	for i := uint16(0); i < 5; i++ {
		s, ts := r.apply(100+i, 5000+uint32(i)*3000, t0)
		if s != 100+i || ts != 5000+uint32(i)*3000 {
			t.Fatalf("first source rewritten: %d %d", s, ts)
		}
	}
	// Switch to a source with unrelated numbers 100 ms later (wrapping sequence numbers).
	t1 := t0.Add(100 * time.Millisecond)
	r.resync(65534, 4_000_000_000, t1, 90000)
	s, ts := r.apply(65534, 4_000_000_000, t1)
	if s != 105 || ts != 5000+4*3000+9000 {
		t.Errorf("after switch: seq %d ts %d, want 105 %d", s, ts, 5000+4*3000+9000)
	}
	if s, _ := r.apply(1, 4_000_003_000, t1); s != 108 {
		t.Errorf("wrapped seq maps to %d, want 108", s)
	}
}

func TestKeyframeDetection(t *testing.T) {
	tests := []struct {
		name  string
		vp8   bool
		p     []byte
		want  bool
		valid bool
	}{
		{"vp8 key", true, vp8Key, true, true},
		{"vp8 inter", true, vp8Inter, false, true},
		{"vp8 continuation", true, append([]byte{0x00}, vp8Key[1:]...), false, true},
		{"vp8 key with picture id", true, append([]byte{0x90, 0x80, 0x80, 0x01}, vp8Key[1:]...), true, true},
		{"vp8 truncated extension", true, []byte{0x80}, false, false},
		{"vp8 empty", true, nil, false, false},
		{"h264 idr", false, []byte{0x65, 0x88}, true, true},
		{"h264 non-idr", false, []byte{0x41, 0x9a}, false, true},
		{"h264 stap-a with sps", false, []byte{0x78, 0x00, 0x02, 0x67, 0x42, 0x00, 0x02, 0x68, 0xce}, true, true},
		{"h264 stap-a bad size", false, []byte{0x78, 0x00, 0x09, 0x67}, false, true},
		{"h264 fu-a idr start", false, []byte{0x7c, 0x85, 0x88}, true, true},
		{"h264 fu-a idr middle", false, []byte{0x7c, 0x05, 0x88}, false, true},
		{"h264 forbidden bit", false, []byte{0xe5}, true, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			mime, key := mimeH264, isH264Keyframe
			if tc.vp8 {
				mime, key = mimeVP8, isVP8Keyframe
			}
			if got := key(tc.p); got != tc.want {
				t.Errorf("keyframe = %v, want %v", got, tc.want)
			}
			if got := validPayload(mime, tc.p); got != tc.valid {
				t.Errorf("valid = %v, want %v", got, tc.valid)
			}
		})
	}
}

func TestRateLimits(t *testing.T) {
	t0 := time.Unix(1000, 0)
	b := newBucket(10, 5, t0)
	n := 0
	for i := 0; i < 20; i++ {
		if b.allow(t0) {
			n++
		}
	}
	if n != 5 {
		t.Errorf("burst allowed %d, want 5", n)
	}
	if !b.allow(t0.Add(100*time.Millisecond)) || b.allow(t0.Add(100*time.Millisecond)) {
		t.Error("refill of one token per 100 ms not honoured")
	}
	l := newIPLimiter(1, 2)
	l.maxEntries = 2
	if !l.allow("a", t0) || !l.allow("a", t0) || l.allow("a", t0) {
		t.Error("per-IP burst of 2 not honoured")
	}
	if !l.allow("b", t0) {
		t.Error("another IP limited by a's use")
	}
	if l.allow("c", t0) {
		t.Error("limiter grew past maxEntries while every entry is busy")
	}
	if !l.allow("c", t0.Add(time.Minute)) {
		t.Error("refilled entries not recycled")
	}
}

func TestDecodeClientMessage(t *testing.T) {
	tests := []struct {
		name, in string
		typ      string
		err      string
	}{
		{"join", `{"type":"join","data":{"token":"t"}}`, "join", ""},
		{"join without token", `{"type":"join","data":{}}`, "", "missing token"},
		{"offer", `{"type":"offer","data":{"sdp":"v=0","type":"offer"}}`, "offer", ""},
		{"offer typed answer", `{"type":"offer","data":{"sdp":"v=0","type":"answer"}}`, "", "does not match"},
		{"candidate end", `{"type":"candidate","data":{"candidate":""}}`, "candidate", ""},
		{"candidate too long", `{"type":"candidate","data":{"candidate":"` + strings.Repeat("x", 2000) + `"}}`, "", "longer than 1024"},
		{"mute", `{"type":"mute","data":{"track_id":"a","muted":true}}`, "mute", ""},
		{"leave no data", `{"type":"leave"}`, "leave", ""},
		{"leave with fields", `{"type":"leave","data":{"x":1}}`, "", "unknown field"},
		{"unknown type", `{"type":"bogus"}`, "", "unknown message type"},
		{"router type", `{"type":"participant_left","data":{"id":"x"}}`, "", "unknown message type"},
		{"not json", `{"type":`, "", "decode signaling message"},
		{"trailing", `{"type":"leave"} {}`, "", "trailing"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m, err := decodeClientMessage([]byte(tc.in))
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err = %v, want %q", err, tc.err)
				}
				if tc.name == "unknown type" && !errors.Is(err, errUnknownType) {
					t.Error("unknown type not marked errUnknownType")
				}
				return
			}
			if err != nil || m.Type != tc.typ {
				t.Fatalf("got %q %v, want %q", m.Type, err, tc.typ)
			}
		})
	}
}

// The heartbeat posts the SFU's load to the manager's endpoint and checks the answer.
func TestHeartbeat(t *testing.T) {
	var got atomic.Pointer[api.RouterHeartbeat]
	var status atomic.Int32
	status.Store(http.StatusOK)
	mgr := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.URL.Path != "/api/v1/manager/routers/heartbeat" {
			http.NotFound(w, r)
			return
		}
		b, _ := io.ReadAll(r.Body)
		var hb api.RouterHeartbeat
		if err := api.DecodeStrict(b, &hb); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		got.Store(&hb)
		w.WriteHeader(int(status.Load()))
		_ = json.NewEncoder(w).Encode(api.RouterHeartbeatResponse{})
	}))
	defer mgr.Close()
	s := New(Options{ID: "rtr-1"})
	h := &heartbeater{sfu: s, selfURL: func() string { return "https://r:1" }, manager: func() string { return mgr.URL }, client: mgr.Client(), interval: time.Second, log: s.log}
	if err := h.beat(t.Context(), mgr.URL); err != nil {
		t.Fatalf("beat: %v", err)
	}
	hb := got.Load()
	if hb == nil || hb.RouterID != "rtr-1" || hb.URL != "https://r:1" || hb.Participants != 0 || hb.Meetings == nil {
		t.Errorf("manager got %+v", hb)
	}
	status.Store(http.StatusServiceUnavailable)
	if err := h.beat(t.Context(), mgr.URL); err == nil || !strings.Contains(err.Error(), "503") {
		t.Errorf("beat against a failing manager: %v", err)
	}
}

// The router's offers advertise what its interceptors implement: NACK and PLI feedback, RTX,
// transport-wide congestion control feedback and header extension, and RFC 6464 audio levels.
func TestRouterAPINegotiatesFeedback(t *testing.T) {
	s := New(Options{ID: "r"})
	var est atomic.Bool
	wapi, err := s.newAPI(false, func(cc.BandwidthEstimator) { est.Store(true) })
	if err != nil {
		t.Fatal(err)
	}
	pc, err := wapi.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	for _, k := range []webrtc.RTPCodecType{webrtc.RTPCodecTypeAudio, webrtc.RTPCodecTypeVideo} {
		if _, err := pc.AddTransceiverFromKind(k); err != nil {
			t.Fatal(err)
		}
	}
	offer, err := pc.CreateOffer(nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"a=rtcp-fb:96 nack\r\n", "a=rtcp-fb:96 nack pli", "a=rtcp-fb:96 transport-cc", "a=rtpmap:97 rtx/90000", "a=fmtp:97 apt=96",
		"a=rtpmap:102 H264/90000", "a=rtpmap:111 opus/48000/2", sdp.AudioLevelURI, sdp.TransportCCURI, sdp.SDESRTPStreamIDURI,
	} {
		if !strings.Contains(offer.SDP, want) {
			t.Errorf("offer lacks %q", want)
		}
	}
	if !est.Load() {
		t.Error("no bandwidth estimator attached to the PeerConnection")
	}
}
