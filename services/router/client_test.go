package router

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"io"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/pion/interceptor"
	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/sdp/v3"
	"github.com/pion/webrtc/v4"

	"github.com/stoa-rooms/stoa/services/api"
	"github.com/stoa-rooms/stoa/services/token"
)

const testRouterID = "rtr-test"

// testEnv is an SFU served over loopback HTTP with a test token key.
type testEnv struct {
	sfu *SFU
	url string // ws://127.0.0.1:port/rtc
	key ed25519.PrivateKey
}

func newTestEnv(t *testing.T, mod func(*Options)) *testEnv {
	t.Helper()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	o := Options{ID: testRouterID, TokenKey: func() ed25519.PublicKey { return pub }, JoinRate: 100, JoinBurst: 100}
	if mod != nil {
		mod(&o)
	}
	s := New(o)
	srv := httptest.NewServer(s.Handler())
	t.Cleanup(func() {
		s.Close()
		srv.Close()
	})
	return &testEnv{sfu: s, url: "ws" + strings.TrimPrefix(srv.URL, "http") + "/rtc", key: priv}
}

func (e *testEnv) token(t *testing.T, meeting, participant, router string) string {
	t.Helper()
	now := time.Now()
	tok, err := token.Sign(token.Claims{
		Meeting: meeting, Participant: participant, Name: "Name " + participant, Kind: token.KindUser,
		Perms: []string{token.PermPublish, token.PermSubscribe}, Router: router,
		IssuedAt: now.Unix(), Expires: now.Add(time.Minute).Unix(), Nonce: participant + "-" + rand.Text(), // one per join, as the portal mints
	}, e.key)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// recvTrack counts what a client receives on one remote track.
type recvTrack struct {
	packets, bad atomic.Int64
	layer        atomic.Int32 // last simulcast layer byte seen
}

// testClient is a real pion participant speaking the router's signaling.
type testClient struct {
	t    *testing.T
	id   string
	ws   *websocket.Conn
	pc   *webrtc.PeerConnection
	ctx  context.Context
	stop context.CancelFunc

	mu      sync.Mutex
	recv    map[string]*recvTrack // "publisher/track"
	msgs    []api.SigMessage
	offers  int
	closeWS error // why the socket ended
	ended   chan struct{}
	looping atomic.Bool // the read loop runs: close waits for it to end

	plis     sync.Map // SSRC → *atomic.Int64
	keyWant  sync.Map // SSRC → *atomic.Bool: a PLI asked for a key frame
	senders  []*webrtc.RTPSender
	audioTx  *webrtc.RTPSender
	videoTx  *webrtc.RTPSender
	muted    sync.Map // track ID → bool (stop sending)
	levelExt uint8
	negMu    sync.Mutex // pion's description setters must not run concurrently

	// dropOffers makes the client drop that many router offers, as a client whose own offer
	// crossed the router's does (glare: the client's offer wins and the router offers again).
	dropOffers atomic.Int32
	dropped    atomic.Int32 // router offers dropped, by dropOffers or by a crossing offer
}

// renegotiate offers the client's current tracks (after the router's offers settled).
func (c *testClient) renegotiate(t *testing.T) {
	t.Helper()
	waitFor(t, 5*time.Second, "stable signaling", func() bool {
		c.negMu.Lock()
		defer c.negMu.Unlock()
		return c.pc.SignalingState() == webrtc.SignalingStateStable
	})
	c.negMu.Lock()
	defer c.negMu.Unlock()
	offer, err := c.pc.CreateOffer(nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.pc.SetLocalDescription(offer); err != nil {
		t.Fatal(err)
	}
	c.sendMsg(api.SigTypeOffer, api.SigSDP{SDP: offer.SDP, Type: "offer"})
}

type clientOpts struct {
	audio, video bool
	simulcast    bool
	level        uint8 // RFC 6464 level the audio carries (127 = silence)
}

// dialClient joins meeting as id and publishes per o.
func dialClient(t *testing.T, e *testEnv, meeting, id string, o clientOpts) *testClient {
	t.Helper()
	c := connectWS(t, e, e.token(t, meeting, id, testRouterID))
	c.id = id
	m := c.next(t)
	if m.Type != api.SigTypeJoined {
		t.Fatalf("%s: first message %s %s, want joined", id, m.Type, m.Data)
	}
	c.startPC(t, o)
	return c
}

func connectWS(t *testing.T, e *testEnv, tok string) *testClient {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	ws, _, err := websocket.Dial(ctx, e.url, nil)
	if err != nil {
		cancel()
		t.Fatalf("dial: %v", err)
	}
	ws.SetReadLimit(1 << 20)
	c := &testClient{t: t, ws: ws, ctx: ctx, stop: cancel, recv: map[string]*recvTrack{}, ended: make(chan struct{})}
	t.Cleanup(c.close)
	if tok != "" {
		c.sendMsg(api.SigTypeJoin, api.SigJoin{Token: tok})
	}
	return c
}

func (c *testClient) close() {
	c.stop() // first, so the read loop takes errors from here on as teardown
	if c.pc != nil {
		_ = c.pc.Close()
	}
	_ = c.ws.CloseNow()
	// Wait for the read loop: a message it is still handling may report through c.t, which
	// is only allowed until the test's cleanups have finished.
	if c.looping.Load() {
		select {
		case <-c.ended:
		case <-time.After(10 * time.Second):
			c.t.Errorf("%s: read loop did not stop", c.id)
		}
	}
}

func (c *testClient) sendMsg(typ string, data any) {
	b, err := api.NewSig(typ, data)
	if err != nil {
		c.t.Errorf("encode %s: %v", typ, err)
		return
	}
	_ = c.ws.Write(c.ctx, websocket.MessageText, b)
}

// next reads one message synchronously (before the read loop runs).
func (c *testClient) next(t *testing.T) api.SigMessage {
	t.Helper()
	ctx, cancel := context.WithTimeout(c.ctx, 10*time.Second)
	defer cancel()
	_, b, err := c.ws.Read(ctx)
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	m, err := api.DecodeSig(b)
	if err != nil {
		t.Fatalf("decode %s: %v", b, err)
	}
	return m
}

func (c *testClient) startPC(t *testing.T, o clientOpts) {
	t.Helper()
	m := &webrtc.MediaEngine{}
	if err := m.RegisterDefaultCodecs(); err != nil {
		t.Fatal(err)
	}
	if err := m.RegisterHeaderExtension(webrtc.RTPHeaderExtensionCapability{URI: sdp.AudioLevelURI}, webrtc.RTPCodecTypeAudio); err != nil {
		t.Fatal(err)
	}
	reg := &interceptor.Registry{}
	if err := webrtc.RegisterDefaultInterceptors(m, reg); err != nil {
		t.Fatal(err)
	}
	var se webrtc.SettingEngine
	LoopbackOnly(&se)
	wapi := webrtc.NewAPI(webrtc.WithMediaEngine(m), webrtc.WithInterceptorRegistry(reg), webrtc.WithSettingEngine(se))
	pc, err := wapi.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		t.Fatal(err)
	}
	c.pc = pc
	pc.OnICECandidate(func(cand *webrtc.ICECandidate) {
		if cand == nil {
			return
		}
		i := cand.ToJSON()
		c.sendMsg("candidate", map[string]any{"candidate": i.Candidate, "sdpMid": i.SDPMid, "sdpMLineIndex": i.SDPMLineIndex})
	})
	pc.OnTrack(func(tr *webrtc.TrackRemote, _ *webrtc.RTPReceiver) { c.receive(tr) })
	var tracks []*webrtc.TrackLocalStaticRTP
	if o.audio {
		a, err := webrtc.NewTrackLocalStaticRTP(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2}, "audio-"+c.id, "stream-"+c.id)
		if err != nil {
			t.Fatal(err)
		}
		s, err := pc.AddTrack(a)
		if err != nil {
			t.Fatal(err)
		}
		c.senders = append(c.senders, s)
		c.audioTx = s
		tracks = append(tracks, a)
	}
	var video []*webrtc.TrackLocalStaticRTP
	if o.video {
		rids := []string{""}
		if o.simulcast {
			rids = []string{"q", "h", "f"}
		}
		var s *webrtc.RTPSender
		for _, rid := range rids {
			var opts []func(*webrtc.TrackLocalStaticRTP)
			if rid != "" {
				opts = append(opts, webrtc.WithRTPStreamID(rid))
			}
			v, err := webrtc.NewTrackLocalStaticRTP(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8, ClockRate: 90000}, "video-"+c.id, "stream-"+c.id, opts...)
			if err != nil {
				t.Fatal(err)
			}
			if s == nil {
				if s, err = pc.AddTrack(v); err != nil {
					t.Fatal(err)
				}
				c.senders = append(c.senders, s)
				c.videoTx = s
			} else if err := s.AddEncoding(v); err != nil {
				t.Fatal(err)
			}
			video = append(video, v)
		}
	}
	if !o.audio && !o.video {
		// A receive-only client offers recvonly media, as browsers do: an offer without
		// media sections carries no ICE credentials.
		for _, k := range []webrtc.RTPCodecType{webrtc.RTPCodecTypeAudio, webrtc.RTPCodecTypeVideo} {
			if _, err := pc.AddTransceiverFromKind(k, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionRecvonly}); err != nil {
				t.Fatal(err)
			}
		}
	}
	for _, s := range c.senders {
		read := s.ReadRTCP
		go c.readRTCP(read)
	}
	if o.simulcast {
		for _, rid := range []string{"h", "f"} { // the first encoding's RTCP comes from ReadRTCP
			go c.readRTCP(func() ([]rtcp.Packet, interceptor.Attributes, error) { return c.videoTx.ReadSimulcastRTCP(rid) })
		}
	}
	offer, err := pc.CreateOffer(nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := pc.SetLocalDescription(offer); err != nil {
		t.Fatal(err)
	}
	c.sendMsg(api.SigTypeOffer, api.SigSDP{SDP: offer.SDP, Type: "offer"})
	go c.readLoop()
	if len(tracks) > 0 || len(video) > 0 {
		go c.publish(tracks, video, o)
	}
}

