package linux

// Audio goes through ALSA with malgo (miniaudio) restricted to its ALSA backend. miniaudio
// opens the named PCM ("hw:Loopback,1,0", "plughw:CARD=Device,DEV=0") as given, runs the
// device on its own thread and hands us periods in a callback; a ring buffer between that
// callback and the firmware's goroutine gives the blocking Read/Write board.AudioReader and
// board.AudioWriter promise. miniaudio loads libasound.so.2 at run time, so the image needs
// the libasound2 package but the binary links nothing of ALSA.

import (
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"sync"

	"github.com/gen2brain/malgo"
	"github.com/stoa-rooms/stoa/board"
)

// Audio is the board's ALSA microphone and speaker.
type Audio struct {
	capture, playback string
	log               *slog.Logger
}

// NewAudio returns the ALSA devices def names.
func NewAudio(def board.AudioDef, log *slog.Logger) *Audio {
	if log == nil {
		log = slog.Default()
	}
	return &Audio{capture: def.Capture, playback: def.Playback, log: log.With("device", "audio")}
}

// Microphone is the capture side, nil when the definition names no capture device.
func (a *Audio) Microphone() board.Microphone {
	if a.capture == "" {
		return nil
	}
	return micFunc(a.OpenCapture)
}

// Speaker is the playback side, nil when the definition names no playback device.
func (a *Audio) Speaker() board.Speaker {
	if a.playback == "" {
		return nil
	}
	return speakerFunc(a.OpenPlayback)
}

type micFunc func(board.AudioFormat) (board.AudioReader, error)

func (f micFunc) OpenCapture(af board.AudioFormat) (board.AudioReader, error) { return f(af) }

type speakerFunc func(board.AudioFormat) (board.AudioWriter, error)

func (f speakerFunc) OpenPlayback(af board.AudioFormat) (board.AudioWriter, error) { return f(af) }

// OpenCapture starts capturing from the capture device.
func (a *Audio) OpenCapture(f board.AudioFormat) (board.AudioReader, error) {
	return openPCM(malgo.Capture, a.capture, f, a.log)
}

// OpenPlayback starts playing to the playback device.
func (a *Audio) OpenPlayback(f board.AudioFormat) (board.AudioWriter, error) {
	return openPCM(malgo.Playback, a.playback, f, a.log)
}

var errClosed = errors.New("audio device closed")

// pcm is one running ALSA stream and the ring between its callback and Read/Write.
type pcm struct {
	name     string
	channels int
	log      *slog.Logger
	ctx      *malgo.AllocatedContext
	dev      *malgo.Device

	mu      sync.Mutex
	cond    *sync.Cond
	ring    *ring
	closed  bool
	dropped int // capture samples lost because Read fell behind
}

func openPCM(kind malgo.DeviceType, name string, f board.AudioFormat, log *slog.Logger) (*pcm, error) {
	what := map[malgo.DeviceType]string{malgo.Capture: "capture", malgo.Playback: "playback"}[kind]
	if name == "" {
		return nil, fmt.Errorf("open audio %s: no device named", what)
	}
	if f.Rate < 8000 || f.Rate > 192000 || f.Channels < 1 || f.Channels > 8 {
		return nil, fmt.Errorf("open audio %s %s: bad format %d Hz × %d channels", what, name, f.Rate, f.Channels)
	}
	var id malgo.DeviceID
	if len(name) >= len(id) {
		return nil, fmt.Errorf("open audio %s: device name %q too long", what, name)
	}
	copy(id[:], name) // the ALSA member of ma_device_id is the PCM name as a C string
	p := &pcm{name: name, channels: f.Channels, log: log.With("pcm", name, "dir", what)}
	p.cond = sync.NewCond(&p.mu)
	// Capture keeps half a second (enough for a GC pause or a slow consumer); playback keeps
	// 100 ms, since everything queued there is delay the echo canceller must cover.
	if kind == malgo.Capture {
		p.ring = newRing(f.Rate * f.Channels / 2)
	} else {
		p.ring = newRing(f.Rate * f.Channels / 10)
	}

	ctx, err := malgo.InitContext([]malgo.Backend{malgo.BackendAlsa}, malgo.ContextConfig{}, func(msg string) {
		p.log.Debug("miniaudio", "msg", msg)
	})
	if err != nil {
		return nil, fmt.Errorf("open audio %s %s: alsa: %w", what, name, err)
	}
	cfg := malgo.DefaultDeviceConfig(kind)
	cfg.SampleRate = uint32(f.Rate)
	cfg.PeriodSizeInMilliseconds = 10
	cfg.Periods = 4
	sub := malgo.SubConfig{DeviceID: id.Pointer(), Format: malgo.FormatS16, Channels: uint32(f.Channels), ShareMode: malgo.Shared}
	if kind == malgo.Capture {
		cfg.Capture = sub
	} else {
		cfg.Playback = sub
	}
	dev, err := malgo.InitDevice(ctx.Context, cfg, malgo.DeviceCallbacks{Data: p.callback})
	if err != nil {
		_ = ctx.Uninit()
		ctx.Free()
		return nil, fmt.Errorf("open audio %s %s: %w", what, name, err)
	}
	if err := dev.Start(); err != nil {
		dev.Uninit()
		_ = ctx.Uninit()
		ctx.Free()
		return nil, fmt.Errorf("start audio %s %s: %w", what, name, err)
	}
	p.ctx, p.dev = ctx, dev
	p.log.Info("audio open", "rate", f.Rate, "channels", f.Channels)
	return p, nil
}

