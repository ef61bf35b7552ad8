package router

import (
	"crypto/ed25519"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/pion/interceptor/pkg/cc"
	"github.com/pion/webrtc/v4"
)

// Options configure an SFU.
type Options struct {
	// ID is this router's component ID; join tokens must name it (Claims.Router).
	ID string
	// TokenKey returns the portal's token public key (nil until known: joins are refused).
	TokenKey func() ed25519.PublicKey
	Now      func() time.Time
	Log      *slog.Logger
	// SettingEngine adjusts each PeerConnection's setting engine after the router's defaults
	// (loopback-only interfaces, no mDNS, AES-GCM SRTP preferred), e.g. SetNet for pion vnet
	// or a production interface filter.
	SettingEngine func(*webrtc.SettingEngine)
	// ICE widens where candidates are gathered (interfaces, public IPs, ports, a shared UDP
	// mux); nil keeps loopback only. The caller opens it (OpenICE) and closes it after the SFU.
	ICE *ICE
	// NewEstimator makes the send-side bandwidth estimator of one subscriber's
	// PeerConnection; nil means Google Congestion Control (pion/interceptor gcc).
	NewEstimator func() (cc.BandwidthEstimator, error)
	// JoinRate and JoinBurst limit join attempts per client IP (default 5/s, burst 20).
	JoinRate, JoinBurst float64
	// MessageRate and MessageBurst limit signaling messages per connection (default 50/s, burst 100).
	MessageRate, MessageBurst float64
	// JoinTimeout bounds the wait for the first ("join") message (default 10 s).
	JoinTimeout time.Duration
	// ControlInterval is how often each subscriber's layers are re-chosen (default 250 ms).
	ControlInterval time.Duration
	// Secured reports whether a meeting runs under the Secured option (e2ee.go): joins must
	// declare end-to-end encryption and SRTP is AES-128-GCM only. Nil means never.
	Secured func(meeting string) bool
	// OnMedia, when set, sees every media packet the router forwards, as the router sees it
	// (a test hook: with e2ee the payload must be unreadable here). It runs on the media path:
	// it must not keep pkt or block.
	OnMedia func(MediaView)
}

// SFU is the selective forwarding unit: meetings of participants, each with one
// PeerConnection, every publisher's tracks forwarded to every other participant.
type SFU struct {
	opts  Options
	log   *slog.Logger
	now   func() time.Time
	joins *ipLimiter
	used  *usedTokens

	mu     sync.Mutex
	rooms  map[string]*room
	closed bool
}

// New makes an SFU; serve Handler at /rtc.
func New(o Options) *SFU {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.TokenKey == nil {
		o.TokenKey = func() ed25519.PublicKey { return nil }
	}
	if o.JoinRate <= 0 {
		o.JoinRate, o.JoinBurst = 5, 20
	}
	if o.JoinBurst < 1 {
		o.JoinBurst = 1
	}
	if o.MessageRate <= 0 {
		o.MessageRate, o.MessageBurst = 50, 100
	}
	if o.MessageBurst < 1 {
		o.MessageBurst = 1
	}
	if o.JoinTimeout <= 0 {
		o.JoinTimeout = 10 * time.Second
	}
	if o.ControlInterval <= 0 {
		o.ControlInterval = 250 * time.Millisecond
	}
	return &SFU{opts: o, log: o.Log, now: o.Now, joins: newIPLimiter(o.JoinRate, o.JoinBurst), used: newUsedTokens(maxUsedTokens), rooms: map[string]*room{}}
}

// Handler serves the signaling WebSocket (GET /rtc).
func (s *SFU) Handler() http.Handler { return http.HandlerFunc(s.serveRTC) }

// Close disconnects every participant and refuses new joins.
func (s *SFU) Close() {
	s.mu.Lock()
	s.closed = true
	var parts []*participant
	for _, r := range s.rooms {
		parts = append(parts, r.members()...)
	}
	s.mu.Unlock()
	for _, p := range parts {
		p.close("router shutting down", true)
	}
}

// room returns the meeting's room, creating it.
func (s *SFU) room(id string) *room {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.rooms[id]
	if r == nil {
		r = newRoom(s, id)
		s.rooms[id] = r
	}
	return r
}

// dropRoomIfEmpty forgets a room nobody is in.
func (s *SFU) dropRoomIfEmpty(r *room) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if r.empty() && s.rooms[r.id] == r {
		delete(s.rooms, r.id)
	}
}

func (s *SFU) isClosed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closed
}

// clientIP is the address join limits apply to. Behind the portal's proxy (an mTLS peer
// with a verified internal certificate) it is the last X-Forwarded-For hop the portal added;
// otherwise the TCP peer.
func clientIP(r *http.Request) string {
	if r.TLS != nil && len(r.TLS.VerifiedChains) > 0 {
		if xff := r.Header.Values("X-Forwarded-For"); len(xff) > 0 {
			hops := strings.Split(xff[len(xff)-1], ",")
			if ip := net.ParseIP(strings.TrimSpace(hops[len(hops)-1])); ip != nil {
				return ip.String()
			}
		}
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}
