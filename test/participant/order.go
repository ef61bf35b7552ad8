package participant

import "math"

// frameOrder checks that decoded frame numbers never go backwards within a simulcast layer.
//
// The sender loops its fixture, so a frame number alone cannot tell a wrap from a step back
// once frames go undecoded: a 720p decode in pure Go under -race on a loaded machine takes
// seconds, and a layer may not be forwarded at all for a while, so two consecutive decodes of
// one layer can be more than half a loop apart (a loop is 5 s), where "down by more than half
// the loop" no longer means a wrap. Each frame's RTP timestamp, continuous through the router's
// rewriting, says how many frames passed since the layer's previous decoded frame; the number
// is unwrapped onto the loop nearest to where the timestamp puts it and compared there.
type frameOrder struct {
	loop          int     // frames in the sender's fixture loop
	ticksPerFrame float64 // RTP clock ticks per frame: clock rate / fps
	last          map[int]frameMark
}

// frameMark is a layer's (a picture width's) last decoded frame: its unwrapped number and
// RTP timestamp.
type frameMark struct {
	abs int
	ts  uint32
}

func newFrameOrder(loop, fps int, clockRate uint32) *frameOrder {
	return &frameOrder{loop: loop, ticksPerFrame: float64(clockRate) / float64(fps), last: map[int]frameMark{}}
}

// observe records frame n of the layer of the given width, sent with RTP timestamp ts, and
// reports whether it went backwards or repeated the layer's previous frame.
func (o *frameOrder) observe(width, n int, ts uint32) (backwards, repeat bool) {
	m, seen := o.last[width]
	abs := n
	if seen {
		// int32: RTP timestamps wrap at 2^32; a negative step is a frame sent earlier.
		expected := float64(m.abs) + float64(int32(ts-m.ts))/o.ticksPerFrame
		abs = n + o.loop*int(math.Round((expected-float64(n))/float64(o.loop)))
		backwards, repeat = abs < m.abs, abs == m.abs
	}
	o.last[width] = frameMark{abs: abs, ts: ts}
	return backwards, repeat
}
