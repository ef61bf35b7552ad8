package router

import (
	"encoding/json"
	"net/http"
	"sort"
	"time"

	"github.com/pion/webrtc/v4"
)

// Stats is a snapshot of the SFU (GET /api/v1/router/stats).
type Stats struct {
	RouterID     string             `json:"router_id"`
	Participants []ParticipantStats `json:"participants"`
}

// ParticipantStats describes one participant's session.
type ParticipantStats struct {
	ID            string           `json:"id"`
	Meeting       string           `json:"meeting"`
	Name          string           `json:"name"`
	Kind          string           `json:"kind"`
	State         string           `json:"state"`        // PeerConnection state
	SRTPProfile   string           `json:"srtp_profile"` // negotiated DTLS-SRTP protection profile (RFC 5764)
	DTLSCipher    string           `json:"dtls_cipher"`
	EstimateBps   int              `json:"estimate_bps"` // send-side bandwidth estimate towards it
	PLIsSent      uint64           `json:"plis_sent"`    // key frame requests sent to it as a publisher
	ActiveSpeaker bool             `json:"active_speaker"`
	Published     []PublishedStats `json:"published"`
	Received      []ReceivedStats  `json:"received"`
	Since         time.Time        `json:"since"`
}

// PublishedStats is one track the participant publishes.
type PublishedStats struct {
	Track     string  `json:"track"`
	Kind      string  `json:"kind"`
	Codec     string  `json:"codec"`
	Muted     bool    `json:"muted"`
	Layers    []Layer `json:"layers"` // arriving bitrate per simulcast layer
	PacketsIn uint64  `json:"packets_in"`
	BytesIn   uint64  `json:"bytes_in"`
	Dropped   uint64  `json:"dropped"` // malformed or over the rate cap
}

// ReceivedStats is one track forwarded to the participant.
type ReceivedStats struct {
	Publisher string `json:"publisher"`
	Track     string `json:"track"`
	Layer     string `json:"layer"`  // simulcast layer being forwarded
	Target    string `json:"target"` // layer wanted (differs until its key frame)
	Packets   uint64 `json:"packets"`
	Bytes     uint64 `json:"bytes"`
	Switches  int    `json:"switches"`
}

// Stats reports every participant.
func (s *SFU) Stats() Stats {
	s.mu.Lock()
	rooms := make([]*room, 0, len(s.rooms))
	for _, r := range s.rooms {
		rooms = append(rooms, r)
	}
	s.mu.Unlock()
	out := Stats{RouterID: s.opts.ID, Participants: []ParticipantStats{}}
	now := s.now()
	for _, r := range rooms {
		speaker := r.activeSpeaker()
		for _, p := range r.members() {
			ps := p.stats(now)
			ps.ActiveSpeaker = speaker == p.id
			out.Participants = append(out.Participants, ps)
		}
	}
	sort.Slice(out.Participants, func(i, j int) bool {
		a, b := out.Participants[i], out.Participants[j]
		return a.Meeting < b.Meeting || (a.Meeting == b.Meeting && a.ID < b.ID)
	})
	return out
}

func (p *participant) stats(now time.Time) ParticipantStats {
	ps := ParticipantStats{ID: p.id, Meeting: p.room.id, Name: p.name, Kind: p.kind, State: p.pc.ConnectionState().String(), PLIsSent: p.plis.Load(), Since: p.joinedAt, Published: []PublishedStats{}, Received: []ReceivedStats{}}
	for _, st := range p.pc.GetStats() {
		if t, ok := st.(webrtc.TransportStats); ok {
			ps.SRTPProfile, ps.DTLSCipher = t.SRTPCipher, t.DTLSCipher
		}
	}
	ps.EstimateBps, _ = p.estimate()
	p.mu.Lock()
	pubs := make([]*publication, 0, len(p.pubs))
	for _, pub := range p.pubs {
		pubs = append(pubs, pub)
	}
	fwds := make([]*forwarder, 0, len(p.fwds))
	for _, f := range p.fwds {
		fwds = append(fwds, f)
	}
	p.mu.Unlock()
	for _, pub := range pubs {
		layers := pub.layerRates(now)
		sort.Slice(layers, func(i, j int) bool { return layers[i].RID < layers[j].RID })
		ps.Published = append(ps.Published, PublishedStats{Track: pub.id, Kind: pub.kind.String(), Codec: pub.mime, Muted: pub.muted.Load(), Layers: layers, PacketsIn: pub.packetsIn.Load(), BytesIn: pub.bytesIn.Load(), Dropped: pub.dropped.Load()})
	}
	for _, f := range fwds {
		fs := f.stats()
		ps.Received = append(ps.Received, ReceivedStats{Publisher: fs.Publisher, Track: fs.Track, Layer: fs.Layer, Target: fs.Target, Packets: fs.Packets, Bytes: fs.Bytes, Switches: fs.Switches})
	}
	sort.Slice(ps.Published, func(i, j int) bool { return ps.Published[i].Track < ps.Published[j].Track })
	sort.Slice(ps.Received, func(i, j int) bool {
		a, b := ps.Received[i], ps.Received[j]
		return a.Publisher < b.Publisher || (a.Publisher == b.Publisher && a.Track < b.Track)
	})
	return ps
}

// StatsHandler serves Stats as JSON.
func (s *SFU) StatsHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		_ = json.NewEncoder(w).Encode(s.Stats())
	})
}
