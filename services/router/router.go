// Package router is the router role: the SFU (selective forwarding unit). It runs as a portal
// component (joins with a one-time token, serves HTTPS with its internal certificate, talks
// mutual TLS to the portal), serves the signaling WebSocket at /rtc and reports its load to
// the manager every second.
package router

import (
	"context"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/stoa-rooms/stoa/services/component"
	"github.com/stoa-rooms/stoa/services/httpserver"
)

// Run serves the router until ctx is cancelled.
func Run(ctx context.Context, cfg component.Config, ln net.Listener, log *slog.Logger) error {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	cfg.Kind = "router"
	var sfu *SFU
	ready := cfg.Ready
	cfg.Ready = func(rt *component.Runtime) {
		sfu = New(Options{ID: rt.ID(), TokenKey: rt.TokenKey, Now: cfg.Now, Log: log.With("role", "router")})
		hb := &heartbeater{sfu: sfu, selfURL: rt.URL, manager: rt.ManagerURL, client: rt.HTTPClient(3 * time.Second), interval: HeartbeatInterval, log: log}
		go hb.loop(ctx)
		if ready != nil {
			ready(rt)
		}
	}
	routes := func(mux *http.ServeMux) {
		if sfu == nil {
			return
		}
		mux.Handle("GET /rtc", sfu.Handler())
		mux.Handle("GET /api/v1/router/stats", component.RequireComponentClient(sfu.StatsHandler()))
	}
	defer func() {
		if sfu != nil {
			sfu.Close()
		}
	}()
	return component.Run(ctx, cfg, ln, routes, httpserver.NewRegistry(), log)
}
