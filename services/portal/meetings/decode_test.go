package meetings

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestNormalizeID(t *testing.T) {
	for _, tc := range []struct{ in, want, err string }{
		{"1234567890", "1234567890", ""},
		{"123 456 7890", "1234567890", ""},
		{"123-456-7890", "1234567890", ""},
		{"123456789", "", "ten digits"},
		{"12345678901", "", "ten digits"},
		{"12345x7890", "", `contains 'x'`},
		{"١٢٣٤٥٦٧٨٩٠", "", "contains"},
		{strings.Repeat(" ", 40), "", "too long"},
	} {
		t.Run(tc.in, func(t *testing.T) {
			got, err := NormalizeID(tc.in)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err = %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("= %q, %v", got, err)
			}
			if FormatID(got) != "123 456 7890" {
				t.Fatalf("FormatID = %q", FormatID(got))
			}
		})
	}
}

func TestSameOrigin(t *testing.T) {
	for _, tc := range []struct {
		origin, public string
		want           bool
	}{
		{"https://portal.example", "https://portal.example", true},
		{"https://PORTAL.example", "https://portal.example", true},
		{"https://portal.example:443", "https://portal.example", true},
		{"https://portal.example", "https://portal.example:8443", false},
		{"http://portal.example", "https://portal.example", false},
		{"https://evil.example", "https://portal.example", false},
		{"https://portal.example.evil.example", "https://portal.example", false},
		{"null", "https://portal.example", false},
		{"https://portal.example/x", "https://portal.example", false},
	} {
		t.Run(tc.origin+" vs "+tc.public, func(t *testing.T) {
			if got := sameOrigin(tc.origin, tc.public); got != tc.want {
				t.Fatalf("sameOrigin = %v, want %v", got, tc.want)
			}
		})
	}
}

func FuzzDecodeNewMeeting(f *testing.F) {
	for _, s := range []string{`{"name":"Standup","pin":"1234"}`, `{"name":" x "}`, `{"name":"a","pin":"12ab"}`, `{}`, `[]`, `{"name":"a","x":1}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := DecodeNewMeeting(b)
		if err != nil {
			return
		}
		if m.Name == "" || m.Name != strings.TrimSpace(m.Name) || !utf8.ValidString(m.Name) || utf8.RuneCountInString(m.Name) > maxName {
			t.Fatalf("accepted name %q", m.Name)
		}
		if checkPIN(m.PIN) != nil {
			t.Fatalf("accepted PIN %q", m.PIN)
		}
	})
}

func FuzzDecodeJoin(f *testing.F) {
	for _, s := range []string{``, `{}`, `{"pin":"1234","name":"Bob"}`, `{"name":"\u0000"}`, `{"pin":1}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		j, err := DecodeJoin(b)
		if err != nil {
			return
		}
		if len(j.PIN) > maxPIN {
			t.Fatalf("accepted PIN of %d bytes", len(j.PIN))
		}
		if j.Name != "" {
			if _, err := cleanName("name", j.Name); err != nil {
				t.Fatalf("accepted name %q: %v", j.Name, err)
			}
		}
	})
}

func FuzzDecodeRoomMeeting(f *testing.F) {
	for _, s := range []string{`{"meeting_id":"123 456 7890"}`, `{"meeting_id":""}`, `{"meeting_id":"x"}`, `{}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := DecodeRoomMeeting(b)
		if err != nil {
			return
		}
		if m.MeetingID != "" && (len(m.MeetingID) != 10 || strings.Trim(m.MeetingID, "0123456789") != "") {
			t.Fatalf("accepted meeting ID %q", m.MeetingID)
		}
	})
}
