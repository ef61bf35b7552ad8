package router

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pion/interceptor"
	"github.com/pion/rtp"
	"github.com/pion/rtp/codecs"
	"github.com/pion/webrtc/v4"

	"github.com/stoa-rooms/stoa/services/api"
)

// The H.264 flavour browsers and room appliances send: constrained baseline, level 3.1,
// non-interleaved mode (RFC 6184 §6.3) so FU-A and STAP-A are allowed.
const h264Fmtp = "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f"

// customOpts build a test participant whose media engine and interceptors the test chooses.
type customOpts struct {
	// codecs registers the client's codecs; nil means pion's defaults (Opus, VP8, H.264, RTX…).
	codecs func(*webrtc.MediaEngine) error
	// interceptors are registered before pion's defaults, so they sit nearest the network:
	// what they drop on the way in, the NACK generator never sees.
	interceptors []interceptor.Factory
	// noReplay turns off SRTP replay protection, for loss simulated above SRTP where a plain
	// retransmission reuses the (already decrypted) sequence number.
	noReplay bool
	// setup adds tracks or transceivers before the first offer; nil means recvonly audio+video.
	setup func(t *testing.T, c *testClient, pc *webrtc.PeerConnection)
}

// rxPacket is one received RTP packet and whether it arrived as RTX (RFC 4588).
type rxPacket struct {
	rtp.Packet
	rtx bool
}

type rxStream struct {
	codec   webrtc.RTPCodecParameters
	rtxSSRC webrtc.SSRC
	pkts    []rxPacket
}

// rxLog keeps every packet a custom client receives, per "publisher/track".
type rxLog struct {
	mu      sync.Mutex
	streams map[string]*rxStream
}

func (l *rxLog) read(tr *webrtc.TrackRemote) {
	key := tr.StreamID() + "/" + tr.ID()
	s := &rxStream{codec: tr.Codec()}
	l.mu.Lock()
	l.streams[key] = s
	l.mu.Unlock()
	for {
		p, attrs, err := tr.ReadRTP()
		if err != nil {
			return
		}
		rtx := attrs != nil && attrs.Get(webrtc.AttributeRtxSsrc) != nil
		l.mu.Lock()
		s.pkts = append(s.pkts, rxPacket{Packet: *p, rtx: rtx})
		s.rtxSSRC = tr.RtxSSRC()
		l.mu.Unlock()
	}
}

// get returns a copy of what arrived on key so far.
func (l *rxLog) get(key string) (webrtc.RTPCodecParameters, webrtc.SSRC, []rxPacket) {
	l.mu.Lock()
	defer l.mu.Unlock()
	s := l.streams[key]
	if s == nil {
		return webrtc.RTPCodecParameters{}, 0, nil
	}
	return s.codec, s.rtxSSRC, slices.Clone(s.pkts)
}

func (l *rxLog) count(key string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	if s := l.streams[key]; s != nil {
		return len(s.pkts)
	}
	return 0
}

// dialCustom joins meeting as id with a PeerConnection built per o, speaking the router's
// signaling through testClient, and logs every packet it receives.
func dialCustom(t *testing.T, e *testEnv, meeting, id string, o customOpts) (*testClient, *rxLog) {
	t.Helper()
	c := connectWS(t, e, e.token(t, meeting, id, testRouterID))
	c.id = id
	if m := c.next(t); m.Type != api.SigTypeJoined {
		t.Fatalf("%s: first message %s %s, want joined", id, m.Type, m.Data)
	}
	m := &webrtc.MediaEngine{}
	reg := &interceptor.Registry{}
	var err error
	if o.codecs != nil {
		err = o.codecs(m)
	} else {
		err = m.RegisterDefaultCodecs()
	}
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range o.interceptors {
		reg.Add(f)
	}
	if err := webrtc.RegisterDefaultInterceptors(m, reg); err != nil {
		t.Fatal(err)
	}
	var se webrtc.SettingEngine
	LoopbackOnly(&se)
	se.DisableSRTPReplayProtection(o.noReplay)
	pc, err := webrtc.NewAPI(webrtc.WithMediaEngine(m), webrtc.WithInterceptorRegistry(reg), webrtc.WithSettingEngine(se)).NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		t.Fatal(err)
	}
	c.pc = pc
	log := &rxLog{streams: map[string]*rxStream{}}
	pc.OnICECandidate(func(cand *webrtc.ICECandidate) {
		if cand == nil {
			return
		}
		i := cand.ToJSON()
		c.sendMsg(api.SigTypeCandidate, api.SigCandidate{Candidate: i.Candidate, SDPMid: i.SDPMid, SDPMLineIndex: i.SDPMLineIndex})
	})
	pc.OnTrack(func(tr *webrtc.TrackRemote, _ *webrtc.RTPReceiver) { log.read(tr) })
	if o.setup != nil {
		o.setup(t, c, pc)
	} else {
		for _, k := range []webrtc.RTPCodecType{webrtc.RTPCodecTypeAudio, webrtc.RTPCodecTypeVideo} {
			if _, err := pc.AddTransceiverFromKind(k, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionRecvonly}); err != nil {
				t.Fatal(err)
			}
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
	return c, log
}

