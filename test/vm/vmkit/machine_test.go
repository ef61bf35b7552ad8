package vmkit

import (
	"context"
	"encoding/json"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestMachineQMP starts a real QEMU (no guest OS: SeaBIOS finds nothing to boot) and drives it
// over QMP: status, screendump as PNG, input events, an error reply, quit.
func TestMachineQMP(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	m, err := Start(ctx, MachineConfig{MemoryMB: 64, CPUs: 1, Args: []string{"-nic", "none", "-vga", "std"}})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	q, err := m.QMP(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	raw, err := q.Execute(ctx, "query-status", nil)
	var st struct{ Status string }
	if err != nil || json.Unmarshal(raw, &st) != nil || st.Status != "running" {
		t.Fatalf("query-status = %s, %v; want running", raw, err)
	}
	shot := filepath.Join(t.TempDir(), "screen.png")
	// The BIOS sets a display mode shortly after start; poll until the dump has a picture.
	for {
		if err := q.Screendump(ctx, shot); err == nil {
			if f, err := os.Open(shot); err == nil {
				img, derr := png.Decode(f)
				f.Close()
				if derr == nil && img.Bounds().Dx() > 0 {
					break
				}
			}
		}
		select {
		case <-ctx.Done():
			t.Fatalf("no screendump: %v", ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
	if err := q.InputSendEvent(ctx, "", Key("a", true), Key("a", false), Rel("x", 10), Rel("y", -5), Button("left", true), Button("left", false)); err != nil {
		t.Fatalf("input-send-event: %v", err)
	}
	_, err = q.Execute(ctx, "no-such-command", nil)
	if qe, ok := err.(*QMPError); !ok || qe.Class != "CommandNotFound" {
		t.Fatalf("unknown command: err = %v, want a CommandNotFound QMPError", err)
	}
	if err := q.Quit(ctx); err != nil && !strings.Contains(err.Error(), "EOF") {
		t.Fatalf("quit: %v", err)
	}
	if err := m.Wait(ctx); err != nil {
		t.Fatalf("wait after quit: %v", err)
	}
}

func TestConsole(t *testing.T) {
	c := NewConsole(strings.NewReader("boot\r\nSTOA-VM BOOTED 1s\r\nlast without newline"))
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	line, err := c.WaitFor(ctx, func(l string) bool { return strings.HasPrefix(l, MarkBooted) })
	if err != nil || line != "STOA-VM BOOTED 1s" {
		t.Fatalf("WaitFor = %q, %v", line, err)
	}
	<-c.Done()
	if got := strings.Join(c.Lines(), "|"); got != "boot|STOA-VM BOOTED 1s|last without newline" {
		t.Errorf("lines = %q", got)
	}
	if _, err := c.WaitFor(ctx, func(l string) bool { return l == "never" }); err == nil {
		t.Error("WaitFor after the stream ended found a line that never came")
	}
}
