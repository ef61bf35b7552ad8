package image

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
)

// crossTools are what a board of another architecture than the host's needs on top of the
// host tools: qemu-user through binfmt_misc runs the arm64 maintainer scripts inside
// mmdebstrap (and the image's binaries in tests), the cross compiler builds roomd with cgo.
var crossTools = map[string][]struct{ cmd, pkg string }{
	"arm64": {
		{"qemu-aarch64-static", "qemu-user-static"},
		{"arch-test", "arch-test"},
		{"aarch64-linux-gnu-gcc", "gcc-aarch64-linux-gnu"},
	},
}

// crossTriplets are the GNU triplets of the Debian architectures the tool cross-builds for.
var crossTriplets = map[string]string{"arm64": "aarch64-linux-gnu"}

// foreign says whether b's binaries need emulation and a cross compiler on this host.
func (b Board) foreign() bool { return b.Arch != runtime.GOARCH }

// checkCross names what a foreign-architecture build lacks: tools, binfmt_misc registration,
// the arm64 codec archives roomd links statically.
func checkCross(b Board) error {
	if !b.foreign() {
		return nil
	}
	var missing []string
	for _, t := range crossTools[b.Arch] {
		if _, err := exec.LookPath(t.cmd); err != nil {
			missing = append(missing, fmt.Sprintf("%s (Debian package %s)", t.cmd, t.pkg))
		}
	}
	trip := crossTriplets[b.Arch]
	for _, lib := range []struct{ file, pkg string }{
		{"libvpx.a", "libvpx-dev"}, {"libopus.a", "libopus-dev"}, {"libspeexdsp.a", "libspeexdsp-dev"}, {"libx264.a", "libx264-dev"},
	} {
		if _, err := os.Stat(filepath.Join("/usr/lib", trip, lib.file)); err != nil {
			missing = append(missing, fmt.Sprintf("%s (Debian package %s:%s)", lib.file, lib.pkg, b.Arch))
		}
	}
	qemu := strings.TrimSuffix(b.QEMU, "-static")
	if st, err := os.ReadFile("/proc/sys/fs/binfmt_misc/" + qemu); err != nil || !strings.HasPrefix(string(st), "enabled") {
		missing = append(missing, fmt.Sprintf("binfmt_misc entry %s (update-binfmts --enable %s)", qemu, qemu))
	}
	if len(missing) > 0 {
		return fmt.Errorf("board %s (%s) needs %s; `make deps` installs and enables them", b.Name, b.Arch, strings.Join(missing, ", "))
	}
	return nil
}

// crossEnv is the cgo environment for building roomd for b on this host: the cross compiler,
// and kernel UAPI headers new enough for go4vl. The cross toolchain's own linux headers
// (linux-libc-dev-<arch>-cross) are bookworm's 6.1; the host's linux-libc-dev (6.12 from
// bookworm-backports, architecture all) carries every architecture's asm headers, so a
// directory of links to them goes first on the include path. It lives in the cache dir, not
// the build's work dir, so Go's build cache (keyed by CGO_CFLAGS) is reused between builds.
func crossEnv(c Config, b Board) ([]string, error) {
	if !b.foreign() {
		return nil, nil
	}
	trip := crossTriplets[b.Arch]
	env := []string{"CC=" + trip + "-gcc", "PKG_CONFIG_PATH=/usr/lib/" + trip + "/pkgconfig"}
	asm := filepath.Join("/usr/include", trip, "asm")
	if _, err := os.Stat(filepath.Join(asm, "unistd.h")); err != nil {
		return env, nil // no multiarch UAPI headers: the cross toolchain's own must do
	}
	inc := filepath.Join(c.CacheDir, "include-"+b.Arch)
	if err := os.MkdirAll(inc, 0o755); err != nil {
		return nil, fmt.Errorf("cross headers: %w", err)
	}
	for name, target := range map[string]string{"linux": "/usr/include/linux", "asm": asm, "asm-generic": "/usr/include/asm-generic"} {
		p := filepath.Join(inc, name)
		if cur, err := os.Readlink(p); err == nil && cur == target {
			continue
		}
		os.Remove(p)
		if err := os.Symlink(target, p); err != nil {
			return nil, fmt.Errorf("cross headers: %w", err)
		}
	}
	return append(env, "CGO_CFLAGS=-O2 -g -I"+inc), nil
}
