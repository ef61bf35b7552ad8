package acmetest

import (
	"net"
	"testing"

	"github.com/miekg/dns"
)

// startDNS answers every A question with 127.0.0.1 (and AAAA with nothing), over TCP as
// Pebble's VA asks, so that any FQDN a test orders points at the test's loopback listeners.
// It returns the server's address.
func startDNS(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("acmetest: listen DNS: %v", err)
	}
	srv := &dns.Server{Listener: ln, Handler: dns.HandlerFunc(answerLoopback)}
	started := make(chan struct{})
	srv.NotifyStartedFunc = func() { close(started) }
	go func() { _ = srv.ActivateAndServe() }()
	<-started
	t.Cleanup(func() { _ = srv.Shutdown() })
	return ln.Addr().String()
}

func answerLoopback(w dns.ResponseWriter, r *dns.Msg) {
	m := new(dns.Msg)
	m.SetReply(r)
	for _, q := range r.Question {
		if q.Qtype == dns.TypeA {
			m.Answer = append(m.Answer, &dns.A{
				Hdr: dns.RR_Header{Name: q.Name, Rrtype: dns.TypeA, Class: dns.ClassINET},
				A:   net.IPv4(127, 0, 0, 1),
			})
		}
	}
	_ = w.WriteMsg(m)
}
