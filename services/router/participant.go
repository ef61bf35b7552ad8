package router

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
	"github.com/pion/interceptor/pkg/cc"
	"github.com/pion/rtcp"
	"github.com/pion/sdp/v3"
	"github.com/pion/webrtc/v4"

	"github.com/stoa-rooms/stoa/services/api"
	"github.com/stoa-rooms/stoa/services/token"
)

// offerTimeout is how long the router waits for the answer to its offer.
const offerTimeout = 15 * time.Second

// maxPendingCandidates bounds candidates queued before the remote description arrives.
const maxPendingCandidates = 64

// participant is one connected client: its signaling socket and its single PeerConnection,
// on which it publishes and receives everyone else's tracks.
type participant struct {
	sfu  *SFU
	room *room
	id   string
	name string
	kind string
	pub  bool // may publish
	subs bool // may subscribe
	log  *slog.Logger
	sig  *sigConn
	pc   *webrtc.PeerConnection

	estMu     sync.Mutex
	estimator cc.BandwidthEstimator
	probes    layerProbes // upward simulcast layer probes (probe.go)

	// Negotiation: the client's first offer is answered; afterwards the router offers
	// whenever its tracks change and the client answers. A client offer racing a router
	// offer wins (the router drops its own, never applied, and offers again).
	negMu        sync.Mutex
	ready        bool
	offerSDP     string // our outstanding offer ("" when none), applied when its answer arrives
	offerAt      time.Time
	needNeg      bool
	pendingCands []webrtc.ICECandidateInit
	// deferred holds publications to forward once the client's first offer is answered:
	// sendonly transceivers added before that offer would be matched to the client's own
	// m-lines and swallow its media.
	deferred []*publication

	mu        sync.Mutex
	pubs      map[string]*publication     // by track ID
	fwds      map[*publication]*forwarder // what this participant receives
	mids      int                         // MIDs given to forwarded tracks' transceivers
	closed    bool
	done      chan struct{}
	closeOnce sync.Once

	// e2eeToken is the participant's signed join token when it joined with e2ee: relayed to
	// the others, who verify the key in it (e2ee.go).
	e2eeToken string
	secured   bool

	plis      atomic.Uint64 // PLIs sent to this participant (as a publisher)
	joinedAt  time.Time
	closeNote atomic.Pointer[string]
}

func (s *SFU) newParticipant(c token.Claims, sig *sigConn, join api.SigJoin) (*participant, error) {
	p := &participant{
		sfu: s, room: s.room(c.Meeting), id: c.Participant, name: c.Name, kind: c.Kind,
		pub: c.Has(token.PermPublish), subs: c.Has(token.PermSubscribe), sig: sig,
		log:  s.log.With("meeting", c.Meeting, "participant", c.Participant),
		pubs: map[string]*publication{}, fwds: map[*publication]*forwarder{}, done: make(chan struct{}), joinedAt: s.now(),
		secured: s.secured(c),
	}
	if join.E2EE {
		p.e2eeToken = join.Token
	}
	wapi, err := s.newAPI(p.secured, func(e cc.BandwidthEstimator) {
		p.estMu.Lock()
		p.estimator = e
		p.estMu.Unlock()
	})
	if err != nil {
		return nil, fmt.Errorf("new participant: %w", err)
	}
	pc, err := wapi.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		return nil, fmt.Errorf("new participant: peer connection: %w", err)
	}
	p.pc = pc
	pc.OnICECandidate(func(c *webrtc.ICECandidate) {
		if c == nil {
			p.send(api.SigTypeCandidate, api.SigCandidate{})
			return
		}
		init := c.ToJSON()
		p.send(api.SigTypeCandidate, api.SigCandidate{Candidate: init.Candidate, SDPMid: init.SDPMid, SDPMLineIndex: init.SDPMLineIndex})
	})
	pc.OnConnectionStateChange(func(st webrtc.PeerConnectionState) {
		p.log.Debug("connection state", "state", st.String())
		if st == webrtc.PeerConnectionStateFailed {
			go p.close("media connection failed", true)
		}
	})
	if p.secured {
		p.refuseFailedDTLS()
	}
	pc.OnTrack(func(t *webrtc.TrackRemote, r *webrtc.RTPReceiver) {
		go p.guard("track", func() error { return p.handleTrack(t, r) })
	})
	return p, nil
}

