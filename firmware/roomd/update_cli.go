package roomd

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"strings"

	"github.com/stoa-rooms/stoa/services/api"
)

// exitNotImage is stoa-update status's exit code off the appliance image.
const exitNotImage = 3

// CLIUpdater is the Updater of the appliance image: it runs the stoa-update CLI.
type CLIUpdater struct {
	Command string   // the stoa-update binary (Config.UpdateCommand)
	Args    []string // extra flags for every command (tests point it at a system in files)
	// RebootFunc reboots the room; default `systemctl reboot`.
	RebootFunc func(ctx context.Context) error
	Log        *slog.Logger
}

// System runs `stoa-update status --json`.
func (c *CLIUpdater) System(ctx context.Context) (*api.RoomSystem, string, error) {
	if c.Command == "" {
		return nil, "", fmt.Errorf("read system: no update command configured: %w", ErrNoSystem)
	}
	if _, err := os.Stat(c.Command); err != nil {
		return nil, "", fmt.Errorf("read system: %w: %w", ErrNoSystem, err)
	}
	var stderr tailBuffer
	cmd := exec.CommandContext(ctx, c.Command, c.args("status", "--json")...)
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if ee := (*exec.ExitError)(nil); errors.As(err, &ee) && ee.ExitCode() == exitNotImage {
		return nil, "", fmt.Errorf("read system: %s: %w", stderr.lastLine(), ErrNoSystem)
	}
	if err != nil {
		return nil, "", fmt.Errorf("read system: %s: %w", stderr.lastLine(), err)
	}
	return DecodeSystemStatus(out)
}

// Install pipes r into `stoa-update install -`; a failure carries the CLI's own message.
func (c *CLIUpdater) Install(ctx context.Context, r io.Reader) error {
	var out, stderr tailBuffer
	cmd := exec.CommandContext(ctx, c.Command, c.args("install", "-")...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = r, &out, &stderr
	err := cmd.Run()
	if c.Log != nil {
		c.Log.Info("stoa-update install", "output", strings.TrimSpace(out.String()), "err", err)
	}
	if err != nil {
		if msg := stderr.lastLine(); msg != "" {
			return errors.New(msg)
		}
		return fmt.Errorf("stoa-update install: %w", err)
	}
	return nil
}

// Reboot runs RebootFunc or `systemctl reboot`.
func (c *CLIUpdater) Reboot(ctx context.Context) error {
	if c.RebootFunc != nil {
		return c.RebootFunc(ctx)
	}
	if out, err := exec.CommandContext(ctx, "systemctl", "reboot").CombinedOutput(); err != nil {
		return fmt.Errorf("reboot: %w: %s", err, bytes.TrimSpace(out))
	}
	return nil
}

// args puts the extra flags after the command name and before its operands.
func (c *CLIUpdater) args(command string, rest ...string) []string {
	return append(append([]string{command}, c.Args...), rest...)
}

// tailBuffer keeps the last 4 KiB written: the CLI's messages, not a runaway stream.
type tailBuffer struct{ b []byte }

const tailMax = 4 << 10

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.b = append(t.b, p...)
	if len(t.b) > tailMax {
		t.b = append(t.b[:0], t.b[len(t.b)-tailMax:]...)
	}
	return len(p), nil
}

func (t *tailBuffer) String() string { return string(t.b) }

// lastLine is the last non-empty line without the CLI's "stoa-update: " prefix.
func (t *tailBuffer) lastLine() string {
	lines := strings.Split(strings.TrimSpace(string(t.b)), "\n")
	return strings.TrimPrefix(strings.TrimSpace(lines[len(lines)-1]), "stoa-update: ")
}
