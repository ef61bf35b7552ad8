// Package proxy is the proxy role: a TURN relay (RFC 8656) for clients that cannot reach a
// router directly. It runs as a portal component (joins with a one-time token, serves HTTPS
// with the certificate the portal's internal CA issued for its FQDN, talks mutual TLS to the
// portal), serves TURN over UDP, TCP and TLS with TURN REST credentials, and reports to the
// manager every second, which answers with the shared secret and the routers' addresses.
package proxy

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"time"

	"github.com/stoa-rooms/stoa/services/component"
	"github.com/stoa-rooms/stoa/services/httpserver"
)

// DefaultTURNConfig is the configuration used by Run: everything on loopback.
func DefaultTURNConfig() TURNConfig {
	return TURNConfig{UDPAddr: "127.0.0.1:3478", TCPAddr: "127.0.0.1:3478", TLSAddr: "127.0.0.1:5349",
		RelayIP: "127.0.0.1", MaxAllocationsPerUser: DefaultMaxAllocationsPerUser}
}

// Options are the proxy's own settings beyond the component's.
type Options struct {
	TURN TURNConfig
	// Serving, when set, is called once the TURN server listens (tests learn its ports).
	Serving func(*Server)
}

// Run serves the proxy with DefaultTURNConfig until ctx is cancelled.
func Run(ctx context.Context, cfg component.Config, ln net.Listener, log *slog.Logger) error {
	return RunWith(ctx, cfg, Options{TURN: DefaultTURNConfig()}, ln, log)
}

// RunWith serves the proxy's component HTTPS on ln and TURN as o says until ctx is cancelled.
func RunWith(ctx context.Context, cfg component.Config, o Options, ln net.Listener, log *slog.Logger) error {
	tc := o.TURN
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	cfg.Kind = "proxy"
	reg := httpserver.NewRegistry()
	ready := make(chan *component.Runtime, 1)
	prev := cfg.Ready
	cfg.Ready = func(rt *component.Runtime) {
		if prev != nil {
			prev(rt)
		}
		ready <- rt
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- component.Run(ctx, cfg, ln, nil, reg, log) }()

	var rt *component.Runtime
	select {
	case rt = <-ready:
	case err := <-done:
		return err
	}
	if tc.Host == "" {
		tc.Host = rt.FQDN()
	}
	srv, err := NewServer(ServerOptions{TURN: tc, Registry: reg, Now: cfg.Now, Log: log.With("part", "turn"),
		GetCertificate: (&fileCert{dir: cfg.DataDir, fqdn: rt.FQDN}).GetCertificate})
	if err != nil {
		cancel()
		<-done
		return fmt.Errorf("proxy: %w", err)
	}
	defer srv.Close()
	log.Info("TURN serving", "urls", srv.URLs(), "relay_ip", tc.RelayIP, "max_allocations_per_user", srv.cfg.MaxAllocationsPerUser)
	hb := &Heartbeat{Server: srv, ProxyID: rt.ID(), ManagerURL: rt.ManagerURL, Client: rt.HTTPClient(5 * time.Second), Log: log}
	go hb.Run(ctx)
	if o.Serving != nil {
		o.Serving(srv)
	}
	return <-done
}
