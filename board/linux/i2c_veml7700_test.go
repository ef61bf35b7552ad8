package linux

import (
	"math"
	"strings"
	"testing"

	"github.com/stoa-rooms/stoa/board"
)

func TestVEMLLux(t *testing.T) {
	tests := []struct {
		name    string
		conf    uint16
		raw     uint16
		want    float64
		wantErr string
	}{
		{"gain 1, 100 ms", 0x0000, 1000, 57.6, ""},
		{"gain 2, 800 ms (finest)", 1<<11 | 0b0011<<6, 1000, 3.6, ""},
		{"gain 1/8, 25 ms (coarsest)", 2<<11 | 0b1100<<6, 100, 184.32, ""},
		{"gain 1/4, 200 ms", 3<<11 | 0b0001<<6, 500, 57.6, ""},
		{"zero", 0x0000, 0, 0, ""},
		{"high lux corrected", 2<<11 | 0b1100<<6, 1000, 1843.2*(1.0023) + 8.1488e-5*1843.2*1843.2 - 9.3924e-9*math.Pow(1843.2, 3) + 6.0135e-13*math.Pow(1843.2, 4), ""},
		{"bad integration time", 0b0101 << 6, 10, 0, "integration time code 0x5"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := vemlLux(tt.conf, tt.raw)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || math.Abs(got-tt.want) > 1e-6*max(1, tt.want) {
				t.Fatalf("lux %v, %v; want %v", got, err, tt.want)
			}
		})
	}
}

func TestOpenLightSensorErrors(t *testing.T) {
	tests := []struct {
		name  string
		light string
		bus   string
		want  string
	}{
		{"unknown chip", "tsl2561", "/dev/i2c-0", `"tsl2561" is not a supported sensor`},
		{"missing bus", "veml7700", "/dev/i2c-nope", "/dev/i2c-nope"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := OpenLightSensor(boardI2C(tt.bus, tt.light))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want %q", err, tt.want)
			}
		})
	}
}

func boardI2C(bus, light string) board.I2CDef {
	return board.I2CDef{Bus: bus, Light: light, Addr: 0x10}
}
