package rooms

import (
	"testing"

	"github.com/stoa-rooms/stoa/services/portal/updates"
)

// FuzzDecodeStartUpdate: whatever an admin's client sends, an accepted request names a version
// that cannot leave the bundle folder (or "" to cancel).
func FuzzDecodeStartUpdate(f *testing.F) {
	for _, s := range []string{`{"version":"u2"}`, `{"version":""}`, `{"version":"../x"}`, `{"version":"u2","x":1}`, `{}{}`, `[]`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		req, err := DecodeStartUpdate(b)
		if err == nil && req.Version != "" && !updates.ValidName(req.Version) {
			t.Fatalf("accepted version %q", req.Version)
		}
	})
}

// FuzzParseUpdateKey: an accepted key is always an Ed25519 public key's size.
func FuzzParseUpdateKey(f *testing.F) {
	for _, s := range []string{"", "00", "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a", "11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo="} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if k, err := ParseUpdateKey(s); err == nil && len(k) != 32 {
			t.Fatalf("accepted a %d-byte key", len(k))
		}
	})
}
