package call

import (
	"fmt"
	"math"
	"math/cmplx"
)

// Echo delay tracking: where in the far-end ring the microphone's echo comes from.
//
// The microphone at timeline position L hears the speaker's sample from ring position L − k:
// k is the output latency plus the acoustic path plus whatever error the playout position
// estimate carries (echoref.go). The canceller is given ring[L − k + targetDelay], so it sees
// the echo targetDelay after its reference however k moves, and never has to relearn the
// room because the machine stalled. k is found by cross-correlating the last delayWindow of
// microphone samples with the ring, coarsely on block sums, then sample-exact around the peak.
const (
	targetDelay = 10 * audioRate / 1000  // what the canceller sees
	delayWindow = audioRate / 4          // microphone samples correlated per estimate
	delayMax    = 200 * audioRate / 1000 // longest k searched
	delayMin    = -targetDelay           // an estimate a little too late still shows
	delayBlock  = 16                     // coarse search on sums of this many samples (3 kHz)
	delayRefine = audioRate / 20         // samples of the sample-exact search
	// delayEvery is how often k is estimated, in 20 ms frames.
	delayEvery = 6
	// A new k is taken when two estimates in a row found it with at least this correlation:
	// the microphone may be hearing the room's own voice (double talk) or nothing, and a
	// window may straddle a step.
	delayAgree = 0.5
	// After an event that may have moved k (delayTracker.shifted), a single estimate this
	// sure is taken, over the newest eventWindow once eventSettle has come in: the echo of
	// what was played after the event reaches the microphone after the device's buffer and k.
	delaySure   = 0.8
	eventSettle = audioRate / 5
	eventWindow = audioRate / 10
	// delayBetter: a new k must also correlate this much better than the current one, since
	// voiced speech resembles itself a pitch period or a syllable later.
	delayBetter = 0.1
)

// delayTracker keeps the microphone's recent samples and the current k.
type delayTracker struct {
	hist   []int16 // the last delayWindow microphone samples, oldest first
	frames int
	k      int64
	last   int64 // the previous estimate (when it was at least delayAgree)
	lastOK bool
	far    []int16 // scratch
	mc, fc []float64
	fa, fb []complex128
	refine int    // start of the history's samples the fine search uses
	since  int    // microphone samples since an event that may have moved k; -1: none
	lo, hi int64  // how far that event may have moved k
	why    string // why k last changed, for the log
	events []playEvent
	// k0 is the room's own delay (output latency and acoustic path), measured while the
	// playout's position estimate had no error; clean says it has none now.
	k0            int64
	haveK0, clean bool
}

func newDelayTracker() *delayTracker {
	return &delayTracker{hist: make([]int16, 0, delayWindow), k: targetDelay, since: -1, clean: true}
}

// ref fills dst with the reference for the microphone frame at position pos.
func (d *delayTracker) ref(ring *farRing, pos int64, dst []int16) {
	ring.read(pos-d.k+targetDelay, dst)
}

// heard adds the microphone frame that ends at position end and, every delayEvery frames,
// re-estimates k; it reports whether k changed.
func (d *delayTracker) heard(ring *farRing, mic []int16, end int64) bool {
	if d.applyEvents(end - int64(len(mic))) {
		return true
	}
	if over := len(d.hist) + len(mic) - delayWindow; over > 0 {
		d.hist = append(d.hist[:0], d.hist[over:]...)
	}
	d.hist = append(d.hist, mic...)
	if d.since >= 0 {
		if d.since += len(mic); d.since >= eventSettle && len(d.hist) >= eventWindow {
			d.since = -1
			return d.afterEvent(ring, end)
		}
	}
	if d.frames++; d.frames < delayEvery || len(d.hist) < delayWindow {
		return false
	}
	d.frames = 0
	k, corr, cur := d.estimate(ring, d.hist, end-int64(len(d.hist)))
	if corr < delayAgree { // nothing to go by (silence, the room's own voice): no evidence
		return false
	}
	agreed := d.lastOK && abs64(k-d.last) <= 2
	d.last, d.lastOK = k, true
	if !agreed || abs64(k-d.k) <= 2 || corr < cur+delayBetter {
		return false
	}
	d.k = k
	d.noteK0()
	d.why = fmt.Sprintf("two estimates agree: correlation %.2f, %.2f at the old delay", corr, cur)
	return true
}

