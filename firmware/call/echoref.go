package call

import (
	"sync"
	"time"
)

// The echo canceller models an echo that follows its far-end reference by 0 to its tail. The
// reference must therefore be what the speaker played at the moment the microphone heard it,
// found by time, not by how many frames happen to be queued between two goroutines: both
// devices are placed on one audio timeline, counted in samples since the call started.
//
// The speaker's side: the sample written at timeline position p plays at p (plus the device's
// fixed output latency); when the playout loop falls behind the present, the device ran dry
// and the next sample plays now, so the position jumps forward over the silence. The
// microphone's side: the capture starts at the position of the moment it opened and counts
// the samples read; a reader left far behind (an overrun) resumes at the present.
//
// The estimate can still be off: the device notices it ran dry a moment after the playout loop
// looked at the clock, or while a write waits for room, and a loaded machine stretches that
// moment. Such errors come in steps at underruns, so the remaining offset (error, output
// latency, the room's acoustic path) is measured from the signals themselves (delay.go) and
// the reference shifted so that the canceller always sees the same delay. The playout reports
// where a step may have happened (playEvents), so the tracker knows when and how far to look.

// timeline converts the call's clock into sample positions.
type timeline struct {
	now   func() time.Time
	epoch time.Time
	rate  int64
}

func newTimeline(now func() time.Time, rate int) timeline {
	return timeline{now: now, epoch: now(), rate: int64(rate)}
}

// pos is the present's sample position.
func (t timeline) pos() int64 {
	return int64(t.now().Sub(t.epoch)) * t.rate / int64(time.Second)
}

// farRingSeconds of played samples are kept: more than any microphone lag the capture
// tolerates before it resyncs (overrunSamples) plus the speaker's buffer and the lead.
const farRingSeconds = 2

// farRing is what the speaker played, by timeline position; positions never written (before
// the first write, in an underrun's gap, or older than the ring) read as silence.
type farRing struct {
	mu  sync.Mutex
	buf []int16
	hi  int64 // one past the last position written
}

func newFarRing(samples int) *farRing {
	return &farRing{buf: make([]int16, samples)}
}

// write stores p at positions at, at+1, …; the gap since the previous write becomes silence.
func (r *farRing) write(at int64, p []int16) {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := int64(len(r.buf))
	for i := max(r.hi, at-n); i < at; i++ {
		r.buf[i%n] = 0
	}
	for i, v := range p {
		if j := at + int64(i); j >= 0 {
			r.buf[j%n] = v
		}
	}
	r.hi = max(r.hi, at+int64(len(p)))
}

// read fills dst with positions at, at+1, ….
func (r *farRing) read(at int64, dst []int16) {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := int64(len(r.buf))
	for i := range dst {
		j := at + int64(i)
		if j < 0 || j >= r.hi || j < r.hi-n {
			dst[i] = 0
			continue
		}
		dst[i] = r.buf[j%n]
	}
}

// playEvent is a moment the playout's position estimate may have changed its error: an
// underrun (the device and the estimate both restart at the present, so an error carried
// until then is gone) or a write whose placement is known only to within unc samples (the
// frame may be up to unc later than estimated). at is the frame's estimated position.
type playEvent struct {
	at, unc  int64
	underrun bool
}

// playEvents passes playEvents from the playout to the microphone loop.
type playEvents struct {
	mu sync.Mutex
	q  []playEvent
}

// maxPlayEvents bounds the queue; the oldest are dropped (the signal-based tracking still
// corrects what they would have told).
const maxPlayEvents = 16

func (e *playEvents) add(ev playEvent) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if len(e.q) >= maxPlayEvents {
		e.q = e.q[1:]
	}
	e.q = append(e.q, ev)
}

// take moves the queued events to dst.
func (e *playEvents) take(dst []playEvent) []playEvent {
	e.mu.Lock()
	defer e.mu.Unlock()
	dst = append(dst, e.q...)
	e.q = e.q[:0]
	return dst
}