// addVideoSender publishes one video track on c and relays the PLIs it receives (counted
// by c.pliCount("") and consumed by c.takeKeyWant("")).
func addVideoSender(t *testing.T, c *testClient, pc *webrtc.PeerConnection, codec webrtc.RTPCodecCapability) *webrtc.TrackLocalStaticRTP {
	t.Helper()
	tr, err := webrtc.NewTrackLocalStaticRTP(codec, "video-"+c.id, "stream-"+c.id)
	if err != nil {
		t.Fatal(err)
	}
	s, err := pc.AddTrack(tr)
	if err != nil {
		t.Fatal(err)
	}
	c.videoTx = s
	go c.readRTCP(s.ReadRTCP)
	return tr
}

// sentLog remembers every packet a test publisher wrote, by sequence number.
type sentLog struct {
	mu     sync.Mutex
	bySeq  map[uint16]rtp.Packet
	frames map[uint32][]byte // timestamp → the access unit in Annex B
	keys   map[uint32]bool   // timestamps of IDR access units
}

func newSentLog() *sentLog {
	return &sentLog{bySeq: map[uint16]rtp.Packet{}, frames: map[uint32][]byte{}, keys: map[uint32]bool{}}
}

func (s *sentLog) packet(seq uint16) (rtp.Packet, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, ok := s.bySeq[seq]
	return p, ok
}

func (s *sentLog) frame(ts uint32) ([]byte, bool, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f, ok := s.frames[ts]
	return f, s.keys[ts], ok
}

// publishH264 paces synthetic H.264 at 15 fps: an IDR access unit (SPS, PPS, IDR slice) first
// and whenever a PLI asked for one, non-IDR slices otherwise.
func publishH264(ctx context.Context, c *testClient, tr *webrtc.TrackLocalStaticRTP, log *sentLog) {
	tick := time.NewTicker(66 * time.Millisecond)
	defer tick.Stop()
	seq := uint16(40000) // near the wrap, so rewriting must handle it
	for n := 0; ; n++ {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		key := n == 0 || c.takeKeyWant("")
		nals := h264AccessUnit(n, key)
		ts := uint32(n) * 6000
		payloads := packetizeH264(nals, 1100)
		var annexB []byte
		for _, nal := range nals {
			annexB = append(append(annexB, 0, 0, 0, 1), nal...)
		}
		log.mu.Lock()
		log.frames[ts], log.keys[ts] = annexB, key
		for i, pl := range payloads {
			log.bySeq[seq+uint16(i)] = rtp.Packet{Header: rtp.Header{Version: 2, SequenceNumber: seq + uint16(i), Timestamp: ts, Marker: i == len(payloads)-1}, Payload: pl}
		}
		log.mu.Unlock()
		for i, pl := range payloads {
			p := &rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 106, SequenceNumber: seq, Timestamp: ts, Marker: i == len(payloads)-1, SSRC: 1}, Payload: pl}
			seq++
			_ = tr.WriteRTP(p)
		}
	}
}