// guard runs fn, turning a panic or a media error into closing this participant only.
func (p *participant) guard(what string, fn func() error) {
	defer func() {
		if v := recover(); v != nil {
			p.log.Error("participant goroutine panicked", "in", what, "panic", v, "stack", string(debug.Stack()))
			p.close("internal error", true)
		}
	}()
	if err := fn(); err != nil {
		if errors.Is(err, errMalformedMedia) || errors.Is(err, errMediaFlood) {
			p.log.Warn("participant sends malformed media or floods; disconnecting", "err", err)
			p.send(api.SigTypeError, api.Error{Code: codeMedia, Message: err.Error()})
			p.close(err.Error(), false)
			return
		}
		p.log.Debug("participant goroutine ended", "in", what, "err", err)
	}
}

func (p *participant) send(typ string, data any) {
	if !p.sig.send(typ, data) {
		select {
		case <-p.sig.closing:
		default:
			// The client does not read its socket: it cannot keep up with the meeting.
			go p.close("signaling queue full", true)
		}
	}
}

func (p *participant) info() api.SigParticipant {
	p.mu.Lock()
	defer p.mu.Unlock()
	tracks := make([]api.SigTrack, 0, len(p.pubs))
	for _, pub := range p.pubs {
		tracks = append(tracks, pub.info())
	}
	return api.SigParticipant{ID: p.id, Name: p.name, Kind: p.kind, Tracks: tracks, Token: p.e2eeToken}
}

// run admits the participant to its room and serves its signaling until it leaves.
func (p *participant) run(ctx context.Context) {
	replaced, others, pubs := p.room.add(p)
	if replaced != nil {
		replaced.close("replaced by a new connection", false)
	}
	p.log.Info("participant joined", "name", p.name, "kind", p.kind)
	p.send(api.SigTypeJoined, api.SigJoined{ParticipantID: p.id, Participants: p.room.snapshot(p)})
	if sp := p.room.activeSpeaker(); sp != "" {
		p.send(api.SigTypeActiveSpeaker, api.SigActiveSpeaker{ParticipantID: sp})
	}
	for _, o := range others {
		o.send(api.SigTypeParticipantJoined, p.info())
	}
	for _, pub := range pubs {
		p.subscribe(pub)
	}
	go p.guard("control", func() error { return p.controlLoop(ctx) })

	reason, clean := "signaling closed", true
	p.guard("signaling", func() error {
		reason, clean = p.readLoop(ctx)
		return nil
	})
	p.close(reason, clean)
}

// readLoop handles client messages; it returns why the session ended and whether that was
// the client's doing without fault.
func (p *participant) readLoop(ctx context.Context) (string, bool) {
	for {
		m, err := p.sig.read(ctx)
		switch {
		case err == nil:
		case errors.Is(err, errRateLimited):
			p.send(api.SigTypeError, api.Error{Code: codeRateLimited, Message: "rate limited"})
			p.sig.close(websocket.StatusPolicyViolation, "rate limited")
			return "rate limited", false
		case websocket.CloseStatus(err) != -1 || errors.Is(err, context.Canceled):
			return "signaling closed", true
		case isReadFailure(err):
			return "signaling: " + err.Error(), false
		default:
			code := codeMalformed
			if errors.Is(err, errUnknownType) {
				code = codeUnknownType
			}
			p.send(api.SigTypeError, api.Error{Code: code, Message: err.Error()})
			p.sig.close(websocket.StatusPolicyViolation, code)
			return err.Error(), false
		}
		if err := p.handle(m); err != nil {
			p.send(api.SigTypeError, api.Error{Code: codeProtocol, Message: err.Error()})
			p.sig.close(websocket.StatusPolicyViolation, codeProtocol)
			return err.Error(), false
		}
		if m.Type == api.SigTypeLeave {
			return "left", true
		}
	}
}

// isReadFailure tells transport errors (oversized message, broken socket) from bad content.
func isReadFailure(err error) bool { return errors.Is(err, errReadTransport) }

func (p *participant) handle(m clientMsg) error {
	switch m.Type {
	case api.SigTypeJoin:
		return errors.New("already joined")
	case api.SigTypeOffer:
		if err := p.onOffer(m.SDP.SDP); err != nil {
			return err
		}
		p.negMu.Lock()
		deferred := p.deferred
		p.deferred = nil
		p.negMu.Unlock()
		for _, pub := range deferred {
			p.subscribe(pub)
		}
		return nil
	case api.SigTypeAnswer:
		return p.onAnswer(m.SDP.SDP)
	case api.SigTypeCandidate:
		return p.onCandidate(m.Candidate)
	case api.SigTypeMute:
		return p.onMute(m.Mute)
	case api.SigTypeLeave:
		return nil
	case api.SigTypeE2EEKey:
		return p.relayKey(m.E2EEKey)
	}
	return fmt.Errorf("unexpected %q", m.Type)
}

