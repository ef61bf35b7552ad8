//go:build hw

package smoke

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// waitFor polls cond until it returns nil or the deadline passes (device nodes appear
// asynchronously after a module's probe).
func waitFor(t *testing.T, d time.Duration, cond func() error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	for {
		err := cond()
		if err == nil {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatal(err)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

func readTrim(p string) (string, error) {
	b, err := os.ReadFile(p)
	return strings.TrimSpace(string(b)), err
}

func TestDevices(t *testing.T) {
	if os.Getenv("STOA_HW") != "1" {
		t.Fatal("STOA_HW=1 not set: these tests belong in test/vm's QEMU guest")
	}
	tests := []struct {
		name string
		// glob of the device node(s) and a sysfs file whose content must contain want
		glob, sysfs, want string
	}{
		{"vivid camera", "/dev/video*", "/sys/class/video4linux/video0/name", "vivid"},
		{"snd-aloop capture", "/dev/snd/pcmC*D*c", "/proc/asound/cards", "Loopback"},
		{"snd-aloop playback", "/dev/snd/pcmC*D*p", "/proc/asound/cards", "Loopback"},
		{"i2c-stub bus", "/dev/i2c-*", "/sys/bus/i2c/devices/i2c-0/name", "SMBus stub driver"},
		{"uinput", "/dev/uinput", "/sys/module/uinput/initstate", "live"},
		{"bochs DRM", "/dev/dri/card*", "/sys/class/drm/card0/device/driver/module/initstate", "live"},
		{"fbdev on DRM", "/dev/fb0", "/sys/class/graphics/fb0/name", "bochs"},
		{"cec core", "/dev/cec*", "/sys/module/cec/initstate", "live"},
		{"gpio-sim module", "/sys/kernel/config/gpio-sim", "/sys/module/gpio_sim/initstate", "live"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			waitFor(t, 5*time.Second, func() error {
				m, _ := filepath.Glob(tc.glob)
				if len(m) == 0 {
					return fmt.Errorf("no %s", tc.glob)
				}
				s, err := readTrim(tc.sysfs)
				if err != nil {
					return err
				}
				if !strings.Contains(s, tc.want) {
					return fmt.Errorf("%s = %q, want it to contain %q", tc.sysfs, s, tc.want)
				}
				return nil
			})
		})
	}
}

// TestGPIOSimChip creates a simulated chip through configfs, the way board/linux's GPIO tests
// do, and checks its character device appears and goes away again.
func TestGPIOSimChip(t *testing.T) {
	dev := "/sys/kernel/config/gpio-sim/smoke"
	bank := filepath.Join(dev, "bank0")
	for _, d := range []string{dev, bank} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatalf("create %s: %v", d, err)
		}
	}
	t.Cleanup(func() {
		_ = os.WriteFile(filepath.Join(dev, "live"), []byte("0"), 0o644)
		_ = os.Remove(bank)
		_ = os.Remove(dev)
	})
	write := func(p, v string) {
		t.Helper()
		if err := os.WriteFile(p, []byte(v), 0o644); err != nil {
			t.Fatalf("write %q to %s: %v", v, p, err)
		}
	}
	write(filepath.Join(bank, "num_lines"), "8")
	write(filepath.Join(bank, "label"), "smoke")
	write(filepath.Join(dev, "live"), "1")
	chip, err := readTrim(filepath.Join(bank, "chip_name"))
	if err != nil || !strings.HasPrefix(chip, "gpiochip") {
		t.Fatalf("chip_name = %q, %v; want gpiochipN", chip, err)
	}
	waitFor(t, 5*time.Second, func() error {
		_, err := os.Stat("/dev/" + chip)
		return err
	})
	lines, _ := filepath.Glob("/sys/devices/platform/gpio-sim.*/" + chip + "/sim_gpio*")
	if len(lines) != 8 {
		t.Fatalf("%s has %d simulated lines in sysfs, want 8", chip, len(lines))
	}
	write(filepath.Join(dev, "live"), "0")
	waitFor(t, 5*time.Second, func() error {
		if _, err := os.Stat("/dev/" + chip); err == nil {
			return fmt.Errorf("/dev/%s still there after live=0", chip)
		}
		return nil
	})
}
