// Package router is the router role. It runs as a portal component: it joins with a one-time token,
// serves HTTPS with the certificate the portal's internal CA issued for its FQDN, and talks
// mutual TLS to the portal from then on.
package router

import (
	"context"
	"log/slog"
	"net"

	"github.com/stoa-rooms/stoa/services/component"
	"github.com/stoa-rooms/stoa/services/httpserver"
)

// Run serves the router until ctx is cancelled.
func Run(ctx context.Context, cfg component.Config, ln net.Listener, log *slog.Logger) error {
	cfg.Kind = "router"
	return component.Run(ctx, cfg, ln, nil, httpserver.NewRegistry(), log)
}
