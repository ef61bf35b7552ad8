package participant

import "testing"

// TestFrameOrder: frame numbers are unwrapped by the RTP timestamps, so a wrap after decodes
// seconds apart is not a step back while a stale or reordered frame still is. The first case
// is the sequence captured from a failing TestThreeParticipantsThroughSFU run under load: q
// frame 47 waited in the decoder's slot while a 720p frame took 2.5 s to decode, and the next
// q frame decoded was 14 of the next loop, 42 frames later by its timestamp; "down by at most
// half the loop" (47-14 = 33 <= 37) counted that wrap as going backwards.
func TestFrameOrder(t *testing.T) {
	const tick = 6000 // 90 kHz / 15 fps
	type frame struct {
		width, n int
		ts       uint32
	}
	tests := []struct {
		name            string
		frames          []frame
		backwards, reps int
	}{
		{"captured wrap after a slow decode", []frame{{320, 47, 1558076456}, {320, 14, 1558328414}}, 0, 0},
		{"wrap after more than half a loop", []frame{{640, 68, 1000}, {640, 54, 1000 + 61*tick}}, 0, 0},
		{"wrap in order", []frame{{320, 73, 0}, {320, 74, tick}, {320, 0, 2 * tick}, {320, 1, 3 * tick}}, 0, 0},
		{"two whole loops later", []frame{{320, 10, 0}, {320, 10, 150 * tick}}, 0, 0},
		{"stale frame forwarded as new", []frame{{320, 47, 0}, {320, 14, tick}}, 1, 0},
		{"reordered frames", []frame{{320, 20, 20 * tick}, {320, 15, 15 * tick}}, 1, 0},
		{"small step back", []frame{{320, 30, 0}, {320, 31, tick}, {320, 29, 2 * tick}}, 1, 0},
		{"repeat", []frame{{320, 5, 0}, {320, 5, 0}}, 0, 1},
		{"repeat with a fresh timestamp", []frame{{320, 5, 0}, {320, 5, tick}}, 0, 1},
		{"layers are separate streams", []frame{{320, 30, 30 * tick}, {1280, 20, 31 * tick}, {320, 32, 32 * tick}, {1280, 22, 33 * tick}}, 0, 0},
		{"timestamp wraps at 2^32", []frame{{320, 40, 1<<32 - 3000}, {320, 41, 3000}}, 0, 0},
		{"step back across the timestamp wrap", []frame{{320, 40, 1<<32 - 3000}, {320, 39, 3000}}, 1, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			o := newFrameOrder(75, 15, 90000)
			back, reps := 0, 0
			for _, f := range tc.frames {
				b, r := o.observe(f.width, f.n, f.ts)
				if b {
					back++
				}
				if r {
					reps++
				}
			}
			if back != tc.backwards || reps != tc.reps {
				t.Errorf("backwards %d repeats %d, want %d and %d", back, reps, tc.backwards, tc.reps)
			}
		})
	}
}
