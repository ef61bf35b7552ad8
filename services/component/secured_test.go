package component

import (
	"crypto/tls"
	"net"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stoa-rooms/stoa/services/certs"
	"github.com/stoa-rooms/stoa/services/portal/components"
)

// The portal's heartbeat answers carry the Secured option; a running component follows it
// without a restart: Runtime.Secured changes and its listener takes TLS 1.3 only while on.
func TestSecuredOptionFollowsHeartbeats(t *testing.T) {
	var secured atomic.Bool
	p := newPortalWith(t, func(s *components.Service) { s.Secured = secured.Load })
	rtc := make(chan *Runtime, 1)
	mgr := start(t, Config{Kind: "manager", FQDN: "localhost", PortalURL: p.url, PortalRoots: p.roots,
		JoinToken: p.token(t, "manager", "localhost"), DataDir: filepath.Join(t.TempDir(), "manager"),
		HeartbeatInterval: 50 * time.Millisecond, Ready: func(rt *Runtime) { rtc <- rt }})
	rt := <-rtc
	handshake := func(max uint16) error {
		conf := certs.ClientConfig()
		conf.RootCAs, conf.ServerName, conf.MaxVersion = p.svc.CA.Pool(), "localhost", max
		conn, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", mgr.addr, conf)
		if err != nil {
			return err
		}
		return conn.Close()
	}
	for _, step := range []struct {
		name    string
		on      bool
		tls12OK bool
	}{
		{"off", false, true},
		{"turned on", true, false},
		{"turned off again", false, true},
	} {
		t.Run(step.name, func(t *testing.T) {
			secured.Store(step.on)
			eventually(t, "the runtime to follow the option", func() bool { return rt.Secured() == step.on })
			if err := handshake(tls.VersionTLS12); (err == nil) != step.tls12OK {
				t.Fatalf("TLS 1.2 handshake: %v, want success %v", err, step.tls12OK)
			}
			if err := handshake(tls.VersionTLS13); err != nil {
				t.Fatalf("TLS 1.3 handshake: %v", err)
			}
		})
	}
}