// h264AccessUnit makes frame n's NAL units (ITU-T H.264 §7.3): SPS, PPS and an IDR slice for
// a key frame, else one non-IDR slice. Headers are real syntax; the macroblock data is
// filler (no emulation-prone bytes), enough for an SFU that never decodes.
func h264AccessUnit(n int, key bool) [][]byte {
	if key {
		return [][]byte{h264SPS(), h264PPS(), h264Slice(n, true, 4000)}
	}
	size := 300
	if n%2 == 0 {
		size = 2500 // FU-A
	}
	return [][]byte{h264Slice(n, false, size)}
}

// h264SPS is a 320x240 constrained baseline level 3.1 sequence parameter set (§7.3.2.1.1).
func h264SPS() []byte {
	var w bitWriter
	w.bits(0x67, 8)  // forbidden 0, nal_ref_idc 3, type 7
	w.bits(66, 8)    // profile_idc baseline
	w.bits(0xe0, 8)  // constraint_set0..2 (42e0 = constrained baseline)
	w.bits(31, 8)    // level_idc 3.1
	w.ue(0)          // seq_parameter_set_id
	w.ue(0)          // log2_max_frame_num_minus4: 4-bit frame_num
	w.ue(2)          // pic_order_cnt_type 2
	w.ue(1)          // max_num_ref_frames
	w.bits(0, 1)     // gaps_in_frame_num_value_allowed_flag
	w.ue(320/16 - 1) // pic_width_in_mbs_minus1
	w.ue(240/16 - 1) // pic_height_in_map_units_minus1
	w.bits(0b110, 3) // frame_mbs_only, direct_8x8_inference, no cropping
	w.bits(0, 1)     // vui_parameters_present_flag
	return w.rbsp()
}

// h264PPS is the matching picture parameter set (§7.3.2.2), CAVLC.
func h264PPS() []byte {
	var w bitWriter
	w.bits(0x68, 8)  // nal_ref_idc 3, type 8
	w.ue(0)          // pic_parameter_set_id
	w.ue(0)          // seq_parameter_set_id
	w.bits(0, 2)     // entropy_coding_mode_flag (CAVLC), bottom_field_pic_order_in_frame_present
	w.ue(0)          // num_slice_groups_minus1
	w.ue(0)          // num_ref_idx_l0_default_active_minus1
	w.ue(0)          // num_ref_idx_l1_default_active_minus1
	w.bits(0, 3)     // weighted_pred_flag, weighted_bipred_idc
	w.se(0)          // pic_init_qp_minus26
	w.se(0)          // pic_init_qs_minus26
	w.se(0)          // chroma_qp_index_offset
	w.bits(0b100, 3) // deblocking_filter_control_present, no constrained intra, no redundant_pic_cnt
	return w.rbsp()
}

// h264Slice is an I slice of an IDR picture or a P slice (§7.3.3) with size bytes of filler
// macroblock data that carries n, so every frame's bytes differ.
func h264Slice(n int, idr bool, size int) []byte {
	var w bitWriter
	if idr {
		w.bits(0x65, 8) // nal_ref_idc 3, type 5 (IDR)
	} else {
		w.bits(0x41, 8) // nal_ref_idc 2, type 1 (non-IDR)
	}
	w.ue(0) // first_mb_in_slice
	if idr {
		w.ue(7) // slice_type I (all slices of the picture)
	} else {
		w.ue(5) // slice_type P
	}
	w.ue(0) // pic_parameter_set_id
	frameNum := uint64(n % 16)
	if idr {
		frameNum = 0
	}
	w.bits(frameNum, 4)
	if idr {
		w.ue(uint(n % 65536)) // idr_pic_id
	} else {
		w.bits(0, 2) // num_ref_idx_active_override_flag, ref_pic_list_modification_flag_l0
	}
	if idr {
		w.bits(0, 2) // no_output_of_prior_pics_flag, long_term_reference_flag
	} else {
		w.bits(0, 1) // adaptive_ref_pic_marking_mode_flag
	}
	w.se(0) // slice_qp_delta
	w.ue(1) // disable_deblocking_filter_idc
	for i := 0; i < size; i++ {
		w.bits(uint64(0x10|(n+i)%0xe0), 8) // never 0x00..0x03: no emulation prevention needed
	}
	return w.rbsp()
}

