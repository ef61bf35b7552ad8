package call

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/pion/webrtc/v4"

	"github.com/stoa-rooms/stoa/board"
	"github.com/stoa-rooms/stoa/firmware/media"
)

// rids are the simulcast layer names, full size first, as rtcclient and the router use them.
var rids = [...]string{"f", "h", "q"}

// videoLayer is one simulcast layer: its track, encoder and scaled frame.
type videoLayer struct {
	rid    string
	track  *rtpTrack
	enc    media.VideoEncoder
	frame  *board.Frame // scaled picture (nil for the layer at the camera's size)
	w, h   int
	forceK atomic.Bool
	kbps   atomic.Int32
}

// videoSender captures the camera and publishes it as VP8 simulcast.
type videoSender struct {
	c      *Call
	mode   board.VideoMode // send size of the top layer
	stream board.VideoStream
	sender *webrtc.RTPSender
	layers []*videoLayer
	rate   *bitrateControl
	black  *board.Frame
	// sentMuted is set once the router was told about the camera mute; until then a muted
	// camera sends black frames so the router knows the track (it refuses to mute a track it
	// has not seen, and closes the session).
	toldMuted atomic.Bool
	heard     atomic.Bool
}

func newVideoSender(c *Call, pc *webrtc.PeerConnection) (*videoSender, error) {
	def := c.o.Board.Def
	mode := def.Media.Send
	if mode.Width == 0 {
		if def.Camera != nil {
			mode = def.Camera.Mode
		} else {
			mode = board.VideoMode{Width: 640, Height: 360, FPS: 30}
		}
	}
	n := min(max(def.Media.Simulcast, 1), len(rids))
	want := mode
	if def.Camera != nil && def.Camera.Mode.Width > 0 {
		want = def.Camera.Mode
	}
	stream, err := c.o.Board.Camera.Open(want)
	if err != nil {
		return nil, fmt.Errorf("open camera: %w", err)
	}
	v := &videoSender{c: c, mode: mode, stream: stream}
	total := startKbps(mode.Width, mode.Height, mode.FPS)
	v.rate = newBitrateControl(total, minLayerKbps*n, total*3/2)
	shares := splitBitrate(total, n)
	for i := range n {
		w, h := mode.Width>>i&^1, mode.Height>>i&^1
		if w < 16 || h < 16 {
			break
		}
		tr, err := newVP8Layer(c.client.ID(), rids[i], c.sess)
		if err != nil {
			v.close()
			return nil, err
		}
		enc, err := media.NewVideoEncoder(media.EncoderConfig{Codec: "vp8", Width: w, Height: h, FPS: mode.FPS, BitrateKbps: shares[i]})
		if err != nil {
			v.close()
			return nil, fmt.Errorf("video layer %s: %w", rids[i], err)
		}
		l := &videoLayer{rid: rids[i], track: tr, enc: enc, w: w, h: h}
		l.kbps.Store(int32(shares[i]))
		sm := stream.Mode()
		if w != sm.Width || h != sm.Height {
			l.frame = media.NewFrame(w, h)
		}
		v.layers = append(v.layers, l)
	}
	// The router wants the layers lowest first (the order rtcclient publishes them in).
	order := make([]*videoLayer, len(v.layers))
	for i, l := range v.layers {
		order[len(v.layers)-1-i] = l
	}
	s, err := pc.AddTrack(order[0].track)
	if err != nil {
		v.close()
		return nil, fmt.Errorf("publish video: %w", err)
	}
	for _, l := range order[1:] {
		if err := s.AddEncoding(l.track); err != nil {
			v.close()
			return nil, fmt.Errorf("publish video layer %s: %w", l.rid, err)
		}
	}
	v.sender = s
	tr := transceiverOf(pc, s)
	for _, l := range v.layers {
		l.track.setTransceiver(tr)
	}
	v.black = media.NewFrame(mode.Width, mode.Height)
	fillBlack(v.black)
	return v, nil
}

