package main

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"sync"

	"github.com/stoa-rooms/stoa/services/api"
	"github.com/stoa-rooms/stoa/services/component"
	"github.com/stoa-rooms/stoa/services/config"
	"github.com/stoa-rooms/stoa/services/manager"
	"github.com/stoa-rooms/stoa/services/portal"
	"github.com/stoa-rooms/stoa/services/proxy"
	"github.com/stoa-rooms/stoa/services/router"
)

// Version is set by the linker (-X main.Version=...).
var Version = "dev"

// Addresses is written to <data-dir>/addresses.json once every listener is bound, so scripts
// and tests can use port 0 and still find the services.
type Addresses struct {
	PortalURL      string `json:"portal_url,omitempty"`
	PortalHTTPS    string `json:"portal_https,omitempty"`
	PortalHTTP     string `json:"portal_http,omitempty"`
	PortalInternal string `json:"portal_internal,omitempty"`
	Manager        string `json:"manager,omitempty"`
	Router         string `json:"router,omitempty"`
	Proxy          string `json:"proxy,omitempty"`
}

// componentRunner is the signature shared by the manager, router and proxy roles.
type componentRunner func(ctx context.Context, cfg component.Config, ln net.Listener, log *slog.Logger) error

func run(ctx context.Context, cfg config.Config, stdout io.Writer) error {
	log := newLogger(cfg.LogLevel)
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return fmt.Errorf("create data dir: %w", err)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	var (
		wg       sync.WaitGroup
		errOnce  sync.Once
		firstErr error
	)
	start := func(name string, f func() error) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := f(); err != nil && !errors.Is(err, context.Canceled) {
				errOnce.Do(func() { firstErr = fmt.Errorf("%s: %w", name, err) })
				cancel() // one role failing stops the process: a supervisor restarts it whole
			}
		}()
	}

	var addrs Addresses
	var p *portal.Server
	if cfg.Role == "portal" || cfg.Role == "all" {
		var err error
		p, err = portal.New(ctx, portal.Options{Config: cfg.Portal, DataDir: filepath.Join(cfg.DataDir, "portal"),
			CredentialsPath: filepath.Join(cfg.DataDir, "superadmin-credentials.txt"), Version: Version, Log: log.With("role", "portal")})
		if err != nil {
			return fmt.Errorf("start portal: %w", err)
		}
		defer p.Close()
		lns, err := portal.Listen(cfg.Portal)
		if err != nil {
			return err
		}
		addrs.PortalURL = p.URL(lns)
		addrs.PortalHTTPS = lns.HTTPS.Addr().String()
		addrs.PortalInternal = lns.Internal.Addr().String()
		if lns.HTTP != nil {
			addrs.PortalHTTP = lns.HTTP.Addr().String()
		}
		start("portal", func() error { return p.Run(ctx, lns) })
		fmt.Fprintf(stdout, "Stoa portal:  %s\n", addrs.PortalURL)
		if pw := p.BootstrapPassword(); pw != "" {
			fmt.Fprintf(stdout, "First start: super admin \"admin\" created, password %s\n", pw)
		}
		fmt.Fprintf(stdout, "Super admin credentials: %s (mode 0600)\n", p.CredentialsPath())
	}

	licenceKey, err := manager.ParseLicenceKey(cfg.Manager.LicenceKey)
	if err != nil {
		return fmt.Errorf("configure manager: %w", err)
	}
	runManager := func(ctx context.Context, cc component.Config, ln net.Listener, log *slog.Logger) error {
		return manager.RunLicensed(ctx, cc, licenceKey, ln, log)
	}
	pc := cfg.Proxy
	runProxy := func(ctx context.Context, cc component.Config, ln net.Listener, log *slog.Logger) error {
		return proxy.RunWith(ctx, cc, proxy.Options{TURN: proxy.TURNConfig{UDPAddr: pc.TURNUDPAddr, TCPAddr: pc.TURNTCPAddr,
			TLSAddr: pc.TURNTLSAddr, RelayIP: pc.RelayIP, MaxAllocationsPerUser: pc.MaxAllocationsPerUser, AnnounceHost: pc.TURNHost}}, ln, log)
	}
	rc := cfg.Router
	runRouter := func(ctx context.Context, cc component.Config, ln net.Listener, log *slog.Logger) error {
		return router.RunWith(ctx, cc, router.RunOptions{ICE: router.ICEOptions{Interfaces: rc.ICEInterfaces, PublicIPs: rc.PublicIPs,
			UDPPortMin: uint16(rc.UDPPortMin), UDPPortMax: uint16(rc.UDPPortMax), UDPMuxPort: uint16(rc.UDPMuxPort)}}, ln, log) // ports validated 0..65535
	}
	roles := []struct {
		name string
		cfg  config.Component
		run  componentRunner
		addr *string
	}{
		{"manager", cfg.Manager, runManager, &addrs.Manager},
		{"router", cfg.Router.Component, runRouter, &addrs.Router},
		{"proxy", cfg.Proxy.Component, runProxy, &addrs.Proxy},
	}
	for _, r := range roles {
		if cfg.Role != r.name && cfg.Role != "all" {
			continue
		}
		ccfg, err := componentConfig(ctx, cfg, r.name, r.cfg, p, addrs.PortalURL)
		if err != nil {
			return fmt.Errorf("configure %s: %w", r.name, err)
		}
		ln, err := net.Listen("tcp", r.cfg.Addr)
		if err != nil {
			return fmt.Errorf("listen %s on %s: %w", r.name, r.cfg.Addr, err)
		}
		*r.addr = ln.Addr().String()
		rl := log.With("role", r.name)
		run := r.run
		start(r.name, func() error { return run(ctx, ccfg, ln, rl) })
		fmt.Fprintf(stdout, "Stoa %-8s https://%s/ (system console)\n", r.name+":", ln.Addr())
	}
	if err := writeAddresses(filepath.Join(cfg.DataDir, "addresses.json"), addrs); err != nil {
		cancel()
		wg.Wait()
		return err
	}
	log.Info("stoa-server started", "role", cfg.Role, "version", Version, "data_dir", cfg.DataDir)
	wg.Wait()
	log.Info("stoa-server stopped")
	return firstErr
}