// played queues the playout's events; each takes effect when the microphone reaches the
// echo of its frame.
func (d *delayTracker) played(evs []playEvent) {
	d.events = append(d.events, evs...)
}

// applyEvents applies the queued events whose frame's echo the microphone frame starting at
// pos hears: after a clean underrun k is the room's own delay again (k0, the delay measured
// while the estimate had no error); otherwise k may have grown by up to the uncertainty, or,
// after an uncertain underrun, is k0 plus up to it — an estimate over the next samples
// decides (shifted).
func (d *delayTracker) applyEvents(pos int64) (changed bool) {
	n := 0
	for _, ev := range d.events {
		reach := ev.at + d.k // where the microphone hears the frame's echo
		if ev.underrun && d.haveK0 {
			reach = ev.at + d.k0
		}
		if pos < reach {
			d.events[n] = ev
			n++
			continue
		}
		switch {
		case ev.underrun && d.haveK0 && ev.unc == 0:
			d.clean = true
			if d.k != d.k0 {
				d.k, changed = d.k0, true
				d.why = "a clean underrun: the room's own delay again"
			}
		case ev.underrun && d.haveK0:
			d.clean = false
			d.shifted(d.k0-d.k, d.k0-d.k+ev.unc)
		case ev.unc > 0:
			d.clean = false
			d.shifted(0, ev.unc)
		}
	}
	d.events = d.events[:n]
	return changed
}

// shifted tells the tracker that k may just have moved by lo to hi samples (a speaker write
// whose placement was uncertain, a microphone overrun): once eventSettle of microphone has
// come since, one estimate over the newest eventWindow decides, if it is sure and in range.
func (d *delayTracker) shifted(lo, hi int64) {
	if d.since >= 0 { // a second event before the first was settled: the ranges add up
		lo, hi = d.lo+lo, d.hi+hi
	}
	d.since, d.lo, d.hi = 0, lo, hi
}

// afterEvent is that estimate; it reports whether k changed.
func (d *delayTracker) afterEvent(ring *farRing, end int64) bool {
	h := d.hist[len(d.hist)-eventWindow:]
	k, corr, cur := d.estimate(ring, h, end-int64(len(h)))
	if corr < delaySure || abs64(k-d.k) <= 2 || corr < cur+delayBetter || k-d.k < d.lo-2 || k-d.k > d.hi+2 {
		return false
	}
	d.k, d.last, d.lastOK = k, k, true
	d.noteK0()
	d.why = fmt.Sprintf("after an event (shift %d..%d): correlation %.2f, %.2f at the old delay", d.lo, d.hi, corr, cur)
	return true
}

// noteK0 keeps a k measured while the playout's estimate carried no error (from the start,
// or since a clean underrun) as the room's own delay.
func (d *delayTracker) noteK0() {
	if d.clean {
		d.k0, d.haveK0 = d.k, true
	}
}

// lost forgets the history: the microphone skipped samples (an overrun), so the samples
// before and after do not line up.
func (d *delayTracker) lost(lo, hi int64) {
	d.hist, d.frames, d.lastOK = d.hist[:0], 0, false
	d.shifted(lo, hi)
}

