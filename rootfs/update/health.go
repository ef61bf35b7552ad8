package update

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os/exec"
	"strings"
	"time"
)

// Health is what stoa-healthy.service waits for before boot-complete.target: roomd READY
// (its Type=notify unit is active) and, when the room is paired, the management channel up.
type Health struct {
	Socket string // roomd's local API: /data/roomd/roomd.sock
	// Active says whether roomd's unit is active (default: systemctl is-active roomd.service).
	Active func(ctx context.Context) (bool, error)
	Poll   time.Duration
}

// roomdStatus is the part of roomd's GET /v1/status the check reads.
type roomdStatus struct {
	State  string `json:"state"`
	Online bool   `json:"online"`
}

// ParseRoomdStatus decodes roomd's status answer (the fields the check needs).
func ParseRoomdStatus(b []byte) (state string, online bool, err error) {
	var s roomdStatus
	if err := json.Unmarshal(b, &s); err != nil {
		return "", false, fmt.Errorf("roomd status: %w", err)
	}
	if s.State == "" {
		return "", false, fmt.Errorf("roomd status: no state")
	}
	return s.State, s.Online, nil
}

func systemdActive(ctx context.Context) (bool, error) {
	out, _ := exec.CommandContext(ctx, "systemctl", "is-active", "roomd.service").Output()
	return strings.TrimSpace(string(out)) == "active", nil
}

// Check answers once: nil when healthy, else an error saying what is missing.
func (h Health) Check(ctx context.Context) error {
	active := h.Active
	if active == nil {
		active = systemdActive
	}
	ok, err := active(ctx)
	if err != nil {
		return fmt.Errorf("roomd unit: %w", err)
	}
	if !ok {
		return fmt.Errorf("roomd has not sent READY")
	}
	c := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "unix", h.Socket)
	}}}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://roomd/v1/status", nil)
	if err != nil {
		return err
	}
	resp, err := c.Do(req)
	if err != nil {
		return fmt.Errorf("roomd local API: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return fmt.Errorf("roomd local API: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("roomd local API: status %d", resp.StatusCode)
	}
	state, online, err := ParseRoomdStatus(body)
	if err != nil {
		return err
	}
	if state == "paired" && !online {
		return fmt.Errorf("paired but the management channel is down")
	}
	return nil
}

// Wait polls Check until it passes or ctx ends; the error names what was missing last.
func (h Health) Wait(ctx context.Context) error {
	poll := h.Poll
	if poll == 0 {
		poll = 2 * time.Second
	}
	t := time.NewTicker(poll)
	defer t.Stop()
	var last error
	for {
		err := h.Check(ctx)
		if err == nil {
			return nil
		}
		// A check cut short by the deadline says less than the one before it.
		if last == nil || ctx.Err() == nil {
			last = err
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("room not healthy: %w", last)
		case <-t.C:
		}
	}
}
