package media

import (
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestStaticCodecsLink builds a small program using every codec with and without the
// static_codecs tag and reads its dynamic dependencies with ldd: the appliance build must need
// no codec shared library (only glibc), the default build links them through pkg-config. Then
// it runs the static one.
func TestStaticCodecsLink(t *testing.T) {
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("find the go command to build with: %v", err)
	}
	ldd, err := exec.LookPath("ldd")
	if err != nil {
		t.Fatalf("find ldd: %v", err)
	}
	codecLibs := []string{"libvpx", "libopus", "libspeexdsp", "libx264"}
	tests := []struct {
		name       string
		tags       string
		wantShared bool
	}{
		{"shared (default)", "", true},
		{"static_codecs", "static_codecs", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			bin := filepath.Join(t.TempDir(), "codeccheck")
			cmd := exec.Command(gobin, "build", "-tags", tc.tags, "-o", bin, "./internal/codeccheck")
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("go build -tags %q: %v\n%s", tc.tags, err, out)
			}
			out, err := exec.Command(ldd, bin).CombinedOutput()
			if err != nil {
				t.Fatalf("ldd: %v\n%s", err, out)
			}
			for _, lib := range codecLibs {
				if got := strings.Contains(string(out), lib); got != tc.wantShared {
					t.Errorf("%s linked dynamically: %v, want %v\n%s", lib, got, tc.wantShared, out)
				}
			}
			if run, err := exec.Command(bin).CombinedOutput(); err != nil || !strings.Contains(string(run), "codeccheck: ok") {
				t.Fatalf("run: %v\n%s", err, run)
			}
		})
	}
}