func (p *participant) onOffer(sdp string) error {
	p.negMu.Lock()
	defer p.negMu.Unlock()
	if p.offerSDP != "" {
		// Glare (RFC 8829 section 4.1.8.2): the client's offer wins. Our offer was never
		// applied (see offerLocked), so dropping it is the rollback; it is made again after
		// the answer below, with whatever changed meanwhile.
		p.offerSDP, p.needNeg = "", true
	}
	if err := p.pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: sdp}); err != nil {
		return fmt.Errorf("offer: %w", err)
	}
	p.flushCandidates()
	answer, err := p.pc.CreateAnswer(nil)
	if err != nil {
		return fmt.Errorf("offer: create answer: %w", err)
	}
	if err := p.pc.SetLocalDescription(answer); err != nil {
		return fmt.Errorf("offer: set answer: %w", err)
	}
	p.send(api.SigTypeAnswer, api.SigSDP{SDP: answer.SDP, Type: api.SigTypeAnswer})
	p.ready = true
	if p.needNeg {
		return p.offerLocked()
	}
	return nil
}

func (p *participant) onAnswer(sdp string) error {
	p.negMu.Lock()
	defer p.negMu.Unlock()
	if p.offerSDP == "" {
		return errors.New("answer: no offer is pending")
	}
	if err := p.pc.SetLocalDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: p.offerSDP}); err != nil {
		return fmt.Errorf("answer: apply our offer: %w", err)
	}
	if err := p.pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: sdp}); err != nil {
		return fmt.Errorf("answer: %w", err)
	}
	p.offerSDP = ""
	p.flushCandidates()
	if p.needNeg {
		return p.offerLocked()
	}
	return nil
}

// negotiate makes an offer now, or as soon as the current exchange completes.
func (p *participant) negotiate() {
	p.negMu.Lock()
	defer p.negMu.Unlock()
	if err := p.offerLocked(); err != nil {
		p.log.Warn("renegotiate", "err", err)
		go p.close("renegotiation failed", false)
	}
}

func (p *participant) offerLocked() error {
	if !p.ready || p.offerSDP != "" {
		p.needNeg = true
		return nil
	}
	if p.pc.ConnectionState() == webrtc.PeerConnectionStateClosed {
		return nil
	}
	p.needNeg = false
	offer, err := p.pc.CreateOffer(nil)
	if err != nil {
		return fmt.Errorf("create offer: %w", err)
	}
	// The offer is applied only when its answer arrives (onAnswer): pion cannot roll back a
	// local offer (SetLocalDescription refuses SDPTypeRollback), and glare must be able to
	// drop it. Until then the connection stays stable and keeps the last agreed session.
	p.offerSDP, p.offerAt = offer.SDP, p.sfu.now()
	p.send(api.SigTypeOffer, api.SigSDP{SDP: offer.SDP, Type: api.SigTypeOffer})
	return nil
}

// onCandidate adds a trickled candidate, queueing it until a remote description exists.
func (p *participant) onCandidate(c api.SigCandidate) error {
	if c.Candidate == "" {
		return nil // end of candidates
	}
	init := webrtc.ICECandidateInit{Candidate: c.Candidate, SDPMid: c.SDPMid, SDPMLineIndex: c.SDPMLineIndex}
	p.negMu.Lock()
	defer p.negMu.Unlock()
	if p.pc.RemoteDescription() == nil {
		if len(p.pendingCands) >= maxPendingCandidates {
			return errors.New("candidate: too many before the offer")
		}
		p.pendingCands = append(p.pendingCands, init)
		return nil
	}
	if err := p.pc.AddICECandidate(init); err != nil {
		// A candidate we cannot use is the client's problem, not a reason to hang up.
		p.log.Debug("add candidate", "err", err)
	}
	return nil
}

func (p *participant) flushCandidates() {
	for _, c := range p.pendingCands {
		if err := p.pc.AddICECandidate(c); err != nil {
			p.log.Debug("add queued candidate", "err", err)
		}
	}
	p.pendingCands = nil
}

func (p *participant) onMute(m api.SigMute) error {
	p.mu.Lock()
	pub := p.pubs[m.TrackID]
	p.mu.Unlock()
	if pub == nil {
		return fmt.Errorf("mute: no published track %q", truncate(m.TrackID, 64))
	}
	if pub.muted.Swap(m.Muted) == m.Muted {
		return nil
	}
	now := p.sfu.now()
	for _, f := range pub.forwarders() {
		f.pause()
		if !m.Muted {
			pub.requestKeyframe(f.targetRID(), now)
		}
	}
	if m.Muted && pub.kind == webrtc.RTPCodecTypeAudio {
		p.room.forgetSpeaker(p.id)
	}
	p.room.broadcast(p, api.SigTypeTrack, api.SigTrackEvent{Participant: p.id, Track: pub.info()})
	return nil
}

