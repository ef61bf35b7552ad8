package rtcclient

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/pion/rtp"
	"github.com/pion/rtp/codecs"
	"github.com/pion/webrtc/v4"
	"github.com/pion/webrtc/v4/pkg/media"
	"github.com/pion/webrtc/v4/pkg/media/samplebuilder"

	"github.com/stoa-rooms/stoa/services/api"
	"github.com/stoa-rooms/stoa/services/api/e2ee"
)

// End-to-end encryption (issue 8): the client runs the key exchange of services/api/e2ee over
// signaling. A participant whose portal-signed key does not verify, or a key message that does
// not open, ends the session: the router relaying them is attacking the meeting, and carrying
// on would only hide it.

// E2EE is the session the client encrypts with (nil without e2ee).
func (c *Client) E2EE() *e2ee.Session { return c.opts.E2EE }

// e2eeJoined verifies the participants already in the meeting and sends them our key.
func (c *Client) e2eeJoined(ctx context.Context) error {
	if c.opts.E2EE == nil {
		return nil
	}
	for _, p := range c.joined.Participants {
		if err := c.e2eeAddCtx(ctx, p, false); err != nil {
			return err
		}
	}
	return nil
}

func (c *Client) e2eeAdd(p api.SigParticipant, newcomer bool) error {
	return c.e2eeAddCtx(c.ctx, p, newcomer)
}

func (c *Client) e2eeAddCtx(ctx context.Context, p api.SigParticipant, newcomer bool) error {
	s := c.opts.E2EE
	if s == nil {
		return nil
	}
	if p.Token == "" {
		// Not an e2ee participant: it cannot read our media nor we its; the Secured option
		// keeps such participants out of secured meetings altogether.
		c.log.Warn("rtcclient e2ee: participant without e2ee cannot exchange keys", "peer", p.ID)
		return nil
	}
	out, err := s.AddPeer(p.ID, p.Token, newcomer)
	if err != nil {
		return fmt.Errorf("rtcclient e2ee: %w", err)
	}
	return c.sendKeys(ctx, out)
}

func (c *Client) e2eeRemove(id string) error {
	if c.opts.E2EE == nil {
		return nil
	}
	out, err := c.opts.E2EE.RemovePeer(id)
	if err != nil {
		return fmt.Errorf("rtcclient e2ee: %w", err)
	}
	return c.sendKeys(c.ctx, out...)
}

func (c *Client) e2eeKey(k api.SigE2EEKey) error {
	if c.opts.E2EE == nil {
		return errors.New("e2ee_key received without e2ee")
	}
	if k.From == "" {
		return errors.New("e2ee_key without a sender")
	}
	if err := c.opts.E2EE.HandleKey(k.From, k.Key); err != nil {
		return fmt.Errorf("rtcclient e2ee: %w", err)
	}
	return nil
}

func (c *Client) sendKeys(ctx context.Context, out ...e2ee.Outgoing) error {
	for _, o := range out {
		if err := c.send(ctx, api.SigTypeE2EEKey, api.SigE2EEKey{To: o.To, Key: o.Key}); err != nil {
			return err
		}
	}
	return nil
}

// SampleTrack is a TrackLocalStaticSample that encrypts every sample with SFrame before pion
// packetizes it (nil session: plain).
type SampleTrack struct {
	*webrtc.TrackLocalStaticSample
	sess  *e2ee.Session
	codec e2ee.Codec
}

// NewSampleTrack makes a sample track of capability c (Opus, VP8 or H.264 under e2ee).
func NewSampleTrack(c webrtc.RTPCodecCapability, id, streamID string, s *e2ee.Session) (*SampleTrack, error) {
	t := &SampleTrack{sess: s}
	if s != nil {
		codec, err := e2ee.CodecFromMime(c.MimeType)
		if err != nil {
			return nil, fmt.Errorf("sample track %s: %w", id, err)
		}
		t.codec = codec
	}
	var err error
	if t.TrackLocalStaticSample, err = webrtc.NewTrackLocalStaticSample(c, id, streamID); err != nil {
		return nil, fmt.Errorf("sample track %s: %w", id, err)
	}
	return t, nil
}

// WriteSample encrypts (with a session) and sends one frame.
func (t *SampleTrack) WriteSample(s media.Sample) error {
	if t.sess != nil {
		data, err := t.sess.EncryptFrame(t.codec, s.Data)
		if err != nil {
			return fmt.Errorf("sample track %s: %w", t.ID(), err)
		}
		s.Data = data
	}
	return t.TrackLocalStaticSample.WriteSample(s)
}

// FrameReader turns a remote track's RTP into whole frames, decrypted when a session is given.
// Frames that do not decrypt (no key yet, tampered, replayed) are dropped and counted.
type FrameReader struct {
	track       *webrtc.TrackRemote
	participant string
	sess        *e2ee.Session
	codec       e2ee.Codec
	sb          *samplebuilder.SampleBuilder

	mu      sync.Mutex
	dropped int
	lastErr error
}

// NewFrameReader reads tr, published by participant, decrypting with s (nil: plain frames).
func NewFrameReader(tr *webrtc.TrackRemote, participant string, s *e2ee.Session) (*FrameReader, error) {
	mime := tr.Codec().MimeType
	codec, err := e2ee.CodecFromMime(mime)
	if err != nil {
		return nil, fmt.Errorf("frame reader: %w", err)
	}
	var dep rtp.Depacketizer
	switch codec {
	case e2ee.CodecVP8:
		dep = &codecs.VP8Packet{}
	case e2ee.CodecH264:
		dep = &codecs.H264Packet{}
	default:
		dep = &codecs.OpusPacket{}
	}
	return &FrameReader{track: tr, participant: participant, sess: s, codec: codec,
		sb: samplebuilder.New(256, dep, tr.Codec().ClockRate)}, nil
}

// ReadFrame returns the next frame; it fails only when the track ends.
func (r *FrameReader) ReadFrame() (*media.Sample, error) {
	for {
		if s := r.sb.Pop(); s != nil {
			if r.sess == nil {
				return s, nil
			}
			data, err := r.sess.DecryptFrame(r.participant, r.codec, s.Data)
			if err != nil {
				r.mu.Lock()
				r.dropped++
				r.lastErr = err
				r.mu.Unlock()
				continue
			}
			s.Data = data
			return s, nil
		}
		p, _, err := r.track.ReadRTP()
		if err != nil {
			return nil, err
		}
		r.sb.Push(p)
	}
}

// Dropped is how many frames did not decrypt, and the last reason.
func (r *FrameReader) Dropped() (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.dropped, r.lastErr
}