// componentConfig turns a component's configuration into the runtime's. In role "all" the
// component joins the portal in this same process: the portal mints a join token for it and the
// component joins over the portal's real HTTPS listener, exactly as a remote one would.
func componentConfig(ctx context.Context, cfg config.Config, kind string, c config.Component, p *portal.Server, portalURL string) (component.Config, error) {
	cc := component.Config{
		Kind: kind, FQDN: c.FQDN, PortalURL: c.PortalURL, JoinToken: c.JoinToken,
		DataDir: filepath.Join(cfg.DataDir, kind), Version: Version,
	}
	if p != nil { // role all
		cc.PortalURL = portalURL
		cc.PortalRoots = p.ServingRoots()
		if !component.Joined(cc.DataDir) {
			tok, err := p.Components().CreateToken(ctx, "system", api.JoinTokenRequest{Kind: kind, FQDN: c.FQDN})
			if err != nil {
				return cc, err
			}
			cc.JoinToken = tok.Token
		}
		return cc, nil
	}
	if c.PortalCA != "" {
		b, err := os.ReadFile(c.PortalCA)
		if err != nil {
			return cc, fmt.Errorf("read portal CA: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(b) {
			return cc, fmt.Errorf("portal CA %s holds no PEM certificate", c.PortalCA)
		}
		cc.PortalRoots = pool
	}
	return cc, nil
}

func writeAddresses(path string, a Addresses) error {
	b, err := json.MarshalIndent(a, "", "  ")
	if err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, append(b, '\n'), 0o600); err != nil {
		return fmt.Errorf("write addresses: %w", err)
	}
	return os.Rename(tmp, path)
}