// handleTrack receives one incoming stream (a track, or one simulcast layer of it).
func (p *participant) handleTrack(t *webrtc.TrackRemote, r *webrtc.RTPReceiver) error {
	if !p.pub {
		p.log.Warn("participant without publish permission sent media; ignored", "track", t.ID())
		return nil
	}
	var levelID uint8
	if t.Kind() == webrtc.RTPCodecTypeAudio {
		for _, e := range r.GetParameters().HeaderExtensions {
			if e.URI == sdp.AudioLevelURI {
				levelID = uint8(e.ID)
			}
		}
	}
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil
	}
	pub, existed := p.pubs[t.ID()]
	if !existed {
		pub = newPublication(p, t)
		p.pubs[t.ID()] = pub
	}
	p.mu.Unlock()
	l := &layer{rid: t.RID(), ssrc: uint32(t.SSRC())}
	pub.mu.Lock()
	pub.layers[l.rid] = l
	pub.mu.Unlock()
	if !existed {
		p.log.Info("track published", "track", pub.id, "kind", pub.kind.String(), "codec", pub.mime, "simulcast", pub.simulcast)
		subs := p.room.publish(pub)
		for _, s := range subs {
			s.send(api.SigTypeTrack, api.SigTrackEvent{Participant: p.id, Track: pub.info()})
			s.subscribe(pub)
		}
	} else {
		// A new layer: subscribers may want a key frame from it.
		for _, f := range pub.forwarders() {
			if f.targetRID() == l.rid {
				pub.requestKeyframe(l.rid, p.sfu.now())
			}
		}
	}
	err := pub.readLayer(t, l, levelID)
	pub.mu.Lock()
	delete(pub.layers, l.rid)
	last := len(pub.layers) == 0
	pub.mu.Unlock()
	if last {
		p.unpublish(pub)
	}
	return err
}

// unpublish removes a publication that ended from every subscriber.
func (p *participant) unpublish(pub *publication) {
	p.mu.Lock()
	if p.pubs[pub.id] == pub {
		delete(p.pubs, pub.id)
	}
	p.mu.Unlock()
	for _, s := range p.room.unpublish(pub) {
		s.unsubscribe(pub)
		s.send(api.SigTypeTrack, api.SigTrackEvent{Participant: p.id, Track: pub.info(), Removed: true})
	}
}

// subscribe starts forwarding pub to p.
func (p *participant) subscribe(pub *publication) {
	if !p.subs {
		return
	}
	p.negMu.Lock()
	if !p.ready {
		p.deferred = append(p.deferred, pub)
		p.negMu.Unlock()
		return
	}
	p.negMu.Unlock()
	p.mu.Lock()
	if p.closed || p.fwds[pub] != nil {
		p.mu.Unlock()
		return
	}
	track, err := newBoundTrack(pub.codec, pub.id, pub.owner.id)
	if err != nil {
		p.mu.Unlock()
		p.log.Warn("subscribe", "track", pub.id, "err", err)
		return
	}
	// A fresh sendonly m-line per forwarded track: AddTrack would reuse a free transceiver of
	// the subscriber's own publishing m-lines, whose media never reaches it.
	tr, err := p.pc.AddTransceiverFromTrack(track, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionSendonly})
	if err != nil {
		p.mu.Unlock()
		p.log.Warn("subscribe", "track", pub.id, "err", err)
		return
	}
	// The router's MIDs are its own ("s1", "s2", …), never numbers a client picks: a client's
	// offer that crosses ours (glare) can then never claim a transceiver our dropped offer named.
	p.mids++
	if err := tr.SetMid("s" + strconv.Itoa(p.mids)); err != nil {
		p.mu.Unlock()
		p.log.Warn("subscribe", "track", pub.id, "err", err)
		return
	}
	sender := tr.Sender()
	now := p.sfu.now()
	f := newForwarder(pub, p, track, sender, pub.lowestLayer(now))
	p.fwds[pub] = f
	p.mu.Unlock()
	pub.addForwarder(f)
	if !p.room.hasPublication(pub) { // unpublished while we were adding it
		p.unsubscribe(pub)
		return
	}
	go p.guard("rtcp", func() error { return p.readRTCP(f) })
	pub.requestKeyframe(f.targetRID(), now) // PLI on subscribe
	p.negotiate()
}

