// Package calltest is a Go conference participant for the room's call tests and the
// glass-to-glass benchmark: it joins through rtcclient, publishes a solid-colour VP8 picture
// and an Opus tone or other sim.Source (encoded with firmware/media), and decodes what it receives with
// firmware/media, reading the sim camera's frame counter and capture time (sim.ReadStamp) off
// every decoded picture and keeping the decoded audio. With Options.Client.E2EE set it takes
// part in end-to-end encryption: it seals what it sends with SFrame and opens what it receives
// before decoding (frames that do not open are counted, see Undecrypted).
package calltest

import (
	"context"
	"errors"
	"fmt"
	"image"
	"log/slog"
	"math"
	"sync"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/rtp/codecs"
	"github.com/pion/webrtc/v4"
	"github.com/pion/webrtc/v4/pkg/media"
	"github.com/pion/webrtc/v4/pkg/media/samplebuilder"

	"github.com/stoa-rooms/stoa/board/sim"
	fmedia "github.com/stoa-rooms/stoa/firmware/media"
	"github.com/stoa-rooms/stoa/services/api/e2ee"
	"github.com/stoa-rooms/stoa/services/api/rtcclient"
)

// Options configure Join.
type Options struct {
	Client rtcclient.Options
	// Y, Cb, Cr is the colour of the picture sent (default a saturated green: 145, 54, 34).
	Y, Cb, Cr     uint8
	Width, Height int // default 320x180
	FPS           int // default 15
	// ToneHz is the frequency of the tone sent (default 1000).
	ToneHz float64
	// Sound replaces the tone (e.g. sim.Speech() for echo measurements), sent at Level (0–1
	// of full scale; default 0.25, about -12 dBFS for a tone).
	Sound sim.Source
	Level float64
	// AudioOnly publishes no picture (measurements that need no video, on a loaded machine).
	AudioOnly bool
	Log       *slog.Logger
}

// Frame is one decoded remote picture.
type Frame struct {
	Seq      uint32
	Captured time.Time // the sim camera's capture time (zero when not Stamped)
	Decoded  time.Time
	Stamped  bool // the picture carried a readable sim stamp
	Key      bool // decoded from a keyframe
	Width    int
	Picture  *image.YCbCr
}

// Participant is one synthetic participant.
type Participant struct {
	o      Options
	client *rtcclient.Client
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu          sync.Mutex
	frames      map[string][]Frame
	audio       map[string][]int16
	undecrypted map[string]int
}

// maxKept bounds what is kept per remote (frames; audio samples: 10 s).
const (
	maxFrames = 600
	maxAudio  = 10 * 48000
)

// Join dials the router, publishes and starts sending and receiving.
func Join(ctx context.Context, o Options) (*Participant, error) {
	if o.Width == 0 {
		o.Width, o.Height = 320, 180
	}
	if o.FPS == 0 {
		o.FPS = 15
	}
	if o.Y == 0 {
		o.Y, o.Cb, o.Cr = 145, 54, 34
	}
	if o.ToneHz == 0 {
		o.ToneHz = 1000
	}
	if o.Sound == nil {
		o.Sound = sim.Tone(o.ToneHz)
	}
	if o.Level == 0 {
		o.Level = 0.25
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	p := &Participant{o: o, frames: map[string][]Frame{}, audio: map[string][]int16{}, undecrypted: map[string]int{}}
	copts := o.Client
	copts.OnTrack = p.onTrack
	copts.Log = o.Log
	c, err := rtcclient.Dial(ctx, copts)
	if err != nil {
		return nil, fmt.Errorf("calltest join: %w", err)
	}
	p.client = c
	video, err := rtcclient.NewSampleTrack(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8, ClockRate: 90000}, "camera", c.ID(), copts.E2EE)
	if err != nil {
		c.Close()
		return nil, fmt.Errorf("calltest join: %w", err)
	}
	audio, err := rtcclient.NewSampleTrack(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2}, "mic", c.ID(), copts.E2EE)
	if err != nil {
		c.Close()
		return nil, fmt.Errorf("calltest join: %w", err)
	}
	enc, err := fmedia.NewVideoEncoder(fmedia.EncoderConfig{Codec: "vp8", Width: o.Width, Height: o.Height, FPS: o.FPS, BitrateKbps: 300, KeyframeInterval: o.FPS})
	if err != nil {
		c.Close()
		return nil, fmt.Errorf("calltest join: %w", err)
	}
	opus, err := fmedia.NewOpusEncoder(48000, 1, 32000)
	if err != nil {
		enc.Close()
		c.Close()
		return nil, fmt.Errorf("calltest join: %w", err)
	}
	tracks := []webrtc.TrackLocal{video, audio}
	if o.AudioOnly {
		tracks = tracks[1:]
	}
	if _, err := c.Publish(tracks...); err != nil {
		enc.Close()
		opus.Close()
		c.Close()
		return nil, fmt.Errorf("calltest join: %w", err)
	}
	sctx, cancel := context.WithCancel(context.Background())
	p.cancel = cancel
	p.wg.Add(2)
	if o.AudioOnly {
		enc.Close()
		p.wg.Done()
	} else {
		go p.sendVideo(sctx, video, enc)
	}
	go p.sendAudio(sctx, audio, opus)
	return p, nil
}

