package image

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// TestRPiBoards: both Pi boards boot through the Pi firmware, share one arm64 base (the second
// board builds from the first one's cache) and differ from the amd64 bases.
func TestRPiBoards(t *testing.T) {
	if _, err := exec.LookPath("mmdebstrap"); err != nil {
		t.Fatalf("mmdebstrap (make deps): %v", err)
	}
	ctx := context.Background()
	keys := map[string]string{}
	for _, name := range []string{"rpi4", "rpi5", "qemu-x86_64"} {
		b, err := LookupBoard(name)
		if err != nil {
			t.Fatal(err)
		}
		if keys[name], err = baseKey(ctx, b, DefaultMirror); err != nil {
			t.Fatal(err)
		}
	}
	if keys["rpi4"] != keys["rpi5"] {
		t.Errorf("rpi4 and rpi5 bases differ (%s, %s): the second build would run mmdebstrap again", keys["rpi4"], keys["rpi5"])
	}
	if keys["rpi4"] == keys["qemu-x86_64"] {
		t.Error("rpi4 shares the amd64 base key")
	}
	for _, tc := range []struct {
		board, dtb, console string
		firmware            bool
	}{{"rpi4", "bcm2711-rpi-4-b.dtb", "ttyS1", true}, {"rpi5", "bcm2712-rpi-5-b.dtb", "ttyAMA10", false}} {
		t.Run(tc.board, func(t *testing.T) {
			b, _ := LookupBoard(tc.board)
			if b.Boot != BootRPi || b.Arch != "arm64" || !strings.Contains(strings.Join(b.DTBs, " "), tc.dtb) {
				t.Errorf("board %+v", b)
			}
			if (len(b.Firmware) > 0) != tc.firmware {
				t.Errorf("firmware files %v", b.Firmware)
			}
			if !strings.Contains(bootArgs(b), "console="+tc.console) {
				t.Errorf("kernel arguments %q lack console=%s", bootArgs(b), tc.console)
			}
			cfg := rpiConfig(b)
			if strings.Count(cfg, "\ninclude stoa-slot.txt\n") != 1 || !strings.Contains(cfg, "\narm_64bit=1\n") {
				t.Errorf("config.txt:\n%s", cfg)
			}
		})
	}
}

// TestCrossEnv: the arm64 cgo environment names the cross compiler and, when the host's
// multiarch UAPI headers are there, an include directory of links to them that stays put
// between builds (Go's build cache keys on CGO_CFLAGS).
func TestCrossEnv(t *testing.T) {
	b, _ := LookupBoard("rpi4")
	c := Config{CacheDir: t.TempDir()}
	env, err := crossEnv(c, b)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(strings.Join(env, " "), "CC=aarch64-linux-gnu-gcc") {
		t.Errorf("env %v", env)
	}
	if _, err := os.Stat("/usr/include/aarch64-linux-gnu/asm/unistd.h"); err != nil {
		return // no multiarch headers on this host: nothing more to check
	}
	again, err := crossEnv(c, b)
	if err != nil || strings.Join(again, " ") != strings.Join(env, " ") {
		t.Errorf("second crossEnv %v, %v; want %v", again, err, env)
	}
	target, err := os.Readlink(filepath.Join(c.CacheDir, "include-arm64", "asm"))
	if err != nil || target != "/usr/include/aarch64-linux-gnu/asm" {
		t.Errorf("asm link %q, %v", target, err)
	}
	if q, _ := LookupBoard("qemu-x86_64"); q.foreign() {
		t.Error("amd64 board foreign on this host")
	}
}

// TestInstallSpeedups: the arm64 base defers update-initramfs while packages install (a stub
// in place of the diverted command) and builds the initramfs once at the end, after which
// the diversion, the stub and force-unsafe-io are gone again; the speed-ups are part of the
// base's cache key, so a base built without them is not reused.
func TestInstallSpeedups(t *testing.T) {
	for _, tc := range []struct {
		board string
		want  []string // substrings of the command line, in order
	}{
		{"rpi4", []string{
			"--dpkgopt=force-unsafe-io",
			"--essential-hook=chroot \"$1\" dpkg-divert --quiet --local --rename --divert /usr/sbin/update-initramfs.stoa-deferred --add /usr/sbin/update-initramfs",
			"exit 0",
			"--customize-hook=rm \"$1/usr/sbin/update-initramfs\"",
			"dpkg-divert --quiet --local --rename --remove /usr/sbin/update-initramfs",
			"chroot \"$1\" update-initramfs -c -k all",
			"sed -i '/^force-unsafe-io$/d' \"$1/etc/dpkg/dpkg.cfg.d/99mmdebstrap\"",
			" trixie /out.tar http://mirror.invalid/debian",
		}},
		// Native: the initramfs builds are short, and test/hil's cached amd64 base stays valid.
		{"qemu-x86_64", nil},
	} {
		t.Run(tc.board, func(t *testing.T) {
			b, err := LookupBoard(tc.board)
			if err != nil {
				t.Fatal(err)
			}
			if tc.want == nil {
				if s := b.installSpeedups(); len(s) > 0 || b.foreign() {
					t.Errorf("%s (foreign %v) gets speed-ups %q", tc.board, b.foreign(), s)
				}
				return
			}
			line := strings.Join(mmdebstrapArgs(b, "root", "http://mirror.invalid/debian", "/out.tar"), " ")
			rest := line
			for _, w := range tc.want {
				i := strings.Index(rest, w)
				if i < 0 {
					t.Fatalf("mmdebstrap command line lacks %q after the earlier parts:\n%s", w, line)
				}
				rest = rest[i+len(w):]
			}
			with, err := baseKey(context.Background(), b, DefaultMirror)
			if err != nil {
				t.Fatal(err)
			}
			plain := b
			plain.Arch = runtime.GOARCH // not foreign: no speed-ups, otherwise the same recipe
			withoutKey, err := baseKey(context.Background(), plain, DefaultMirror)
			if err != nil {
				t.Fatal(err)
			}
			if len(plain.installSpeedups()) > 0 {
				t.Fatalf("host-architecture board %s gets speed-ups: test premise broken", plain.Arch)
			}
			if with == withoutKey {
				t.Errorf("base key %s does not change with the install speed-ups", with)
			}
		})
	}
}
