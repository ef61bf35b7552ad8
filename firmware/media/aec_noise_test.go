package media

import (
	"errors"
	"math"
	"testing"
)

// TestNoiseSuppressionSteadyTone: a steady near-end tone (nothing played) goes through the
// canceller: speexdsp's default noise suppression turns it down by ~15 dB within two seconds;
// limited to -3 dB it loses at most that, and off it passes unchanged.
func TestNoiseSuppressionSteadyTone(t *testing.T) {
	const rate, frame = 48000, 960
	tone := make([]int16, 4*rate)
	for i := range tone {
		tone[i] = int16(8000 * math.Sin(2*math.Pi*440*float64(i)/rate))
	}
	far := make([]int16, len(tone))
	for _, tc := range []struct {
		name     string
		db       int
		set      bool
		min, max float64 // loss in dB over the last second
	}{
		{"default", 0, false, 10, 20},
		{"limited to -3 dB", -3, true, 1, 4},
		{"off", 0, true, -0.5, 0.5},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ec, err := NewEchoCanceller(rate, frame, 100)
			if err != nil {
				t.Fatal(err)
			}
			defer ec.Close()
			if tc.set {
				if err := ec.SetNoiseSuppression(tc.db); err != nil {
					t.Fatal(err)
				}
			}
			out := make([]int16, len(tone))
			for o := 0; o+frame <= len(tone); o += frame {
				if err := ec.Process(tone[o:o+frame], far[o:o+frame], out[o:o+frame]); err != nil {
					t.Fatal(err)
				}
			}
			last := len(tone) - rate
			loss := PowerDB(tone[last:]) - PowerDB(out[last:])
			if loss < tc.min || loss > tc.max {
				t.Fatalf("steady tone lost %.1f dB, want %.1f..%.1f", loss, tc.min, tc.max)
			}
		})
	}
	t.Run("bad values and a closed canceller are refused", func(t *testing.T) {
		ec, err := NewEchoCanceller(rate, frame, 100)
		if err != nil {
			t.Fatal(err)
		}
		for _, db := range []int{1, -101} {
			if err := ec.SetNoiseSuppression(db); err == nil {
				t.Fatalf("SetNoiseSuppression(%d) accepted", db)
			}
		}
		ec.Close()
		if err := ec.SetNoiseSuppression(-3); !errors.Is(err, ErrClosed) {
			t.Fatalf("on a closed canceller: %v", err)
		}
	})
}
