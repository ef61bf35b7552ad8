package proxy

import (
	"context"
	"crypto/x509"
	"errors"
	"log/slog"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stoa-rooms/stoa/services/api"
	"github.com/stoa-rooms/stoa/services/component"
	"github.com/stoa-rooms/stoa/services/manager"
	"github.com/stoa-rooms/stoa/services/portal/components"
	"github.com/stoa-rooms/stoa/test/registrytest"
)

// stack is a real portal component registry, a real manager and a real proxy, all on loopback.
type stack struct {
	svc        *components.Service
	portalURL  string
	portalRoot *x509.CertPool
}

func newStack(t *testing.T) *stack {
	t.Helper()
	r := registrytest.Start(t, nil)
	return &stack{svc: r.Svc, portalURL: r.URL, portalRoot: r.Roots}
}

func listenTCP(t *testing.T) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return ln
}

// componentConfig joins kind to the portal with a fresh token.
func (s *stack) componentConfig(t *testing.T, kind string) component.Config {
	t.Helper()
	tok, err := s.svc.CreateToken(context.Background(), "test", api.JoinTokenRequest{Kind: kind, FQDN: "localhost"})
	if err != nil {
		t.Fatal(err)
	}
	return component.Config{Kind: kind, FQDN: "localhost", PortalURL: s.portalURL, PortalRoots: s.portalRoot, JoinToken: tok.Token,
		DataDir: filepath.Join(t.TempDir(), kind), HeartbeatInterval: 100 * time.Millisecond}
}

// run starts f and stops it at cleanup, failing the test if it ended with an error.
func run(t *testing.T, name string, f func(ctx context.Context) error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- f(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil && !errors.Is(err, context.Canceled) {
			t.Errorf("%s: %v", name, err)
		}
	})
}

// The proxy joins the portal, learns the manager from the portal's heartbeat answer, gets the
// TURN secret from the manager's heartbeat answer, and then accepts credentials the manager
// mints, over TLS with the certificate the portal's internal CA issued for it.
func TestProxyWithRealPortalAndManager(t *testing.T) {
	s := newStack(t)
	mcfg := s.componentConfig(t, "manager")
	mln := listenTCP(t)
	run(t, "manager", func(ctx context.Context) error { return manager.Run(ctx, mcfg, mln, slog.New(slog.DiscardHandler)) })

	pcfg := s.componentConfig(t, "proxy")
	pln := listenTCP(t)
	serving := make(chan *Server, 1)
	opts := Options{TURN: TURNConfig{UDPAddr: "127.0.0.1:0", TCPAddr: "127.0.0.1:0", TLSAddr: "127.0.0.1:0", RelayIP: "127.0.0.1"},
		Serving: func(srv *Server) { serving <- srv }}
	run(t, "proxy", func(ctx context.Context) error { return RunWith(ctx, pcfg, opts, pln, discard()) })
	var srv *Server
	select {
	case srv = <-serving:
	case <-time.After(15 * time.Second):
		t.Fatal("proxy did not start serving TURN")
	}
	if u := srv.URLs(); len(u) != 3 || !strings.HasPrefix(u[2], "turns:localhost:") {
		t.Errorf("URLs %q", u)
	}

	var secret []byte
	deadline := time.Now().Add(10 * time.Second)
	for secret == nil {
		// The manager creates its secret file before it joins; read it only after.
		if !component.Joined(mcfg.DataDir) {
			if time.Now().After(deadline) {
				t.Fatal("manager never joined")
			}
			time.Sleep(20 * time.Millisecond)
			continue
		}
		if b, err := manager.LoadOrCreateSecret(mcfg.DataDir); err == nil {
			secret = b
		} else if time.Now().After(deadline) {
			t.Fatalf("manager secret: %v", err)
		} else {
			time.Sleep(20 * time.Millisecond)
		}
	}
	user, pass := manager.TURNCredential(secret, "participant-1", time.Now().Add(10*time.Minute))
	f := &fixture{srv: srv, roots: s.svc.CA.Pool()}
	for {
		relay, err := f.client(t, "tls", user, pass).Allocate()
		if err == nil {
			relay.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("allocation with the manager's credential over TLS never succeeded: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}

	t.Run("no router registered: loopback stays closed", func(t *testing.T) {
		peer, _ := echo(t, "127.0.0.1")
		c := f.client(t, "udp", user, pass)
		relay, err := c.Allocate()
		if err != nil {
			t.Fatal(err)
		}
		defer relay.Close()
		if err := c.CreatePermission(peer); err == nil || !strings.Contains(err.Error(), "403") {
			t.Errorf("CreatePermission(loopback) err = %v, want 403", err)
		}
	})
}
