package router

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pion/interceptor"
	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
)

// lossPlan drops chosen packets of one media stream the first time each passes a client's
// interceptor chain, and records the NACKs (RFC 4585 §6.2.1) and retransmissions around them.
type lossPlan struct {
	mime    string
	offsets []uint16 // once armed: drop base+offset, base being the next sequence number seen

	mu       sync.Mutex
	ssrc     uint32
	armed    bool
	haveBase bool
	base     uint16
	dropped  map[uint16][]byte // seq → payload dropped
	nacked   map[uint16]int    // seq → times named in a NACK (sent or received)
	rtx      map[uint16]int    // seq → retransmissions seen as RTX (RFC 4588)
	plain    map[uint16]int    // seq → retransmissions seen on the media SSRC
}

func newLossPlan(mime string, offsets ...uint16) *lossPlan {
	return &lossPlan{mime: mime, offsets: offsets, dropped: map[uint16][]byte{}, nacked: map[uint16]int{}, rtx: map[uint16]int{}, plain: map[uint16]int{}}
}

func (l *lossPlan) arm() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.armed = true
}

// drop reports whether the media packet seq is to be discarded now (its first arrival).
func (l *lossPlan) drop(seq uint16, payload []byte) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.armed {
		return false
	}
	if !l.haveBase {
		l.base, l.haveBase = seq, true
	}
	for _, o := range l.offsets {
		if seq != l.base+o {
			continue
		}
		if _, done := l.dropped[seq]; !done {
			l.dropped[seq] = bytes.Clone(payload)
			return true
		}
		l.plain[seq]++
	}
	return false
}

func (l *lossPlan) sawRTX(osn uint16) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if _, ok := l.dropped[osn]; ok {
		l.rtx[osn]++
	}
}

func (l *lossPlan) sawRTCP(pkts []rtcp.Packet) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, p := range pkts {
		if n, ok := p.(*rtcp.TransportLayerNack); ok && n.MediaSSRC == l.ssrc {
			for _, seq := range n.Nacks {
				for _, s := range seq.PacketList() {
					l.nacked[s]++
				}
			}
		}
	}
}

// snapshot returns the dropped packets and the counters of each.
func (l *lossPlan) snapshot() (dropped map[uint16][]byte, nacked, rtx, plain map[uint16]int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	cp := func(m map[uint16]int) map[uint16]int {
		o := map[uint16]int{}
		for k, v := range m {
			o[k] = v
		}
		return o
	}
	d := map[uint16][]byte{}
	for k, v := range l.dropped {
		d[k] = v
	}
	return d, cp(l.nacked), cp(l.rtx), cp(l.plain)
}

func (l *lossPlan) matches(info *interceptor.StreamInfo) bool {
	return strings.EqualFold(info.MimeType, l.mime)
}

// lossInterceptor applies a lossPlan; registered first, it sits nearest the network, so the
// NACK generator above it never sees a dropped packet and the NACK responder above it still
// buffered what it drops.
type lossInterceptor struct {
	interceptor.NoOp
	plan *lossPlan
}

type lossFactory struct{ plan *lossPlan }

func (f lossFactory) NewInterceptor(string) (interceptor.Interceptor, error) {
	return &lossInterceptor{plan: f.plan}, nil
}

// BindRemoteStream drops incoming packets (a subscriber losing what the router sends).
func (i *lossInterceptor) BindRemoteStream(info *interceptor.StreamInfo, reader interceptor.RTPReader) interceptor.RTPReader {
	if strings.EqualFold(info.MimeType, webrtc.MimeTypeRTX) {
		// RTX repairs (RFC 4588 §4): the original sequence number leads the payload.
		return interceptor.RTPReaderFunc(func(b []byte, a interceptor.Attributes) (int, interceptor.Attributes, error) {
			n, attrs, err := reader.Read(b, a)
			var h rtp.Header
			if hn, herr := h.Unmarshal(b[:n]); err == nil && herr == nil && n-hn >= 2 {
				i.plan.sawRTX(binary.BigEndian.Uint16(b[hn:]))
			}
			return n, attrs, err
		})
	}
	if !i.plan.matches(info) {
		return reader
	}
	i.plan.mu.Lock()
	i.plan.ssrc = info.SSRC
	i.plan.mu.Unlock()
	return interceptor.RTPReaderFunc(func(b []byte, a interceptor.Attributes) (int, interceptor.Attributes, error) {
		for {
			n, attrs, err := reader.Read(b, a)
			if err != nil {
				return n, attrs, err
			}
			var h rtp.Header
			hn, err := h.Unmarshal(b[:n])
			if err != nil || !i.plan.drop(h.SequenceNumber, b[hn:n]) {
				return n, attrs, nil
			}
			a = interceptor.Attributes{} // no header parsed from the dropped packet may linger
		}
	})
}

