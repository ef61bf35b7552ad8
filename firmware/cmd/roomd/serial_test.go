package main

import (
	"os"
	"path/filepath"
	"testing"
)

func TestDeviceSerial(t *testing.T) {
	tests := []struct {
		name     string
		dt       string // device-tree serial file content ("" = no file)
		idFile   string // existing device-id content ("" = none)
		wantDT   bool   // the device-tree serial is used
		wantKeep bool   // the existing device-id is kept
	}{
		{name: "device-tree serial", dt: "10000000abcdef12\x00", wantDT: true},
		{name: "zero device-tree serial falls back", dt: "0000000000000000\x00"},
		{name: "first start makes an ID"},
		{name: "later starts keep it", idFile: "0123456789abcdef0123456789abcdef\n", wantKeep: true},
		{name: "a damaged ID is replaced", idFile: "not an id"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			dt := filepath.Join(dir, "serial-number")
			if tc.dt != "" {
				if err := os.WriteFile(dt, []byte(tc.dt), 0o444); err != nil {
					t.Fatal(err)
				}
			}
			idPath := filepath.Join(dir, "device-id")
			if tc.idFile != "" {
				if err := os.WriteFile(idPath, []byte(tc.idFile), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			got, err := deviceSerial(dir, dt)
			if err != nil {
				t.Fatal(err)
			}
			switch {
			case tc.wantDT:
				if got != "10000000abcdef12" {
					t.Fatalf("serial %q, want the device tree's", got)
				}
				return
			case tc.wantKeep:
				if got != "0123456789abcdef0123456789abcdef" {
					t.Fatalf("serial %q, want the stored ID", got)
				}
			case !validDeviceID(got):
				t.Fatalf("serial %q is not a 128-bit hex ID", got)
			}
			again, err := deviceSerial(dir, dt)
			if err != nil || again != got {
				t.Fatalf("second start: %q, %v; want %q (the ID must persist)", again, err, got)
			}
			b, err := os.ReadFile(idPath)
			if err != nil || string(b) != got+"\n" {
				t.Fatalf("device-id file %q, %v", b, err)
			}
		})
	}
}
