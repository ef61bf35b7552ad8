package sim

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sync"
	"time"

	"github.com/stoa-rooms/stoa/board"
)

// Air is the room's sound: one mono timeline at Rate samples per second, counted from when the
// Air was made, on which the Speaker plays and from which the Microphone hears. The microphone
// picks up its Source plus what the speaker played Delay ago, scaled by Gain: an echo path
// with a known delay and attenuation, so echo cancellation can be measured.
type Air struct {
	clock Clock
	rate  int
	epoch time.Time

	mu     sync.Mutex
	ring   []int16 // what the speaker played, by sample index mod len(ring)
	hi     int64   // one past the last index the speaker wrote
	delay  time.Duration
	gainDB float64
	src    Source
	level  float64
}

// airRing holds 4 s of played sound, far more than any echo delay or reader lag.
const airRingSeconds = 4

func newAir(c Clock, rate int) *Air {
	return &Air{clock: c, rate: rate, epoch: c.Now(), ring: make([]int16, rate*airRingSeconds),
		delay: 30 * time.Millisecond, gainDB: -6, src: Tone(440), level: 0.25}
}

// now is the sample index of the present moment.
func (a *Air) now() int64 {
	return int64(a.clock.Now().Sub(a.epoch)) * int64(a.rate) / int64(time.Second)
}

// timeOf is when sample index i is due.
func (a *Air) timeOf(i int64) time.Time {
	return a.epoch.Add(time.Duration(i * int64(time.Second) / int64(a.rate)))
}

// SetEcho sets the echo path from speaker to microphone: delay and gain in dB (math.Inf(-1) or
// anything at or below -120 dB turns the echo off). The default is 30 ms at -6 dB.
func (a *Air) SetEcho(delay time.Duration, gainDB float64) error {
	if delay < 0 || delay > time.Second {
		return fmt.Errorf("set sim echo: delay %v is outside 0–1s", delay)
	}
	if math.IsNaN(gainDB) || gainDB > 20 {
		return fmt.Errorf("set sim echo: gain %v dB is not a number up to +20 dB", gainDB)
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	a.delay, a.gainDB = delay, gainDB
	return nil
}

// Echo returns the echo path's delay and gain.
func (a *Air) Echo() (time.Duration, float64) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.delay, a.gainDB
}

// SetSource sets what the microphone hears besides the echo, at level (0–1 of full scale).
func (a *Air) SetSource(s Source, level float64) error {
	if s == nil || level < 0 || level > 1 || math.IsNaN(level) {
		return fmt.Errorf("set sim microphone source: need a source and a level in 0–1, got level %v", level)
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	a.src, a.level = s, level
	return nil
}

// play puts p (mono) onto the timeline at index at.
func (a *Air) play(at int64, p []int16) {
	a.mu.Lock()
	defer a.mu.Unlock()
	n := int64(len(a.ring))
	for i := max(a.hi, at-n); i < at; i++ { // silence between an underrun and now
		a.ring[i%n] = 0
	}
	for i, v := range p {
		a.ring[(at+int64(i))%n] = v
	}
	a.hi = max(a.hi, at+int64(len(p)))
}

// hear fills mono samples from index at on: the source plus the echo.
func (a *Air) hear(at int64, out []float64) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.src.Fill(out, at, a.rate)
	for i := range out {
		out[i] *= a.level * 32767
	}
	if a.gainDB <= -120 {
		return
	}
	g := math.Pow(10, a.gainDB/20)
	d := int64(a.delay) * int64(a.rate) / int64(time.Second)
	n := int64(len(a.ring))
	for i := range out {
		j := at + int64(i) - d
		if j < 0 || j >= a.hi || j < a.hi-n {
			continue
		}
		out[i] += g * float64(a.ring[j%n])
	}
}

// Source is a sound the microphone hears.
type Source interface {
	// Fill writes samples at, at+1, ... of the sound at rate (full scale ±1).
	Fill(out []float64, at int64, rate int)
}

// SourceFunc is a Source from a function of time in seconds.
type SourceFunc func(t float64) float64

// Fill samples f.
func (f SourceFunc) Fill(out []float64, at int64, rate int) {
	for i := range out {
		out[i] = f(float64(at+int64(i)) / float64(rate))
	}
}

// Tone is a sine at hz.
func Tone(hz float64) Source {
	return SourceFunc(func(t float64) float64 { return math.Sin(2 * math.Pi * hz * t) })
}

// Silence is no sound.
func Silence() Source { return SourceFunc(func(float64) float64 { return 0 }) }

// Speech is a speech-like signal: a voiced buzz (fundamental gliding 110–190 Hz with harmonics
// falling off like a voice) in syllables of about 200 ms with pauses, so it has the broad
// spectrum and on/off envelope echo cancellers and voice detectors are built for.
func Speech() Source {
	return SourceFunc(func(t float64) float64 {
		// Syllable envelope: 4.3 Hz raised sine, gated off for a pause every 1.7 s.
		env := math.Max(0, math.Sin(2*math.Pi*4.3*t))
		if math.Mod(t, 1.7) > 1.3 {
			env = 0
		}
		if env == 0 {
			return 0
		}
		f0 := 150 + 40*math.Sin(2*math.Pi*0.7*t)
		// Phase of a gliding tone: integral of f0.
		ph := 2 * math.Pi * (150*t - 40/(2*math.Pi*0.7)*math.Cos(2*math.Pi*0.7*t))
		var v float64
		for h := 1; h <= 12 && float64(h)*f0 < 4000; h++ {
			// Formant-ish emphasis around 500 Hz and 1500 Hz.
			f := float64(h) * f0
			a := 1/float64(h) + 0.6*math.Exp(-math.Pow((f-500)/200, 2)) + 0.4*math.Exp(-math.Pow((f-1500)/300, 2))
			v += a * math.Sin(float64(h)*ph)
		}
		return 0.45 * env * v
	})
}

