package certs_test

import (
	"crypto/tls"
	"net"
	"testing"
	"time"

	"github.com/stoa-rooms/stoa/services/certs"
	"github.com/stoa-rooms/stoa/test/testpki"
)

// BenchmarkHandshakeHolderVsStatic measures full TLS handshakes over loopback against two
// servers in the same run: one serving through Holder.GetCertificate (ServerConfig), one with a
// static tls.Config.Certificates baseline. holder/static near 1 means the atomic swap costs
// nothing noticeable.
func BenchmarkHandshakeHolderVsStatic(b *testing.B) {
	root := testpki.NewCA(b, "Bench Root")
	tc := leafTLS(root.Leaf(b, testpki.LeafOptions{DNS: []string{"localhost"}}))
	var h certs.Holder
	h.Set(&tc)
	holderSrv := startTLSServer(b, certs.ServerConfig(&h))
	static := certs.ServerConfig(&h)
	static.GetCertificate = nil
	static.Certificates = []tls.Certificate{tc}
	staticSrv := startTLSServer(b, static)

	cfg := certs.ClientConfig()
	cfg.RootCAs = root.Pool()
	cfg.ServerName = "localhost"
	handshake := func(addr string) time.Duration {
		start := time.Now()
		conn, err := tls.DialWithDialer(&net.Dialer{Timeout: 10 * time.Second}, "tcp", addr, cfg)
		if err != nil {
			b.Fatalf("handshake with %s: %v", addr, err)
		}
		d := time.Since(start)
		conn.Close()
		return d
	}
	var holderT, staticT time.Duration
	n := 0
	for b.Loop() {
		// Alternate so drift in machine load hits both sides alike.
		holderT += handshake(holderSrv.addr)
		staticT += handshake(staticSrv.addr)
		n++
	}
	b.ReportMetric(float64(holderT.Nanoseconds())/float64(n), "holder-ns/handshake")
	b.ReportMetric(float64(staticT.Nanoseconds())/float64(n), "static-ns/handshake")
	b.ReportMetric(float64(holderT)/float64(staticT), "holder/static")
}
