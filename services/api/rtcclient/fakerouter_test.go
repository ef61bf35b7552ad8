package rtcclient_test

import (
	"context"
	"net/http"
	"sync"
	"testing"

	"github.com/coder/websocket"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"

	"github.com/stoa-rooms/stoa/services/api"
	"github.com/stoa-rooms/stoa/services/api/rtcclient"
)

// fakeRouter plays the router's side of the signaling protocol with a real pion peer, the way
// the design fixes it: it answers the client's offer, trickles its own candidates, and offers
// again when it adds tracks. It echoes the client's "f" layer and audio back as participant
// "echo-peer", so the client sees renegotiation and remote tracks.
type fakeRouter struct {
	t     *testing.T
	token string

	mu      sync.Mutex
	rids    map[string]int // packets received per rid ("" for audio)
	mutes   []api.SigMute
	leaves  int
	conns   []*websocket.Conn
	echoed  map[string]bool
	decoded map[string][]byte // first payload-carrying packet per rid (sanity)
}

func newFakeRouter(t *testing.T, token string) *fakeRouter {
	return &fakeRouter{t: t, token: token, rids: map[string]int{}, echoed: map[string]bool{}, decoded: map[string][]byte{}}
}

func (f *fakeRouter) packets(rid string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.rids[rid]
}

func (f *fakeRouter) dropAll() {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, c := range f.conns {
		c.Close(websocket.StatusGoingAway, "router going away")
	}
}