// BindLocalStream drops outgoing packets (a publisher's packets lost on the way to the router)
// and sees the retransmissions: RTX on its own SSRC carries the original sequence number
// first in its payload (RFC 4588 §4).
func (i *lossInterceptor) BindLocalStream(info *interceptor.StreamInfo, writer interceptor.RTPWriter) interceptor.RTPWriter {
	if !i.plan.matches(info) {
		return writer
	}
	i.plan.mu.Lock()
	i.plan.ssrc = info.SSRC
	i.plan.mu.Unlock()
	return interceptor.RTPWriterFunc(func(h *rtp.Header, payload []byte, a interceptor.Attributes) (int, error) {
		if h.SSRC != info.SSRC {
			if len(payload) >= 2 {
				i.plan.sawRTX(binary.BigEndian.Uint16(payload))
			}
			return writer.Write(h, payload, a)
		}
		if i.plan.drop(h.SequenceNumber, payload) {
			return h.MarshalSize() + len(payload), nil
		}
		return writer.Write(h, payload, a)
	})
}

// BindRTCPWriter counts the NACKs this client sends.
func (i *lossInterceptor) BindRTCPWriter(writer interceptor.RTCPWriter) interceptor.RTCPWriter {
	return interceptor.RTCPWriterFunc(func(pkts []rtcp.Packet, a interceptor.Attributes) (int, error) {
		i.plan.sawRTCP(pkts)
		return writer.Write(pkts, a)
	})
}

// BindRTCPReader counts the NACKs this client receives.
func (i *lossInterceptor) BindRTCPReader(reader interceptor.RTCPReader) interceptor.RTCPReader {
	return interceptor.RTCPReaderFunc(func(b []byte, a interceptor.Attributes) (int, interceptor.Attributes, error) {
		n, attrs, err := reader.Read(b, a)
		if err == nil {
			if pkts, perr := rtcp.Unmarshal(b[:n]); perr == nil {
				i.plan.sawRTCP(pkts)
			}
		}
		return n, attrs, err
	})
}

// vp8NoRTX registers Opus and VP8 with NACK but no RTX: the router must retransmit on the
// media SSRC itself.
func vp8NoRTX(m *webrtc.MediaEngine) error {
	for _, c := range []struct {
		p webrtc.RTPCodecParameters
		k webrtc.RTPCodecType
	}{
		{webrtc.RTPCodecParameters{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2}, PayloadType: 111}, webrtc.RTPCodecTypeAudio},
		{webrtc.RTPCodecParameters{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8, ClockRate: 90000}, PayloadType: 96}, webrtc.RTPCodecTypeVideo},
	} {
		if err := m.RegisterCodec(c.p, c.k); err != nil {
			return fmt.Errorf("register %s: %w", c.p.MimeType, err)
		}
	}
	return nil
}