// ID is the participant ID the router assigned.
func (p *Participant) ID() string { return p.client.ID() }

// Client is the underlying conference client.
func (p *Participant) Client() *rtcclient.Client { return p.client }

// Close stops sending and leaves; it returns when every goroutine has stopped.
func (p *Participant) Close() error {
	p.cancel()
	err := p.client.Close()
	p.wg.Wait()
	return err
}

// sendVideo encodes and sends the solid picture every 1/FPS (a keyframe every second, as the
// participant does not read keyframe requests).
func (p *Participant) sendVideo(ctx context.Context, t *rtcclient.SampleTrack, enc fmedia.VideoEncoder) {
	defer p.wg.Done()
	defer enc.Close()
	f := fmedia.NewFrame(p.o.Width, p.o.Height)
	for i := range f.Y {
		f.Y[i] = p.o.Y
	}
	for i := range f.Cb {
		f.Cb[i], f.Cr[i] = p.o.Cb, p.o.Cr
	}
	dur := time.Second / time.Duration(p.o.FPS)
	tick := time.NewTicker(dur)
	defer tick.Stop()
	for n := 0; ; n++ {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		f.Seq = uint64(n)
		data, err := enc.Encode(f, n%p.o.FPS == 0)
		if err != nil || data == nil {
			continue
		}
		_ = t.WriteSample(media.Sample{Data: data, Duration: dur})
	}
}

// sendAudio sends the sound as 20 ms Opus frames.
func (p *Participant) sendAudio(ctx context.Context, t *rtcclient.SampleTrack, enc *fmedia.OpusEncoder) {
	defer p.wg.Done()
	defer enc.Close()
	pcm := make([]int16, 960)
	buf := make([]float64, len(pcm))
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	var at int64
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		p.o.Sound.Fill(buf, at, 48000)
		for i, v := range buf {
			pcm[i] = int16(max(-32767, min(32767, math.Round(v*p.o.Level*32767))))
		}
		at += int64(len(pcm))
		pkt, err := enc.Encode(pcm)
		if err != nil {
			continue
		}
		_ = t.WriteSample(media.Sample{Data: pkt, Duration: 20 * time.Millisecond})
	}
}

func (p *Participant) onTrack(tr *webrtc.TrackRemote, from string) {
	p.wg.Add(1)
	defer p.wg.Done()
	if tr.Kind() == webrtc.RTPCodecTypeAudio {
		p.receiveAudio(tr, from)
		return
	}
	p.receiveVideo(tr, from)
}

func (p *Participant) receiveAudio(tr *webrtc.TrackRemote, from string) {
	dec, err := fmedia.NewOpusDecoder(48000, 1)
	if err != nil {
		p.o.Log.Warn("calltest: opus decoder", "err", err)
		return
	}
	defer dec.Close()
	buf := make([]int16, dec.MaxFrameSamples())
	for {
		pkt, _, err := tr.ReadRTP()
		if err != nil {
			return
		}
		payload, ok := p.open(from, e2ee.CodecOpus, pkt.Payload)
		if !ok {
			continue
		}
		n, err := dec.Decode(payload, buf)
		if err != nil {
			continue
		}
		p.mu.Lock()
		a := append(p.audio[from], buf[:n]...)
		if len(a) > maxAudio {
			a = append(a[:0:0], a[len(a)-maxAudio:]...)
		}
		p.audio[from] = a
		p.mu.Unlock()
	}
}