// bitWriter writes the bit strings of H.264 syntax (§7.2), with Exp-Golomb codes (§9.1).
type bitWriter struct {
	buf []byte
	n   uint // bits written
}

func (w *bitWriter) bits(v uint64, n int) {
	for i := n - 1; i >= 0; i-- {
		if w.n%8 == 0 {
			w.buf = append(w.buf, 0)
		}
		if v>>uint(i)&1 == 1 {
			w.buf[len(w.buf)-1] |= 0x80 >> (w.n % 8)
		}
		w.n++
	}
}

func (w *bitWriter) ue(v uint) {
	x := uint64(v) + 1
	l := 0
	for y := x; y > 1; y >>= 1 {
		l++
	}
	w.bits(0, l)
	w.bits(x, l+1)
}

func (w *bitWriter) se(v int) {
	if v > 0 {
		w.ue(uint(2*v - 1))
	} else {
		w.ue(uint(-2 * v))
	}
}

// rbsp ends the NAL unit with rbsp_trailing_bits and inserts emulation prevention bytes
// (§7.4.1) so no start code appears inside it.
func (w *bitWriter) rbsp() []byte {
	w.bits(1, 1)
	for w.n%8 != 0 {
		w.bits(0, 1)
	}
	out := make([]byte, 0, len(w.buf)+8)
	zeros := 0
	for _, b := range w.buf {
		if zeros >= 2 && b <= 3 {
			out = append(out, 3)
			zeros = 0
		}
		out = append(out, b)
		if b == 0 {
			zeros++
		} else {
			zeros = 0
		}
	}
	return out
}

// packetizeH264 makes RTP payloads (RFC 6184): parameter sets aggregated in one STAP-A
// (§5.7.1), NAL units up to mtu as single NAL unit packets, larger ones as FU-A (§5.8).
func packetizeH264(nals [][]byte, mtu int) [][]byte {
	var out [][]byte
	i := 0
	if len(nals) >= 2 && nals[0][0]&0x1f == 7 && nals[1][0]&0x1f == 8 {
		stap := []byte{0x78} // F 0, NRI 3, type 24
		for _, nal := range nals[:2] {
			stap = append(stap, byte(len(nal)>>8), byte(len(nal)))
			stap = append(stap, nal...)
		}
		out = append(out, stap)
		i = 2
	}
	for _, nal := range nals[i:] {
		if len(nal) <= mtu {
			out = append(out, nal)
			continue
		}
		indicator := nal[0]&0xe0 | 28
		body := nal[1:]
		for off := 0; off < len(body); off += mtu - 2 {
			end := min(off+mtu-2, len(body))
			hdr := nal[0] & 0x1f
			if off == 0 {
				hdr |= 0x80 // S
			}
			if end == len(body) {
				hdr |= 0x40 // E
			}
			out = append(out, append([]byte{indicator, hdr}, body[off:end]...))
		}
	}
	return out
}

// onlyH264 is a media engine that can send nothing but H.264 (plus its RTX), as a hardware
// encoder without VP8 would offer.
func onlyH264(m *webrtc.MediaEngine) error {
	for _, c := range []webrtc.RTPCodecParameters{
		{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeH264, ClockRate: 90000, SDPFmtpLine: h264Fmtp}, PayloadType: 106},
		{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeRTX, ClockRate: 90000, SDPFmtpLine: "apt=106"}, PayloadType: 107},
	} {
		if err := m.RegisterCodec(c, webrtc.RTPCodecTypeVideo); err != nil {
			return fmt.Errorf("register %s: %w", c.MimeType, err)
		}
	}
	return nil
}

