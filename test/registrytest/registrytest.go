// Package registrytest runs the portal's real component registry (services/portal/components
// over real SQLite) with its public join listener and its mutual-TLS internal listener on
// loopback, for tests of the components that join it: the component runtime, the manager, the
// proxy.
package registrytest

import (
	"context"
	"crypto/x509"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stoa-rooms/stoa/provisioning/ca"
	"github.com/stoa-rooms/stoa/services/api"
	"github.com/stoa-rooms/stoa/services/certs"
	"github.com/stoa-rooms/stoa/services/httpserver"
	"github.com/stoa-rooms/stoa/services/portal/components"
	"github.com/stoa-rooms/stoa/services/portal/store"
)

// Registry is a running portal-side component registry.
type Registry struct {
	Svc   *components.Service
	Store *store.SQLite
	URL   string         // the public listener (https://localhost:port), where components join
	Roots *x509.CertPool // trusts the public listener's self-signed certificate
}

// Start serves a registry until the test ends. setup, when not nil, completes the Service
// before it serves.
func Start(t testing.TB, setup func(*components.Service)) *Registry {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	dir := t.TempDir()
	st, err := store.OpenSQLite(ctx, filepath.Join(dir, "portal.db"))
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	icA, err := ca.LoadOrCreate(filepath.Join(dir, "ca"), "test internal CA", time.Now())
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	log := slog.New(slog.DiscardHandler)
	svc := &components.Service{Store: st, CA: icA, Log: log, HeartbeatInterval: time.Second}
	if setup != nil {
		setup(svc)
	}
	pub, in := listen(t), listen(t)
	svc.InternalURL = "https://" + net.JoinHostPort("localhost", port(in))
	self, _, _, err := certs.SelfSigned("localhost", time.Now())
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	ph := &certs.Holder{}
	ph.Set(&self)
	icert, err := svc.PortalInternalCert("localhost")
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	ih := &certs.Holder{}
	ih.Set(&icert)
	mux := http.NewServeMux()
	mux.HandleFunc("POST /api/v1/components/join", svc.HandleJoin)
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); _ = httpserver.Serve(ctx, log, pub, mux, certs.ServerConfig(ph)) }()
	go func() {
		defer wg.Done()
		_ = httpserver.Serve(ctx, log, in, svc.InternalHandler(), svc.InternalTLSConfig(ih))
	}()
	t.Cleanup(func() { cancel(); wg.Wait(); st.Close() })
	roots := x509.NewCertPool()
	roots.AddCert(self.Leaf)
	return &Registry{Svc: svc, Store: st, URL: "https://" + net.JoinHostPort("localhost", port(pub)), Roots: roots}
}

// Token mints a one-time join token for a component of kind at fqdn.
func (r *Registry) Token(t testing.TB, kind, fqdn string) string {
	t.Helper()
	tok, err := r.Svc.CreateToken(context.Background(), "test", api.JoinTokenRequest{Kind: kind, FQDN: fqdn})
	if err != nil {
		t.Fatal(err)
	}
	return tok.Token
}

func listen(t testing.TB) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return ln
}

func port(ln net.Listener) string {
	_, p, _ := net.SplitHostPort(ln.Addr().String())
	return p
}
