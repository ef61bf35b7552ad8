// Package bench measures the router (the SFU in services/router) against a baseline taken in
// the same run: the same clients sending the same streams directly to each other, peer to peer.
// It reports the router's CPU per forwarded packet and the forwarding latency it adds.
//
// Method. A scenario is a meeting (N participants, each publishing one synthetic stream) run
// twice over loopback in one process, one mode after the other:
//
//   - router: every participant is an rtcclient joined to an in-process SFU; each packet is
//     sent once and the router forwards it to the N-1 others.
//   - direct: a full mesh of pion PeerConnections between the same participants; each packet
//     is sent straight to each of the N-1 others.
//
// CPU is the process's getrusage user+sys time over a fixed window after every stream flows.
// Forwarded packets come from the router's Stats (sum of packets forwarded to subscribers);
// delivered packets are counted by the subscribers. The process time of the router run also
// holds the clients' work, so two figures bound the router's own cost per forwarded packet:
//
//   - total ns/pkt (upper bound): router-run CPU / forwarded packets;
//   - router ns/pkt (estimate, a lower bound): router-run CPU minus the clients' share, where
//     the clients' share is the direct run's CPU per delivered packet times the packets the
//     router run delivered. In the mesh each delivered packet was also sent once by its
//     publisher, while through the router a publisher sends once for N-1 deliveries, so this
//     share overstates the clients' work and the estimate errs low.
//
// Latency: each publisher stamps the send time (monotonic, from a shared epoch) in the last 8
// bytes of every payload; each subscriber subtracts it from the receive time. Added latency is
// the router run's percentile minus the direct run's; the ratio divides them.
//
// Nothing here asserts speed: benchmarks report the numbers, tests only check the pipeline.
package bench

import (
	"encoding/binary"
	"time"

	"github.com/pion/rtp"
)

// Scenario is a meeting shape: every participant publishes one stream of Kind.
type Scenario struct {
	Name         string
	Participants int
	// Video publishes VP8 at Bitrate bits/s and FPS frames/s; otherwise Opus 20 ms frames of
	// AudioBytes payload bytes.
	Video      bool
	Bitrate    int
	FPS        int
	AudioBytes int
	// KeyframeEvery makes every n-th video frame a key frame, so new subscribers start soon.
	KeyframeEvery int
}

// AudioHeavy is eight participants each publishing Opus in 20 ms frames (~40 kbit/s).
func AudioHeavy() Scenario { return Scenario{Name: "audio-heavy", Participants: 8, AudioBytes: 100} }

// VideoHeavy is four participants each publishing VP8 at ~1 Mbit/s, 30 frames/s.
func VideoHeavy() Scenario {
	return Scenario{Name: "video-heavy", Participants: 4, Video: true, Bitrate: 1_000_000, FPS: 30, KeyframeEvery: 15}
}

// Scenarios are the meetings the benchmark measures.
func Scenarios() []Scenario { return []Scenario{AudioHeavy(), VideoHeavy()} }

// stampLen is the send-time stamp at the end of every payload.
const stampLen = 8

// mtuPayload keeps video packets under a loopback-safe 1200-byte RTP payload.
const mtuPayload = 1100

// frame is one pacing tick's packets (payloads without the stamp, which is added at send).
type frame struct {
	payloads [][]byte
	marker   bool
	tsStep   uint32
}

// interval is the pacing period of one frame.
func (s Scenario) interval() time.Duration {
	if s.Video {
		return time.Second / time.Duration(s.FPS)
	}
	return 20 * time.Millisecond
}

// VP8 payload descriptors (RFC 7741 §4.2) and the start of a key/inter frame header (RFC 6386
// §9.1): the router only needs key frames to be recognisable.
var (
	vp8KeyStart   = []byte{0x10, 0x00, 0x00, 0x00, 0x9d, 0x01, 0x2a, 0x80, 0x02, 0x68, 0x01}
	vp8InterStart = []byte{0x10, 0x01, 0x00, 0x00}
	vp8Cont       = []byte{0x00}
)

// makeFrame builds frame n's payloads (filler after the codec header, stamp space at the end).
func (s Scenario) makeFrame(n int) frame {
	if !s.Video {
		p := make([]byte, s.AudioBytes+stampLen)
		fill(p, n)
		return frame{payloads: [][]byte{p}, marker: false, tsStep: 960}
	}
	size := s.Bitrate / 8 / s.FPS
	var out [][]byte
	for off := 0; off < size; off += mtuPayload {
		n1 := min(mtuPayload, size-off)
		p := make([]byte, n1+stampLen)
		fill(p, n)
		head := vp8Cont
		if off == 0 {
			head = vp8InterStart
			if s.KeyframeEvery > 0 && n%s.KeyframeEvery == 0 {
				head = vp8KeyStart
			}
		}
		copy(p, head)
		out = append(out, p)
	}
	return frame{payloads: out, marker: true, tsStep: uint32(90000 / s.FPS)}
}

func fill(p []byte, seed int) {
	for i := range p {
		p[i] = byte(seed + i*7)
	}
}

// stamp writes the send time (since epoch) into the payload's last 8 bytes.
func stamp(p []byte, d time.Duration) {
	binary.BigEndian.PutUint64(p[len(p)-stampLen:], uint64(d))
}

// readStamp returns the send time carried by a payload.
func readStamp(p []byte) (time.Duration, bool) {
	if len(p) < stampLen {
		return 0, false
	}
	return time.Duration(binary.BigEndian.Uint64(p[len(p)-stampLen:])), true
}

// packetWriter is what publishers write to (a TrackLocalStaticRTP bound to one or many peers).
type packetWriter interface {
	WriteRTP(*rtp.Packet) error
}