func (f *fakeRouter) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	conn, err := websocket.Accept(w, r, nil)
	if err != nil {
		return
	}
	f.mu.Lock()
	f.conns = append(f.conns, conn)
	f.mu.Unlock()
	defer conn.CloseNow()
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	var writeMu sync.Mutex // pion callbacks and this loop both write
	send := func(typ string, data any) {
		b, err := api.NewSig(typ, data)
		if err != nil {
			f.t.Errorf("fake router encode: %v", err)
			return
		}
		writeMu.Lock()
		defer writeMu.Unlock()
		_ = conn.Write(ctx, websocket.MessageText, b)
	}
	read := func() (api.SigMessage, bool) {
		_, b, err := conn.Read(ctx)
		if err != nil {
			return api.SigMessage{}, false
		}
		m, err := api.DecodeSig(b)
		if err != nil {
			f.t.Errorf("fake router: client sent undecodable %q: %v", b, err)
			return api.SigMessage{}, false
		}
		return m, true
	}
	m, ok := read()
	if !ok {
		return
	}
	join, err := api.DecodeSigJoin(m)
	if m.Type != api.SigTypeJoin || err != nil || join.Token != f.token {
		send(api.SigTypeError, api.Error{Code: "token.invalid", Message: "the join token is not valid"})
		conn.Close(websocket.StatusPolicyViolation, "bad token")
		return
	}
	send(api.SigTypeJoined, api.SigJoined{ParticipantID: "p-client", Participants: []api.SigParticipant{{ID: "echo-peer", Name: "Echo", Kind: "user"}}})

	webAPI, err := rtcclient.NewAPI(rtcclient.NewSettingEngine())
	if err != nil {
		f.t.Errorf("fake router api: %v", err)
		return
	}
	pc, err := webAPI.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		f.t.Errorf("fake router pc: %v", err)
		return
	}
	defer pc.Close()
	pc.OnICECandidate(func(c *webrtc.ICECandidate) {
		if c == nil {
			send(api.SigTypeCandidate, api.SigCandidate{}) // end of candidates
			return
		}
		init := c.ToJSON()
		send(api.SigTypeCandidate, api.SigCandidate{Candidate: init.Candidate, SDPMid: init.SDPMid, SDPMLineIndex: init.SDPMLineIndex})
	})
	// Offers of ours are made from this goroutine only, one at a time.
	renegotiate := make(chan struct{}, 1)
	pc.OnTrack(func(tr *webrtc.TrackRemote, _ *webrtc.RTPReceiver) {
		var echo *webrtc.TrackLocalStaticRTP
		if tr.RID() == "f" || tr.Kind() == webrtc.RTPCodecTypeAudio {
			echo, err = webrtc.NewTrackLocalStaticRTP(tr.Codec().RTPCodecCapability, tr.ID(), "echo-peer")
			if err == nil {
				// A new sendonly m-line per forwarded track: AddTrack would reuse the client's
				// publishing m-line (its receiver is free), mixing its simulcast with our echo.
				if _, err := pc.AddTransceiverFromTrack(echo, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionSendonly}); err != nil {
					f.t.Errorf("fake router add echo: %v", err)
				}
				select {
				case renegotiate <- struct{}{}:
				default:
				}
			}
		}
		for {
			p, _, err := tr.ReadRTP()
			if err != nil {
				return
			}
			f.mu.Lock()
			f.rids[tr.RID()]++
			f.mu.Unlock()
			if echo != nil {
				out := &rtp.Packet{Header: p.Header, Payload: p.Payload}
				out.Extensions = nil
				out.Extension = false
				_ = echo.WriteRTP(out)
			}
		}
	})
	waitingAnswer := false
	pending := false
	offer := func() {
		o, err := pc.CreateOffer(nil)
		if err == nil {
			err = pc.SetLocalDescription(o)
		}
		if err != nil {
			f.t.Errorf("fake router offer: %v", err)
			return
		}
		waitingAnswer = true
		send(api.SigTypeOffer, api.SigSDP{SDP: o.SDP, Type: api.SigTypeOffer})
	}
	msgs := make(chan api.SigMessage)
	go func() {
		defer close(msgs)
		for {
			m, ok := read()
			if !ok {
				return
			}
			msgs <- m
		}
	}()
	for {
		select {
		case <-renegotiate:
			if waitingAnswer || pc.SignalingState() != webrtc.SignalingStateStable {
				pending = true
				continue
			}
			offer()
		case m, ok := <-msgs:
			if !ok {
				return
			}
			switch m.Type {
			case api.SigTypeOffer:
				sdp, err := api.DecodeSigSDP(m)
				if err != nil {
					f.t.Errorf("fake router: %v", err)
					return
				}
				if err := pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: sdp.SDP}); err != nil {
					f.t.Errorf("fake router set offer: %v", err)
					return
				}
				a, err := pc.CreateAnswer(nil)
				if err == nil {
					err = pc.SetLocalDescription(a)
				}
				if err != nil {
					f.t.Errorf("fake router answer: %v", err)
					return
				}
				// Trickle: the answer goes out before gathering, candidates follow.
				send(api.SigTypeAnswer, api.SigSDP{SDP: a.SDP, Type: api.SigTypeAnswer})
			case api.SigTypeAnswer:
				sdp, err := api.DecodeSigSDP(m)
				if err != nil {
					f.t.Errorf("fake router: %v", err)
					return
				}
				if err := pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: sdp.SDP}); err != nil {
					f.t.Errorf("fake router set answer: %v", err)
					return
				}
				waitingAnswer = false
				if pending {
					pending = false
					offer()
				}
			case api.SigTypeCandidate:
				c, err := api.DecodeSigCandidate(m)
				if err != nil {
					f.t.Errorf("fake router: %v", err)
					return
				}
				if c.Candidate != "" {
					_ = pc.AddICECandidate(webrtc.ICECandidateInit{Candidate: c.Candidate, SDPMid: c.SDPMid, SDPMLineIndex: c.SDPMLineIndex})
				}
			case api.SigTypeMute:
				mu, err := api.DecodeSigMute(m)
				if err != nil {
					f.t.Errorf("fake router: %v", err)
					return
				}
				f.mu.Lock()
				f.mutes = append(f.mutes, mu)
				f.mu.Unlock()
			case api.SigTypeLeave:
				f.mu.Lock()
				f.leaves++
				f.mu.Unlock()
				return
			default:
				f.t.Errorf("fake router: unexpected %q from client", m.Type)
				return
			}
		}
	}
}
