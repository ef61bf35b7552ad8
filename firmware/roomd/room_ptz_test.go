package roomd

import (
	"encoding/json"
	"testing"
)

// FuzzDecodePresets: the presets file from the data directory decodes or is refused; what
// decodes has only preset numbers as keys and encodes back.
func FuzzDecodePresets(f *testing.F) {
	for _, s := range []string{`{"3":{"pan":1,"tilt":2,"zoom":3}}`, `{}`, `{"x":{}}`, `{"03":{}}`,
		`{"1":{"pan":1,"extra":2}}`, `[]`, `{"256":{}}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		ps, err := DecodePresets(data)
		if err != nil {
			return
		}
		again, err := json.Marshal(ps)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := DecodePresets(again); err != nil {
			t.Fatalf("re-decode %s: %v", again, err)
		}
	})
}
