// Package router is the router role: the SFU (selective forwarding unit). It runs as a portal
// component (joins with a one-time token, serves HTTPS with its internal certificate, talks
// mutual TLS to the portal), serves the signaling WebSocket at /rtc and reports its load to
// the manager every second.
package router

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/stoa-rooms/stoa/services/component"
	"github.com/stoa-rooms/stoa/services/httpserver"
)

// RunOptions configure the router role beyond its component settings.
type RunOptions struct {
	// ICE is where media candidates are gathered; the zero value is loopback only.
	ICE ICEOptions
}

// Run serves the router until ctx is cancelled, gathering ICE candidates on loopback only.
func Run(ctx context.Context, cfg component.Config, ln net.Listener, log *slog.Logger) error {
	return RunWith(ctx, cfg, RunOptions{}, ln, log)
}

// RunWith is Run with router options: the ICE network (and its UDP mux) is opened before the
// component starts, so a bad interface or a taken mux port fails the start, not a call.
func RunWith(ctx context.Context, cfg component.Config, o RunOptions, ln net.Listener, log *slog.Logger) error {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	iceNet, err := OpenICE(o.ICE)
	if err != nil {
		_ = ln.Close()
		return fmt.Errorf("start router: %w", err)
	}
	defer iceNet.Close()
	if len(o.ICE.Interfaces) > 0 || len(o.ICE.PublicIPs) > 0 || o.ICE.UDPMuxPort != 0 {
		log.Info("router ICE network", "interfaces", o.ICE.Interfaces, "public_ips", o.ICE.PublicIPs,
			"udp_port_min", o.ICE.UDPPortMin, "udp_port_max", o.ICE.UDPPortMax, "udp_mux", fmt.Sprint(iceNet.MuxAddrs()))
	}
	cfg.Kind = "router"
	var sfu *SFU
	var secured func() bool // the Secured option as the portal's heartbeat answers tell it
	ready := cfg.Ready
	cfg.Ready = func(rt *component.Runtime) {
		// Every meeting follows the system-wide Secured option, read at each join.
		sfu = New(Options{ID: rt.ID(), TokenKey: rt.TokenKey, Now: cfg.Now, Log: log.With("role", "router"), ICE: iceNet,
			Secured: func(string) bool { return rt.Secured() }})
		hb := &heartbeater{sfu: sfu, selfURL: rt.URL, manager: rt.ManagerURL, client: rt.HTTPClient(3 * time.Second), interval: HeartbeatInterval, log: log}
		go hb.loop(ctx)
		secured = rt.Secured
		go watchPolicy(ctx, sfu, secured, PolicyInterval, log)
		if ready != nil {
			ready(rt)
		}
	}
	routes := func(mux *http.ServeMux) {
		if sfu == nil {
			return
		}
		mux.Handle("GET /rtc", sfu.PolicyHandler(secured))
		mux.Handle("GET /api/v1/router/stats", component.RequireComponentClient(sfu.StatsHandler()))
	}
	defer func() {
		if sfu != nil {
			sfu.Close()
		}
	}()
	return component.Run(ctx, cfg, ln, routes, httpserver.NewRegistry(), log)
}
