package router

import (
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
)

// rewriter keeps a forwarded stream's sequence numbers and timestamps continuous when its
// source changes (a simulcast layer switch, an unmute), so the subscriber's jitter buffer
// and NACK logic see one unbroken stream (RFC 3550 §5.1).
type rewriter struct {
	started bool
	seqOff  uint16
	tsOff   uint32
	lastSeq uint16
	lastTS  uint32
	lastAt  time.Time
}

// resync maps the next source packet (seq, ts) right after the last one sent: the next
// sequence number, and a timestamp advanced by the wall time elapsed since (at least 1).
func (r *rewriter) resync(seq uint16, ts uint32, now time.Time, clockRate uint32) {
	if !r.started {
		r.started = true
		r.seqOff, r.tsOff = 0, 0
		return
	}
	elapsed := uint32(1)
	if d := now.Sub(r.lastAt); d > 0 {
		elapsed = max(1, uint32(d.Seconds()*float64(clockRate)))
	}
	r.seqOff = r.lastSeq + 1 - seq
	r.tsOff = r.lastTS + elapsed - ts
}

// apply rewrites one packet's numbers and remembers the newest one sent.
func (r *rewriter) apply(seq uint16, ts uint32, now time.Time) (uint16, uint32) {
	s, t := seq+r.seqOff, ts+r.tsOff
	if !r.started || int16(s-r.lastSeq) > 0 || r.lastAt.IsZero() {
		r.started = true
		r.lastSeq, r.lastTS, r.lastAt = s, t, now
	}
	return s, t
}

// boundTrack is a forwarded track that knows whether pion has bound it to the subscriber's
// negotiated m-line. Before the subscriber's answer binds it, writes go nowhere: a key frame
// forwarded then is lost and the subscriber would start on delta frames it cannot decode.
type boundTrack struct {
	*webrtc.TrackLocalStaticRTP
	bound atomic.Bool
}

func newBoundTrack(c webrtc.RTPCodecCapability, id, streamID string) (*boundTrack, error) {
	t, err := webrtc.NewTrackLocalStaticRTP(c, id, streamID)
	if err != nil {
		return nil, fmt.Errorf("new track: %w", err)
	}
	return &boundTrack{TrackLocalStaticRTP: t}, nil
}

// Bind is called by pion when the subscriber's answer is applied.
func (b *boundTrack) Bind(ctx webrtc.TrackLocalContext) (webrtc.RTPCodecParameters, error) {
	c, err := b.TrackLocalStaticRTP.Bind(ctx)
	if err == nil {
		b.bound.Store(true)
	}
	return c, err
}

// Unbind is called by pion when the sender stops.
func (b *boundTrack) Unbind(ctx webrtc.TrackLocalContext) error {
	b.bound.Store(false)
	return b.TrackLocalStaticRTP.Unbind(ctx)
}

// forwarder sends one publication to one subscriber: it picks the simulcast layer, waits for
// a key frame before starting or switching, and rewrites SSRC (done by the track binding),
// sequence numbers and timestamps.
type forwarder struct {
	pub    *publication
	sub    *participant
	track  *boundTrack
	sender *webrtc.RTPSender

	mu        sync.Mutex
	current   string // RID being forwarded ("" for a non-simulcast track once started)
	target    string // RID wanted
	started   bool
	needKey   bool // video: drop until a key frame of target arrives
	resync    bool
	rw        rewriter
	packets   uint64
	bytes     uint64
	switches  int
	targetAt  time.Time // when target last changed, for PLI retries
	lastWrite time.Time
}

func newForwarder(pub *publication, sub *participant, track *boundTrack, sender *webrtc.RTPSender, target string) *forwarder {
	return &forwarder{pub: pub, sub: sub, track: track, sender: sender, target: target, needKey: pub.kind == webrtc.RTPCodecTypeVideo, resync: true}
}

// write forwards pkt from layer rid if it belongs to the forwarded stream. key says whether
// it starts a key frame.
func (f *forwarder) write(rid string, pkt *rtp.Packet, key bool, now time.Time) {
	f.mu.Lock()
	if rid == f.target && (rid != f.current || !f.started) {
		// The first packet must reach the subscriber: until its m-line is bound and DTLS is up,
		// stay "waiting" (the control loop repeats the PLI) rather than start on a key frame
		// that is silently dropped.
		if (!f.needKeyframe() || key) && (f.started || f.writable()) {
			if f.started && rid != f.current {
				f.switches++
			}
			f.current, f.started, f.resync, f.needKey = rid, true, true, false
		}
	}
	if !f.started || rid != f.current {
		f.mu.Unlock()
		return
	}
	if f.needKey {
		if !key {
			f.mu.Unlock()
			return
		}
		f.needKey = false
	}
	if f.resync {
		f.rw.resync(pkt.SequenceNumber, pkt.Timestamp, now, f.pub.codec.ClockRate)
		f.resync = false
	}
	out := rtp.Packet{Header: pkt.Header, Payload: pkt.Payload}
	// Header extension IDs are negotiated per PeerConnection: the publisher's IDs mean
	// nothing to the subscriber, so they are dropped; the interceptors add TWCC afresh.
	out.Extension, out.Extensions, out.ExtensionProfile = false, nil, 0
	out.Padding, out.PaddingSize = false, 0
	out.SequenceNumber, out.Timestamp = f.rw.apply(pkt.SequenceNumber, pkt.Timestamp, now)
	f.packets++
	f.bytes += uint64(len(pkt.Payload))
	f.lastWrite = now
	f.mu.Unlock()
	if err := f.track.WriteRTP(&out); err != nil && !errors.Is(err, io.ErrClosedPipe) {
		f.sub.log.Debug("forward rtp", "track", f.pub.id, "err", err)
	}
}

// writable reports whether packets written now reach the subscriber: the track is bound
// and the DTLS transport (hence SRTP) is up.
func (f *forwarder) writable() bool {
	if !f.track.bound.Load() {
		return false
	}
	tr := f.sender.Transport()
	return tr != nil && tr.State() == webrtc.DTLSTransportStateConnected
}

func (f *forwarder) targetRID() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.target
}

func (f *forwarder) needKeyframe() bool { return f.pub.kind == webrtc.RTPCodecTypeVideo }

// setTarget asks for another layer; it reports whether the target changed.
func (f *forwarder) setTarget(rid string, now time.Time) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if rid == f.target {
		return false
	}
	f.target, f.targetAt = rid, now
	return true
}

// pause makes the forwarder restart cleanly (key frame, continuous numbering) after a mute.
func (f *forwarder) pause() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.started = false
	f.needKey = f.needKeyframe()
}

// waiting reports whether the forwarder wants a key frame it has not got yet, and for which
// layer, so the controller can repeat the PLI.
func (f *forwarder) waiting() (string, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.pub.kind != webrtc.RTPCodecTypeVideo {
		return "", false
	}
	return f.target, !f.started || f.current != f.target
}

type forwarderStats struct {
	Track, Publisher, Layer, Target string
	Packets, Bytes                  uint64
	Switches                        int
}

func (f *forwarder) stats() forwarderStats {
	f.mu.Lock()
	defer f.mu.Unlock()
	return forwarderStats{Track: f.pub.id, Publisher: f.pub.owner.id, Layer: f.current, Target: f.target, Packets: f.packets, Bytes: f.bytes, Switches: f.switches}
}
