package linux

import (
	"bytes"
	"testing"
)

// The CEC adapter test needs an adapter; vivid's CEC emulation is used in the VM (cec_hw_test.go).
// Here: the frames themselves, byte for byte as HDMI-CEC 1.4b defines them.
func TestCECFrames(t *testing.T) {
	tests := []struct {
		name string
		make func() ([]byte, error)
		want []byte
		bad  bool
	}{
		{"image view on from playback 1", func() ([]byte, error) { return cecImageViewOn(4) }, []byte{0x40, 0x04}, false},
		{"active source 1.0.0.0 broadcast", func() ([]byte, error) { return cecActiveSource(4, 0x1000) }, []byte{0x4f, 0x82, 0x10, 0x00}, false},
		{"active source 2.1.0.0 from playback 2", func() ([]byte, error) { return cecActiveSource(8, 0x2100) }, []byte{0x8f, 0x82, 0x21, 0x00}, false},
		{"standby to the TV", func() ([]byte, error) { return cecStandby(4) }, []byte{0x40, 0x36}, false},
		{"no physical address", func() ([]byte, error) { return cecActiveSource(4, 0xffff) }, nil, true},
		{"bad logical address", func() ([]byte, error) { return cecStandby(16) }, nil, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.make()
			if (err != nil) != tc.bad {
				t.Fatalf("err = %v, want error %v", err, tc.bad)
			}
			if !tc.bad && !bytes.Equal(got, tc.want) {
				t.Errorf("frame % x, want % x", got, tc.want)
			}
		})
	}
	if s := cecPhysString(0x1200); s != "1.2.0.0" {
		t.Errorf("phys 0x1200 = %s", s)
	}
}
