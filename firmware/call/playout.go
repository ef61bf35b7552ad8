package call

import (
	"fmt"
	"sync"
	"time"

	"github.com/stoa-rooms/stoa/board"
	"github.com/stoa-rooms/stoa/firmware/media"
)

// maxQueuedFrames is what a remote may buffer ahead of playback, in 20 ms frames: its jitter
// allowance; older frames are dropped, bounding the delay.
const maxQueuedFrames = 8

// playout mixes the remote audio streams and plays them on the speaker, paced by the device
// (Write blocks while its buffer is full), and records what it played on the call's audio
// timeline for the echo canceller (see echoref.go).
type playout struct {
	c   *Call
	out board.AudioWriter
	pos int64 // timeline position of the next sample written

	mu      sync.Mutex
	sources map[*audioSource]struct{}
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
	return &playout{c: c, out: w, pos: c.audioTL.pos(), sources: map[*audioSource]struct{}{}}, nil
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
	mix := make([]int16, frameSamples)
	for c.ctx.Err() == nil {
		clear(mix)
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
		if !p.paceAndWrite(mix) {
			return
		}
	}
}

// playLead is how much the playout keeps queued in the device: it writes a frame only when
// the device holds at most playLead minus the frame. With a device buffer at least this
// large (the sim board's 60 ms, board/linux's 100 ms ring) Write never waits for room, so
// where a frame lands is known: at the position after the previous one, or — when the
// device ran dry — at the present, which is read right before and after the write. A write
// that waited inside the device could run dry halfway through the frame unseen.
const playLead = 50 * audioRate / 1000

// paceAndWrite waits for the frame's turn, writes it and records it on the timeline; false
// when the call ends or the speaker failed.
func (p *playout) paceAndWrite(mix []int16) bool {
	c := p.c
	for {
		early := p.pos + int64(len(mix)) - playLead - c.audioTL.pos()
		if early <= 0 {
			break
		}
		select {
		case <-c.ctx.Done():
			return false
		case <-time.After(min(time.Duration(early)*time.Second/audioRate, frameDur)):
		}
	}
	before := c.audioTL.pos()
	if _, err := p.out.Write(mix); err != nil {
		if c.ctx.Err() == nil {
			c.log.Warn("speaker write failed; playback stops", "err", err)
		}
		return false
	}
	after := c.audioTL.pos()
	at := max(p.pos, before) // behind the present, the device ran dry: the frame plays now
	ev := playEvent{at: at, underrun: p.pos < before}
	if p.pos < after && after-before > frameSamples/20 {
		// Where the device put the frame is known only to within the write's duration:
		// at before or later.
		ev.unc = after - before
		c.log.Debug("speaker write straddled an underrun", "uncertain_ms", ev.unc*1000/audioRate)
	}
	if ev.underrun || ev.unc > 0 {
		c.playEvents.add(ev)
	}
	c.far.write(at, mix)
	p.pos = at + int64(len(mix))
	return true
}

func (p *playout) close() {
	if p.out != nil {
		p.out.Close()
	}
}