// unsubscribe stops forwarding pub to p.
func (p *participant) unsubscribe(pub *publication) {
	p.mu.Lock()
	f := p.fwds[pub]
	delete(p.fwds, pub)
	closed := p.closed
	p.mu.Unlock()
	if f == nil {
		return
	}
	pub.removeForwarder(f)
	if closed {
		return
	}
	if err := p.pc.RemoveTrack(f.sender); err != nil {
		p.log.Debug("remove track", "track", pub.id, "err", err)
		return
	}
	p.negotiate()
}

// readRTCP drains a sender's RTCP (which drives the NACK responder and BWE interceptors)
// and relays key frame requests to the publisher.
func (p *participant) readRTCP(f *forwarder) error {
	for {
		pkts, _, err := f.sender.ReadRTCP()
		if err != nil {
			return nil
		}
		for _, pkt := range pkts {
			switch pkt.(type) {
			case *rtcp.PictureLossIndication, *rtcp.FullIntraRequest:
				f.mu.Lock()
				rid := f.current
				f.mu.Unlock()
				f.pub.requestKeyframe(rid, p.sfu.now())
			}
		}
	}
}

func (p *participant) estimate() (int, bool) {
	p.estMu.Lock()
	defer p.estMu.Unlock()
	if p.estimator == nil {
		return 0, false
	}
	return p.estimator.GetTargetBitrate(), true
}

// close ends the participant's session once: it leaves the room, its tracks are removed
// from everyone else, and its PeerConnection and socket close.
func (p *participant) close(reason string, clean bool) {
	p.closeOnce.Do(func() {
		p.closeNote.Store(&reason)
		p.mu.Lock()
		p.closed = true
		mine := make([]*forwarder, 0, len(p.fwds))
		for _, f := range p.fwds {
			mine = append(mine, f)
		}
		p.fwds = map[*publication]*forwarder{}
		p.mu.Unlock()
		close(p.done)
		for _, f := range mine {
			f.pub.removeForwarder(f)
		}
		others, pubs, was := p.room.remove(p)
		for _, o := range others {
			for _, pub := range pubs {
				o.unsubscribe(pub)
			}
			if was {
				o.send(api.SigTypeParticipantLeft, api.SigParticipantLeft{ID: p.id})
			}
		}
		p.room.forgetSpeaker(p.id)
		p.sfu.dropRoomIfEmpty(p.room)
		if err := p.pc.Close(); err != nil {
			p.log.Debug("close peer connection", "err", err)
		}
		code := websocket.StatusNormalClosure
		if !clean {
			code = websocket.StatusPolicyViolation
		}
		p.sig.close(code, reason)
		p.log.Info("participant left", "reason", reason)
	})
}

// controlLoop re-chooses simulcast layers from the bandwidth estimate, repeats key frame
// requests a subscriber still waits for, and gives up on an unanswered offer.
func (p *participant) controlLoop(ctx context.Context) error {
	t := time.NewTicker(p.sfu.opts.ControlInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-p.done:
			return nil
		case <-t.C:
		}
		now := p.sfu.now()
		p.negMu.Lock()
		stuck := p.offerSDP != "" && now.Sub(p.offerAt) > offerTimeout
		p.negMu.Unlock()
		if stuck {
			p.close("offer not answered", false)
			return nil
		}
		p.adaptLayers(now)
	}
}

// adaptLayers applies ChooseLayer to every simulcast track p receives.
func (p *participant) adaptLayers(now time.Time) {
	p.mu.Lock()
	fwds := make([]*forwarder, 0, len(p.fwds))
	audio, video := 0, 0
	for _, f := range p.fwds {
		fwds = append(fwds, f)
		if f.pub.kind == webrtc.RTPCodecTypeVideo {
			video++
		} else {
			audio++
		}
	}
	p.mu.Unlock()
	est, ok := p.estimate()
	p.probes.keep(fwds)
	for _, f := range fwds {
		if f.pub.simulcast && ok {
			budget := VideoBudget(est, audio, video)
			target := p.probes.choose(f, budget, f.pub.layerRates(now), f.targetRID(), now)
			if f.setTarget(target, now) {
				p.log.Debug("layer switch", "track", f.pub.id, "publisher", f.pub.owner.id, "layer", target, "budget", budget)
				f.pub.requestKeyframe(target, now) // PLI on layer switch
				continue
			}
		}
		if rid, waiting := f.waiting(); waiting && !f.pub.muted.Load() {
			f.pub.requestKeyframe(rid, now)
		}
	}
}
