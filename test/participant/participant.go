// Package participant is a synthetic conference participant for end-to-end tests and the
// benchmark: it joins through rtcclient, publishes the test/media fixtures as three simulcast
// layers (rids q, h, f) and an Opus track, paced in real time, and records per remote
// participant which frame numbers it decoded and how many audio packets arrived.
package participant

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/pion/webrtc/v4"
	"github.com/pion/webrtc/v4/pkg/media"

	"github.com/stoa-rooms/stoa/services/api/rtcclient"
	testmedia "github.com/stoa-rooms/stoa/test/media"
)

// Rids are the simulcast layer names, lowest first, matching the fixture sizes.
var Rids = [...]string{"q", "h", "f"}

// Track IDs the participant publishes.
const (
	VideoTrackID = "camera"
	AudioTrackID = "mic"
)

// Options configure Join.
type Options struct {
	Client rtcclient.Options
	// Media is the loaded fixture set; Video must hold the three layer sizes in rid order.
	Media *testmedia.Set
	Log   *slog.Logger
	// Now stamps media arrival in reports; defaults to time.Now.
	Now func() time.Time
}

// Participant is one synthetic participant in a meeting.
type Participant struct {
	opts   Options
	log    *slog.Logger
	client *rtcclient.Client
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu     sync.Mutex
	remote map[string]*RemoteReport
}

// Join dials the router, publishes video and audio and starts sending.
func Join(ctx context.Context, opts Options) (*Participant, error) {
	if opts.Media == nil || len(opts.Media.Video) != len(Rids) || len(opts.Media.Audio) == 0 {
		return nil, errors.New("participant join: need a media set with 3 video layers and audio")
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Log == nil {
		opts.Log = slog.Default()
	}
	p := &Participant{opts: opts, log: opts.Log, remote: map[string]*RemoteReport{}}
	copts := opts.Client
	copts.OnTrack = p.onTrack
	copts.Log = opts.Log
	c, err := rtcclient.Dial(ctx, copts)
	if err != nil {
		return nil, fmt.Errorf("participant join: %w", err)
	}
	p.mu.Lock() // onTrack reads it under mu to name remotes
	p.client = c
	p.mu.Unlock()
	var layers []*rtcclient.SimulcastLayer
	for _, rid := range Rids {
		l, err := rtcclient.NewSimulcastLayer(VideoTrackID, c.ID(), rid)
		if err != nil {
			c.Close()
			return nil, fmt.Errorf("participant join: %w", err)
		}
		layers = append(layers, l)
	}
	mic, err := webrtc.NewTrackLocalStaticSample(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2}, AudioTrackID, c.ID())
	if err != nil {
		c.Close()
		return nil, fmt.Errorf("participant join: %w", err)
	}
	// One negotiation for everything: no second offer to cross the router's.
	if _, err := c.Publish(layers[0], layers[1], layers[2], mic); err != nil {
		c.Close()
		return nil, fmt.Errorf("participant join: %w", err)
	}
	sendCtx, cancel := context.WithCancel(context.Background())
	p.cancel = cancel
	p.wg.Add(2)
	go p.sendVideo(sendCtx, layers)
	go p.sendAudio(sendCtx, mic)
	return p, nil
}

// ID is the participant ID the router assigned.
func (p *Participant) ID() string { return p.client.ID() }

// Client is the underlying conference client.
func (p *Participant) Client() *rtcclient.Client { return p.client }

// Close stops sending and leaves.
func (p *Participant) Close() error {
	p.cancel()
	err := p.client.Close()
	p.wg.Wait()
	return err
}

// sendVideo writes one frame per layer every 1/FPS, looping the fixture. A ticker keeps the
// pace in real time however long a write takes.
func (p *Participant) sendVideo(ctx context.Context, layers []*rtcclient.SimulcastLayer) {
	defer p.wg.Done()
	fps := p.opts.Media.Spec.FPS
	frameDur := time.Second / time.Duration(fps)
	tick := time.NewTicker(frameDur)
	defer tick.Stop()
	for n := 0; ; n++ {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		for i, l := range layers {
			frames := p.opts.Media.Video[i].Frames
			if err := l.WriteSample(media.Sample{Data: frames[n%len(frames)], Duration: frameDur}); err != nil {
				p.log.Debug("participant video write", "rid", l.RID(), "err", err)
			}
		}
	}
}

// sendAudio writes one 20 ms Opus packet every 20 ms, looping the fixture.
func (p *Participant) sendAudio(ctx context.Context, mic *webrtc.TrackLocalStaticSample) {
	defer p.wg.Done()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for n := 0; ; n++ {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		pkts := p.opts.Media.Audio
		if err := mic.WriteSample(media.Sample{Data: pkts[n%len(pkts)], Duration: 20 * time.Millisecond}); err != nil {
			p.log.Debug("participant audio write", "err", err)
		}
	}
}
