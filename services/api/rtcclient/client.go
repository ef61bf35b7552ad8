// Package rtcclient is Stoa's Go conference client: it joins a meeting on a router over the
// signaling WebSocket (services/api Sig* messages), publishes tracks over one WebRTC
// PeerConnection and hands remote tracks to the caller labelled with the publishing participant.
// The room firmware and the test participants share it, so it imports only the standard library,
// pion, coder/websocket and services/api.
//
// Negotiation follows the conference design: the client makes the first offer (its published
// tracks), the router offers afterwards whenever the set of forwarded tracks changes, and the
// client answers. If the client publishes more later it offers again; if that crosses an offer
// from the router (glare, RFC 8829 section 4.1.8.2), the client's offer wins: the router drops its
// own and offers again after answering. Publish everything in one call to avoid glare.
//
// Reconnecting is the caller's job: when signaling drops or the router asks to reconnect, Done
// is closed and Err says why.
package rtcclient

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/coder/websocket"
	"github.com/pion/dtls/v3"
	"github.com/pion/webrtc/v4"

	"github.com/stoa-rooms/stoa/services/api"
	"github.com/stoa-rooms/stoa/services/api/e2ee"
)

// Options configure Dial.
type Options struct {
	// SignalURL is the wss:// (or ws:// in tests) signaling URL from the join response.
	SignalURL string
	// Token is the join token from the join response.
	Token string
	// TLS verifies the signaling server (the portal's certificate bundle); nil means the system
	// roots.
	TLS *tls.Config
	// ICEServers from the join response (our TURN proxy with short-lived credentials).
	ICEServers []api.ICEServer
	// RelayOnly restricts ICE to TURN relay candidates (the TURN-only network case).
	RelayOnly bool
	// SettingEngine, when set, adjusts the loopback-only defaults (tests use it for vnet).
	SettingEngine func(*webrtc.SettingEngine)
	// OnTrack receives every remote track with the participant ID that publishes it. It can also
	// be set later with Client.OnTrack; tracks arriving before then are held.
	OnTrack func(remote *webrtc.TrackRemote, participant string)
	// OnSignal sees every router message the client does not consume itself
	// (participant_joined, participant_left, track, active_speaker, error). It runs on the
	// signaling goroutine: keep it short.
	OnSignal func(api.SigMessage)
	// Log defaults to slog.Default().
	Log *slog.Logger
	// JoinTimeout bounds waiting for "joined" (default 10 s) when ctx has no deadline.
	JoinTimeout time.Duration
	// E2EE, when set, joins with end-to-end media encryption (e2ee.go): the session's public
	// key must be the one in Token, and its participant ID the one the portal assigned.
	// Publish SampleTrack / SimulcastLayer tracks with it and read with FrameReader.
	E2EE *e2ee.Session
}

// Client is one participant's connection to a router.
type Client struct {
	opts Options
	log  *slog.Logger
	conn *websocket.Conn
	pc   *webrtc.PeerConnection
	id   string

	joined api.SigJoined

	ctx    context.Context // cancelled when the client shuts down
	cancel context.CancelFunc
	done   chan struct{}

	mu           sync.Mutex
	err          error
	onTrack      func(*webrtc.TrackRemote, string)
	heldTracks   []*webrtc.TrackRemote
	participants map[string]api.SigParticipant

	// negMu serializes offer/answer steps; the fields below it are guarded by it.
	negMu         sync.Mutex
	offering      bool
	wantOffer     bool
	negotiated    bool
	pendingRemote []webrtc.ICECandidateInit
}

// failedGrace is how long a failed peer connection waits for the router's reason before the
// client ends the session itself.
const failedGrace = time.Second

// ErrClosed is the Err of a client closed by its owner.
var ErrClosed = errors.New("rtcclient: closed")

