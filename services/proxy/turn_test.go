package proxy

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"net"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pion/turn/v5"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/stoa-rooms/stoa/services/certs"
)

var testSecret = []byte("0123456789abcdef0123456789abcdef")

// clock is an adjustable test clock.
type clock struct{ t atomic.Int64 }

func (c *clock) Now() time.Time   { return time.Unix(0, c.t.Load()) }
func (c *clock) Set(t time.Time)  { c.t.Store(t.UnixNano()) }
func newClock(t time.Time) *clock { c := &clock{}; c.Set(t); return c }
func cred(exp time.Time, user string) (string, string) {
	u := Username(exp, user)
	return u, Password(testSecret, u)
}

type fixture struct {
	srv   *Server
	reg   *prometheus.Registry
	clock *clock
	roots *x509.CertPool
}

func newFixture(t *testing.T, max int) *fixture {
	t.Helper()
	now := time.Now()
	cert, _, _, err := certs.SelfSigned("localhost", now)
	if err != nil {
		t.Fatal(err)
	}
	h := &certs.Holder{}
	h.Set(&cert)
	f := &fixture{reg: prometheus.NewRegistry(), clock: newClock(now), roots: x509.NewCertPool()}
	f.roots.AddCert(cert.Leaf)
	f.srv, err = NewServer(ServerOptions{
		TURN: TURNConfig{UDPAddr: "127.0.0.1:0", TCPAddr: "127.0.0.1:0", TLSAddr: "127.0.0.1:0", RelayIP: "127.0.0.1",
			MaxAllocationsPerUser: max, Host: "localhost"},
		GetCertificate: h.GetCertificate, Registry: f.reg, Now: f.clock.Now,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.srv.Close() })
	f.srv.SetSecret(testSecret)
	return f
}

// client is a real pion TURN client over one of the proxy's transports.
func (f *fixture) client(t *testing.T, transport, user, pass string) *turn.Client {
	t.Helper()
	var conn net.PacketConn
	var addr net.Addr
	switch transport {
	case "udp":
		pc, err := net.ListenPacket("udp4", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		conn, addr = pc, f.srv.UDPAddr()
	case "tcp":
		c, err := net.DialTimeout("tcp", f.srv.TCPAddr().String(), 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		conn, addr = turn.NewSTUNConn(c), f.srv.TCPAddr()
	case "tls":
		conf := certs.ClientConfig()
		conf.RootCAs, conf.ServerName = f.roots, "localhost"
		c, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", f.srv.TLSAddr().String(), conf)
		if err != nil {
			t.Fatal(err)
		}
		conn, addr = turn.NewSTUNConn(c), f.srv.TLSAddr()
	}
	c, err := turn.NewClient(&turn.ClientConfig{TURNServerAddr: addr.String(), STUNServerAddr: addr.String(),
		Conn: conn, Username: user, Password: pass, Realm: DefaultRealm, RTO: 200 * time.Millisecond,
		LoggerFactory: pionLogs{discard()}})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Listen(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close(); conn.Close() })
	return c
}

// echo is a UDP echo server on ip, standing in for a router's media port.
func echo(t *testing.T, ip string) (*net.UDPAddr, *atomic.Int64) {
	t.Helper()
	pc, err := net.ListenPacket("udp4", ip+":0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	var got atomic.Int64
	go func() {
		buf := make([]byte, 1500)
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			got.Add(1)
			pc.WriteTo(buf[:n], from)
		}
	}()
	return pc.LocalAddr().(*net.UDPAddr), &got
}

// roundTrip sends msg through the relay to peer and waits for the echo.
func roundTrip(t *testing.T, relay net.PacketConn, peer net.Addr, msg []byte) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	buf := make([]byte, 1500)
	for time.Now().Before(deadline) {
		if _, err := relay.WriteTo(msg, peer); err != nil {
			t.Fatalf("relay write: %v", err)
		}
		relay.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
		n, from, err := relay.ReadFrom(buf)
		if err == nil {
			if !bytes.Equal(buf[:n], msg) || from.String() != peer.String() {
				t.Fatalf("got %q from %v, want %q from %v", buf[:n], from, msg, peer)
			}
			return
		}
	}
	t.Fatal("no echo through the relay within 5 s")
}