func (c *testClient) readRTCP(read func() ([]rtcp.Packet, interceptor.Attributes, error)) {
	for {
		pkts, _, err := read()
		if err != nil && len(pkts) == 0 {
			if errors.Is(err, io.EOF) || errors.Is(err, io.ErrClosedPipe) || c.ctx.Err() != nil {
				return
			}
			time.Sleep(10 * time.Millisecond) // not bound yet, or one undecodable compound packet
			continue
		}
		for _, p := range pkts {
			if pli, ok := p.(*rtcp.PictureLossIndication); ok {
				v, _ := c.plis.LoadOrStore(pli.MediaSSRC, new(atomic.Int64))
				v.(*atomic.Int64).Add(1)
				w, _ := c.keyWant.LoadOrStore(pli.MediaSSRC, new(atomic.Bool))
				w.(*atomic.Bool).Store(true)
			}
		}
	}
}

// pliCount is how many PLIs arrived for the video encoding rid ("" for non-simulcast).
func (c *testClient) pliCount(rid string) int64 {
	if c.videoTx == nil {
		return 0
	}
	for _, enc := range c.videoTx.GetParameters().Encodings {
		if enc.RID == rid {
			if v, ok := c.plis.Load(uint32(enc.SSRC)); ok {
				return v.(*atomic.Int64).Load()
			}
		}
	}
	return 0
}

