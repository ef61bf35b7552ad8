package main

import (
	"bytes"
	"errors"
	"flag"
	"strings"
	"testing"
)

// TestParse: flags land in the configuration, bad arguments are refused, and the --board
// help names every board the image tool builds (the Pi boards included).
func TestParse(t *testing.T) {
	for _, tc := range []struct {
		name    string
		args    []string
		board   string
		bundle  bool
		wantErr string
	}{
		{"default", nil, "qemu-x86_64", false, ""},
		{"rpi5 bundle", []string{"--board=rpi5", "--bundle"}, "rpi5", true, ""},
		{"extra argument", []string{"--board=pc", "extra"}, "", false, `unexpected argument "extra"`},
		{"unknown flag", []string{"--nope"}, "", false, "parse flags"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var stderr bytes.Buffer
			c, bundle, err := parse(tc.args, &stderr)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if c.Board != tc.board || bundle != tc.bundle {
				t.Errorf("board %q bundle %v, want %q %v", c.Board, bundle, tc.board, tc.bundle)
			}
		})
	}
	var help bytes.Buffer
	if _, _, err := parse([]string{"-h"}, &help); !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("-h: %v", err)
	}
	for _, b := range []string{"qemu-x86_64", "pc", "rpi4", "rpi5"} {
		if !strings.Contains(help.String(), b) {
			t.Errorf("--board help lacks %s:\n%s", b, help.String())
		}
	}
}
