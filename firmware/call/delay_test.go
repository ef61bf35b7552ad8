package call

import (
	"math"
	"testing"

	"github.com/stoa-rooms/stoa/board/sim"
)

// speechAt is the sim's speech-like source at timeline positions from..to.
func speechAt(from, n int64) []int16 {
	buf := make([]float64, n)
	sim.Speech().Fill(buf, from, audioRate)
	out := make([]int16, n)
	for i, v := range buf {
		out[i] = int16(max(-32767, min(32767, v*0.3*32767)))
	}
	return out
}

// TestDelayTracker feeds the tracker a microphone that hears the ring's content k samples
// later (then a step in k, as when the playout's position estimate was off after an
// underrun) and checks it finds k, and that a microphone hearing something unrelated (the
// room's own voice) leaves k alone.
func TestDelayTracker(t *testing.T) {
	tone := func(at int64, n int) []int16 {
		out := make([]int16, n)
		for i := range out {
			out[i] = int16(8000 * math.Sin(2*math.Pi*440*float64(at+int64(i))/audioRate))
		}
		return out
	}
	far := speechAt(0, 4*audioRate)
	for _, tc := range []struct {
		name   string
		k1, k2 int64 // echo delay before and after 2 s
		gain   float64
		echo   bool // false: the microphone hears a tone instead of the echo
		want1  int64
		want2  int64
		// announced: the step is announced (shifted) and must be followed within 0.3 s.
		announced bool
	}{
		{"announced step followed within 0.3 s", 1440, 1750, 0.5, true, 1440, 1750, true},
		{"sim path 30 ms, then 4 ms later", 1440, 1632, 0.5, true, 1440, 1632, false},
		{"short path, then 20 ms later", 100, 1060, 0.3, true, 100, 1060, false},
		{"echo earlier than the estimate", -200, -200, 0.5, true, -200, -200, false},
		{"no echo: k stays", 1440, 3000, 0.5, false, targetDelay, targetDelay, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ring := newFarRing(farRingSeconds * audioRate)
			d := newDelayTracker()
			ring.write(0, far[:3*frameSamples]) // the playout runs ahead of the microphone
			mic := make([]int16, frameSamples)
			for pos := int64(audioRate / 2); pos+frameSamples+3*frameSamples <= int64(len(far)); pos += frameSamples {
				ring.write(pos+3*frameSamples, far[pos+3*frameSamples:][:frameSamples])
				k := tc.k1
				if pos >= 2*audioRate {
					k = tc.k2
				}
				if tc.announced && pos == 2*audioRate {
					d.shifted(0, tc.k2-tc.k1+100)
				}
				if tc.announced && pos == 2*audioRate+3*audioRate/10 && d.k != tc.want2 {
					t.Fatalf("0.3 s after the announced step: k %d, want %d", d.k, tc.want2)
				}
				if tc.echo {
					for i := range mic {
						mic[i] = int16(tc.gain * float64(far[pos+int64(i)-k]))
					}
				} else {
					mic = tone(pos, frameSamples)
				}
				d.heard(ring, mic, pos+frameSamples)
				if pos == 2*audioRate-frameSamples && d.k != tc.want1 {
					t.Fatalf("after 1.5 s: k %d, want %d", d.k, tc.want1)
				}
			}
			if d.k != tc.want2 {
				t.Fatalf("at the end: k %d, want %d", d.k, tc.want2)
			}
		})
	}
}

func BenchmarkDelayEstimate(b *testing.B) {
	ring := newFarRing(farRingSeconds * audioRate)
	far := speechAt(0, audioRate)
	ring.write(0, far)
	d := newDelayTracker()
	for b.Loop() {
		for i := range delayEvery {
			d.heard(ring, far[i*frameSamples:][:frameSamples], audioRate)
		}
	}
}

// TestDelayTrackerCleanUnderrun: after the playout's estimate picked up an error (k grew), a
// clean underrun resets it: the tracker goes back to the room's own delay as soon as the
// microphone reaches the echo of the first frame after it, without waiting for estimates.
func TestDelayTrackerCleanUnderrun(t *testing.T) {
	const k0, drift, at = 1440, 700, 2 * audioRate
	far := speechAt(0, 3*audioRate)
	ring := newFarRing(farRingSeconds * audioRate)
	d := newDelayTracker()
	mic := make([]int16, frameSamples)
	checked := false
	for pos := int64(audioRate / 2); pos+4*frameSamples <= int64(len(far)); pos += frameSamples {
		ring.write(pos+3*frameSamples, far[pos+3*frameSamples:][:frameSamples])
		k := int64(k0)
		switch {
		case pos == audioRate:
			// From here the estimate carries an error (as after an uncertain write).
			d.played([]playEvent{{at: pos, unc: drift + 100}})
		case pos >= at+k0:
			k = k0 // the underrun at `at` removed the error
		case pos > audioRate:
			k = k0 + drift
		}
		if pos == at {
			d.played([]playEvent{{at: at, underrun: true}})
		}
		for i := range mic {
			mic[i] = far[pos+int64(i)-k] / 2
		}
		d.heard(ring, mic, pos+frameSamples)
		switch pos {
		case audioRate - frameSamples:
			if !d.haveK0 || d.k0 != k0 {
				t.Fatalf("before the error: k0 %d (known %v), want %d", d.k0, d.haveK0, k0)
			}
		case at - frameSamples:
			if d.k != k0+drift {
				t.Fatalf("with the error: k %d, want %d", d.k, k0+drift)
			}
		}
		if pos >= at+k0 && pos < at+k0+frameSamples {
			checked = true
			if d.k != k0 {
				t.Fatalf("at the underrun's echo: k %d, want %d", d.k, k0)
			}
		}
	}
	if !checked {
		t.Fatal("the frame at the underrun's echo was never checked")
	}
}
