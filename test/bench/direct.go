package bench

import (
	"context"
	"fmt"
	"sync/atomic"

	"github.com/pion/webrtc/v4"

	"github.com/stoa-rooms/stoa/services/api/rtcclient"
)

// directMeeting is the baseline: a full mesh of PeerConnections between the participants,
// built with the same pion API (codecs, interceptors, loopback-only ICE, AES-GCM SRTP) as
// rtcclient, each participant's one track bound to all of its N-1 connections.
type directMeeting struct {
	pcs   []*webrtc.PeerConnection
	names []string
	stop  context.CancelFunc
}

func startDirectMeeting(ctx context.Context, s Scenario, c *collector, sent *atomic.Int64) (_ *directMeeting, err error) {
	pctx, stop := context.WithCancel(ctx)
	m := &directMeeting{stop: stop}
	defer func() {
		if err != nil {
			m.close()
		}
	}()
	wapi, err := rtcclient.NewAPI(rtcclient.NewSettingEngine())
	if err != nil {
		return nil, fmt.Errorf("bench direct: %w", err)
	}
	tracks := make([]*webrtc.TrackLocalStaticRTP, s.Participants)
	for i := range tracks {
		m.names = append(m.names, fmt.Sprintf("p%d", i))
		if tracks[i], err = newTrack(s, m.names[i]); err != nil {
			return nil, err
		}
	}
	for i := range s.Participants {
		for j := i + 1; j < s.Participants; j++ {
			if err := m.connect(wapi, c, m.names[i], m.names[j], tracks[i], tracks[j]); err != nil {
				return nil, err
			}
		}
	}
	for _, tr := range tracks {
		go publish(pctx, s, tr, c, sent)
	}
	return m, nil
}

// connect makes the pair a↔b, each sending its track, with offer/answer exchanged in process
// after ICE gathering completed (no trickle).
func (m *directMeeting) connect(wapi *webrtc.API, c *collector, a, b string, ta, tb *webrtc.TrackLocalStaticRTP) error {
	var pcs [2]*webrtc.PeerConnection
	ends := [2]struct {
		self, peer string
		track      *webrtc.TrackLocalStaticRTP
	}{{a, b, ta}, {b, a, tb}}
	for k, e := range ends {
		self, peer, tr := e.self, e.peer, e.track
		pc, err := wapi.NewPeerConnection(webrtc.Configuration{BundlePolicy: webrtc.BundlePolicyMaxBundle})
		if err != nil {
			return fmt.Errorf("bench direct: peer connection: %w", err)
		}
		m.pcs = append(m.pcs, pc)
		pc.OnTrack(func(remote *webrtc.TrackRemote, _ *webrtc.RTPReceiver) { go c.receive(remote, self, peer) })
		snd, err := pc.AddTrack(tr)
		if err != nil {
			return fmt.Errorf("bench direct: add track: %w", err)
		}
		go drain(snd)
		pcs[k] = pc
	}
	offerer, answerer := pcs[0], pcs[1]
	offer, err := offerer.CreateOffer(nil)
	if err != nil {
		return fmt.Errorf("bench direct: offer: %w", err)
	}
	if err := setLocal(offerer, offer); err != nil {
		return err
	}
	if err := answerer.SetRemoteDescription(*offerer.LocalDescription()); err != nil {
		return fmt.Errorf("bench direct: apply offer: %w", err)
	}
	answer, err := answerer.CreateAnswer(nil)
	if err != nil {
		return fmt.Errorf("bench direct: answer: %w", err)
	}
	if err := setLocal(answerer, answer); err != nil {
		return err
	}
	if err := offerer.SetRemoteDescription(*answerer.LocalDescription()); err != nil {
		return fmt.Errorf("bench direct: apply answer: %w", err)
	}
	return nil
}

// setLocal sets d and waits for ICE gathering, so the description carries every candidate.
func setLocal(pc *webrtc.PeerConnection, d webrtc.SessionDescription) error {
	done := webrtc.GatheringCompletePromise(pc)
	if err := pc.SetLocalDescription(d); err != nil {
		return fmt.Errorf("bench direct: set local %s: %w", d.Type, err)
	}
	<-done
	return nil
}

// drain reads a sender's RTCP so its interceptors run, as rtcclient does.
func drain(s *webrtc.RTPSender) {
	buf := make([]byte, 1500)
	for {
		if _, _, err := s.Read(buf); err != nil {
			return
		}
	}
}

func (m *directMeeting) ids() []string { return m.names }

func (m *directMeeting) forwarded() int64 { return 0 }

func (m *directMeeting) close() {
	m.stop()
	for _, pc := range m.pcs {
		_ = pc.Close()
	}
}
