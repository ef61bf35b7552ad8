package vmkit

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
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

func TestPruneStale(t *testing.T) {
	dir := t.TempDir()
	old := time.Now().Add(-2 * time.Hour)
	dirs := map[string]bool{ // name -> kept
		"6.1.0-55-amd64":      false, // replaced by 6.1.0-56
		"6.1.0-56-amd64":      true,  // current
		"6.1.0-55-arm64":      true,  // other flavour
		"6.12.48+deb13-amd64": true,  // other series (test/hil's trixie kernel)
		"6.10.0-1-amd64":      true,  // "6.1" is not a prefix of series 6.10
	}
	for n := range dirs {
		p := filepath.Join(dir, n)
		if err := os.Mkdir(p, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(p, old, old); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Mkdir(filepath.Join(dir, "6.1.0-54-amd64"), 0o755); err != nil { // fresh: maybe in use
		t.Fatal(err)
	}
	dirs["6.1.0-54-amd64"] = true
	pruneStale(KernelSpec{CacheDir: dir, Series: "6.1", Flavour: "amd64", Logf: t.Logf}, "6.1.0-56-amd64")
	for n, kept := range dirs {
		_, err := os.Stat(filepath.Join(dir, n))
		if (err == nil) != kept {
			t.Errorf("%s: exists %v, want %v", n, err == nil, kept)
		}
	}
}

func TestDebsFrom(t *testing.T) {
	src, dst := t.TempDir(), t.TempDir()
	for _, n := range []string{"linux-kbuild-6.12_6.12.48-1_amd64.deb", "linux-kbuild-6.1_6.1.192-3_amd64.deb"} {
		if err := os.WriteFile(filepath.Join(src, n), []byte(n), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	get := DebsFrom(src)
	if err := get(context.Background(), dst, "linux-kbuild-6.1"); err != nil {
		t.Fatal(err)
	}
	got, _ := filepath.Glob(filepath.Join(dst, "*.deb"))
	if len(got) != 1 || filepath.Base(got[0]) != "linux-kbuild-6.1_6.1.192-3_amd64.deb" {
		t.Errorf("copied %q, want only linux-kbuild-6.1's deb", got)
	}
	if err := get(context.Background(), dst, "linux-source-6.12"); err == nil || !strings.Contains(err.Error(), "linux-source-6.12") {
		t.Errorf("missing package: err = %v, want one naming it", err)
	}
}
