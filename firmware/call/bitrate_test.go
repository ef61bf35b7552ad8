package call

import (
	"testing"
	"time"
)

func TestSplitBitrate(t *testing.T) {
	for _, tc := range []struct {
		total, n int
		want     []int
	}{
		{1000, 1, []int{1000}},
		{1000, 2, []int{800, 200}},
		{2100, 3, []int{1600, 400, 100}},
		{60, 2, []int{48, 40}}, // the smallest layer keeps its floor
	} {
		got := splitBitrate(tc.total, tc.n)
		if len(got) != len(tc.want) {
			t.Fatalf("splitBitrate(%d, %d) = %v", tc.total, tc.n, got)
		}
		for i := range got {
			if got[i] != tc.want[i] {
				t.Fatalf("splitBitrate(%d, %d) = %v, want %v", tc.total, tc.n, got, tc.want)
			}
		}
	}
}

func TestBitrateControl(t *testing.T) {
	t0 := time.Unix(1000, 0)
	for _, tc := range []struct {
		name  string
		feed  func(b *bitrateControl)
		check func(got int) bool
		want  string
	}{
		{"heavy loss cuts", func(b *bitrateControl) { b.onLoss(64, t0) }, func(g int) bool { return g == 875 }, "875 (1000 × (1 − 0.5 × 25 %))"},
		{"moderate loss holds", func(b *bitrateControl) { b.onLoss(10, t0) }, func(g int) bool { return g == 1000 }, "1000"},
		{"no loss grows once a second", func(b *bitrateControl) {
			b.onLoss(0, t0)
			b.onLoss(0, t0.Add(100*time.Millisecond))
		}, func(g int) bool { return g == 1051 }, "1051"},
		{"growth stops at max", func(b *bitrateControl) {
			for i := range 50 {
				b.onLoss(0, t0.Add(time.Duration(i)*time.Second))
			}
		}, func(g int) bool { return g == 1500 }, "1500"},
		{"REMB caps", func(b *bitrateControl) { b.onREMB(300_000) }, func(g int) bool { return g == 300 }, "300"},
		{"REMB below min floors", func(b *bitrateControl) { b.onREMB(10_000) }, func(g int) bool { return g == 100 }, "100"},
		{"loss floors at min", func(b *bitrateControl) {
			for range 40 {
				b.onLoss(255, t0)
			}
		}, func(g int) bool { return g == 100 }, "100"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := newBitrateControl(1000, 100, 1500)
			tc.feed(b)
			if got := b.target(); !tc.check(got) {
				t.Fatalf("target %d, want %s", got, tc.want)
			}
		})
	}
}

func TestAudioLevel(t *testing.T) {
	full := make([]int16, 960)
	for i := range full {
		full[i] = 32767
	}
	quiet := make([]int16, 960)
	for i := range quiet {
		quiet[i] = 328 // -40 dBov
	}
	for _, tc := range []struct {
		name string
		pcm  []int16
		want int
	}{
		{"silence", make([]int16, 960), 127},
		{"full scale", full, 0},
		{"-40 dBov", quiet, 39},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := audioLevel(tc.pcm); got != tc.want {
				t.Fatalf("audioLevel = %d, want %d", got, tc.want)
			}
		})
	}
}
