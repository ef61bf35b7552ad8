package pairing

import (
	"bytes"
	"crypto/rand"
	"strings"
	"testing"
)

func TestNewCode(t *testing.T) {
	var seen [codeDigits][10]int
	codes := map[Code]bool{}
	for range 2000 {
		c, err := NewCode(rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		if len(c) != codeDigits || !allDigits(string(c)) {
			t.Fatalf("code %q is not 12 digits", c)
		}
		if isTrivial(string(c)) {
			t.Fatalf("trivial code %q", c)
		}
		if p, err := ParseCode(c.String()); err != nil || p != c {
			t.Fatalf("ParseCode(%q) = %q, %v", c.String(), p, err)
		}
		codes[c] = true
		for i := range c {
			seen[i][c[i]-'0']++
		}
	}
	if len(codes) < 1999 {
		t.Errorf("only %d distinct codes out of 2000", len(codes))
	}
	// 2000 draws put ~200 on each digit per position; a stuck or biased position shows up.
	for pos, counts := range seen {
		for d, n := range counts {
			if n < 120 || n > 280 {
				t.Errorf("position %d digit %d drawn %d times of 2000", pos, d, n)
			}
		}
	}
}

func TestNewCodeRedrawsTrivial(t *testing.T) {
	chunk := func(digits string) []byte { // one 16-byte read; the first 12 bytes become digits
		b := make([]byte, 16)
		for i := range digits {
			b[i] = digits[i] - '0'
		}
		return b
	}
	tests := []struct {
		name    string
		source  []byte
		want    Code
		wantErr bool
	}{
		{name: "first draw good", source: chunk("482190375562"), want: "482190375562"},
		{name: "all same redrawn", source: append(chunk("000000000000"), chunk("482190375562")...), want: "482190375562"},
		{name: "run redrawn", source: append(chunk("012345678901"), chunk("730512964801")...), want: "730512964801"},
		{name: "biased bytes skipped", source: append([]byte{250, 251, 255}, chunk("4821903755620")...), want: "482190375562"},
		{name: "only trivial", source: make([]byte, 16*100), wantErr: true},
		{name: "short source", source: []byte{1, 2, 3}, wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := NewCode(bytes.NewReader(tc.source))
			if tc.wantErr {
				if err == nil {
					t.Fatalf("NewCode = %q, want error", c)
				}
				return
			}
			if err != nil || c != tc.want {
				t.Fatalf("NewCode = %q, %v; want %q", c, err, tc.want)
			}
		})
	}
}

func TestIsTrivial(t *testing.T) {
	tests := []struct {
		code    string
		trivial bool
	}{
		{"000000000000", true},
		{"999999999999", true},
		{"012345678901", true},
		{"987654321098", true},
		{"123456789012", true},
		{"555512345678", true}, // secret part ascending
		{"482198765432", true}, // secret part descending
		{"482100000000", true}, // secret part all same
		{"482112121212", true}, // secret part period 2
		{"482112341234", true}, // secret part period 4
		{"123412341234", true},
		{"482190375562", false},
		{"000012345679", false},
		{"111122223333", false},
	}
	for _, tc := range tests {
		t.Run(tc.code, func(t *testing.T) {
			if got := isTrivial(tc.code); got != tc.trivial {
				t.Errorf("isTrivial(%q) = %v, want %v", tc.code, got, tc.trivial)
			}
		})
	}
}

func TestParseCode(t *testing.T) {
	tests := []struct {
		in      string
		want    Code
		errPart string
	}{
		{in: "1234 5678-9012", want: "123456789012"},
		{in: "482190375562", want: "482190375562"},
		{in: " 4821-9037-5562 ", want: "482190375562"},
		{in: "4821 9037 556", errPart: "11 digits, want 12"},
		{in: "4821 9037 55621", errPart: "13 digits, want 12"},
		{in: "4821 9037 556a", errPart: `'a' is not a digit`},
		{in: "4821_9037_5562", errPart: `'_' is not a digit`},
		{in: "٤٨٢١٩٠٣٧٥٥٦٢", errPart: "is not a digit"},
		{in: "", errPart: "empty"},
		{in: " - ", errPart: "empty"},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			got, err := ParseCode(tc.in)
			if tc.errPart != "" {
				if err == nil || !strings.Contains(err.Error(), tc.errPart) {
					t.Fatalf("ParseCode(%q) = %q, %v; want error containing %q", tc.in, got, err, tc.errPart)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("ParseCode(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
			}
		})
	}
}

func TestCodeFormat(t *testing.T) {
	c := Code("482190375562")
	if c.String() != "4821 9037 5562" || c.Locator() != "4821" {
		t.Errorf("String %q Locator %q", c.String(), c.Locator())
	}
	if Code("12").Locator() != "" {
		t.Error("short code has a locator")
	}
}

func FuzzParseCode(f *testing.F) {
	for _, s := range []string{"1234 5678-9012", "482190375562", "", "abc", "4821 9037 556", "٤٨٢١", "1234--5678  9012"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		c, err := ParseCode(s)
		if err != nil {
			return
		}
		if len(c) != codeDigits || !allDigits(string(c)) {
			t.Fatalf("ParseCode(%q) = %q", s, c)
		}
		if again, err := ParseCode(c.String()); err != nil || again != c {
			t.Fatalf("String/ParseCode round trip: %q -> %q, %v", c, again, err)
		}
		if c.valid() != nil {
			t.Fatalf("parsed code %q not valid", c)
		}
	})
}
