package media

import (
	"fmt"
	"math"
	"slices"
	"testing"
)

func TestMix(t *testing.T) {
	tests := []struct {
		name string
		dst  []int16
		srcs [][]int16
		want []int16
	}{
		{"adds", []int16{1, 2, 3}, [][]int16{{10, 20, 30}, {100, 200, 300}}, []int16{111, 222, 333}},
		{"saturates high", []int16{30000}, [][]int16{{30000}}, []int16{32767}},
		{"saturates low", []int16{-30000}, [][]int16{{-30000}}, []int16{-32768}},
		{"short source", []int16{1, 1, 1}, [][]int16{{5}}, []int16{6, 1, 1}},
		{"long source", []int16{1}, [][]int16{{5, 5, 5}}, []int16{6}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			Mix(tc.dst, tc.srcs...)
			if !slices.Equal(tc.dst, tc.want) {
				t.Fatalf("got %v, want %v", tc.dst, tc.want)
			}
		})
	}
}

func TestGain(t *testing.T) {
	tests := []struct {
		percent int
		in      []int16
		want    []int16
	}{
		{100, []int16{1000, -1000}, []int16{1000, -1000}},
		{50, []int16{1000, -1000}, []int16{500, -500}},
		{0, []int16{1000, -1000}, []int16{0, 0}},
		{-10, []int16{1000}, []int16{0}},
		{200, []int16{20000, -20000}, []int16{32767, -32768}},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprintf("%d%%", tc.percent), func(t *testing.T) {
			Gain(tc.in, tc.percent)
			if !slices.Equal(tc.in, tc.want) {
				t.Fatalf("Gain %d%%: got %v, want %v", tc.percent, tc.in, tc.want)
			}
		})
	}
}

func TestPowerDB(t *testing.T) {
	tests := []struct {
		name string
		pcm  []int16
		want float64
	}{
		{"full-scale sine", tone(48000, 48000, 1000, 1), -3.01},
		{"half-scale sine", tone(48000, 48000, 1000, 0.5), -9.03},
		{"silence", make([]int16, 100), -200},
		{"empty", nil, -200},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := PowerDB(tc.pcm); math.Abs(got-tc.want) > 0.05 {
				t.Fatalf("PowerDB = %.2f, want %.2f", got, tc.want)
			}
		})
	}
	if got := ERLE(tone(4800, 48000, 500, 0.5), tone(4800, 48000, 500, 0.05)); math.Abs(got-20) > 0.1 {
		t.Fatalf("ERLE of a 10x smaller residual = %.2f dB, want 20", got)
	}
}

func TestDominantFrequency(t *testing.T) {
	tests := []struct {
		freq float64
		rate int
		n    int
	}{
		{440, 48000, 48000},
		{1000, 48000, 9600},
		{97.5, 48000, 48000},
		{3150, 16000, 16000},
		{12345, 48000, 24000},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprintf("%gHz@%d", tc.freq, tc.rate), func(t *testing.T) {
			pcm := tone(tc.n, tc.rate, tc.freq, 0.3)
			Mix(pcm, tone(tc.n, tc.rate, tc.freq*1.7, 0.05)) // a weaker second partial
			if got := DominantFrequency(pcm, tc.rate); math.Abs(got-tc.freq) > 1 {
				t.Fatalf("%.1f Hz at %d Hz over %d samples: got %.2f", tc.freq, tc.rate, tc.n, got)
			}
		})
	}
	if got := DominantFrequency(make([]int16, 4800), 48000); got != 0 {
		t.Fatalf("silence: %v, want 0", got)
	}
}

func TestToneShare(t *testing.T) {
	const rate = 48000
	noise := make([]int16, 48000)
	seed := uint32(1)
	for i := range noise {
		seed = seed*1664525 + 1013904223
		noise[i] = int16(seed >> 18)
	}
	mixed := make([]int16, 48000)
	tn := tone(48000, rate, 440, 0.25)
	for i := range mixed {
		mixed[i] = tn[i]/2 + noise[i]/2
	}
	for _, tc := range []struct {
		name     string
		pcm      []int16
		min, max float64
	}{
		{"clean tone", tone(48000, rate, 440, 0.25), 0.95, 1},
		{"white noise", noise, 0, 0.01},
		{"tone in noise", mixed, 0.3, 1},
		{"other tone", tone(48000, rate, 1000, 0.25), 0, 0.01},
		{"silence", make([]int16, 4800), 0, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := ToneShare(tc.pcm, rate, 440, 20); got < tc.min || got > tc.max {
				t.Errorf("ToneShare = %.4f, want within [%v, %v]", got, tc.min, tc.max)
			}
		})
	}
}
