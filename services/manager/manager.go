// Package manager is the manager role. It runs as a portal component: it joins with a one-time token,
// serves HTTPS with the certificate the portal's internal CA issued for its FQDN, and talks
// mutual TLS to the portal from then on.
//
// Its API (mutual TLS, component certificates only) keeps the licence's seats, the registry
// of routers and TURN proxies that heartbeat to it, and the placement of meetings on routers.
package manager

import (
	"context"
	"crypto/ed25519"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"time"

	"github.com/stoa-rooms/stoa/services/component"
	"github.com/stoa-rooms/stoa/services/httpserver"
)

// Run serves the manager until ctx is cancelled, with no licence key: the default licence
// applies (DefaultSeats, no options).
func Run(ctx context.Context, cfg component.Config, ln net.Listener, log *slog.Logger) error {
	return RunLicensed(ctx, cfg, nil, ln, log)
}

// RunLicensed serves the manager until ctx is cancelled. licenceKey (manager.licence_key)
// verifies <data dir>/licence.json; nil accepts no licence file.
func RunLicensed(ctx context.Context, cfg component.Config, licenceKey ed25519.PublicKey, ln net.Listener, log *slog.Logger) error {
	cfg.Kind = "manager"
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.DataDir == "" {
		return fmt.Errorf("manager: data directory is not configured")
	}
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return fmt.Errorf("manager: create data dir: %w", err)
	}
	secret, err := LoadOrCreateSecret(cfg.DataDir)
	if err != nil {
		return fmt.Errorf("manager: %w", err)
	}
	svc := New(Options{
		Licence: LoadLicence(filepath.Join(cfg.DataDir, LicenceFile), licenceKey, cfg.Now(), log),
		Secret:  secret,
		Now:     cfg.Now,
		Log:     log,
	})
	return component.Run(ctx, cfg, ln, svc.Routes, httpserver.NewRegistry(), log)
}
