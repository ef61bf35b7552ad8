// Package component is the runtime shared by the manager, router and proxy roles: it joins the
// portal with a one-time token, keeps the certificate the portal's internal CA issued for its
// FQDN, serves HTTPS with it (ops endpoints, the role's API, a small system console), and sends
// heartbeats to the portal over mutual TLS, installing reissued certificates without a restart.
package component

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"slices"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/stoa-rooms/stoa/services/certs"
	"github.com/stoa-rooms/stoa/services/httpserver"
)

// DefaultHeartbeatInterval is used when Config.HeartbeatInterval is zero.
const DefaultHeartbeatInterval = 10 * time.Second

// Config is what a component needs to run.
type Config struct {
	Kind, FQDN, PortalURL, JoinToken string
	// PortalRoots verify the portal's public HTTPS at join; nil means the system roots.
	PortalRoots *x509.CertPool
	// DataDir keeps the identity and console account, e.g. <data>/manager.
	DataDir           string
	Version           string
	HeartbeatInterval time.Duration
	Now               func() time.Time
	// Ready, when set, is called once with the component's Runtime after its identity is
	// loaded and before it serves, so the role can reach its ID, peers and mTLS clients.
	// It must not block.
	Ready func(rt *Runtime)
}

// runtime is one running component.
type runtime struct {
	cfg    Config
	log    *slog.Logger
	served *certs.Holder // what the HTTPS listener serves
	addr   string        // advertised host:port

	mu    sync.Mutex // guards st, last and peers
	st    *state
	last  beatResult
	peers peers
	pwSum *[32]byte // SHA-256 of the last console password that verified (see console.go)
}

// beatResult is the outcome of the last heartbeat, shown on the console.
type beatResult struct {
	At  time.Time
	Err string
}

// Run joins the portal if needed and serves the component on ln until ctx is cancelled.
// routes adds the role's API to the mux (nil: none); reg is the role's metrics registry.
func Run(ctx context.Context, cfg Config, ln net.Listener, routes func(mux *http.ServeMux), reg *prometheus.Registry, log *slog.Logger) error {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.HeartbeatInterval <= 0 {
		cfg.HeartbeatInterval = DefaultHeartbeatInterval
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if !slices.Contains([]string{"manager", "router", "proxy"}, cfg.Kind) {
		return fmt.Errorf("component: kind %q is not one of manager, router, proxy", cfg.Kind)
	}
	if cfg.DataDir == "" {
		return errors.New("component: data directory is not configured")
	}
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return fmt.Errorf("component: create data dir: %w", err)
	}
	rt := &runtime{cfg: cfg, log: log, served: &certs.Holder{}, addr: advertisedAddress(cfg.FQDN, ln)}
	var st *state
	if Joined(cfg.DataDir) {
		var err error
		if st, err = loadState(cfg.DataDir); err != nil {
			return fmt.Errorf("component: %w", err)
		}
	} else {
		var err error
		if st, err = join(ctx, cfg, rt.addr, rt.portalClient()); err != nil {
			return fmt.Errorf("component: %w", err)
		}
		log.Info("joined the portal", "id", st.id.ID, "kind", st.id.Kind, "fqdn", st.id.FQDN, "portal", cfg.PortalURL)
	}
	if st.id.Kind != cfg.Kind {
		return fmt.Errorf("component: data dir %s belongs to a %s, not a %s", cfg.DataDir, st.id.Kind, cfg.Kind)
	}
	if cfg.FQDN != "" && cfg.FQDN != st.id.FQDN {
		log.Warn("configured FQDN differs from the one the portal assigned; the portal's wins", "configured", cfg.FQDN, "assigned", st.id.FQDN)
	}
	rt.addr = advertisedAddress(st.id.FQDN, ln)
	if err := ensureConsoleAccount(cfg.DataDir); err != nil {
		return fmt.Errorf("component: %w", err)
	}
	rt.install(st)
	if cfg.Ready != nil {
		cfg.Ready(&Runtime{rt: rt})
	}

	mux := http.NewServeMux()
	httpserver.Ops(mux, reg, nil)
	rt.consoleRoutes(mux)
	if routes != nil {
		routes(mux)
	}
	tlsConf := certs.ServerConfig(rt.served)
	// Other components present their internal certificate; browsers reaching the console
	// present none. RequireComponentClient guards the component-to-component routes.
	tlsConf.ClientAuth = tls.VerifyClientCertIfGiven
	tlsConf.ClientCAs = st.roots
	rt.restrictTLS(tlsConf)

	go rt.heartbeatLoop(ctx)
	log.Info("component serving", "kind", cfg.Kind, "addr", ln.Addr(), "fqdn", st.id.FQDN, "id", st.id.ID)
	return httpserver.Serve(ctx, log, ln, httpserver.HSTS(mux), tlsConf)
}

// install makes st current and serves its uploaded chain if it still covers the FQDN, else its
// internal certificate.
func (rt *runtime) install(st *state) {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	rt.st = st
	if st.served != nil && st.served.Leaf.VerifyHostname(st.id.FQDN) == nil {
		rt.served.Set(st.served)
		return
	}
	cert := st.cert
	rt.served.Set(&cert)
}

func (rt *runtime) state() *state {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	return rt.st
}

// portalClient talks to the portal's public HTTPS for the join.
func (rt *runtime) portalClient() *http.Client {
	tc := certs.ClientConfig()
	tc.RootCAs = rt.cfg.PortalRoots
	return &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{TLSClientConfig: tc, ForceAttemptHTTP2: true}}
}

// RequireComponentClient guards component-to-component API routes: the request must carry a
// client certificate that verified against the internal CA in the handshake and names a
// component or the portal. Anything else (browsers, room devices) gets 403.
func RequireComponentClient(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.TLS == nil || len(r.TLS.VerifiedChains) == 0 || !(isComponent(r.TLS.VerifiedChains[0][0]) || IsPortal(r)) {
			http.Error(w, "forbidden: a component certificate from the portal's internal CA is required", http.StatusForbidden)
			return
		}
		next.ServeHTTP(w, r)
	})
}