func (p *Participant) receiveVideo(tr *webrtc.TrackRemote, from string) {
	dec, err := fmedia.NewVideoDecoder("vp8")
	if err != nil {
		p.o.Log.Warn("calltest: vp8 decoder", "err", err)
		return
	}
	defer dec.Close()
	pc := p.client.PeerConnection()
	_ = pc.WriteRTCP([]rtcp.Packet{&rtcp.PictureLossIndication{MediaSSRC: uint32(tr.SSRC())}})
	sb := samplebuilder.New(256, &codecs.VP8Packet{}, 90000)
	synced := false
	for {
		pkt, _, err := tr.ReadRTP()
		if err != nil {
			return
		}
		sb.Push(pkt)
		for s := sb.Pop(); s != nil; s = sb.Pop() {
			data, ok := p.open(from, e2ee.CodecVP8, s.Data)
			if !ok {
				// No key yet (or rotated): resync from a keyframe sent under the new key.
				synced = false
				_ = pc.WriteRTCP([]rtcp.Packet{&rtcp.PictureLossIndication{MediaSSRC: uint32(tr.SSRC())}})
				continue
			}
			s.Data = data
			key := fmedia.IsVP8Keyframe(s.Data)
			if !synced && !key {
				continue
			}
			synced = true
			img, err := dec.Decode(s.Data)
			if err != nil {
				synced = false
				_ = pc.WriteRTCP([]rtcp.Packet{&rtcp.PictureLossIndication{MediaSSRC: uint32(tr.SSRC())}})
				continue
			}
			if img == nil {
				continue
			}
			now := time.Now()
			seq, captured, ok := sim.ReadStamp(img)
			p.mu.Lock()
			fs := append(p.frames[from], Frame{Seq: seq, Captured: captured, Decoded: now, Stamped: ok, Key: key, Width: img.Bounds().Dx(), Picture: img})
			if len(fs) > maxFrames {
				fs = append(fs[:0:0], fs[len(fs)-maxFrames:]...)
			}
			p.frames[from] = fs
			p.mu.Unlock()
		}
	}
}

// open decrypts a received frame with the e2ee session (the frame itself without one).
func (p *Participant) open(from string, c e2ee.Codec, frame []byte) ([]byte, bool) {
	s := p.o.Client.E2EE
	if s == nil {
		return frame, true
	}
	out, err := s.DecryptFrame(from, c, frame)
	if err != nil {
		p.mu.Lock()
		p.undecrypted[from]++
		p.mu.Unlock()
		return nil, false
	}
	return out, true
}

// Undecrypted is how many frames from participant from did not decrypt.
func (p *Participant) Undecrypted(from string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.undecrypted[from]
}

// Frames returns the pictures decoded from participant from, oldest first.
func (p *Participant) Frames(from string) []Frame {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]Frame(nil), p.frames[from]...)
}

// Audio returns the last n samples decoded from participant from (all kept when n <= 0).
func (p *Participant) Audio(from string, n int) []int16 {
	p.mu.Lock()
	defer p.mu.Unlock()
	a := p.audio[from]
	if n <= 0 || n > len(a) {
		n = len(a)
	}
	return append([]int16(nil), a[len(a)-n:]...)
}

// WaitFrames polls until n stamped frames from participant from arrived, or ctx ends.
func (p *Participant) WaitFrames(ctx context.Context, from string, n int) ([]Frame, error) {
	for {
		var stamped []Frame
		for _, f := range p.Frames(from) {
			if f.Stamped {
				stamped = append(stamped, f)
			}
		}
		if len(stamped) >= n {
			return stamped, nil
		}
		select {
		case <-ctx.Done():
			return stamped, fmt.Errorf("calltest: %d of %d stamped frames from %s (%d decoded): %w", len(stamped), n, from, len(p.Frames(from)), ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// WaitAudio polls until n samples from participant from arrived, or ctx ends.
func (p *Participant) WaitAudio(ctx context.Context, from string, n int) ([]int16, error) {
	for {
		if a := p.Audio(from, n); len(a) >= n {
			return a, nil
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("calltest: fewer than %d audio samples from %s: %w", n, from, ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// ErrNoPicture is returned by ColourShare for a nil picture.
var ErrNoPicture = errors.New("no picture")

// ColourShare is the share (0–1) of img's pixels within tol of the RGB colour of (y, cb, cr):
// how much of the room's display shows the participant's picture.
func ColourShare(img *image.RGBA, y, cb, cr uint8, tol int) (float64, error) {
	if img == nil {
		return 0, ErrNoPicture
	}
	r, g, b := videoRGB(y, cb, cr)
	bd := img.Bounds()
	n, hit := 0, 0
	for yy := bd.Min.Y; yy < bd.Max.Y; yy += 2 {
		for xx := bd.Min.X; xx < bd.Max.X; xx += 2 {
			o := img.PixOffset(xx, yy)
			n++
			if absDiff(img.Pix[o], r) <= tol && absDiff(img.Pix[o+1], g) <= tol && absDiff(img.Pix[o+2], b) <= tol {
				hit++
			}
		}
	}
	return float64(hit) / float64(max(n, 1)), nil
}

// videoRGB converts a decoded video colour as the screen renderer does: BT.601 with the
// video (limited) range, Y 16–235 and chroma 16–240, as VP8 pictures are coded.
func videoRGB(y, cb, cr uint8) (r, g, b uint8) {
	yy := 1.164 * (float64(y) - 16)
	u, v := float64(cb)-128, float64(cr)-128
	c := func(x float64) uint8 { return uint8(max(0, min(255, math.Round(x)))) }
	return c(yy + 1.596*v), c(yy - 0.392*u - 0.813*v), c(yy + 2.017*u)
}

func absDiff(a, b uint8) int {
	if a > b {
		return int(a - b)
	}
	return int(b - a)
}