// Dial joins the meeting: it opens the signaling WebSocket, sends the join token, waits for
// "joined" and prepares the PeerConnection. Media starts with the first Publish.
func Dial(ctx context.Context, opts Options) (*Client, error) {
	if opts.SignalURL == "" || opts.Token == "" {
		return nil, errors.New("rtcclient dial: signal URL and token are required")
	}
	log := opts.Log
	if log == nil {
		log = slog.Default()
	}
	if opts.JoinTimeout <= 0 {
		opts.JoinTimeout = 10 * time.Second
	}
	joinCtx, cancelJoin := context.WithTimeout(ctx, opts.JoinTimeout)
	defer cancelJoin()

	httpClient := &http.Client{Transport: &http.Transport{TLSClientConfig: opts.TLS, ForceAttemptHTTP2: false}}
	conn, resp, err := websocket.Dial(joinCtx, opts.SignalURL, &websocket.DialOptions{HTTPClient: httpClient})
	if err != nil {
		if resp != nil {
			return nil, fmt.Errorf("rtcclient dial %s: HTTP %d: %w", opts.SignalURL, resp.StatusCode, err)
		}
		return nil, fmt.Errorf("rtcclient dial %s: %w", opts.SignalURL, err)
	}
	conn.SetReadLimit(api.MaxSigMessage)
	c := &Client{opts: opts, log: log, conn: conn, done: make(chan struct{}), participants: map[string]api.SigParticipant{}}
	c.onTrack = opts.OnTrack
	c.ctx, c.cancel = context.WithCancel(context.Background())
	fail := func(err error) (*Client, error) {
		c.cancel()
		conn.Close(websocket.StatusNormalClosure, "join failed")
		if c.pc != nil {
			c.pc.Close()
		}
		return nil, err
	}
	if err := c.send(joinCtx, api.SigTypeJoin, api.SigJoin{Token: opts.Token, E2EE: opts.E2EE != nil}); err != nil {
		return fail(err)
	}
	m, err := c.read(joinCtx)
	if err != nil {
		return fail(fmt.Errorf("rtcclient join: %w", err))
	}
	switch m.Type {
	case api.SigTypeJoined:
		if c.joined, err = api.DecodeSigJoined(m); err != nil {
			return fail(fmt.Errorf("rtcclient join: %w", err))
		}
	case api.SigTypeError:
		e, err := api.DecodeSigError(m)
		if err != nil {
			return fail(fmt.Errorf("rtcclient join: %w", err))
		}
		return fail(&RouterError{Code: e.Code, Message: e.Message})
	default:
		return fail(fmt.Errorf("rtcclient join: router sent %q before joined", m.Type))
	}
	c.id = c.joined.ParticipantID
	if opts.E2EE != nil && opts.E2EE.Self() != c.id {
		return fail(fmt.Errorf("rtcclient join: e2ee session is for participant %q, the router says we are %q", opts.E2EE.Self(), c.id))
	}
	for _, p := range c.joined.Participants {
		c.participants[p.ID] = p
	}
	if err := c.e2eeJoined(joinCtx); err != nil {
		return fail(err)
	}
	if c.pc, err = c.newPeerConnection(); err != nil {
		return fail(err)
	}
	c.log = log.With("participant", c.id)
	go c.readLoop()
	return c, nil
}

// RouterError is an "error" message from the router.
type RouterError struct{ Code, Message string }

func (e *RouterError) Error() string { return "router: " + e.Code + ": " + e.Message }

