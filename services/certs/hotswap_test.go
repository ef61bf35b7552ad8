package certs_test

import (
	"crypto/tls"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stoa-rooms/stoa/services/certs"
	"github.com/stoa-rooms/stoa/test/testpki"
)

// TestHotSwapUnderLoad is the activation acceptance test: 200 clients handshake in a loop
// against a real TLS server while the certificate is swapped. No handshake may fail, and every
// handshake that starts after Set returns must see the new certificate.
func TestHotSwapUnderLoad(t *testing.T) {
	const (
		clients      = 200
		swapAfter    = 400 // handshakes before the swap
		newPerClient = 3   // each client stops after this many handshakes with the new cert
	)
	root := testpki.NewCA(t, "Swap Root")
	inter := root.Intermediate(t, "Swap Intermediate")
	opts := testpki.LeafOptions{DNS: []string{"localhost"}, IPs: []net.IP{net.IPv4(127, 0, 0, 1)}}
	oldTC, newTC := leafTLS(inter.Leaf(t, opts)), leafTLS(inter.Leaf(t, opts))
	newSerial := newTC.Leaf.SerialNumber

	var h certs.Holder
	h.Set(&oldTC)
	srv := startTLSServer(t, certs.ServerConfig(&h))

	cfg := certs.ClientConfig()
	cfg.RootCAs = root.Pool()
	cfg.ServerName = "localhost"

	var (
		swapped, total, oldSeen, failures, stale, finished atomic.Int64
		firstErr                                           atomic.Value
		ready                                              = make(chan struct{})
		readyOnce                                          sync.Once
		wg                                                 sync.WaitGroup
	)
	deadline := time.Now().Add(45 * time.Second)
	for range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sawNew := 0
			for sawNew < newPerClient && time.Now().Before(deadline) {
				after := swapped.Load() == 1
				conn, err := tls.DialWithDialer(&net.Dialer{Timeout: 20 * time.Second}, "tcp", srv.addr, cfg)
				if err != nil {
					failures.Add(1)
					firstErr.CompareAndSwap(nil, err)
					continue
				}
				serial := conn.ConnectionState().PeerCertificates[0].SerialNumber
				conn.Close()
				if total.Add(1) == swapAfter {
					readyOnce.Do(func() { close(ready) })
				}
				switch {
				case serial.Cmp(newSerial) == 0:
					sawNew++
				case after:
					stale.Add(1)
				default:
					oldSeen.Add(1)
				}
			}
			if sawNew >= newPerClient {
				finished.Add(1)
			}
		}()
	}
	select {
	case <-ready:
	case <-time.After(time.Until(deadline)):
		t.Fatalf("only %d handshakes before the deadline", total.Load())
	}
	h.Set(&newTC)
	swapped.Store(1)
	swappedAt := total.Load()
	wg.Wait()

	t.Logf("handshakes: %d total, %d before swap, %d with old cert; server: %d ok, %d failed",
		total.Load(), swappedAt, oldSeen.Load(), srv.handshakes.Load(), srv.failures.Load())
	if n := failures.Load(); n != 0 {
		t.Fatalf("%d client handshakes failed, first: %v", n, firstErr.Load())
	}
	if n := srv.failures.Load(); n != 0 {
		t.Fatalf("%d server handshakes failed, last: %v", n, srv.err())
	}
	if n := stale.Load(); n != 0 {
		t.Fatalf("%d handshakes started after the swap still got the old certificate", n)
	}
	if oldSeen.Load() < swapAfter/2 {
		t.Fatalf("only %d handshakes saw the old certificate: the swap happened too early to prove anything", oldSeen.Load())
	}
	if n := finished.Load(); n != clients {
		t.Fatalf("only %d of %d clients saw the new certificate %d times before the deadline", n, clients, newPerClient)
	}
}