// Microphone hears the Air.
type Microphone struct{ air *Air }

// OpenCapture starts capturing from now on, at the air's rate, 1 or 2 channels.
func (m *Microphone) OpenCapture(f board.AudioFormat) (board.AudioReader, error) {
	if err := m.air.check(f); err != nil {
		return nil, fmt.Errorf("open sim microphone: %w", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &capture{air: m.air, ch: f.Channels, pos: m.air.now(), ctx: ctx, cancel: cancel}, nil
}

func (a *Air) check(f board.AudioFormat) error {
	if f.Rate != a.rate {
		return fmt.Errorf("rate %d: the sim board runs at %d Hz", f.Rate, a.rate)
	}
	if f.Channels != 1 && f.Channels != 2 {
		return fmt.Errorf("%d channels: want 1 or 2", f.Channels)
	}
	return nil
}

type capture struct {
	air    *Air
	ch     int
	ctx    context.Context
	cancel context.CancelFunc

	mu  sync.Mutex
	pos int64
	buf []float64
}

// Read blocks until the samples for p are due, then fills them.
func (c *capture) Read(p []int16) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ctx.Err() != nil {
		return 0, errors.New("read sim microphone: closed")
	}
	frames := len(p) / c.ch
	if frames == 0 {
		return 0, nil
	}
	end := c.pos + int64(frames)
	if err := sleep(c.ctx, c.air.clock, c.air.timeOf(end).Sub(c.air.clock.Now())); err != nil {
		return 0, errors.New("read sim microphone: closed")
	}
	// A reader more than a second behind lost what it did not read, like an ALSA overrun.
	if now := c.air.now(); now-c.pos > int64(c.air.rate) {
		c.pos = now - int64(frames)
	}
	if cap(c.buf) < frames {
		c.buf = make([]float64, frames)
	}
	buf := c.buf[:frames]
	c.air.hear(c.pos, buf)
	for i, v := range buf {
		s := int16(max(-32768, min(32767, math.Round(v))))
		for ch := range c.ch {
			p[i*c.ch+ch] = s
		}
	}
	c.pos += int64(frames)
	return frames * c.ch, nil
}

func (c *capture) Close() error {
	c.cancel()
	return nil
}

// Speaker plays into the Air and records what it played.
type Speaker struct {
	air *Air
	// Buffer is how far ahead of the present the device buffers (Write blocks beyond it).
	buffer time.Duration

	mu     sync.Mutex
	played []int16 // mono, at most the last recordSeconds (+25%)
	total  int64
}

// recordSeconds caps what the speaker keeps for tests, so a long host run does not grow forever.
const recordSeconds = 60

// Played returns up to the last n mono samples the speaker played (all kept ones when n <= 0).
func (s *Speaker) Played(n int) []int16 {
	s.mu.Lock()
	defer s.mu.Unlock()
	if n <= 0 || n > len(s.played) {
		n = len(s.played)
	}
	return append([]int16(nil), s.played[len(s.played)-n:]...)
}

// PlayedTotal counts every mono sample played since the board was made.
func (s *Speaker) PlayedTotal() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.total
}

// OpenPlayback opens the speaker at the air's rate, 1 or 2 channels (mixed to mono in the air).
func (s *Speaker) OpenPlayback(f board.AudioFormat) (board.AudioWriter, error) {
	if err := s.air.check(f); err != nil {
		return nil, fmt.Errorf("open sim speaker: %w", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &playback{spk: s, ch: f.Channels, ctx: ctx, cancel: cancel}, nil
}

func (s *Speaker) record(p []int16) {
	s.mu.Lock()
	defer s.mu.Unlock()
	limit := recordSeconds * s.air.rate
	s.played = append(s.played, p...)
	if len(s.played) > limit+limit/4 { // trim in batches, not on every write
		s.played = append(s.played[:0], s.played[len(s.played)-limit:]...)
	}
	s.total += int64(len(p))
}

type playback struct {
	spk    *Speaker
	ch     int
	ctx    context.Context
	cancel context.CancelFunc

	mu   sync.Mutex
	pos  int64 // the index the next sample plays at
	mono []int16
}

// Write plays p: samples go onto the timeline right after the previous ones (or now, after an
// underrun), blocking while more than the buffer is queued ahead of the present.
func (w *playback) Write(p []int16) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	air := w.spk.air
	ahead := int64(w.spk.buffer) * int64(air.rate) / int64(time.Second)
	done := 0
	for done < len(p)/w.ch {
		if w.ctx.Err() != nil {
			return done * w.ch, errors.New("write sim speaker: closed")
		}
		now := air.now()
		if w.pos < now {
			w.pos = now
		}
		room := now + ahead - w.pos
		if room <= 0 {
			if err := sleep(w.ctx, air.clock, air.timeOf(w.pos-ahead+1).Sub(air.clock.Now())); err != nil {
				return done * w.ch, errors.New("write sim speaker: closed")
			}
			continue
		}
		n := min(int(room), len(p)/w.ch-done)
		w.mono = w.mono[:0]
		for i := done; i < done+n; i++ {
			sum := 0
			for ch := range w.ch {
				sum += int(p[i*w.ch+ch])
			}
			w.mono = append(w.mono, int16(sum/w.ch))
		}
		air.play(w.pos, w.mono)
		w.spk.record(w.mono)
		w.pos += int64(n)
		done += n
	}
	return done * w.ch, nil
}

func (w *playback) Close() error {
	w.cancel()
	return nil
}