func fillBlack(f *board.Frame) {
	for i := range f.Y {
		f.Y[i] = 16
	}
	for i := range f.Cb {
		f.Cb[i], f.Cr[i] = 128, 128
	}
}

func (v *videoSender) start() {
	c := v.c
	for _, l := range v.layers {
		l := l
		c.wg.Add(1)
		go c.readRTCP(v.sender, l.rid, rtcpHandler{
			keyframe: func() { l.forceK.Store(true) },
			loss:     func(f uint8) { v.rate.onLoss(f, time.Now()) },
			remb:     v.rate.onREMB,
			heard:    v.onHeard,
			ssrc:     l.track.SSRC,
		})
	}
	c.wg.Add(1)
	go v.loop()
}

func (v *videoSender) onHeard() {
	if !v.heard.Swap(true) {
		v.c.mutes.kick()
	}
}

func (v *videoSender) requestKeyframe() {
	for _, l := range v.layers {
		l.forceK.Store(true)
	}
}

// loop reads camera frames and sends each layer until the call ends.
func (v *videoSender) loop() {
	c := v.c
	defer c.wg.Done()
	dur := time.Second / time.Duration(max(v.mode.FPS, 1))
	for {
		f, err := v.stream.ReadFrame(c.ctx)
		if err != nil {
			if c.ctx.Err() == nil && !errors.Is(err, context.Canceled) {
				c.log.Warn("camera read failed; video stops", "err", err)
			}
			return
		}
		v.applyBitrate()
		muted := c.camMuted.Load()
		if muted {
			c.self.set(nil)
			if v.toldMuted.Load() {
				continue // the router forwards nothing; send nothing
			}
			f = v.black
		}
		var small *board.Frame
		for _, l := range v.layers {
			small = v.sendLayer(l, f, dur)
		}
		if !muted && small != nil {
			c.self.set(small)
		}
	}
}

// sendLayer scales f to l's size, encodes and sends it, and returns the scaled picture.
func (v *videoSender) sendLayer(l *videoLayer, f *board.Frame, dur time.Duration) *board.Frame {
	src := f
	if l.w != f.Width || l.h != f.Height {
		if l.frame == nil || l.frame.Width != l.w {
			l.frame = media.NewFrame(l.w, l.h)
		}
		if err := media.ScaleI420(l.frame, f); err != nil {
			v.c.log.Warn("scale frame", "rid", l.rid, "err", err)
			return nil
		}
		l.frame.Seq, l.frame.Captured = f.Seq, f.Captured
		src = l.frame
	}
	key := l.forceK.Swap(false)
	data, err := l.enc.Encode(src, key)
	if err != nil {
		v.c.log.Warn("encode frame", "rid", l.rid, "err", err)
		return src
	}
	if data == nil {
		if key {
			l.forceK.Store(true) // dropped: the next frame must be the keyframe
		}
		return src
	}
	if err := l.track.writeFrame(data, dur, -1); err != nil && v.c.ctx.Err() == nil {
		v.c.log.Debug("write video", "rid", l.rid, "err", err)
	}
	return src
}

// applyBitrate moves the encoders to the controller's target when it moved by more than 5 %.
func (v *videoSender) applyBitrate() {
	shares := splitBitrate(v.rate.target(), len(v.layers))
	for i, l := range v.layers {
		cur := int(l.kbps.Load())
		if d := shares[i] - cur; d*20 > cur || -d*20 > cur {
			if err := l.enc.SetBitrate(shares[i]); err != nil {
				v.c.log.Warn("set bitrate", "rid", l.rid, "kbps", shares[i], "err", err)
				continue
			}
			l.kbps.Store(int32(shares[i]))
		}
	}
}

// bitrates reports each layer's current encoder rate (kbps), top layer first.
func (v *videoSender) bitrates() []int {
	out := make([]int, len(v.layers))
	for i, l := range v.layers {
		out[i] = int(l.kbps.Load())
	}
	return out
}

func (v *videoSender) close() {
	if v.stream != nil {
		v.stream.Close()
	}
	for _, l := range v.layers {
		l.enc.Close()
	}
}
