package board

import (
	"strings"
	"testing"
)

// TestBuiltInDefinitions: every board definition shipped parses strictly and validates.
func TestBuiltInDefinitions(t *testing.T) {
	names := Definitions()
	for _, want := range []string{"sim", "qemu-x86_64", "pc", "rpi4", "rpi5"} {
		t.Run(want, func(t *testing.T) {
			d, err := LoadDefinition(want)
			if err != nil {
				t.Fatalf("LoadDefinition(%q): %v (have %v)", want, err, names)
			}
			if d.Name != want {
				t.Fatalf("definition %q names itself %q", want, d.Name)
			}
		})
	}
}

func TestBadDefinitions(t *testing.T) {
	good := `{"name":"x","description":"","driver":"sim","media":{"video":"vp8","encoder":"software","simulcast":1,"send":{"width":640,"height":360,"fps":30}}}`
	if _, err := ParseDefinition([]byte(good)); err != nil {
		t.Fatalf("good definition refused: %v", err)
	}
	tests := []struct{ name, json, want string }{
		{"unknown field", strings.Replace(good, `"driver"`, `"drivr":1,"driver"`, 1), "unknown field"},
		{"driver", strings.Replace(good, `"sim"`, `"bsd"`, 1), "driver"},
		{"codec", strings.Replace(good, `"vp8"`, `"vp9"`, 1), "media.video"},
		{"odd size", strings.Replace(good, `640`, `641`, 1), "media.send"},
		{"gpio role", strings.Replace(good, `"media"`, `"gpio":{"fan":{"name":"X"}},"media"`, 1), "gpio.fan"},
		{"serial baud", strings.Replace(good, `"media"`, `"serial":{"visca":{"device":"/dev/ttyS1","baud":9601}},"media"`, 1), "baud"},
		{"i2c addr", strings.Replace(good, `"media"`, `"i2c":{"bus":"/dev/i2c-0","light":"veml7700","addr":200},"media"`, 1), "i2c.addr"},
		{"trailing", good + "{}", "trailing"},
		{"bad name", strings.Replace(good, `"x"`, `"X Y"`, 1), "name"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseDefinition([]byte(tc.json))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want one naming %q", err, tc.want)
			}
		})
	}
	if _, err := LoadDefinition("rpi9"); err == nil || !strings.Contains(err.Error(), "known: ") {
		t.Fatalf("unknown board: err = %v, want the known names", err)
	}
}

func FuzzParseDefinition(f *testing.F) {
	for _, n := range Definitions() {
		b, _ := defsFS.ReadFile("defs/" + n + ".json")
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		d, err := ParseDefinition(data)
		if err == nil {
			if verr := d.Validate(); verr != nil {
				t.Fatalf("parsed definition fails Validate: %v", verr)
			}
		}
	})
}
