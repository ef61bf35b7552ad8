package portal

import (
	"testing"

	"github.com/stoa-rooms/stoa/services/api"
)

// FuzzDecodeRoomCaps: whatever a room's poll holds, the capability recorder keeps only a
// bounded list of bounded, non-empty capabilities, and never panics.
func FuzzDecodeRoomCaps(f *testing.F) {
	for _, s := range []string{
		`{"firmware":"0.1.0","capabilities":["e2ee","panel"]}`,
		`{"firmware":"0.1.0"}`,
		`{"capabilities":[""]}`,
		`{"capabilities":"e2ee"}`,
		`[]`, `null`, `{`, ``,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		fw, caps, ok := decodeRoomCaps(b)
		if !ok {
			if fw != "" || caps != nil {
				t.Fatalf("refused poll still yields %q %v", fw, caps)
			}
			return
		}
		if len(caps) > api.MaxRoomCapabilities || len(fw) > 64 {
			t.Fatalf("unbounded: firmware %d bytes, %d capabilities", len(fw), len(caps))
		}
		for _, c := range caps {
			if c == "" || len(c) > api.MaxCapabilityLen {
				t.Fatalf("capability %q kept", c)
			}
		}
	})
}
