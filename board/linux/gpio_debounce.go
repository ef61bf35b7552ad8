package linux

import "time"

// debouncer turns edges into debounced state changes. With period 0 (the kernel debounces) an
// edge that changes the reported state is reported at once; otherwise every edge restarts a
// quiet period and the line's level is read when it ends, so a bouncing contact yields one
// change however many edges it makes. Repeats of the reported state are never reported.
type debouncer struct {
	period   time.Duration
	reported bool      // last reported (or initial) state
	lastEdge time.Time // when the latest edge happened
}

// edge takes an edge to state active at time at. It reports whether to emit now (period 0)
// and otherwise whether to (re)start the quiet timer.
func (d *debouncer) edge(active bool, at time.Time) (emit, arm bool) {
	d.lastEdge = at
	if d.period > 0 {
		return false, true
	}
	if active == d.reported {
		return false, false
	}
	d.reported = active
	return true, false
}

// settle takes the line's level at the end of the quiet period; it reports whether that is a
// change to emit.
func (d *debouncer) settle(level bool) bool {
	if level == d.reported {
		return false
	}
	d.reported = level
	return true
}
