// Package call takes the room into a conference: it joins the router through rtcclient with
// the portal's join answer, publishes the board camera as VP8 simulcast and the microphone as
// Opus (echo-cancelled against what the speaker plays), answers keyframe requests, follows the
// router's bandwidth feedback, and plays and shows what the others send: remote Opus decoded,
// mixed and played on the speaker; remote VP8 decoded and composed on the display through the
// screen renderer, with names, mute states and the active speaker from signaling.
package call

import (
	"context"
	"crypto/ecdh"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/webrtc/v4"

	"github.com/stoa-rooms/stoa/board"
	"github.com/stoa-rooms/stoa/services/api"
	"github.com/stoa-rooms/stoa/services/api/e2ee"
	"github.com/stoa-rooms/stoa/services/api/rtcclient"
)

// Track IDs the room publishes; the stream ID is the room's participant ID.
const (
	VideoTrackID = "camera"
	AudioTrackID = "mic"
)

// Call states.
const (
	StateJoining = "joining"
	StateInCall  = "in_call"
	StateEnded   = "ended"
	StateFailed  = "failed"
)

// Layouts.
const (
	LayoutSpeaker = "speaker"
	LayoutGrid    = "grid"
)

// Screen shows a call; *screen.Renderer implements it.
type Screen interface {
	ShowCall(CallView) error
}

// Options configure Start.
type Options struct {
	// Join is what the portal's POST /api/v1/room/join answered.
	Join api.MeetingJoinResponse
	// E2EEKey is the private half of the key sent in the join request (RoomJoinRequest.E2EEKey,
	// see GenerateE2EEKey). A secured join answer (Join.Secured) needs it: the call then
	// encrypts and decrypts all media end to end (e2ee.go). Unused otherwise.
	E2EEKey *ecdh.PrivateKey
	// Meeting is the meeting's name or ID shown on screen and in State.
	Meeting string
	// TLS verifies the signaling server (the portal bundle's roots).
	TLS *tls.Config
	// Board is the room's hardware: Camera, Microphone, Speaker are used when present.
	Board *board.Board
	// Screen shows the call (nil: nothing is drawn).
	Screen Screen
	// MicMuted and CameraMuted are the mute states the call starts with.
	MicMuted, CameraMuted bool
	// Volume of the far end in percent, 1–100; 0 means 100 (SetVolume(0) silences a call).
	Volume int
	// Layout is "speaker" (default) or "grid".
	Layout string
	// OnChange is called (on its own goroutine, coalesced) whenever State changes.
	OnChange func()
	Log      *slog.Logger
	// SettingEngine adjusts rtcclient's loopback-only defaults.
	SettingEngine func(*webrtc.SettingEngine)
	// ComposeFPS is how often the call is drawn (default 15).
	ComposeFPS int
	// Now is the clock the speaker and microphone are placed on for echo cancellation; the
	// devices' own clock (default time.Now; the sim board's Hardware.Clock.Now in tests
	// that drive time).
	Now func() time.Time
}

// Participant is one other participant as signaled.
type Participant struct {
	ID          string `json:"id"`
	Name        string `json:"name"`
	MicMuted    bool   `json:"mic_muted"`
	CameraMuted bool   `json:"camera_muted"`
	Speaking    bool   `json:"speaking"`
}

// State is the call as the control layer reports it.
type State struct {
	Meeting      string        `json:"meeting"`
	State        string        `json:"state"`
	Participants []Participant `json:"participants"`
	MicMuted     bool          `json:"mic_muted"`
	CameraMuted  bool          `json:"camera_muted"`
	Volume       int           `json:"volume"`
	Layout       string        `json:"layout"`
	// E2EE is true while media is end-to-end encrypted (a secured meeting).
	E2EE  bool   `json:"e2ee,omitempty"`
	Error string `json:"error,omitempty"`
}

