package rtcclient

import (
	"errors"
	"fmt"
	"sync"

	"github.com/pion/rtp"
	"github.com/pion/rtp/codecs"
	"github.com/pion/sdp/v3"
	"github.com/pion/webrtc/v4"
	"github.com/pion/webrtc/v4/pkg/media"

	"github.com/stoa-rooms/stoa/services/api/e2ee"
)

// SimulcastLayer is one RTP stream of a simulcast video sender. pion sends simulcast layers
// but does not stamp packets with the MID and RID header extensions (RFC 8843, RFC 8852) that
// let the receiver tell the layers apart before any SSRC is signaled; this track does: it
// packetizes VP8 samples itself and adds both extensions with the negotiated IDs.
type SimulcastLayer struct {
	*webrtc.TrackLocalStaticRTP

	mu         sync.Mutex
	midID      uint8
	ridID      uint8
	packetizer rtp.Packetizer
	clockRate  uint32
	// transceiver carrying this layer, known once PublishSimulcast added it: its MID is assigned
	// when the offer is made.
	transceiver *webrtc.RTPTransceiver
	// e2ee encrypts each frame before packetization (SetE2EE).
	e2ee *e2ee.Session
}

// SetE2EE makes the layer encrypt every frame with SFrame (services/api/e2ee) before
// packetizing it; nil turns that off.
func (l *SimulcastLayer) SetE2EE(s *e2ee.Session) {
	l.mu.Lock()
	l.e2ee = s
	l.mu.Unlock()
}

// NewSimulcastLayer makes a VP8 layer with the given track ID, stream ID (the participant) and RID.
func NewSimulcastLayer(id, streamID, rid string) (*SimulcastLayer, error) {
	if rid == "" {
		return nil, errors.New("simulcast layer: empty rid")
	}
	t, err := webrtc.NewTrackLocalStaticRTP(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8, ClockRate: 90000}, id, streamID, webrtc.WithRTPStreamID(rid))
	if err != nil {
		return nil, fmt.Errorf("simulcast layer %s: %w", rid, err)
	}
	return &SimulcastLayer{TrackLocalStaticRTP: t}, nil
}

// Bind records the negotiated header extension IDs.
func (l *SimulcastLayer) Bind(ctx webrtc.TrackLocalContext) (webrtc.RTPCodecParameters, error) {
	p, err := l.TrackLocalStaticRTP.Bind(ctx)
	if err != nil {
		return p, err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, e := range ctx.HeaderExtensions() {
		switch e.URI {
		case sdp.SDESMidURI:
			l.midID = uint8(e.ID)
		case sdp.SDESRTPStreamIDURI:
			l.ridID = uint8(e.ID)
		}
	}
	if l.packetizer == nil {
		// Payload type and SSRC are rewritten per binding by TrackLocalStaticRTP.
		l.clockRate = p.ClockRate
		l.packetizer = rtp.NewPacketizer(1200, 0, 0, &codecs.VP8Payloader{EnablePictureID: true}, rtp.NewRandomSequencer(), p.ClockRate)
	}
	return p, nil
}

func (l *SimulcastLayer) setTransceiver(t *webrtc.RTPTransceiver) {
	l.mu.Lock()
	l.transceiver = t
	l.mu.Unlock()
}

// WriteSample packetizes one VP8 frame and sends it. Before negotiation completes it is a no-op.
func (l *SimulcastLayer) WriteSample(s media.Sample) error {
	l.mu.Lock()
	pz, midID, ridID, tr, rate, sess := l.packetizer, l.midID, l.ridID, l.transceiver, l.clockRate, l.e2ee
	l.mu.Unlock()
	if pz == nil || tr == nil {
		return nil
	}
	if sess != nil {
		data, err := sess.EncryptFrame(e2ee.CodecVP8, s.Data)
		if err != nil {
			return fmt.Errorf("simulcast layer %s: %w", l.RID(), err)
		}
		s.Data = data
	}
	mid := tr.Mid()
	samples := uint32(s.Duration.Seconds() * float64(rate))
	for _, p := range pz.Packetize(s.Data, samples) {
		if midID != 0 && mid != "" {
			if err := p.SetExtension(midID, []byte(mid)); err != nil {
				return fmt.Errorf("simulcast layer: mid extension: %w", err)
			}
		}
		if ridID != 0 {
			if err := p.SetExtension(ridID, []byte(l.RID())); err != nil {
				return fmt.Errorf("simulcast layer: rid extension: %w", err)
			}
		}
		if err := l.WriteRTP(p); err != nil {
			return err
		}
	}
	return nil
}
