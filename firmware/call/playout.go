package call

import (
	"fmt"
	"sync"

	"github.com/stoa-rooms/stoa/board"
	"github.com/stoa-rooms/stoa/firmware/media"
)

// Queue bounds, in 20 ms frames: what a remote may buffer ahead of playback (its jitter
// allowance; older frames are dropped, bounding the delay), and how many played frames wait
// for the microphone loop as the echo canceller's far-end reference.
const (
	maxQueuedFrames = 8
	maxFarFrames    = 12
	farKeep         = 2
)

// playout mixes the remote audio streams and plays them on the speaker, paced by the device
// (Write blocks while its buffer is full), and keeps what it played for the echo canceller.
type playout struct {
	c   *Call
	out board.AudioWriter

	mu      sync.Mutex
	sources map[*audioSource]struct{}
	far     [][]int16
}

// audioSource is one remote audio track's decoded frames waiting to be played.
type audioSource struct {
	mu     sync.Mutex
	frames [][]int16
}

func (s *audioSource) push(f []int16) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.frames) >= maxQueuedFrames {
		s.frames = s.frames[1:]
	}
	s.frames = append(s.frames, f)
}

func (s *audioSource) pop() []int16 {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.frames) == 0 {
		return nil
	}
	f := s.frames[0]
	s.frames = s.frames[1:]
	return f
}

func newPlayout(c *Call) (*playout, error) {
	w, err := c.o.Board.Speaker.OpenPlayback(board.AudioFormat{Rate: audioRate, Channels: 1})
	if err != nil {
		return nil, fmt.Errorf("open speaker: %w", err)
	}
	return &playout{c: c, out: w, sources: map[*audioSource]struct{}{}}, nil
}

func (p *playout) start() {
	p.c.wg.Add(1)
	go p.loop()
}

func (p *playout) add() *audioSource {
	s := &audioSource{}
	p.mu.Lock()
	p.sources[s] = struct{}{}
	p.mu.Unlock()
	return s
}

func (p *playout) remove(s *audioSource) {
	p.mu.Lock()
	delete(p.sources, s)
	p.mu.Unlock()
}

// loop plays one mixed frame per 20 ms (silence when nobody speaks, so the device and the
// echo canceller's reference keep running) until the call ends.
func (p *playout) loop() {
	c := p.c
	defer c.wg.Done()
	for c.ctx.Err() == nil {
		mix := make([]int16, frameSamples)
		p.mu.Lock()
		var srcs [][]int16
		for s := range p.sources {
			if f := s.pop(); f != nil {
				srcs = append(srcs, f)
			}
		}
		p.mu.Unlock()
		media.Mix(mix, srcs...)
		media.Gain(mix, int(c.volume.Load()))
		if _, err := p.out.Write(mix); err != nil {
			if c.ctx.Err() == nil {
				c.log.Warn("speaker write failed; playback stops", "err", err)
			}
			return
		}
		p.mu.Lock()
		if len(p.far) >= maxFarFrames {
			p.far = p.far[1:]
		}
		p.far = append(p.far, mix)
		p.mu.Unlock()
	}
}

// farEnd fills dst with the far-end reference for the microphone frame just captured:
// silence when none is waiting.
//
// The canceller only models an echo that comes after its reference, by at most its tail. A
// played frame becomes audible about the device's buffer B after it was written; with L frames
// waiting here, the echo lags the reference by B + path − 20 ms × L. Frames pile up here when
// the microphone starts (or stalls) after the speaker, which would make that negative, so
// only the newest farKeep frames are kept: the lag stays near B + path.
func (p *playout) farEnd(dst []int16) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.far) > farKeep {
		p.far = p.far[len(p.far)-farKeep:]
	}
	if len(p.far) == 0 {
		clear(dst)
		return
	}
	copy(dst, p.far[0])
	p.far = p.far[1:]
}

func (p *playout) close() {
	if p.out != nil {
		p.out.Close()
	}
}
