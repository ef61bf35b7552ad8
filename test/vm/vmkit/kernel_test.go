package vmkit

import (
	"strings"
	"testing"
)

func TestParseABI(t *testing.T) {
	tests := []struct {
		in, flavour, want string
		ok                bool
	}{
		{"linux-image-amd64\n  Depends: linux-image-6.1.0-56-amd64\n", "amd64", "6.1.0-56", true},
		{"linux-image-arm64\n  Depends: linux-image-6.12.48+deb13-arm64\n", "arm64", "6.12.48+deb13", true},
		{"linux-image-amd64\n  Depends: linux-image-6.1.0-56-cloud-amd64\n", "amd64", "", false},
		{"", "amd64", "", false},
	}
	for _, tc := range tests {
		got, err := parseABI(tc.in, tc.flavour)
		if got != tc.want || (err == nil) != tc.ok {
			t.Errorf("parseABI(%q) = %q, %v; want %q (ok %v)", tc.in, got, err, tc.want, tc.ok)
		}
	}
}

func FuzzParseLddABI(f *testing.F) {
	f.Add("\tlibc.so.6 => /lib/libc.so.6 (0x1)\n", "Depends: linux-image-6.1.0-56-amd64")
	f.Add("=> not found", "")
	f.Fuzz(func(t *testing.T, ldd, apt string) {
		libs, err := parseLdd(ldd)
		for _, l := range libs {
			if err != nil || !strings.HasPrefix(l, "/") {
				t.Fatalf("library %q (err %v) is not an absolute path", l, err)
			}
		}
		if abi, err := parseABI(apt, "amd64"); err == nil && !strings.Contains(apt, abi) {
			t.Fatalf("ABI %q not in input", abi)
		}
	})
}