// A publisher that can only send H.264 reaches subscribers intact: the router negotiates
// H.264 both ways, waits for the IDR access unit before forwarding (its key frame detector
// recognises STAP-A parameter sets and the IDR FU-A), keeps payloads byte-identical with
// sequence numbers and timestamps shifted consistently, and relays a new subscriber's PLI.
func TestH264PublisherReachesSubscribers(t *testing.T) {
	e := newTestEnv(t, nil)
	sent := newSentLog()
	pub, _ := dialCustom(t, e, "h264", "hw", customOpts{codecs: onlyH264, setup: func(t *testing.T, c *testClient, pc *webrtc.PeerConnection) {
		tr := addVideoSender(t, c, pc, webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeH264, ClockRate: 90000, SDPFmtpLine: h264Fmtp})
		go publishH264(c.ctx, c, tr, sent)
	}})
	waitFor(t, 10*time.Second, "router sees the H.264 publication", func() bool {
		for _, p := range e.sfu.Stats().Participants {
			if p.ID == "hw" && len(p.Published) == 1 {
				return true
			}
		}
		return false
	})
	key := "hw/video-hw"
	plisBefore := pub.pliCount("")
	_, rx1 := dialCustom(t, e, "h264", "viewer1", customOpts{})
	waitFor(t, 10*time.Second, "viewer1 receives 60 H.264 packets", func() bool { return rx1.count(key) >= 60 })
	waitFor(t, 5*time.Second, "PLI for viewer1 reaches the publisher", func() bool { return pub.pliCount("") > plisBefore })

	t.Run("negotiated codec is H.264 packetization-mode 1", func(t *testing.T) {
		codec, _, _ := rx1.get(key)
		if !strings.EqualFold(codec.MimeType, webrtc.MimeTypeH264) {
			t.Fatalf("viewer received %q, want H264", codec.MimeType)
		}
		for _, want := range []string{"packetization-mode=1", "profile-level-id=42e01f"} {
			if !strings.Contains(codec.SDPFmtpLine, want) {
				t.Errorf("fmtp %q lacks %s", codec.SDPFmtpLine, want)
			}
		}
	})
	t.Run("forwarding starts on the IDR access unit", func(t *testing.T) {
		_, _, pkts := rx1.get(key)
		first := pkts[0]
		if !isH264Keyframe(first.Payload) || first.Payload[0]&0x1f != 24 {
			t.Errorf("first packet forwarded is NAL type %d (key %v), want the STAP-A with SPS/PPS", first.Payload[0]&0x1f, isH264Keyframe(first.Payload))
		}
		_, tsOff := streamOffsets(t, sent, rx1, key)
		if _, isKey, ok := sent.frame(first.Timestamp - tsOff); !ok || !isKey {
			t.Errorf("first forwarded frame is not an IDR access unit")
		}
	})
	t.Run("payloads identical, numbering shifted consistently", func(t *testing.T) {
		checkH264Stream(t, sent, rx1, key, 10)
	})
	t.Run("new subscriber's PLI reaches the publisher", func(t *testing.T) {
		before := pub.pliCount("")
		_, rx2 := dialCustom(t, e, "h264", "viewer2", customOpts{})
		waitFor(t, 5*time.Second, "PLI for viewer2 at the publisher", func() bool { return pub.pliCount("") > before })
		waitFor(t, 10*time.Second, "viewer2 receives 30 packets", func() bool { return rx2.count(key) >= 30 })
		_, _, pkts := rx2.get(key)
		if !isH264Keyframe(pkts[0].Payload) {
			t.Errorf("viewer2's first packet is not a key frame start (NAL type %d)", pkts[0].Payload[0]&0x1f)
		}
		checkH264Stream(t, sent, rx2, key, 5)
	})
	t.Run("key frame detector on the packetized stream", func(t *testing.T) {
		idr := packetizeH264(h264AccessUnit(0, true), 1100)
		p := packetizeH264(h264AccessUnit(2, false), 1100)
		small := packetizeH264(h264AccessUnit(1, false), 1100)
		cases := []struct {
			name    string
			payload []byte
			want    bool
		}{
			{"stap-a sps+pps", idr[0], true},
			{"fu-a idr start", idr[1], true},
			{"fu-a idr middle", idr[2], false},
			{"fu-a idr end", idr[len(idr)-1], false},
			{"fu-a non-idr start", p[0], false},
			{"single non-idr", small[0], false},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				if got := isH264Keyframe(tc.payload); got != tc.want {
					t.Errorf("isH264Keyframe = %v, want %v", got, tc.want)
				}
				if !validPayload(mimeH264, tc.payload) {
					t.Error("validPayload refuses it")
				}
			})
		}
	})
}