func (c *testClient) readLoop() {
	c.looping.Store(true)
	defer close(c.ended)
	for {
		_, b, err := c.ws.Read(c.ctx)
		if err != nil {
			c.mu.Lock()
			c.closeWS = err
			c.mu.Unlock()
			return
		}
		m, err := api.DecodeSig(b)
		if err != nil {
			c.t.Errorf("%s: router sent undecodable %q: %v", c.id, b, err)
			return
		}
		c.negMu.Lock()
		c.handleMsg(m)
		c.negMu.Unlock()
	}
}

func (c *testClient) handleMsg(m api.SigMessage) {
	if c.ctx.Err() != nil {
		return // tearing down
	}
	{
		switch m.Type {
		case api.SigTypeAnswer:
			sd, err := api.DecodeSigSDP(m)
			if err == nil {
				err = c.pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: sd.SDP})
			}
			// A participant the router cuts off may have its connection closed under it
			// before the answer lands: that is teardown, not a failure.
			if err != nil && c.ctx.Err() == nil && !errors.Is(err, webrtc.ErrConnectionClosed) {
				c.t.Errorf("%s: answer: %v", c.id, err)
			}
		case api.SigTypeOffer:
			// An offer that crosses ours is dropped (the router yields, as in rtcclient).
			if c.dropOffers.Add(-1) >= 0 || c.pc.SignalingState() == webrtc.SignalingStateHaveLocalOffer {
				c.dropped.Add(1)
				return
			}
			c.dropOffers.Store(0)
			sd, err := api.DecodeSigSDP(m)
			if err == nil {
				err = c.pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: sd.SDP})
			}
			var ans webrtc.SessionDescription
			if err == nil {
				ans, err = c.pc.CreateAnswer(nil)
			}
			if err == nil {
				err = c.pc.SetLocalDescription(ans)
			}
			if err != nil {
				if c.ctx.Err() == nil { // not our own teardown closing the connection under it
					c.t.Errorf("%s: router offer: %v", c.id, err)
				}
				return
			}
			c.mu.Lock()
			c.offers++
			c.mu.Unlock()
			c.sendMsg(api.SigTypeAnswer, api.SigSDP{SDP: ans.SDP, Type: "answer"})
		case api.SigTypeCandidate:
			cd, err := api.DecodeSigCandidate(m)
			if err == nil && cd.Candidate != "" {
				_ = c.pc.AddICECandidate(webrtc.ICECandidateInit{Candidate: cd.Candidate, SDPMid: cd.SDPMid, SDPMLineIndex: cd.SDPMLineIndex})
			}
		default:
			c.mu.Lock()
			c.msgs = append(c.msgs, m)
			c.mu.Unlock()
		}
	}
}