// estimate finds k for the microphone samples hist starting at position start, the peak's
// normalized correlation and the correlation at the current k.
func (d *delayTracker) estimate(ring *farRing, hist []int16, start int64) (k int64, corr, current float64) {
	n := len(hist)
	// far[j] is ring position start − delayMax + j.
	span := n + delayMax - delayMin
	if cap(d.far) < span {
		d.far = make([]int16, span)
	}
	far := d.far[:span]
	ring.read(start-delayMax, far)
	d.mc = blockSums(d.mc, hist)
	d.fc = blockSums(d.fc, far)
	mc, fc := d.mc, d.fc
	var mm float64
	for _, v := range mc {
		mm += v * v
	}
	if mm == 0 {
		return 0, 0, 0
	}
	// Coarse: mic block i against far block i + off, for k = delayMax − off·delayBlock; the
	// dot products for every off at once through the FFT (a direct search costs ~80 ms per
	// estimate under the race detector, more than the audio loop can spare).
	best, bestC := d.coarse(mc, fc, mm)
	if bestC < delayAgree {
		return 0, bestC, 0
	}
	// Fine: sample offsets around the coarse peak, over the loudest delayRefine samples.
	d.refine = loudest(hist, delayRefine)
	// Microphone sample i (position start+i) matches far[off+i] (position start−delayMax+off+i)
	// for k = delayMax − off.
	fine, fineC := best*delayBlock, -1.0
	for off := max(best*delayBlock-delayBlock, 0); off <= min(best*delayBlock+delayBlock, span-n); off++ {
		if c := d.fineCorr(hist, far, off); c > fineC {
			fine, fineC = off, c
		}
	}
	if off := delayMax - int(d.k); off >= 0 && off <= span-n {
		current = d.fineCorr(hist, far, off)
	}
	return int64(delayMax - fine), min(bestC, fineC), current
}

// coarse returns the offset of fc against mc with the largest normalized correlation.
func (d *delayTracker) coarse(mc, fc []float64, mm float64) (int, float64) {
	n := 1
	for n < len(fc) {
		n *= 2
	}
	if len(d.fa) != n {
		d.fa, d.fb = make([]complex128, n), make([]complex128, n)
	}
	fa, fb := d.fa, d.fb
	for i := range fa {
		fa[i], fb[i] = 0, 0
	}
	for i, v := range fc {
		fa[i] = complex(v, 0)
	}
	for i, v := range mc {
		fb[i] = complex(v, 0)
	}
	fft(fa)
	fft(fb)
	// Circular cross-correlation: IFFT(FA·conj(FB)) = conj(FFT(conj(FA)·FB))/n; no offset
	// used wraps, as n ≥ len(fc).
	for i := range fa {
		fa[i] = cmplx.Conj(fa[i]) * fb[i]
	}
	fft(fa)
	best, bestC := 0, -1.0
	var ff float64 // energy of fc[off : off+len(mc)], slid along
	for _, v := range fc[:len(mc)] {
		ff += v * v
	}
	for off := 0; off+len(mc) <= len(fc); off++ {
		if off > 0 {
			ff += fc[off+len(mc)-1]*fc[off+len(mc)-1] - fc[off-1]*fc[off-1]
		}
		if ff > 0 {
			if c := real(fa[off]) / float64(n) / math.Sqrt(mm*ff); c > bestC {
				best, bestC = off, c
			}
		}
	}
	return best, bestC
}

// loudest is the start of the loudest of p's blocks of n samples.
func loudest(p []int16, n int) int {
	best, bestE := 0, -1.0
	for at := 0; at+n <= len(p); at += n {
		var e float64
		for _, v := range p[at : at+n] {
			e += float64(v) * float64(v)
		}
		if e > bestE {
			best, bestE = at, e
		}
	}
	return best
}

// fineCorr is the normalized correlation of the delayRefine microphone samples of hist from
// d.refine on with far at offset off.
func (d *delayTracker) fineCorr(hist, far []int16, off int) float64 {
	base := d.refine
	var dot, mm, ff float64
	for i, v := range hist[base : base+delayRefine] {
		m, f := float64(v), float64(far[base+off+i])
		dot += m * f
		mm += m * m
		ff += f * f
	}
	if mm == 0 || ff == 0 {
		return 0
	}
	return dot / math.Sqrt(mm*ff)
}

// blockSums sums p in blocks of delayBlock into dst (reused).
func blockSums(dst []float64, p []int16) []float64 {
	dst = dst[:0]
	for i := 0; i+delayBlock <= len(p); i += delayBlock {
		var s float64
		for _, v := range p[i : i+delayBlock] {
			s += float64(v)
		}
		dst = append(dst, s)
	}
	return dst
}

func abs64(v int64) int64 {
	if v < 0 {
		return -v
	}
	return v
}
