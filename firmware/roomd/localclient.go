package roomd

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"

	"github.com/stoa-rooms/stoa/firmware/control"
)

// LocalClient talks to roomd's local API over its unix socket (roomctl, tests).
type LocalClient struct {
	Socket string
	HTTP   *http.Client
}

// NewLocalClient returns a client for the socket at path.
func NewLocalClient(path string) *LocalClient {
	tr := &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "unix", path)
	}}
	return &LocalClient{Socket: path, HTTP: &http.Client{Transport: tr, Timeout: 30 * time.Second}}
}

// Status returns GET /v1/status.
func (c *LocalClient) Status(ctx context.Context) (Status, error) {
	var s Status
	err := c.do(ctx, http.MethodGet, "/v1/status", nil, &s)
	return s, err
}

// Pair sends POST /v1/pair with the portal URL.
func (c *LocalClient) Pair(ctx context.Context, portalURL string) (Status, error) {
	var s Status
	err := c.do(ctx, http.MethodPost, "/v1/pair", PairRequest{PortalURL: portalURL}, &s)
	return s, err
}

// Unpair sends POST /v1/unpair.
func (c *LocalClient) Unpair(ctx context.Context) (Status, error) {
	var s Status
	err := c.do(ctx, http.MethodPost, "/v1/unpair", nil, &s)
	return s, err
}

// Command sends POST /v1/command. A refused command is a Reply with OK false, not an error.
func (c *LocalClient) Command(ctx context.Context, cmd control.Command) (control.Reply, error) {
	var r control.Reply
	err := c.do(ctx, http.MethodPost, "/v1/command", cmd, &r)
	if ce, ok := err.(*commandError); ok {
		return ce.r, nil
	}
	return r, err
}

// Events connects to GET /v1/events: the status first, then events and command replies.
func (c *LocalClient) Events(ctx context.Context) (*control.WSClient, error) {
	return control.DialWS(ctx, "ws://roomd/v1/events", &http.Client{Transport: c.HTTP.Transport})
}

// commandError carries a refused command's reply through do.
type commandError struct{ r control.Reply }

func (e *commandError) Error() string { return e.r.Error }

func (c *LocalClient) do(ctx context.Context, method, path string, body, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return fmt.Errorf("%s %s: %w", method, path, err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, "http://roomd"+path, rd)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.HTTP.Do(req)
	if err != nil {
		return fmt.Errorf("reach roomd at %s: %w", c.Socket, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return fmt.Errorf("%s %s: read answer: %w", method, path, err)
	}
	if resp.StatusCode == http.StatusBadRequest && path == "/v1/command" {
		var r control.Reply
		if json.Unmarshal(data, &r) == nil {
			return &commandError{r}
		}
	}
	if resp.StatusCode >= 300 {
		var e LocalError
		if json.Unmarshal(data, &e) == nil && e.Error != "" {
			return fmt.Errorf("roomd: %s", e.Error)
		}
		return fmt.Errorf("roomd: %s %s: status %d", method, path, resp.StatusCode)
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("%s %s: decode answer: %w", method, path, err)
	}
	return nil
}