func (c *Client) newPeerConnection() (*webrtc.PeerConnection, error) {
	se := NewSettingEngine()
	if c.opts.E2EE != nil {
		// e2ee is the Secured option's client side: AES-128-GCM SRTP only, so a peer that
		// cannot negotiate it fails rather than falls back. (SettingEngine may still override
		// it: tests do, to show the router refuses such a client.)
		se.SetSRTPProtectionProfiles(dtls.SRTP_AEAD_AES_128_GCM)
	}
	if c.opts.SettingEngine != nil {
		c.opts.SettingEngine(se)
	}
	webAPI, err := NewAPI(se)
	if err != nil {
		return nil, fmt.Errorf("rtcclient: %w", err)
	}
	cfg := webrtc.Configuration{SDPSemantics: webrtc.SDPSemanticsUnifiedPlan, BundlePolicy: webrtc.BundlePolicyMaxBundle}
	for _, s := range c.opts.ICEServers {
		cfg.ICEServers = append(cfg.ICEServers, webrtc.ICEServer{URLs: s.URLs, Username: s.Username, Credential: s.Credential})
	}
	if c.opts.RelayOnly {
		cfg.ICETransportPolicy = webrtc.ICETransportPolicyRelay
	}
	pc, err := webAPI.NewPeerConnection(cfg)
	if err != nil {
		return nil, fmt.Errorf("rtcclient: new peer connection: %w", err)
	}
	pc.OnTrack(func(tr *webrtc.TrackRemote, _ *webrtc.RTPReceiver) {
		c.mu.Lock()
		f := c.onTrack
		if f == nil {
			c.heldTracks = append(c.heldTracks, tr)
		}
		c.mu.Unlock()
		if f != nil {
			f(tr, tr.StreamID())
		}
	})
	pc.OnConnectionStateChange(func(s webrtc.PeerConnectionState) {
		c.log.Debug("rtcclient connection state", "state", s.String())
		if s == webrtc.PeerConnectionStateFailed {
			// Not inline: Close from inside a pion callback can wait on that callback. The
			// router may be about to say why (a Secured meeting refusing the SRTP profile fails
			// DTLS on both sides at once): give its message a moment to arrive first.
			go func() {
				t := time.NewTimer(failedGrace)
				defer t.Stop()
				select {
				case <-c.done:
				case <-t.C:
				}
				c.shutdown(errors.New("rtcclient: peer connection failed"))
			}()
		}
	})
	return pc, nil
}

// ID is this participant's ID as the router assigned it.
func (c *Client) ID() string { return c.id }

// Joined is the router's "joined" answer: who was already in the meeting.
func (c *Client) Joined() api.SigJoined { return c.joined }

// Participants are the other participants currently in the meeting, as signaled.
func (c *Client) Participants() []api.SigParticipant {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]api.SigParticipant, 0, len(c.participants))
	for _, p := range c.participants {
		out = append(out, p)
	}
	return out
}

// PeerConnection exposes the underlying connection (stats, SRTP profile checks).
func (c *Client) PeerConnection() *webrtc.PeerConnection { return c.pc }

// OnTrack sets the remote track handler and hands it any tracks that arrived before.
func (c *Client) OnTrack(f func(remote *webrtc.TrackRemote, participant string)) {
	c.mu.Lock()
	c.onTrack = f
	held := c.heldTracks
	c.heldTracks = nil
	c.mu.Unlock()
	for _, tr := range held {
		go f(tr, tr.StreamID())
	}
}

// Done is closed when the session ends: Close, signaling dropped, router asked to reconnect,
// or ICE/DTLS failed.
func (c *Client) Done() <-chan struct{} { return c.done }

// Err says why Done was closed (ErrClosed after Close); nil while the session runs.
func (c *Client) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

// Mute tells the router to stop (or resume) forwarding one of our tracks. The caller should also
// stop writing samples to it.
func (c *Client) Mute(trackID string, muted bool) error {
	ctx, cancel := context.WithTimeout(c.ctx, 5*time.Second)
	defer cancel()
	return c.send(ctx, api.SigTypeMute, api.SigMute{TrackID: trackID, Muted: muted})
}

// Close leaves the meeting and releases everything. It is safe to call more than once.
func (c *Client) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	select {
	case <-c.done:
	default:
		_ = c.send(ctx, api.SigTypeLeave, api.SigEmpty{}) // best effort: closing tells the router too
	}
	c.shutdown(ErrClosed)
	return nil
}

// shutdown ends the session once, recording why.
func (c *Client) shutdown(err error) {
	c.mu.Lock()
	if c.err != nil {
		c.mu.Unlock()
		return
	}
	c.err = err
	c.mu.Unlock()
	if errors.Is(err, ErrClosed) {
		c.log.Debug("rtcclient closed")
	} else {
		c.log.Info("rtcclient session ended", "err", err)
	}
	c.cancel()
	c.conn.Close(websocket.StatusNormalClosure, "bye")
	if c.pc != nil {
		c.pc.Close()
	}
	close(c.done)
}

// SRTPProfile is the negotiated DTLS-SRTP protection profile (for example
// "SRTP_AEAD_AES_128_GCM"), "" before DTLS completes.
func (c *Client) SRTPProfile() string {
	for _, s := range c.pc.GetStats() {
		if ts, ok := s.(webrtc.TransportStats); ok && ts.SRTPCipher != "" {
			return ts.SRTPCipher
		}
	}
	return ""
}
