package rtcclient

import (
	"context"
	"errors"
	"fmt"

	"github.com/coder/websocket"
	"github.com/pion/webrtc/v4"

	"github.com/stoa-rooms/stoa/services/api"
)

// send writes one signaling message. coder/websocket allows concurrent writers.
func (c *Client) send(ctx context.Context, typ string, data any) error {
	b, err := api.NewSig(typ, data)
	if err != nil {
		return fmt.Errorf("rtcclient send: %w", err)
	}
	if err := c.conn.Write(ctx, websocket.MessageText, b); err != nil {
		return fmt.Errorf("rtcclient send %s: %w", typ, err)
	}
	return nil
}

// read reads and strictly decodes one signaling message.
func (c *Client) read(ctx context.Context) (api.SigMessage, error) {
	typ, b, err := c.conn.Read(ctx)
	if err != nil {
		return api.SigMessage{}, fmt.Errorf("read signaling: %w", err)
	}
	if typ != websocket.MessageText {
		return api.SigMessage{}, errors.New("read signaling: binary message")
	}
	return api.DecodeSig(b)
}

// readLoop handles router messages until the connection or the session ends. A message that
// does not decode ends the session: the router and client disagree about the protocol and
// carrying on would only hide it.
func (c *Client) readLoop() {
	for {
		m, err := c.read(c.ctx)
		if err != nil {
			c.shutdown(fmt.Errorf("rtcclient: signaling: %w", err))
			return
		}
		if err := c.handle(m); err != nil {
			c.shutdown(fmt.Errorf("rtcclient: handle %q: %w", m.Type, err))
			return
		}
	}
}

func (c *Client) handle(m api.SigMessage) error {
	switch m.Type {
	case api.SigTypeOffer:
		sdp, err := api.DecodeSigSDP(m)
		if err != nil {
			return err
		}
		return c.answerOffer(sdp.SDP)
	case api.SigTypeAnswer:
		sdp, err := api.DecodeSigSDP(m)
		if err != nil {
			return err
		}
		return c.applyAnswer(sdp.SDP)
	case api.SigTypeCandidate:
		cand, err := api.DecodeSigCandidate(m)
		if err != nil {
			return err
		}
		return c.addCandidate(cand)
	case api.SigTypeReconnect:
		r, err := api.DecodeSigReconnect(m)
		if err != nil {
			return err
		}
		c.signal(m)
		return fmt.Errorf("router asked to reconnect: %s", r.Reason)
	case api.SigTypeParticipantJoined:
		p, err := api.DecodeSigParticipant(m)
		if err != nil {
			return err
		}
		c.mu.Lock()
		c.participants[p.ID] = p
		c.mu.Unlock()
		if err := c.e2eeAdd(p, true); err != nil {
			return err
		}
	case api.SigTypeParticipantLeft:
		p, err := api.DecodeSigParticipantLeft(m)
		if err != nil {
			return err
		}
		c.mu.Lock()
		delete(c.participants, p.ID)
		c.mu.Unlock()
		if err := c.e2eeRemove(p.ID); err != nil {
			return err
		}
	case api.SigTypeE2EEKey:
		k, err := api.DecodeSigE2EEKey(m)
		if err != nil {
			return err
		}
		if err := c.e2eeKey(k); err != nil {
			return err
		}
	case api.SigTypeTrack:
		ev, err := api.DecodeSigTrackEvent(m)
		if err != nil {
			return err
		}
		c.applyTrackEvent(ev)
	case api.SigTypeError:
		e, err := api.DecodeSigError(m)
		if err != nil {
			return err
		}
		c.log.Warn("rtcclient router error", "code", e.Code, "message", e.Message)
	case api.SigTypeActiveSpeaker:
		if _, err := api.DecodeSigActiveSpeaker(m); err != nil {
			return err
		}
	default:
		return fmt.Errorf("unknown message type %q", m.Type)
	}
	c.signal(m)
	return nil
}

func (c *Client) signal(m api.SigMessage) {
	if c.opts.OnSignal != nil {
		c.opts.OnSignal(m)
	}
}