// streamOffsets finds the sequence and timestamp offsets between what was sent and what rx
// received on key, from the first received packet whose payload was sent exactly once
// (parameter sets repeat; slices carry their frame number).
func streamOffsets(t *testing.T, sent *sentLog, rx *rxLog, key string) (uint16, uint32) {
	t.Helper()
	_, _, pkts := rx.get(key)
	sent.mu.Lock()
	defer sent.mu.Unlock()
	for _, p := range pkts {
		var match []rtp.Packet
		for _, s := range sent.bySeq {
			if bytes.Equal(s.Payload, p.Payload) {
				match = append(match, s)
			}
		}
		if len(match) == 1 {
			return p.SequenceNumber - match[0].SequenceNumber, p.Timestamp - match[0].Timestamp
		}
	}
	t.Fatal("no received payload maps to exactly one sent packet")
	return 0, 0
}

// checkH264Stream checks every received packet against what was sent: identical payload and
// marker, one sequence offset and one timestamp offset for the whole stream; and that at
// least minFrames access units reassemble (pion's depacketizer) to the NAL units sent.
func checkH264Stream(t *testing.T, sent *sentLog, rx *rxLog, key string, minFrames int) {
	t.Helper()
	seqOff, tsOff := streamOffsets(t, sent, rx, key)
	_, _, pkts := rx.get(key)
	bad := 0
	for _, p := range pkts {
		s, ok := sent.packet(p.SequenceNumber - seqOff)
		switch {
		case !ok:
			t.Errorf("received seq %d maps to unsent %d", p.SequenceNumber, p.SequenceNumber-seqOff)
		case !bytes.Equal(s.Payload, p.Payload):
			t.Errorf("seq %d: payload differs from sent seq %d", p.SequenceNumber, s.SequenceNumber)
		case p.Timestamp-tsOff != s.Timestamp:
			t.Errorf("seq %d: timestamp %d, want %d+%d", p.SequenceNumber, p.Timestamp, s.Timestamp, tsOff)
		case p.Marker != s.Marker:
			t.Errorf("seq %d: marker %v, want %v", p.SequenceNumber, p.Marker, s.Marker)
		default:
			continue
		}
		if bad++; bad > 5 {
			t.Fatal("too many mismatches")
		}
	}
	// Reassemble access units in sequence order; after a gap (a packet still being repaired)
	// skip to the next access unit.
	slices.SortFunc(pkts, func(a, b rxPacket) int { return int(int16(a.SequenceNumber - b.SequenceNumber)) })
	frames, keys := 0, 0
	var depack codecs.H264Packet
	var au []byte
	synced := true // forwarding starts on an access unit's first packet
	for i, p := range pkts {
		if i > 0 && p.SequenceNumber == pkts[i-1].SequenceNumber {
			continue // a retransmission of one already seen
		}
		if i > 0 && p.SequenceNumber != pkts[i-1].SequenceNumber+1 {
			synced = false
		}
		if !synced {
			if p.Marker {
				synced, au, depack = true, nil, codecs.H264Packet{}
			}
			continue
		}
		out, err := depack.Unmarshal(p.Payload)
		if err != nil {
			t.Fatalf("seq %d: depacketize: %v", p.SequenceNumber, err)
		}
		au = append(au, out...)
		if !p.Marker {
			continue
		}
		want, isKey, ok := sent.frame(p.Timestamp - tsOff)
		switch {
		case !ok:
			t.Errorf("access unit at ts %d was never sent", p.Timestamp-tsOff)
		case !bytes.Equal(au, want):
			t.Errorf("access unit at ts %d: reassembled %d bytes differ from the %d sent", p.Timestamp-tsOff, len(au), len(want))
		default:
			frames++
			if isKey {
				keys++
				if !bytes.Contains(au, []byte{0, 0, 0, 1, 0x65}) {
					t.Error("key access unit lacks its IDR NAL unit")
				}
			}
		}
		au = nil
	}
	if frames < minFrames || keys < 1 {
		t.Errorf("%d access units (%d IDR) reassembled intact, want ≥ %d with ≥ 1 IDR", frames, keys, minFrames)
	}
}
