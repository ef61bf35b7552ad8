package call

import (
	"image"
	"sync"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/rtp/codecs"
	"github.com/pion/webrtc/v4"
	"github.com/pion/webrtc/v4/pkg/media/samplebuilder"

	"github.com/stoa-rooms/stoa/board"
	"github.com/stoa-rooms/stoa/firmware/media"
	"github.com/stoa-rooms/stoa/services/api/e2ee"
)

// remotePicture is the latest decoded picture of one participant.
type remotePicture struct {
	img *image.YCbCr
	at  time.Time
}

// selfPicture is the latest local camera picture (the self view); nil while the camera is muted.
type selfPicture struct {
	mu  sync.Mutex
	img *image.YCbCr
}

func (s *selfPicture) set(f *board.Frame) {
	var img *image.YCbCr
	if f != nil {
		img = media.I420ToYCbCr(f)
	}
	s.mu.Lock()
	s.img = img
	s.mu.Unlock()
}

func (s *selfPicture) get() *image.YCbCr {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.img
}

// onTrack receives one remote track until it ends.
func (c *Call) onTrack(tr *webrtc.TrackRemote, participant string) {
	if !c.track() {
		drain(tr)
		return
	}
	defer c.wg.Done()
	switch tr.Kind() {
	case webrtc.RTPCodecTypeAudio:
		c.receiveAudio(tr, participant)
	case webrtc.RTPCodecTypeVideo:
		c.receiveVideo(tr, participant)
	}
}

// receiveAudio decodes a remote Opus track into the playout mix.
func (c *Call) receiveAudio(tr *webrtc.TrackRemote, participant string) {
	if c.play == nil {
		drain(tr)
		return
	}
	dec, err := media.NewOpusDecoder(audioRate, 1)
	if err != nil {
		c.log.Warn("remote audio: no decoder", "from", participant, "err", err)
		drain(tr)
		return
	}
	defer dec.Close()
	src := c.play.add()
	defer c.play.remove(src)
	buf := make([]int16, dec.MaxFrameSamples())
	for {
		pkt, _, err := tr.ReadRTP()
		if err != nil {
			return
		}
		if len(pkt.Payload) == 0 {
			continue
		}
		// One Opus frame per packet: the SFrame is the whole payload.
		payload, err := c.open(participant, e2ee.CodecOpus, pkt.Payload)
		if err != nil {
			c.log.Debug("remote audio: decrypt", "from", participant, "err", err)
			continue
		}
		n, err := dec.Decode(payload, buf)
		if err != nil {
			c.log.Debug("remote audio: decode", "from", participant, "err", err)
			continue
		}
		// Split into 20 ms frames (Opus packets may hold 10–120 ms).
		for off := 0; off+frameSamples <= n; off += frameSamples {
			src.push(append([]int16(nil), buf[off:off+frameSamples]...))
		}
	}
}

func drain(tr *webrtc.TrackRemote) {
	for {
		if _, _, err := tr.ReadRTP(); err != nil {
			return
		}
	}
}

// receiveVideo decodes a remote VP8 track and keeps its latest picture for the screen.
func (c *Call) receiveVideo(tr *webrtc.TrackRemote, participant string) {
	if tr.Codec().MimeType != webrtc.MimeTypeVP8 {
		c.log.Warn("remote video: not VP8; ignored", "from", participant, "codec", tr.Codec().MimeType)
		drain(tr)
		return
	}
	dec, err := media.NewVideoDecoder("vp8")
	if err != nil {
		c.log.Warn("remote video: no decoder", "from", participant, "err", err)
		drain(tr)
		return
	}
	defer dec.Close()
	frames := make(chan []byte, 2)
	done := make(chan struct{})
	go func() {
		defer close(done)
		c.decodeVideo(dec, tr, participant, frames)
	}()
	defer func() {
		close(frames)
		<-done
		c.mu.Lock()
		delete(c.pictures, participant)
		c.mu.Unlock()
	}()
	sb := samplebuilder.New(256, &codecs.VP8Packet{}, 90000)
	for {
		pkt, _, err := tr.ReadRTP()
		if err != nil {
			return
		}
		sb.Push(pkt)
		for s := sb.Pop(); s != nil; s = sb.Pop() {
			data, err := c.open(participant, e2ee.CodecVP8, s.Data)
			if err != nil {
				// Most likely the sender's key has not arrived yet (or it rotated): the
				// frames before the key cannot be decoded, so resync from a new keyframe.
				c.log.Debug("remote video: decrypt", "from", participant, "err", err)
				c.askKeyframe(tr)
				continue
			}
			select {
			case frames <- data:
			default:
				// The decoder is behind: drop, and ask for a keyframe to resync cleanly.
				c.askKeyframe(tr)
			}
		}
	}
}

// decodeVideo decodes frames in order (from the first keyframe on) and stores each picture.
func (c *Call) decodeVideo(dec media.VideoDecoder, tr *webrtc.TrackRemote, participant string, frames <-chan []byte) {
	synced := false
	c.askKeyframe(tr)
	for data := range frames {
		if !synced {
			if !media.IsVP8Keyframe(data) {
				continue
			}
			synced = true
		}
		img, err := dec.Decode(data)
		if err != nil {
			synced = false
			c.askKeyframe(tr)
			continue
		}
		if img == nil {
			continue
		}
		c.mu.Lock()
		c.pictures[participant] = &remotePicture{img: img, at: time.Now()}
		c.mu.Unlock()
	}
}

// askKeyframe sends a PLI for a remote track (best effort; the router rate-limits them).
func (c *Call) askKeyframe(tr *webrtc.TrackRemote) {
	pc := c.client.PeerConnection()
	_ = pc.WriteRTCP([]rtcp.Packet{&rtcp.PictureLossIndication{MediaSSRC: uint32(tr.SSRC())}})
}

func (c *Call) closePictures() {
	c.mu.Lock()
	clear(c.pictures)
	c.mu.Unlock()
}

// picture is participant's latest picture (nil when none).
func (c *Call) picture(participant string) *image.YCbCr {
	c.mu.Lock()
	defer c.mu.Unlock()
	if p := c.pictures[participant]; p != nil {
		return p.img
	}
	return nil
}