func (c *Client) applyTrackEvent(ev api.SigTrackEvent) {
	c.mu.Lock()
	defer c.mu.Unlock()
	p := c.participants[ev.Participant]
	p.ID = ev.Participant
	tracks := p.Tracks[:0:0]
	for _, t := range p.Tracks {
		if t.ID != ev.Track.ID {
			tracks = append(tracks, t)
		}
	}
	if !ev.Removed {
		tracks = append(tracks, ev.Track)
	}
	p.Tracks = tracks
	c.participants[ev.Participant] = p
}

// negotiate sends an offer for our current transceivers, or remembers to once the exchange in
// flight settles.
func (c *Client) negotiate() error {
	c.negMu.Lock()
	defer c.negMu.Unlock()
	return c.offerLocked()
}

func (c *Client) offerLocked() error {
	if c.offering || c.pc.SignalingState() != webrtc.SignalingStateStable {
		c.wantOffer = true
		return nil
	}
	c.wantOffer = false
	offer, err := c.pc.CreateOffer(nil)
	if err != nil {
		return fmt.Errorf("create offer: %w", err)
	}
	if err := c.setLocal(offer); err != nil {
		return err
	}
	c.offering = true
	return c.send(c.ctx, api.SigTypeOffer, api.SigSDP{SDP: c.pc.LocalDescription().SDP, Type: api.SigTypeOffer})
}

// setLocal applies a local description and waits for ICE gathering, so the SDP we send carries
// every candidate (loopback gathering takes milliseconds; the router may trickle its own).
func (c *Client) setLocal(d webrtc.SessionDescription) error {
	gathered := webrtc.GatheringCompletePromise(c.pc)
	if err := c.pc.SetLocalDescription(d); err != nil {
		return fmt.Errorf("set local %s: %w", d.Type, err)
	}
	select {
	case <-gathered:
		return nil
	case <-c.ctx.Done():
		return c.ctx.Err()
	}
}

func (c *Client) answerOffer(sdp string) error {
	c.negMu.Lock()
	defer c.negMu.Unlock()
	if c.offering {
		// Glare: the router yields to the client (it drops its offer, answers ours and
		// offers again afterwards), so its crossing offer is dropped here.
		c.log.Debug("rtcclient: dropping the router's offer that crossed ours")
		return nil
	}
	if err := c.pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: sdp}); err != nil {
		return fmt.Errorf("set remote offer: %w", err)
	}
	if err := c.flushCandidates(); err != nil {
		return err
	}
	answer, err := c.pc.CreateAnswer(nil)
	if err != nil {
		return fmt.Errorf("create answer: %w", err)
	}
	if err := c.setLocal(answer); err != nil {
		return err
	}
	c.negotiated = true
	if err := c.send(c.ctx, api.SigTypeAnswer, api.SigSDP{SDP: c.pc.LocalDescription().SDP, Type: api.SigTypeAnswer}); err != nil {
		return err
	}
	if c.wantOffer {
		return c.offerLocked()
	}
	return nil
}

func (c *Client) applyAnswer(sdp string) error {
	c.negMu.Lock()
	defer c.negMu.Unlock()
	if !c.offering {
		return errors.New("answer without an offer of ours")
	}
	if err := c.pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: sdp}); err != nil {
		return fmt.Errorf("set remote answer: %w", err)
	}
	c.offering = false
	c.negotiated = true
	if err := c.flushCandidates(); err != nil {
		return err
	}
	if c.wantOffer {
		return c.offerLocked()
	}
	return nil
}

func (c *Client) addCandidate(cand api.SigCandidate) error {
	if cand.Candidate == "" {
		return nil // end of candidates: pion needs no marker
	}
	init := webrtc.ICECandidateInit{Candidate: cand.Candidate, SDPMid: cand.SDPMid, SDPMLineIndex: cand.SDPMLineIndex}
	c.negMu.Lock()
	defer c.negMu.Unlock()
	if c.pc.RemoteDescription() == nil {
		c.pendingRemote = append(c.pendingRemote, init)
		return nil
	}
	if err := c.pc.AddICECandidate(init); err != nil {
		return fmt.Errorf("add candidate: %w", err)
	}
	return nil
}

func (c *Client) flushCandidates() error {
	for _, init := range c.pendingRemote {
		if err := c.pc.AddICECandidate(init); err != nil {
			return fmt.Errorf("add candidate: %w", err)
		}
	}
	c.pendingRemote = nil
	return nil
}
