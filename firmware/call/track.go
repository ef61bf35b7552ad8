package call

import (
	"fmt"
	"sync"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/rtp/codecs"
	"github.com/pion/sdp/v3"
	"github.com/pion/webrtc/v4"

	"github.com/stoa-rooms/stoa/services/api/e2ee"
	"github.com/stoa-rooms/stoa/services/api/rtcclient"
)

// rtpTrack is a local track that packetizes encoded frames itself so it can stamp the header
// extensions pion leaves to the application: MID and RID on simulcast layers (RFC 8843, 8852;
// the router tells layers apart by them) and the RFC 6464 audio level on the microphone (the
// router's active speaker detection reads it). rtcclient.SimulcastLayer does the same, but its
// layers only work through rtcclient.Publish, which also takes over the senders' RTCP; the
// call reads that RTCP itself (PLIs, receiver reports, REMB).
type rtpTrack struct {
	*webrtc.TrackLocalStaticRTP
	payloader rtp.Payloader
	clockRate uint32
	// sess seals every frame with SFrame before packetization (nil: plain); codec tells it
	// which prefix must stay readable to the router (VP8 payload header).
	sess  *e2ee.Session
	codec e2ee.Codec

	mu          sync.Mutex
	midID       uint8
	ridID       uint8
	levelID     uint8
	packetizer  rtp.Packetizer
	transceiver *webrtc.RTPTransceiver
	ssrc        webrtc.SSRC
}

func newVP8Layer(streamID, rid string, sess *e2ee.Session) (*rtpTrack, error) {
	t, err := webrtc.NewTrackLocalStaticRTP(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8, ClockRate: 90000},
		VideoTrackID, streamID, webrtc.WithRTPStreamID(rid))
	if err != nil {
		return nil, fmt.Errorf("video layer %s: %w", rid, err)
	}
	return &rtpTrack{TrackLocalStaticRTP: t, payloader: &codecs.VP8Payloader{EnablePictureID: true}, clockRate: 90000,
		sess: sess, codec: e2ee.CodecVP8}, nil
}

func newOpusTrack(streamID string, sess *e2ee.Session) (*rtpTrack, error) {
	t, err := webrtc.NewTrackLocalStaticRTP(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2},
		AudioTrackID, streamID)
	if err != nil {
		return nil, fmt.Errorf("audio track: %w", err)
	}
	return &rtpTrack{TrackLocalStaticRTP: t, payloader: &codecs.OpusPayloader{}, clockRate: 48000,
		sess: sess, codec: e2ee.CodecOpus}, nil
}

// Bind records the negotiated header extension IDs and the SSRC.
func (t *rtpTrack) Bind(ctx webrtc.TrackLocalContext) (webrtc.RTPCodecParameters, error) {
	p, err := t.TrackLocalStaticRTP.Bind(ctx)
	if err != nil {
		return p, err
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, e := range ctx.HeaderExtensions() {
		switch e.URI {
		case sdp.SDESMidURI:
			t.midID = uint8(e.ID)
		case sdp.SDESRTPStreamIDURI:
			t.ridID = uint8(e.ID)
		case rtcclient.AudioLevelURI:
			t.levelID = uint8(e.ID)
		}
	}
	t.ssrc = ctx.SSRC()
	if t.packetizer == nil {
		// Payload type and SSRC are rewritten per binding by TrackLocalStaticRTP.
		t.packetizer = rtp.NewPacketizer(1200, 0, 0, t.payloader, rtp.NewRandomSequencer(), t.clockRate)
	}
	return p, nil
}

func (t *rtpTrack) setTransceiver(tr *webrtc.RTPTransceiver) {
	t.mu.Lock()
	t.transceiver = tr
	t.mu.Unlock()
}

// SSRC is the bound SSRC (0 before negotiation).
func (t *rtpTrack) SSRC() webrtc.SSRC {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.ssrc
}

// writeFrame packetizes one encoded frame of duration d and sends it; level is the audio
// level in -dBov (0–127) for audio, ignored when negative. Before negotiation it is a no-op.
func (t *rtpTrack) writeFrame(frame []byte, d time.Duration, level int) error {
	t.mu.Lock()
	pz, midID, ridID, levelID, tr := t.packetizer, t.midID, t.ridID, t.levelID, t.transceiver
	t.mu.Unlock()
	if pz == nil {
		return nil
	}
	if t.sess != nil {
		sealed, err := t.sess.EncryptFrame(t.codec, frame)
		if err != nil {
			return fmt.Errorf("seal frame: %w", err)
		}
		frame = sealed
	}
	mid := ""
	if tr != nil {
		mid = tr.Mid()
	}
	samples := uint32(d.Seconds() * float64(t.clockRate))
	for _, p := range pz.Packetize(frame, samples) {
		if midID != 0 && mid != "" {
			if err := p.SetExtension(midID, []byte(mid)); err != nil {
				return fmt.Errorf("mid extension: %w", err)
			}
		}
		if ridID != 0 && t.RID() != "" {
			if err := p.SetExtension(ridID, []byte(t.RID())); err != nil {
				return fmt.Errorf("rid extension: %w", err)
			}
		}
		if levelID != 0 && level >= 0 {
			b, err := rtp.AudioLevelExtension{Level: uint8(min(level, 127)), Voice: level < 60}.Marshal()
			if err != nil {
				return fmt.Errorf("audio level extension: %w", err)
			}
			if err := p.SetExtension(levelID, b); err != nil {
				return fmt.Errorf("audio level extension: %w", err)
			}
		}
		if err := t.WriteRTP(p); err != nil {
			return err
		}
	}
	return nil
}

// transceiverOf finds the transceiver whose sender is s.
func transceiverOf(pc *webrtc.PeerConnection, s *webrtc.RTPSender) *webrtc.RTPTransceiver {
	for _, t := range pc.GetTransceivers() {
		if t.Sender() == s {
			return t
		}
	}
	return nil
}
