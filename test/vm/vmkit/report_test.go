package vmkit

import (
	"reflect"
	"strings"
	"testing"
)

func TestParseReport(t *testing.T) {
	console := strings.Split(`[    0.000000] Linux version 6.1.0
STOA-VM BOOTED 1.93s
STOA-VM MODULE-FAIL bochs finit_module: no such device
STOA-VM MODULES 22 310ms
STOA-VM START smoke
=== RUN   TestDevices
--- PASS: TestDevices (0.00s)
STOA-VM SCREENDUMP quadrants
PASS
STOA-VM RESULT smoke ok 0 4.2s
STOA-VM START board_linux
=== RUN   TestCamera
panic: boom
STOA-VM RESULT other ok 0 1s
no newline at the endSTOA-VM RESULT board_linux FAIL 2 9.1s
STOA-VM DONE board_linux`, "\n")
	r := ParseReport(console)
	if r.Booted != "1.93s" || r.ModulesLoaded != 22 || r.ModulesTime != "310ms" || !r.Done {
		t.Fatalf("header fields: %+v", r)
	}
	if want := []string{"bochs finit_module: no such device"}; !reflect.DeepEqual(r.ModuleFailures, want) {
		t.Errorf("ModuleFailures = %q, want %q", r.ModuleFailures, want)
	}
	tests := []struct {
		name     string
		ok       bool
		code     int
		duration string
		output   []string
	}{
		{"smoke", true, 0, "4.2s", []string{"=== RUN   TestDevices", "--- PASS: TestDevices (0.00s)", "STOA-VM SCREENDUMP quadrants", "PASS"}},
		{"board_linux", false, 2, "9.1s", []string{"=== RUN   TestCamera", "panic: boom", "STOA-VM RESULT other ok 0 1s", "no newline at the end"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := r.Binary(tc.name)
			if b == nil {
				t.Fatalf("no run of %s", tc.name)
			}
			if !b.Finished || b.OK != tc.ok || b.Code != tc.code || b.Duration != tc.duration {
				t.Errorf("run = %+v", b)
			}
			if !reflect.DeepEqual(b.Output, tc.output) {
				t.Errorf("output = %q, want %q", b.Output, tc.output)
			}
		})
	}
}

func TestScreendumpRequest(t *testing.T) {
	tests := []struct {
		line, name string
		ok         bool
	}{
		{"STOA-VM SCREENDUMP quadrants", "quadrants", true},
		{"kernel noiseSTOA-VM SCREENDUMP quadrants\r", "quadrants", true},
		{"STOA-VM SCREENDUMP", "", false},
		{"STOA-VM SCREENDUMP a b", "", false},
		{"STOA-VM SCREENDUMPS x", "", false},
		{"hello", "", false},
	}
	for _, tc := range tests {
		t.Run(tc.line, func(t *testing.T) {
			name, ok := ScreendumpRequest(tc.line)
			if name != tc.name || ok != tc.ok {
				t.Errorf("ScreendumpRequest(%q) = %q, %v; want %q, %v", tc.line, name, ok, tc.name, tc.ok)
			}
		})
	}
}

func FuzzParseReport(f *testing.F) {
	f.Add("STOA-VM START a\nx\nSTOA-VM RESULT a ok 0 1s\nSTOA-VM DONE ")
	f.Add("STOA-VM RESULT\nSTOA-VM START\nSTOA-VM MODULES x y\nSTOA-VM SCREENDUMP q")
	f.Add("junkSTOA-VM RESULT a FAIL -1\n\x00\xff")
	f.Fuzz(func(t *testing.T, s string) {
		lines := strings.Split(s, "\n")
		r := ParseReport(lines)
		n := 0
		for _, b := range r.Binaries {
			n += len(b.Output)
			if b.OK && (!b.Finished || b.Code != 0) {
				t.Fatalf("ok without a zero exit code: %+v", b)
			}
		}
		if n > len(lines) {
			t.Fatalf("%d output lines from %d console lines", n, len(lines))
		}
		for _, l := range lines {
			ScreendumpRequest(l)
		}
	})
}
