//go:build hw

package linux

import (
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stoa-rooms/stoa/board"
)

// stubBus finds i2c-stub's adapter (loaded with chip_addr=0x10) and returns its /dev/i2c-N.
func stubBus(t *testing.T) string {
	t.Helper()
	names, _ := filepath.Glob("/sys/class/i2c-adapter/*/name")
	for _, n := range names {
		b, err := os.ReadFile(n)
		if err == nil && strings.TrimSpace(string(b)) == "SMBus stub driver" {
			dev := "/dev/" + filepath.Base(filepath.Dir(n))
			if _, err := os.Stat(dev); err != nil {
				t.Fatalf("i2c-stub adapter has no device node (i2c-dev loaded?): %v", err)
			}
			return dev
		}
	}
	t.Fatalf("no i2c-stub adapter among %v", names)
	return ""
}

// preload writes the sensor's registers with SMBus word writes, as the chip would hold them.
func preload(t *testing.T, dev string, regs map[byte]uint16) {
	t.Helper()
	bus, err := openI2CBus(dev)
	if err != nil {
		t.Fatal(err)
	}
	defer bus.Close()
	for r, v := range regs {
		if err := bus.Tx(0x10, []byte{r, byte(v), byte(v >> 8)}, nil); err != nil {
			t.Fatal(err)
		}
	}
}

func TestVEML7700OnI2CStub(t *testing.T) {
	dev := stubBus(t)
	tests := []struct {
		name     string
		conf     uint16
		raw      uint16
		want     float64
		wantConf uint16 // the config register after open
	}{
		{"gain 1, 100 ms", 0x0000, 1000, 57.6, 0x0000},
		{"gain 2, 800 ms", 1<<11 | 0b0011<<6, 1000, 3.6, 1<<11 | 0b0011<<6},
		{"gain 1/4, 200 ms", 3<<11 | 0b0001<<6, 500, 57.6, 3<<11 | 0b0001<<6},
		{"shut down: open powers it on", 0x0001, 2000, 115.2, 0x0000},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			preload(t, dev, map[byte]uint16{vemlConf: tt.conf, vemlALS: tt.raw})
			s, err := OpenLightSensor(board.I2CDef{Bus: dev, Light: "veml7700", Addr: 0x10})
			if err != nil {
				t.Fatal(err)
			}
			defer s.(interface{ Close() error }).Close()
			r, err := s.Read()
			if err != nil {
				t.Fatal(err)
			}
			if math.Abs(r.Lux-tt.want) > 1e-6*tt.want || r.Presence != nil || r.Time.IsZero() {
				t.Fatalf("reading %+v, want %v lux, no presence, a time", r, tt.want)
			}
			conf, err := s.(*veml7700).reg(vemlConf)
			if err != nil || conf != tt.wantConf {
				t.Fatalf("config register 0x%04x, %v; want 0x%04x", conf, err, tt.wantConf)
			}
		})
	}
	t.Run("shut down after open", func(t *testing.T) {
		preload(t, dev, map[byte]uint16{vemlConf: 0, vemlALS: 10})
		s, err := OpenLightSensor(board.I2CDef{Bus: dev, Light: "veml7700", Addr: 0x10})
		if err != nil {
			t.Fatal(err)
		}
		defer s.(interface{ Close() error }).Close()
		preload(t, dev, map[byte]uint16{vemlConf: 1})
		if _, err := s.Read(); err == nil || !strings.Contains(err.Error(), "shut down") {
			t.Fatalf("error %v, want shut down", err)
		}
	})
	t.Run("no chip at the address", func(t *testing.T) {
		_, err := OpenLightSensor(board.I2CDef{Bus: dev, Light: "veml7700", Addr: 0x11})
		if err == nil || !strings.Contains(err.Error(), "0x11") {
			t.Fatalf("error %v, want one naming address 0x11", err)
		}
	})
	t.Run("bus is SMBus", func(t *testing.T) {
		bus, err := openI2CBus(dev)
		if err != nil {
			t.Fatal(err)
		}
		defer bus.Close()
		if !strings.Contains(bus.String(), "SMBus") {
			t.Fatalf("bus %s, want the SMBus implementation for i2c-stub", bus)
		}
		// A transfer SMBus cannot express is refused with a clear error.
		if err := bus.Tx(0x10, []byte{1, 2, 3, 4}, nil); err == nil || !strings.Contains(err.Error(), "not an SMBus transaction") {
			t.Fatalf("error %v", err)
		}
	})
}