// Call is one conference the room is in.
type Call struct {
	o      Options
	log    *slog.Logger
	client *rtcclient.Client
	// sess seals our frames and opens the others' (nil unless the meeting is secured).
	sess        *e2ee.Session
	undecrypted atomic.Int64
	ctx         context.Context
	cancel      context.CancelFunc
	wg          sync.WaitGroup
	done        chan struct{}

	micMuted, camMuted atomic.Bool
	volume             atomic.Int32
	layout             atomic.Value // string

	video *videoSender
	audio *audioSender
	play  *playout
	mutes *muteSync
	// audioTL places speaker and microphone samples on one timeline; far is what the speaker
	// played on it, the echo canceller's reference.
	audioTL timeline
	far     *farRing
	// playEvents tells the microphone loop where the playout's position estimate may have
	// changed its error (see playout.paceAndWrite).
	playEvents playEvents

	changed chan struct{}

	mu        sync.Mutex
	state     string
	err       error
	speaker   string // active speaker's participant ID
	closing   bool   // end has begun: no new goroutines
	pictures  map[string]*remotePicture
	self      *selfPicture
	endOnce   sync.Once
	leaveOnce sync.Once
}

// Start joins the meeting, publishes camera and microphone and starts receiving. It returns
// once signaling is up and the offer is out; media flows as ICE and DTLS complete.
func Start(ctx context.Context, o Options) (*Call, error) {
	if o.Board == nil {
		return nil, errors.New("start call: no board")
	}
	if o.Join.SignalURL == "" || o.Join.Token == "" {
		return nil, errors.New("start call: the join answer has no signal URL or token")
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.ComposeFPS <= 0 {
		o.ComposeFPS = 15
	}
	if o.Volume <= 0 {
		o.Volume = 100
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Meeting == "" {
		o.Meeting = o.Join.ParticipantID
	}
	c := &Call{o: o, log: o.Log, done: make(chan struct{}), changed: make(chan struct{}, 1),
		state: StateJoining, pictures: map[string]*remotePicture{}, self: &selfPicture{}}
	c.audioTL = newTimeline(o.Now, audioRate)
	c.far = newFarRing(farRingSeconds * audioRate)
	c.micMuted.Store(o.MicMuted)
	c.camMuted.Store(o.CameraMuted)
	c.volume.Store(int32(clampVolume(o.Volume)))
	c.layout.Store(normLayout(o.Layout))
	sess, err := newSession(o)
	if err != nil {
		return nil, fmt.Errorf("start call: %w", err)
	}
	c.sess = sess
	c.ctx, c.cancel = context.WithCancel(context.Background())
	c.wg.Add(1)
	go c.notifyLoop()

	client, err := rtcclient.Dial(ctx, rtcclient.Options{
		SignalURL: o.Join.SignalURL, Token: o.Join.Token, TLS: o.TLS, ICEServers: o.Join.ICEServers,
		SettingEngine: o.SettingEngine, OnSignal: c.onSignal, Log: o.Log, E2EE: sess,
	})
	if err != nil {
		c.fail(fmt.Errorf("start call: %w", err))
		return nil, fmt.Errorf("start call: %w", err)
	}
	c.client = client
	c.log = o.Log.With("participant", client.ID())
	if err := c.publish(); err != nil {
		c.fail(fmt.Errorf("start call: %w", err))
		return nil, fmt.Errorf("start call: %w", err)
	}
	client.OnTrack(c.onTrack)
	c.mu.Lock()
	c.state = StateInCall
	c.mu.Unlock()
	c.notify()
	c.wg.Add(2)
	go c.composeLoop()
	go c.watch()
	c.log.Info("call started", "meeting", o.Meeting, "router", o.Join.RouterID)
	return c, nil
}

// publish opens the devices, adds the tracks and negotiates them in one offer.
func (c *Call) publish() error {
	pc := c.client.PeerConnection()
	var err error
	if c.o.Board.Camera != nil {
		if c.video, err = newVideoSender(c, pc); err != nil {
			return err
		}
	}
	if c.o.Board.Microphone != nil {
		if c.audio, err = newAudioSender(c, pc); err != nil {
			return err
		}
	}
	if c.o.Board.Speaker != nil {
		if c.play, err = newPlayout(c); err != nil {
			return err
		}
	}
	c.mutes = newMuteSync(c)
	// Our own tracks are added to the PeerConnection directly (not through rtcclient.Publish,
	// which drains sender RTCP itself): the call must read PLIs and receiver reports.
	// Publish with no tracks then negotiates what we added in one offer.
	if _, err := c.client.Publish(); err != nil {
		return err
	}
	if c.video != nil {
		c.video.start()
	}
	if c.audio != nil {
		c.audio.start()
	}
	if c.play != nil {
		c.play.start()
	}
	c.mutes.start()
	return nil
}

// watch ends the call when the client's session ends.
func (c *Call) watch() {
	defer c.wg.Done()
	select {
	case <-c.ctx.Done():
	case <-c.client.Done():
		err := c.client.Err()
		if !errors.Is(err, rtcclient.ErrClosed) {
			go c.fail(fmt.Errorf("call: %w", err))
		}
	}
}

// fail ends the call with err (state failed).
func (c *Call) fail(err error) {
	c.end(StateFailed, err)
}

// end stops everything once.
func (c *Call) end(state string, err error) {
	c.endOnce.Do(func() {
		c.mu.Lock()
		c.state, c.err, c.closing = state, err, true
		c.mu.Unlock()
		if err != nil {
			c.log.Warn("call ended", "state", state, "err", err)
		} else {
			c.log.Info("call ended")
		}
		c.cancel()
		if c.client != nil {
			c.client.Close()
		}
		c.notify()
		c.wg.Wait()
		if c.video != nil {
			c.video.close()
		}
		if c.audio != nil {
			c.audio.close()
		}
		if c.play != nil {
			c.play.close()
		}
		c.closePictures()
		if c.o.OnChange != nil {
			c.o.OnChange() // the final state, after the notify loop stopped
		}
		close(c.done)
	})
}

// Leave hangs up and releases the devices; it returns when everything has stopped.
func (c *Call) Leave() error {
	c.end(StateEnded, nil)
	<-c.done
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.state == StateFailed {
		return c.err
	}
	return nil
}

// Done is closed when the call has ended (Leave, or the session failed) and everything stopped.
func (c *Call) Done() <-chan struct{} { return c.done }

// Err is why the call failed; nil while it runs and after Leave.
func (c *Call) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.state == StateFailed {
		return c.err
	}
	return nil
}

// ID is the room's participant ID in the meeting.
func (c *Call) ID() string { return c.client.ID() }

// SetMicMuted mutes or unmutes the microphone: from the next 20 ms frame on nothing the
// microphone hears is sent, and the router is told.
func (c *Call) SetMicMuted(m bool) error {
	if c.micMuted.Swap(m) != m {
		c.mutes.kick()
		c.notify()
	}
	return nil
}

// SetCameraMuted stops or resumes sending video (privacy); the router is told.
func (c *Call) SetCameraMuted(m bool) error {
	if c.camMuted.Swap(m) != m {
		if !m && c.video != nil {
			c.video.requestKeyframe()
		}
		c.mutes.kick()
		c.notify()
	}
	return nil
}

// SetVolume sets the far-end volume in percent (clamped to 0–100).
func (c *Call) SetVolume(v int) error {
	c.volume.Store(int32(clampVolume(v)))
	c.notify()
	return nil
}

// SetLayout picks "speaker" or "grid".
func (c *Call) SetLayout(l string) error {
	if l != LayoutSpeaker && l != LayoutGrid {
		return fmt.Errorf("set layout: %q is neither %q nor %q", l, LayoutSpeaker, LayoutGrid)
	}
	c.layout.Store(l)
	c.notify()
	return nil
}

// RequestKeyframe makes every simulcast layer send a keyframe next.
func (c *Call) RequestKeyframe() {
	if c.video != nil {
		c.video.requestKeyframe()
	}
}

// State is a snapshot of the call.
func (c *Call) State() State {
	c.mu.Lock()
	st := State{Meeting: c.o.Meeting, State: c.state, MicMuted: c.micMuted.Load(), CameraMuted: c.camMuted.Load(),
		Volume: int(c.volume.Load()), Layout: c.layout.Load().(string), E2EE: c.sess != nil}
	if c.err != nil {
		st.Error = c.err.Error()
	}
	speaker := c.speaker
	c.mu.Unlock()
	if c.client != nil {
		st.Participants = participants(c.client.Participants(), speaker)
	}
	return st
}

// track counts a remote track's goroutine in wg unless the call is ending.
func (c *Call) track() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closing {
		return false
	}
	c.wg.Add(1)
	return true
}

// notify schedules OnChange.
func (c *Call) notify() {
	select {
	case c.changed <- struct{}{}:
	default:
	}
}

func (c *Call) notifyLoop() {
	defer c.wg.Done()
	for {
		select {
		case <-c.ctx.Done():
			return
		case <-c.changed:
			if c.o.OnChange != nil {
				c.o.OnChange()
			}
		}
	}
}

func clampVolume(v int) int { return min(max(v, 0), 100) }

func normLayout(l string) string {
	if l == LayoutGrid {
		return LayoutGrid
	}
	return LayoutSpeaker
}
