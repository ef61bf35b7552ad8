package router

import (
	"testing"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"

	"github.com/stoa-rooms/stoa/services/api"
)

// Glare (RFC 8829 section 4.1.8.2): the client offers while the router's own offer is
// outstanding. The client drops the router's offer; the router drops its offer (never applied), answers
// the client's and offers again, so both sides end up with every track and nobody is cut off.
func TestGlareClientOfferWins(t *testing.T) {
	e := newTestEnv(t, nil)
	a := dialClient(t, e, "m", "alice", clientOpts{audio: true, level: 127})
	waitFor(t, 5*time.Second, "alice connected", func() bool { return a.pc.ConnectionState() == webrtc.PeerConnectionStateConnected })
	waitFor(t, 5*time.Second, "alice stable", func() bool {
		a.negMu.Lock()
		defer a.negMu.Unlock()
		return a.pc.SignalingState() == webrtc.SignalingStateStable
	})

	// Bob's tracks make the router offer them to alice; alice drops that offer, as a client
	// does whose own offer is on the wire.
	a.dropOffers.Store(1)
	b := dialClient(t, e, "m", "bob", clientOpts{audio: true, video: true, level: 127})
	waitFor(t, 5*time.Second, "the router's offer to alice", func() bool { return a.dropped.Load() == 1 })

	// Alice now publishes a second audio track: her offer meets the router's pending one.
	extra, err := webrtc.NewTrackLocalStaticRTP(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2}, "extra-alice", "stream-alice")
	if err != nil {
		t.Fatal(err)
	}
	a.negMu.Lock()
	_, err = a.pc.AddTrack(extra)
	a.negMu.Unlock()
	if err != nil {
		t.Fatal(err)
	}
	a.renegotiate(t)
	go func() {
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for n := uint32(0); a.ctx.Err() == nil; n++ {
			<-tick.C
			_ = extra.WriteRTP(&rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 111, SequenceNumber: uint16(n), Timestamp: n * 960}, Payload: makePayload(nil, 0, 60, n)})
		}
	}()

	// The router answered alice, then offered bob's tracks again: media flows every way.
	waitFor(t, 10*time.Second, "alice receives bob's audio and video", func() bool {
		return a.track("bob", "audio-bob").packets.Load() > 20 && a.track("bob", "video-bob").packets.Load() > 10
	})
	waitFor(t, 10*time.Second, "bob receives alice's new track", func() bool {
		return b.track("alice", "extra-alice").packets.Load() > 20 && b.track("alice", "audio-alice").packets.Load() > 20
	})
	if err, ended := a.socketEnded(); ended {
		t.Fatalf("alice's signaling ended: %v", err)
	}
	if a.message(api.SigTypeError, nil) {
		a.mu.Lock()
		defer a.mu.Unlock()
		t.Fatalf("the router sent alice an error: %v", a.msgs)
	}
	if bad := a.track("bob", "video-bob").bad.Load() + b.track("alice", "extra-alice").bad.Load(); bad != 0 {
		t.Errorf("%d corrupt packets", bad)
	}
}
