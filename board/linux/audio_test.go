package linux

import (
	"os"
	"path/filepath"
	"testing"
)

func TestRing(t *testing.T) {
	r := newRing(3)
	for _, v := range []int16{1, 2, 3} {
		r.push(v)
	}
	r.discard(1) // drop the oldest, as the capture callback does on overflow
	r.push(4)
	var got []int16
	for {
		v, ok := r.pop()
		if !ok {
			break
		}
		got = append(got, v)
	}
	if len(got) != 3 || got[0] != 2 || got[1] != 3 || got[2] != 4 {
		t.Errorf("ring gave %v, want [2 3 4]", got)
	}
}

func TestALSACardPresent(t *testing.T) {
	asound := t.TempDir()
	for _, p := range []string{"Loopback", "card0", "card1"} {
		if err := os.Mkdir(filepath.Join(asound, p), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name string
		ok   bool
	}{
		{"hw:Loopback,1,0", true},
		{"plughw:CARD=Loopback,DEV=0", true},
		{"hw:1,0", true},
		{"plughw:CARD=Device,DEV=0", false},
		{"hw:2", false},
		{"default", true},
		{"dmix:CARD=../../etc", true}, // not a card name we can check: left to ALSA
		{"", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if err := alsaCardPresent(tc.name, asound); (err == nil) != tc.ok {
				t.Errorf("alsaCardPresent(%q) = %v, want ok %v", tc.name, err, tc.ok)
			}
		})
	}
}