// receive counts packets of a remote track and checks each payload's CRC trailer.
func (c *testClient) receive(tr *webrtc.TrackRemote) {
	key := tr.StreamID() + "/" + tr.ID()
	c.mu.Lock()
	r := c.recv[key]
	if r == nil {
		r = &recvTrack{}
		c.recv[key] = r
	}
	c.mu.Unlock()
	for {
		p, _, err := tr.ReadRTP()
		if err != nil {
			return
		}
		if !checkPayload(p.Payload) {
			r.bad.Add(1)
			continue
		}
		r.layer.Store(int32(p.Payload[len(p.Payload)-5]))
		r.packets.Add(1)
	}
}

func (c *testClient) track(publisher, track string) *recvTrack {
	c.mu.Lock()
	defer c.mu.Unlock()
	if r := c.recv[publisher+"/"+track]; r != nil {
		return r
	}
	return &recvTrack{}
}

func (c *testClient) offerCount() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.offers
}

// message returns the first received message of typ matching ok.
func (c *testClient) message(typ string, ok func(api.SigMessage) bool) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, m := range c.msgs {
		if m.Type == typ && (ok == nil || ok(m)) {
			return true
		}
	}
	return false
}

func (c *testClient) socketEnded() (error, bool) {
	select {
	case <-c.ended:
		c.mu.Lock()
		defer c.mu.Unlock()
		return c.closeWS, true
	default:
		return nil, false
	}
}

// Payload layout: media bytes, then a layer byte, then CRC-32 of everything before it.
func makePayload(prefix []byte, layer byte, n int, seed uint32) []byte {
	p := make([]byte, 0, len(prefix)+n+5)
	p = append(p, prefix...)
	for i := 0; i < n; i++ {
		p = append(p, byte(seed>>uint(i%4*8))^byte(i))
	}
	p = append(p, layer)
	return binary.BigEndian.AppendUint32(p, crc32.ChecksumIEEE(p))
}

func checkPayload(p []byte) bool {
	if len(p) < 5 {
		return false
	}
	return binary.BigEndian.Uint32(p[len(p)-4:]) == crc32.ChecksumIEEE(p[:len(p)-4])
}