// callback runs on miniaudio's device thread once per period.
func (p *pcm) callback(out, in []byte, frames uint32) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if in != nil {
		n := len(in) / 2
		if lost := p.ring.len() + n - p.ring.cap(); lost > 0 {
			p.ring.discard(lost) // the reader fell behind: keep the newest audio
			p.dropped += lost
		}
		for i := 0; i < n; i++ {
			p.ring.push(int16(binary.LittleEndian.Uint16(in[2*i:])))
		}
	}
	if out != nil {
		n := len(out) / 2
		for i := 0; i < n; i++ {
			v, ok := p.ring.pop()
			if !ok {
				v = 0 // underrun: silence
			}
			binary.LittleEndian.PutUint16(out[2*i:], uint16(v))
		}
	}
	p.cond.Broadcast()
}

// Read blocks until len(p) samples were captured.
func (p *pcm) Read(buf []int16) (int, error) {
	if len(buf)%p.channels != 0 {
		return 0, fmt.Errorf("read audio %s: %d samples is not a whole number of %d-channel frames", p.name, len(buf), p.channels)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	for p.ring.len() < len(buf) && !p.closed {
		p.cond.Wait()
	}
	if p.closed {
		return 0, fmt.Errorf("read audio %s: %w", p.name, errClosed)
	}
	for i := range buf {
		buf[i], _ = p.ring.pop()
	}
	return len(buf), nil
}

// Write blocks while the ring is full and returns once all of buf is queued.
func (p *pcm) Write(buf []int16) (int, error) {
	if len(buf)%p.channels != 0 {
		return 0, fmt.Errorf("write audio %s: %d samples is not a whole number of %d-channel frames", p.name, len(buf), p.channels)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for n < len(buf) {
		for p.ring.len() == p.ring.cap() && !p.closed {
			p.cond.Wait()
		}
		if p.closed {
			return n, fmt.Errorf("write audio %s: %w", p.name, errClosed)
		}
		for n < len(buf) && p.ring.len() < p.ring.cap() {
			p.ring.push(buf[n])
			n++
		}
	}
	return n, nil
}

// Close stops the device and wakes blocked readers and writers.
func (p *pcm) Close() error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil
	}
	p.closed = true
	p.cond.Broadcast()
	dropped := p.dropped
	p.mu.Unlock()
	// Uninit waits for the device thread, which takes p.mu in the callback: not under the lock.
	p.dev.Uninit()
	err := p.ctx.Uninit()
	p.ctx.Free()
	p.log.Info("audio closed", "dropped_samples", dropped)
	if err != nil {
		return fmt.Errorf("close audio %s: %w", p.name, err)
	}
	return nil
}

// ring is a fixed-size FIFO of samples.
type ring struct {
	buf        []int16
	head, size int
}

func newRing(n int) *ring     { return &ring{buf: make([]int16, max(n, 1))} }
func (r *ring) len() int      { return r.size }
func (r *ring) cap() int      { return len(r.buf) }
func (r *ring) discard(n int) { n = min(n, r.size); r.head = (r.head + n) % len(r.buf); r.size -= n }
func (r *ring) push(v int16)  { r.buf[(r.head+r.size)%len(r.buf)] = v; r.size++ }
func (r *ring) pop() (int16, bool) {
	if r.size == 0 {
		return 0, false
	}
	v := r.buf[r.head]
	r.head = (r.head + 1) % len(r.buf)
	r.size--
	return v, true
}