// Packets lost between the router and a subscriber are recovered: the subscriber's NACK
// generator names them and the router's NACK responder resends them as a plain
// retransmission on the media SSRC (the subscriber did not negotiate RTX).
//
// Not covered: a subscriber that negotiates RTX gets nothing back today. The responder writes
// RTX on its own SSRC and GCC's pacer (gcc.NoOpPacer) only knows the media SSRCs, so it
// refuses every RTX packet ("unknown ssrc"). Routing RTX through the media stream's pacer
// writer fixes that but made TestSimulcastFollowsCappedLink's loss estimate stay low after
// the cap lifts (pion receivers keep NACKing RTX-repaired packets), so it is left open.
func TestRouterRetransmitsWhatSubscriberLost(t *testing.T) {
	cases := []struct {
		name   string
		codecs func(*webrtc.MediaEngine) error
		rtx    bool
	}{
		{"no rtx: plain retransmission", vp8NoRTX, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := newTestEnv(t, nil)
			dialClient(t, e, "nack", "cam", clientOpts{video: true})
			plan := newLossPlan(webrtc.MimeTypeVP8, 3, 4, 10)
			// The loss is simulated above SRTP, so a plain retransmission reuses an index SRTP
			// already accepted; real loss happens below SRTP where replay checks never see it.
			_, rx := dialCustom(t, e, "nack", "viewer", customOpts{codecs: tc.codecs, interceptors: []interceptor.Factory{lossFactory{plan}}, noReplay: !tc.rtx})
			key := "cam/video-cam"
			waitFor(t, 10*time.Second, "viewer receives video", func() bool { return rx.count(key) >= 5 })
			plan.arm()
			waitFor(t, 10*time.Second, "the three dropped packets arrive again", func() bool {
				dropped, _, _, _ := plan.snapshot()
				if len(dropped) < 3 {
					return false
				}
				_, _, pkts := rx.get(key)
				for seq := range dropped {
					if !received(pkts, seq) {
						return false
					}
				}
				return true
			})
			dropped, nacked, _, plain := plan.snapshot()
			_, rtxSSRC, pkts := rx.get(key)
			if tc.rtx != (rtxSSRC != 0) {
				t.Errorf("viewer's RTX SSRC %d; RTX negotiated: %v", rtxSSRC, tc.rtx)
			}
			for seq, orig := range dropped {
				if nacked[seq] == 0 {
					t.Errorf("seq %d: the viewer never NACKed it", seq)
				}
				for _, p := range pkts {
					if p.SequenceNumber != seq {
						continue
					}
					if p.rtx != tc.rtx {
						t.Errorf("seq %d: arrived as RTX %v, want %v", seq, p.rtx, tc.rtx)
					}
					if !bytes.Equal(p.Payload, orig) || !checkPayload(p.Payload) {
						t.Errorf("seq %d: retransmitted payload differs from the one lost", seq)
					}
				}
				if !tc.rtx && plain[seq] == 0 {
					t.Errorf("seq %d: no plain retransmission counted", seq)
				}
				t.Logf("seq %d: NACKed %d times", seq, nacked[seq])
			}
		})
	}
}

// received reports whether seq is among pkts.
func received(pkts []rxPacket, seq uint16) bool {
	for _, p := range pkts {
		if p.SequenceNumber == seq {
			return true
		}
	}
	return false
}

// publishVP8 paces one VP8 packet per frame at 30 fps, each payload unique (its CRC trailer
// seeded with the sequence number), key frames first and on PLI.
func publishVP8(ctx context.Context, c *testClient, tr *webrtc.TrackLocalStaticRTP) {
	tick := time.NewTicker(33 * time.Millisecond)
	defer tick.Stop()
	for seq := uint16(0); ; seq++ {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		prefix := vp8Inter
		if seq == 0 || c.takeKeyWant("") {
			prefix = vp8Key
		}
		_ = tr.WriteRTP(&rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 96, SequenceNumber: seq, Timestamp: uint32(seq) * 3000, Marker: true, SSRC: 1}, Payload: makePayload(prefix, 0, 200, uint32(seq)*2654435761)})
	}
}

// Packets lost between a publisher and the router are requested by the router's NACK
// generator on the incoming stream; the publisher resends them (as RTX: both sides
// negotiate it) and the router forwards the recovered packets to its subscriber.
func TestRouterNacksWhatPublisherLost(t *testing.T) {
	e := newTestEnv(t, nil)
	plan := newLossPlan(webrtc.MimeTypeVP8, 5, 6, 12)
	dialCustom(t, e, "up", "cam", customOpts{interceptors: []interceptor.Factory{lossFactory{plan}}, setup: func(t *testing.T, c *testClient, pc *webrtc.PeerConnection) {
		tr := addVideoSender(t, c, pc, webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8, ClockRate: 90000})
		go publishVP8(c.ctx, c, tr)
	}})
	_, rx := dialCustom(t, e, "up", "viewer", customOpts{})
	key := "cam/video-cam"
	waitFor(t, 10*time.Second, "viewer receives video", func() bool { return rx.count(key) >= 5 })
	plan.arm()
	waitFor(t, 10*time.Second, "the viewer gets the three packets the publisher lost", func() bool {
		dropped, _, _, _ := plan.snapshot()
		if len(dropped) < 3 {
			return false
		}
		_, _, pkts := rx.get(key)
		for _, orig := range dropped {
			found := false
			for _, p := range pkts {
				found = found || bytes.Equal(p.Payload, orig)
			}
			if !found {
				return false
			}
		}
		return true
	})
	dropped, nacked, rtx, plain := plan.snapshot()
	for seq := range dropped {
		if nacked[seq] == 0 {
			t.Errorf("seq %d: the router never NACKed it", seq)
		}
		if rtx[seq] == 0 {
			t.Errorf("seq %d: not resent as RTX (plain resends: %d)", seq, plain[seq])
		}
		t.Logf("seq %d: router NACKed it %d times; publisher resent it %d times as RTX", seq, nacked[seq], rtx[seq])
	}
}