func TestAllocateAndRelayOverEveryTransport(t *testing.T) {
	f := newFixture(t, 0)
	peer, _ := echo(t, "127.0.0.1")
	f.srv.Policy().SetRouters([]netip.Addr{netip.MustParseAddr("127.0.0.1")})
	for _, tr := range []string{"udp", "tcp", "tls"} {
		t.Run(tr, func(t *testing.T) {
			u, p := cred(f.clock.Now().Add(10*time.Minute), "alice-"+tr)
			c := f.client(t, tr, u, p)
			relay, err := c.Allocate()
			if err != nil {
				t.Fatalf("allocate: %v", err)
			}
			defer relay.Close()
			if ra := relay.LocalAddr().(*net.UDPAddr); !ra.IP.Equal(net.IPv4(127, 0, 0, 1)) {
				t.Errorf("relay address %v, want on 127.0.0.1", ra)
			}
			roundTrip(t, relay, peer, []byte("media over "+tr))
		})
	}
	if n := testutil.ToFloat64(f.srv.metrics.allocTotal); n != 3 {
		t.Errorf("allocations_total = %v, want 3", n)
	}
	for _, dir := range []string{"to_peer", "from_peer"} {
		if n := testutil.ToFloat64(f.srv.metrics.bytes.WithLabelValues(dir)); n < float64(len("media over udp")) {
			t.Errorf("relayed bytes %s = %v", dir, n)
		}
	}
}

func TestCredentialsRefused(t *testing.T) {
	f := newFixture(t, 0)
	now := f.clock.Now()
	good, _ := cred(now.Add(time.Minute), "bob")
	expired, expiredPass := cred(now.Add(-time.Second), "bob")
	atNow, atNowPass := cred(now, "bob")
	cases := []struct{ name, user, pass string }{
		{"expired", expired, expiredPass},
		{"expiring this second", atNow, atNowPass},
		{"wrong password", good, Password([]byte("another secret"), good)},
		{"no expiry", "bob", Password(testSecret, "bob")},
		{"garbage username", "12x:bob", Password(testSecret, "12x:bob")},
		{"empty user", Username(now.Add(time.Minute), ""), Password(testSecret, Username(now.Add(time.Minute), ""))},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := testutil.ToFloat64(f.srv.metrics.refusals.WithLabelValues("auth"))
			_, err := f.client(t, "udp", tc.user, tc.pass).Allocate()
			if err == nil || !strings.Contains(err.Error(), "401") {
				t.Fatalf("allocate err = %v, want 401", err)
			}
			if after := testutil.ToFloat64(f.srv.metrics.refusals.WithLabelValues("auth")); after <= before {
				t.Error("refusal not counted")
			}
		})
	}
	if f.srv.Allocations() != 0 {
		t.Errorf("%d allocations after refusals", f.srv.Allocations())
	}

	t.Run("before the manager gave a secret", func(t *testing.T) {
		srv, err := NewServer(ServerOptions{TURN: TURNConfig{UDPAddr: "127.0.0.1:0", RelayIP: "127.0.0.1"}})
		if err != nil {
			t.Fatal(err)
		}
		defer srv.Close()
		g := &fixture{srv: srv, clock: f.clock}
		u, p := cred(now.Add(time.Minute), "carol")
		if _, err := g.client(t, "udp", u, p).Allocate(); err == nil || !strings.Contains(err.Error(), "401") {
			t.Fatalf("allocate err = %v, want 401", err)
		}
	})
}

func TestRelayPolicyEndToEnd(t *testing.T) {
	f := newFixture(t, 0)
	router, _ := echo(t, "127.0.0.1")
	// 127.0.0.2 is loopback too (Linux routes 127/8 to lo) but no router lives there.
	other, otherGot := echo(t, "127.0.0.2")
	f.srv.Policy().SetRouters([]netip.Addr{netip.MustParseAddr("127.0.0.1")})
	u, p := cred(f.clock.Now().Add(time.Minute), "dave")
	c := f.client(t, "udp", u, p)
	relay, err := c.Allocate()
	if err != nil {
		t.Fatal(err)
	}
	defer relay.Close()

	t.Run("registered router is reachable", func(t *testing.T) {
		roundTrip(t, relay, router, []byte("to the router"))
	})
	t.Run("other loopback address is refused", func(t *testing.T) {
		before := testutil.ToFloat64(f.srv.metrics.refusals.WithLabelValues("policy_private"))
		err := c.CreatePermission(other)
		if err == nil || !strings.Contains(err.Error(), "403") {
			t.Fatalf("CreatePermission err = %v, want 403", err)
		}
		if _, err := relay.WriteTo([]byte("sneak"), other); err == nil {
			t.Error("relay write to an unpermitted peer succeeded")
		}
		// An echo through the permitted path proves the relay is live and has processed
		// what was sent before it; nothing reached the refused peer.
		roundTrip(t, relay, router, []byte("still alive"))
		if n := otherGot.Load(); n != 0 {
			t.Errorf("refused peer received %d packets", n)
		}
		if after := testutil.ToFloat64(f.srv.metrics.refusals.WithLabelValues("policy_private")); after <= before {
			t.Error("refusal not counted")
		}
	})
	t.Run("router removed by the manager is refused", func(t *testing.T) {
		f.srv.Policy().SetRouters(nil)
		u2, p2 := cred(f.clock.Now().Add(time.Minute), "erin")
		relay2, err := f.client(t, "udp", u2, p2).Allocate()
		if err != nil {
			t.Fatal(err)
		}
		defer relay2.Close()
		if _, err := relay2.WriteTo([]byte("x"), router); err == nil {
			t.Error("relay write to a no-longer-registered router succeeded")
		}
	})
}

