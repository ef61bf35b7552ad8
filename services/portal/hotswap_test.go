package portal

import (
	"crypto/tls"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stoa-rooms/stoa/test/testpki"
)

// TestActivateUnderLoad: while 200 clients handshake with the portal in a loop, a new
// certificate is activated through the API. No handshake may fail, and every handshake that
// starts after activation returned must see the new serial.
func TestActivateUnderLoad(t *testing.T) {
	const clients = 200
	p := startPortal(t, nil)
	old := p.serial(t)

	ca := testpki.NewCA(t, "Hot Swap Root")
	leaf := ca.Leaf(t, testpki.LeafOptions{DNS: []string{"localhost"}})
	if code, e, _ := p.upload(t, "/api/v1/security/upload", testpki.CertPEM(leaf.Cert, ca.Cert), nil, testpki.KeyPEM(t, leaf.Key), ""); code != 200 {
		t.Fatalf("stage: %d %+v", code, e)
	}
	want := leaf.Cert.SerialNumber.Text(16)

	var (
		failures, handshakes, sawOld, sawNew atomic.Int64
		activatedAt                          atomic.Pointer[time.Time]
		staleAfter                           atomic.Int64 // old serial seen by a handshake begun after activation
		firstErr                             atomic.Pointer[string]
		wg                                   sync.WaitGroup
	)
	stop := make(chan struct{})
	deadline := time.Now().Add(90 * time.Second) // bound the loop even if something hangs
	for i := 0; i < clients; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			extra := 0
			for time.Now().Before(deadline) {
				select {
				case <-stop:
					return
				default:
				}
				// A short pause keeps 200 loops from starving the server of CPU on a 2-core
				// machine running other test packages (-race makes each handshake ~10x dearer).
				time.Sleep(2 * time.Millisecond)
				began := time.Now()
				conn, err := tls.Dial("tcp", p.https, &tls.Config{InsecureSkipVerify: true, ServerName: "localhost"}) //nolint:gosec // the serial is what is checked
				if err != nil {
					failures.Add(1)
					msg := err.Error()
					firstErr.CompareAndSwap(nil, &msg)
					continue
				}
				serial := conn.ConnectionState().PeerCertificates[0].SerialNumber.Text(16)
				conn.Close()
				handshakes.Add(1)
				switch serial {
				case old:
					sawOld.Add(1)
					if at := activatedAt.Load(); at != nil && began.After(*at) {
						staleAfter.Add(1)
					}
				case want:
					sawNew.Add(1)
					if extra++; extra >= 3 { // a few more after the swap, then done
						return
					}
				}
			}
		}()
	}
	waitFor(t, "clients handshaking with the old certificate", func() bool { return sawOld.Load() >= clients })
	if code := p.post(t, "/api/v1/security/activate", nil, nil); code != 200 {
		t.Fatalf("activate: %d", code)
	}
	now := time.Now()
	activatedAt.Store(&now)
	wg.Wait()
	close(stop)

	if f := failures.Load(); f != 0 {
		t.Fatalf("%d of %d handshakes failed during activation; first: %s", f, handshakes.Load()+f, *firstErr.Load())
	}
	if sawNew.Load() < clients {
		t.Fatalf("only %d handshakes saw the new serial, want every one of %d clients to see it", sawNew.Load(), clients)
	}
	if n := staleAfter.Load(); n != 0 {
		t.Fatalf("%d handshakes begun after activation still saw the old certificate", n)
	}
	t.Logf("%d handshakes, %d before the swap, %d after, 0 failed", handshakes.Load(), sawOld.Load(), sawNew.Load())
}
