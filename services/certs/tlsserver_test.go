package certs_test

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stoa-rooms/stoa/test/testpki"
)

// tlsServer is a real TLS listener on loopback that completes each handshake and hangs up.
type tlsServer struct {
	addr       string
	handshakes atomic.Int64
	failures   atomic.Int64
	lastErr    atomic.Value // error
}

func startTLSServer(t testing.TB, cfg *tls.Config) *tlsServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	s := &tlsServer{addr: ln.Addr().String()}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		tln := tls.NewListener(ln, cfg)
		for {
			c, err := tln.Accept()
			if err != nil {
				return // listener closed by cleanup
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				hctx, done := context.WithTimeout(ctx, 20*time.Second)
				defer done()
				if err := c.(*tls.Conn).HandshakeContext(hctx); err != nil {
					s.failures.Add(1)
					s.lastErr.Store(err)
					return
				}
				s.handshakes.Add(1)
				// Wait for the client's close so the server never resets a live connection.
				_ = c.SetReadDeadline(time.Now().Add(20 * time.Second))
				var buf [1]byte
				_, _ = c.Read(buf[:])
			}()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		cancel()
		wg.Wait()
	})
	return s
}

func (s *tlsServer) err() error {
	if e, ok := s.lastErr.Load().(error); ok {
		return e
	}
	return errors.New("none recorded")
}

// leafTLS turns a testpki leaf into a served chain.
func leafTLS(l *testpki.Leaf) tls.Certificate {
	tc := tls.Certificate{Certificate: [][]byte{l.Cert.Raw}, PrivateKey: l.Key, Leaf: l.Cert}
	for _, c := range l.Intermediates() {
		tc.Certificate = append(tc.Certificate, c.Raw)
	}
	return tc
}
