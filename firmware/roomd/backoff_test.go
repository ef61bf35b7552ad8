package roomd

import (
	"testing"
	"time"
)

func TestBackoffCeilingDoublesToMax(t *testing.T) {
	b := NewBackoff()
	want := []time.Duration{1, 2, 4, 8, 16, 32, 60, 60, 60}
	for i, w := range want {
		if got := b.Ceiling(); got != w*time.Second {
			t.Fatalf("attempt %d: ceiling %s, want %s", i, got, w*time.Second)
		}
		b.Next()
	}
	b.Reset()
	if got := b.Ceiling(); got != time.Second {
		t.Fatalf("after Reset: ceiling %s, want 1s", got)
	}
}

func TestBackoffFullJitterBounds(t *testing.T) {
	tests := []struct {
		name string
		rand func(int64) int64
	}{
		{"real source", nil},
		{"lowest draw", func(int64) int64 { return 0 }},
		{"highest draw", func(n int64) int64 { return n - 1 }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := NewBackoff()
			b.Rand = tc.rand
			var sum time.Duration
			for i := range 2000 {
				c := b.Ceiling()
				d := b.Next()
				if d < 0 || d > c {
					t.Fatalf("attempt %d: wait %s outside [0, %s]", i, d, c)
				}
				if d > time.Minute {
					t.Fatalf("attempt %d: wait %s above the 60 s cap", i, d)
				}
				sum += d
			}
			if tc.rand == nil {
				// Full jitter at the 60 s cap averages 30 s; a wide band catches a missing jitter
				// (always 60 s) or a stuck-at-zero source without flaking.
				mean := sum / 2000
				if mean < 20*time.Second || mean > 40*time.Second {
					t.Fatalf("mean wait %s, want about 30s", mean)
				}
			}
		})
	}
}
