package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stoa-rooms/stoa/board/sim"
	"github.com/stoa-rooms/stoa/firmware/roomd"
)

// TestRoomctl drives a real agent (no portal yet) through its local API socket.
func TestRoomctl(t *testing.T) {
	cfg := roomd.Defaults()
	cfg.DataDir, cfg.Discover = t.TempDir(), false
	cfg.Socket = filepath.Join(cfg.DataDir, "r.sock")
	a, err := roomd.NewAgent(roomd.Options{Config: cfg, Display: &sim.Display{}})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := roomd.ListenLocal(cfg.Socket)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{}, 2)
	go func() { _ = a.Run(ctx); done <- struct{}{} }()
	go func() { _ = roomd.ServeLocal(ctx, ln, a, slog.New(slog.DiscardHandler)); done <- struct{}{} }()
	t.Cleanup(func() { cancel(); <-done; <-done })

	tests := []struct {
		name    string
		args    []string
		wantOut string
		wantErr string
	}{
		{"status", []string{"status"}, "State:          unpaired", ""},
		{"status json", []string{"--json", "status"}, `"state": "unpaired"`, ""},
		{"pair without portal", []string{"pair"}, "", "give the portal"},
		{"pair http", []string{"pair", "--portal", "http://p.example"}, "", "not an https"},
		{"unpair unpaired", []string{"unpair"}, "", "not paired"},
		{"unknown command", []string{"reboot"}, "", `unknown command "reboot"`},
		{"no command", nil, "", "no command"},
		{"pair", []string{"pair", "--portal", "https://127.0.0.1:1", "--json"}, `"portal_url": "https://127.0.0.1:1"`, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var out bytes.Buffer
			err := run(append([]string{"--socket", cfg.Socket}, tc.args...), nil, &out, io.Discard)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want it to mention %q", err, tc.wantErr)
				}
				return
			}
			if err != nil || !strings.Contains(out.String(), tc.wantOut) {
				t.Fatalf("out %q, err %v; want %q", out.String(), err, tc.wantOut)
			}
			if strings.Contains(strings.Join(tc.args, " "), "--json") {
				var s roomd.Status
				if err := json.Unmarshal(out.Bytes(), &s); err != nil {
					t.Fatalf("--json output does not parse: %v", err)
				}
			}
		})
	}
}