var (
	vp8Key   = []byte{0x10, 0x00, 0x00, 0x00, 0x9d, 0x01, 0x2a, 0x40, 0x01, 0xf0, 0x00} // S=1, P=0, start code, 320x240
	vp8Inter = []byte{0x10, 0x01, 0x00, 0x00}
	vp8Cont  = []byte{0x00}
)

// Simulcast layers: packets per frame and payload bytes per packet (q < h < f).
var layerShape = map[string][2]int{"": {1, 300}, "q": {1, 150}, "h": {2, 500}, "f": {5, 1000}}

// publish paces audio (20 ms) and video (~16 fps); video key frames go out first and when a
// PLI asks for one, so forwarding depends on the router relaying PLIs.
func (c *testClient) publish(audio []*webrtc.TrackLocalStaticRTP, video []*webrtc.TrackLocalStaticRTP, o clientOpts) {
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	var seq [8]uint16
	var frame uint32
	var levelID uint8
	if c.audioTx != nil {
		for _, e := range c.audioTx.GetParameters().HeaderExtensions {
			if e.URI == sdp.AudioLevelURI {
				levelID = uint8(e.ID)
			}
		}
	}
	for n := uint32(0); ; n++ {
		select {
		case <-c.ctx.Done():
			return
		case <-tick.C:
		}
		for i, a := range audio {
			if v, _ := c.muted.Load(a.ID()); v == true {
				continue
			}
			p := &rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 111, SequenceNumber: seq[i], Timestamp: n * 960, SSRC: 1}, Payload: makePayload(nil, 0, 60, n)}
			seq[i]++
			if levelID != 0 {
				b, _ := rtp.AudioLevelExtension{Level: o.level, Voice: o.level < 127}.Marshal()
				_ = p.SetExtension(levelID, b)
			}
			_ = a.WriteRTP(p)
		}
		if n%3 != 0 {
			continue
		}
		frame++
		for i, v := range video {
			if mv, _ := c.muted.Load(v.ID()); mv == true {
				continue
			}
			shape := layerShape[v.RID()]
			key := frame == 1 || c.takeKeyWant(v.RID())
			for k := 0; k < shape[0]; k++ {
				prefix := vp8Cont
				if k == 0 {
					prefix = vp8Inter
					if key {
						prefix = vp8Key
					}
				}
				j := len(audio) + i
				p := &rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 96, SequenceNumber: seq[j], Timestamp: frame * 6000, Marker: k == shape[0]-1, SSRC: 2}, Payload: makePayload(prefix, layerByte(v.RID()), shape[1], frame)}
				seq[j]++
				if v.RID() != "" {
					c.tagSimulcast(p, v.RID())
				}
				_ = v.WriteRTP(p)
			}
		}
	}
}

func layerByte(rid string) byte {
	switch rid {
	case "q":
		return 1
	case "h":
		return 2
	case "f":
		return 3
	}
	return 0
}

func (c *testClient) takeKeyWant(rid string) bool {
	if c.videoTx == nil {
		return false
	}
	for _, enc := range c.videoTx.GetParameters().Encodings {
		if enc.RID == rid {
			if w, ok := c.keyWant.Load(uint32(enc.SSRC)); ok {
				return w.(*atomic.Bool).Swap(false)
			}
		}
	}
	return false
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", d, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// tagSimulcast adds the MID and RID header extensions (RFC 8843, RFC 8852) a pion simulcast
// sender must set itself, so the router can tell the layers apart.
func (c *testClient) tagSimulcast(p *rtp.Packet, rid string) {
	var midID, ridID uint8
	for _, e := range c.videoTx.GetParameters().HeaderExtensions {
		switch e.URI {
		case sdp.SDESMidURI:
			midID = uint8(e.ID)
		case sdp.SDESRTPStreamIDURI:
			ridID = uint8(e.ID)
		}
	}
	mid := ""
	for _, tr := range c.pc.GetTransceivers() {
		if tr.Sender() == c.videoTx {
			mid = tr.Mid()
		}
	}
	if midID == 0 || ridID == 0 || mid == "" {
		return
	}
	_ = p.SetExtension(midID, []byte(mid))
	_ = p.SetExtension(ridID, []byte(rid))
}
