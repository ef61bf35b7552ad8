package rtcclient

import (
	"errors"
	"fmt"

	"github.com/pion/webrtc/v4"
)

// Publish sends tracks to the router in one negotiation. Plain tracks get a sender each;
// SimulcastLayer tracks sharing a track ID become the layers of one simulcast sender (RFC 8853),
// in the order given (lowest quality first by convention: "q", "h", "f"); the router picks the
// layer each subscriber gets. Called with no tracks before anything was negotiated, it offers to
// receive one audio and one video stream, so a subscribe-only participant still connects.
func (c *Client) Publish(tracks ...webrtc.TrackLocal) ([]*webrtc.RTPSender, error) {
	var senders []*webrtc.RTPSender
	simulcast := map[string][]*SimulcastLayer{}
	var order []string
	for _, t := range tracks {
		if l, ok := t.(*SimulcastLayer); ok {
			if simulcast[l.ID()] == nil {
				order = append(order, l.ID())
			}
			simulcast[l.ID()] = append(simulcast[l.ID()], l)
			continue
		}
		s, err := c.pc.AddTrack(t)
		if err != nil {
			return nil, fmt.Errorf("rtcclient publish %s: %w", t.ID(), err)
		}
		c.drainRTCP(s, "")
		senders = append(senders, s)
	}
	for _, id := range order {
		s, err := c.addSimulcast(simulcast[id])
		if err != nil {
			return nil, err
		}
		senders = append(senders, s)
	}
	if len(tracks) == 0 {
		c.negMu.Lock()
		first := !c.negotiated && !c.offering && len(c.pc.GetTransceivers()) == 0
		c.negMu.Unlock()
		if first {
			for _, kind := range []webrtc.RTPCodecType{webrtc.RTPCodecTypeAudio, webrtc.RTPCodecTypeVideo} {
				if _, err := c.pc.AddTransceiverFromKind(kind, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionRecvonly}); err != nil {
					return nil, fmt.Errorf("rtcclient subscribe: %w", err)
				}
			}
		}
	}
	if err := c.negotiate(); err != nil {
		return nil, fmt.Errorf("rtcclient publish: %w", err)
	}
	return senders, nil
}

// PublishSimulcast publishes one simulcast video source; see Publish.
func (c *Client) PublishSimulcast(layers ...*SimulcastLayer) (*webrtc.RTPSender, error) {
	if len(layers) == 0 {
		return nil, errors.New("rtcclient publish simulcast: no layers")
	}
	tracks := make([]webrtc.TrackLocal, len(layers))
	for i, l := range layers {
		tracks[i] = l
	}
	s, err := c.Publish(tracks...)
	if err != nil {
		return nil, err
	}
	return s[0], nil
}

func (c *Client) addSimulcast(layers []*SimulcastLayer) (*webrtc.RTPSender, error) {
	s, err := c.pc.AddTrack(layers[0])
	if err != nil {
		return nil, fmt.Errorf("rtcclient publish simulcast %s: %w", layers[0].RID(), err)
	}
	for _, l := range layers[1:] {
		if err := s.AddEncoding(l); err != nil {
			return nil, fmt.Errorf("rtcclient publish simulcast %s: %w", l.RID(), err)
		}
	}
	for _, t := range c.pc.GetTransceivers() {
		if t.Sender() == s {
			for _, l := range layers {
				l.setTransceiver(t)
			}
		}
	}
	for _, l := range layers {
		c.drainRTCP(s, l.RID())
	}
	return s, nil
}

// drainRTCP reads a sender's RTCP: the interceptors (NACK responder, reports, TWCC) only see
// what is read. Keyframe requests need no action from us here: callers that care read PLIs via
// their own interceptor or send keyframes often.
func (c *Client) drainRTCP(s *webrtc.RTPSender, rid string) {
	go func() {
		buf := make([]byte, 1500)
		for {
			var err error
			if rid == "" {
				_, _, err = s.Read(buf)
			} else {
				_, _, err = s.ReadSimulcast(buf, rid)
			}
			if err != nil {
				return
			}
		}
	}()
}
