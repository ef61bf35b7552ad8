package panel

import "testing"

func FuzzDecodePairRequest(f *testing.F) {
	for _, s := range []string{`{"pin":"123456","name":"Table"}`, `{"pin":"12345"}`, `{"pin":"123456","x":1}`,
		`{"pin":"123456"} {}`, `{"pin":"abcdef"}`, `{"pin":"123456","name":"\u0000\u0007"}`, ``, `null`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := DecodePairRequest(data)
		if err != nil {
			return
		}
		if !validPIN(r.PIN) || r.Name == "" || len([]rune(r.Name)) > MaxNameLen {
			t.Fatalf("accepted %+v from %q", r, data)
		}
	})
}

func FuzzDecodeFile(f *testing.F) {
	f.Add([]byte(`{"panels":[{"id":"a","name":"x","paired_at":"2026-01-01T00:00:00Z","last_seen":"2026-01-01T00:00:00Z","token_sha256":"` +
		"0000000000000000000000000000000000000000000000000000000000000000" + `"}]}`))
	f.Add([]byte(`{"panels":[]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		fl, err := DecodeFile(data)
		if err != nil {
			return
		}
		for _, p := range fl.Panels {
			if p.ID == "" || len(p.Hash) != 64 {
				t.Fatalf("accepted %+v", p)
			}
		}
	})
}
