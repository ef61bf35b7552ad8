package proxy

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"time"

	"github.com/stoa-rooms/stoa/services/api"
)

// HeartbeatInterval is how often the proxy reports to the manager.
const HeartbeatInterval = time.Second

// Limits on the manager's answer.
const (
	maxAnswerBytes = 64 << 10
	maxRouterAddrs = 1024
	minSecretLen   = 16
)

// Heartbeat reports the proxy's TURN URLs to the manager and installs what the answer carries:
// the TURN REST secret and the routers' addresses for the relay policy.
type Heartbeat struct {
	Server     *Server
	ProxyID    string
	ManagerURL func() string // "" while the portal knows no manager
	Client     *http.Client  // mutual TLS with the internal CA
	Interval   time.Duration // 0: HeartbeatInterval
	Log        *slog.Logger
}

// Run beats until ctx is cancelled. Failures are logged when the state changes, not every
// second; the secret and routers last received stay in force meanwhile.
func (h *Heartbeat) Run(ctx context.Context) {
	iv := h.Interval
	if iv <= 0 {
		iv = HeartbeatInterval
	}
	log := h.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	t := time.NewTicker(iv)
	defer t.Stop()
	var lastErr string
	for {
		err := h.Beat(ctx)
		switch {
		case ctx.Err() != nil:
			return
		case err != nil && err.Error() != lastErr:
			log.Warn("manager heartbeat failed", "err", err)
			lastErr = err.Error()
		case err == nil && lastErr != "":
			log.Info("manager heartbeat recovered")
			lastErr = ""
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Beat sends one heartbeat and applies the answer.
func (h *Heartbeat) Beat(ctx context.Context) error {
	base := h.ManagerURL()
	if base == "" {
		return errors.New("manager heartbeat: no manager known to the portal yet")
	}
	body, _ := json.Marshal(api.ProxyHeartbeat{ProxyID: h.ProxyID, URLs: h.Server.URLs()})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+"/api/v1/manager/proxies/heartbeat", bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("manager heartbeat: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	res, err := h.Client.Do(req)
	if err != nil {
		return fmt.Errorf("manager heartbeat: %w", err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(io.LimitReader(res.Body, maxAnswerBytes+1))
	if err != nil {
		return fmt.Errorf("manager heartbeat: read answer: %w", err)
	}
	if res.StatusCode != http.StatusOK {
		var ae api.Error
		if json.Unmarshal(b, &ae) == nil && ae.Code != "" {
			return fmt.Errorf("manager heartbeat refused (%s): %s", ae.Code, ae.Message)
		}
		return fmt.Errorf("manager heartbeat: HTTP %d", res.StatusCode)
	}
	secret, routers, err := ParseHeartbeatAnswer(b)
	if err != nil {
		return err
	}
	h.Server.SetSecret(secret)
	h.Server.Policy().SetRouters(routers)
	return nil
}

// ParseHeartbeatAnswer decodes the manager's answer: a secret of at least 16 bytes and router
// addresses given as IP literals, with or without a port. Names are refused rather than
// resolved: the proxy makes no DNS queries for addresses others claim. Unknown fields are
// tolerated so a newer manager can add some.
func ParseHeartbeatAnswer(b []byte) (secret []byte, routers []netip.Addr, err error) {
	if len(b) > maxAnswerBytes {
		return nil, nil, fmt.Errorf("manager heartbeat: answer larger than %d bytes", maxAnswerBytes)
	}
	var resp api.ProxyHeartbeatResponse
	if err := json.Unmarshal(b, &resp); err != nil {
		return nil, nil, fmt.Errorf("manager heartbeat: answer: %w", err)
	}
	if len(resp.Secret) < minSecretLen {
		return nil, nil, fmt.Errorf("manager heartbeat: secret of %d bytes, want at least %d", len(resp.Secret), minSecretLen)
	}
	if len(resp.RouterAddrs) > maxRouterAddrs {
		return nil, nil, fmt.Errorf("manager heartbeat: %d router addresses, want at most %d", len(resp.RouterAddrs), maxRouterAddrs)
	}
	for _, s := range resp.RouterAddrs {
		host := s
		if h, _, err := net.SplitHostPort(s); err == nil {
			host = h
		}
		a, err := netip.ParseAddr(host)
		if err != nil || a.Zone() != "" {
			return nil, nil, fmt.Errorf("manager heartbeat: router address %q is not an IP address", s)
		}
		routers = append(routers, a.Unmap())
	}
	return resp.Secret, routers, nil
}
