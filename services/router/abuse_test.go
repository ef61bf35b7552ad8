package router

import (
	"testing"
	"time"
)

func TestAbuseMeter(t *testing.T) {
	t0 := time.Unix(1_800_000_000, 0)
	tests := []struct {
		name string
		run  func(m *abuseMeter) bool // true once the meter says cut off
		want bool
	}{
		{"a backlog caught up in one burst is not a flood", func(m *abuseMeter) bool {
			cut := false
			for i := 0; i < 3*layerPacketRate; i++ { // three seconds of the cap's excess at one instant
				cut = cut || m.overRate(t0)
			}
			return cut
		}, false},
		{"twice the cap for the whole window is a flood", func(m *abuseMeter) bool {
			for ms := 0; ms < 6000; ms++ {
				for i := 0; i < layerPacketRate/1000; i++ {
					if m.overRate(t0.Add(time.Duration(ms) * time.Millisecond)) {
						return true
					}
				}
			}
			return false
		}, true},
		{"excess that pauses longer than the window starts over", func(m *abuseMeter) bool {
			cut := false
			for burst := 0; burst < 4; burst++ {
				at := t0.Add(time.Duration(burst) * (excessWindow + time.Second))
				for i := 0; i < excessLimit; i++ {
					cut = cut || m.overRate(at)
				}
			}
			return cut
		}, false},
		{"steady garbage is cut off within a second", func(m *abuseMeter) bool {
			for i := 0; i <= malformedLimit; i++ {
				if m.malformed(t0.Add(time.Duration(i) * time.Millisecond)) {
					return true
				}
			}
			return false
		}, true},
		{"an occasional malformed packet is tolerated", func(m *abuseMeter) bool {
			for i := 0; i < 10*malformedLimit; i++ {
				if m.malformed(t0.Add(time.Duration(i) * 20 * time.Millisecond)) {
					return true
				}
			}
			return false
		}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.run(&abuseMeter{}); got != tc.want {
				t.Errorf("cut off = %v, want %v", got, tc.want)
			}
		})
	}
}