func TestAllocationCapPerUser(t *testing.T) {
	const max = 3
	f := newFixture(t, max)
	u, p := cred(f.clock.Now().Add(time.Minute), "frank")
	var relays []net.PacketConn
	for i := range max {
		r, err := f.client(t, "udp", u, p).Allocate()
		if err != nil {
			t.Fatalf("allocation %d: %v", i+1, err)
		}
		relays = append(relays, r)
	}
	_, err := f.client(t, "udp", u, p).Allocate()
	if err == nil || !strings.Contains(err.Error(), "486") {
		t.Fatalf("allocation over the cap: err = %v, want 486 Allocation Quota Reached", err)
	}
	if n := testutil.ToFloat64(f.srv.metrics.refusals.WithLabelValues("quota")); n < 1 {
		t.Errorf("quota refusals = %v", n)
	}
	t.Run("another user is not affected", func(t *testing.T) {
		u2, p2 := cred(f.clock.Now().Add(time.Minute), "grace")
		r, err := f.client(t, "udp", u2, p2).Allocate()
		if err != nil {
			t.Fatal(err)
		}
		r.Close()
	})
	t.Run("a released slot can be used again", func(t *testing.T) {
		if err := relays[0].Close(); err != nil { // Refresh with lifetime 0 deletes it
			t.Fatal(err)
		}
		deadline := time.Now().Add(5 * time.Second)
		for {
			r, err := f.client(t, "udp", u, p).Allocate()
			if err == nil {
				r.Close()
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("allocation after a release: %v", err)
			}
			time.Sleep(20 * time.Millisecond)
		}
	})
	t.Run("the gauge follows open allocations", func(t *testing.T) {
		deadline := time.Now().Add(5 * time.Second)
		for testutil.ToFloat64(f.srv.metrics.allocations) != float64(max-1) || f.srv.Allocations() != max-1 {
			if time.Now().After(deadline) {
				t.Fatalf("gauge %v, server %d, want %d", testutil.ToFloat64(f.srv.metrics.allocations), f.srv.Allocations(), max-1)
			}
			time.Sleep(20 * time.Millisecond)
		}
	})
}

func TestNewServerRefusesBadConfig(t *testing.T) {
	cases := []struct {
		name string
		o    ServerOptions
		want string
	}{
		{"no relay IP", ServerOptions{TURN: TURNConfig{UDPAddr: "127.0.0.1:0"}}, "relay IP"},
		{"wildcard relay IP", ServerOptions{TURN: TURNConfig{UDPAddr: "127.0.0.1:0", RelayIP: "0.0.0.0"}}, "relay IP"},
		{"no listener", ServerOptions{TURN: TURNConfig{RelayIP: "127.0.0.1"}}, "no listener"},
		{"TLS without certificate", ServerOptions{TURN: TURNConfig{TLSAddr: "127.0.0.1:0", RelayIP: "127.0.0.1"}}, "certificate"},
		{"bad address", ServerOptions{TURN: TURNConfig{UDPAddr: "127.0.0.1:99999", RelayIP: "127.0.0.1"}}, "listen UDP"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s, err := NewServer(tc.o)
			if err == nil {
				s.Close()
				t.Fatal("accepted")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want it to mention %q", err, tc.want)
			}
		})
	}
}

func TestURLs(t *testing.T) {
	f := newFixture(t, 0)
	got := f.srv.URLs()
	want := []string{
		"turn:" + f.srv.UDPAddr().String() + "?transport=udp",
		"turn:" + f.srv.TCPAddr().String() + "?transport=tcp",
		"turns:localhost:" + portOf(f.srv.TLSAddr()) + "?transport=tcp",
	}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("URLs = %q, want %q", got, want)
	}
}

func portOf(a net.Addr) string {
	_, p, _ := net.SplitHostPort(a.String())
	return p
}

// TestURLsAnnounceHost: with proxy.turn_host set every URL names the proxy by that host, so a
// client behind a port forward (a room in a VM) dials the forward, not the host's loopback.
func TestURLsAnnounceHost(t *testing.T) {
	f := newFixture(t, 0)
	f.srv.cfg.AnnounceHost = "portal.stoa.test"
	got := f.srv.URLs()
	want := []string{
		"turn:portal.stoa.test:" + portOf(f.srv.UDPAddr()) + "?transport=udp",
		"turn:portal.stoa.test:" + portOf(f.srv.TCPAddr()) + "?transport=tcp",
		"turns:portal.stoa.test:" + portOf(f.srv.TLSAddr()) + "?transport=tcp",
	}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("URLs = %q, want %q", got, want)
	}
}
