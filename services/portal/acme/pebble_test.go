package acme_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"io"
	"log"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/letsencrypt/pebble/v2/ca"
	"github.com/letsencrypt/pebble/v2/db"
	"github.com/letsencrypt/pebble/v2/va"
	"github.com/letsencrypt/pebble/v2/wfe"
	"github.com/miekg/dns"

	"github.com/stoa-rooms/stoa/services/certs"
	"github.com/stoa-rooms/stoa/services/portal/acme"
)

// pebbleEnv is an in-process Pebble CA wired as cmd/pebble does (db, ca, va, wfe), plus the
// portal-side listeners its VA validates against: a plain-HTTP one serving HTTPHandler and a
// TLS one using TLSConfig(certs.ServerConfig(...)), both on 127.0.0.1. Every name resolves to
// 127.0.0.1 through a tiny in-process DNS server handed to the VA.
type pebbleEnv struct {
	DirectoryURL string
	WFERoots     *x509.CertPool // trusts the WFE's HTTPS certificate
	CA           *ca.CAImpl
	DB           *db.MemoryStore
	TLSAddr      string // the portal's HTTPS listener
	Fallback     *certs.Holder

	ALPNHellos atomic.Int64 // tls-alpn-01 validation handshakes seen
	HTTPProbes atomic.Int64 // http-01 validation requests seen

	target atomic.Pointer[acme.Client] // the client whose challenges the listeners answer
}

// startPebble starts Pebble issuing certificates valid for validity.
func startPebble(t *testing.T, validity time.Duration) *pebbleEnv {
	t.Helper()
	// Pebble reads these knobs from the environment only: no random VA sleeps, no injected
	// badNonce errors, and no authorization reuse so every order really runs its challenge.
	t.Setenv("PEBBLE_VA_NOSLEEP", "1")
	t.Setenv("PEBBLE_WFE_NONCEREJECT", "0")
	t.Setenv("PEBBLE_AUTHZREUSE", "0")

	env := &pebbleEnv{Fallback: &certs.Holder{}}
	fallback := selfSigned(t, "fallback.stoa.test")
	env.Fallback.Set(&fallback)

	dnsAddr := startDNS(t)
	httpLn := listen(t)
	tlsLn := listen(t)
	env.TLSAddr = tlsLn.Addr().String()

	logger := log.New(io.Discard, "", 0)
	memdb := db.NewMemoryStore()
	profiles := map[string]ca.Profile{"default": {Description: "test", ValidityPeriod: uint64(validity / time.Second)}}
	caImpl := ca.New(logger, memdb, "", "ecdsa", 0, 1, profiles)
	vaImpl := va.New(logger, port(t, httpLn), port(t, tlsLn), false, dnsAddr, memdb)
	wfeImpl := wfe.New(logger, memdb, vaImpl, caImpl, []string{"pebble.letsencrypt.org"}, false, false, 0, 0)
	env.CA, env.DB = caImpl, memdb

	wfeCert := selfSigned(t, "pebble.stoa.test")
	srv := httptest.NewUnstartedServer(wfeImpl.Handler())
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{wfeCert}, MinVersion: tls.VersionTLS12}
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	srv.StartTLS()
	t.Cleanup(srv.Close)
	env.DirectoryURL = srv.URL + wfe.DirectoryPath
	env.WFERoots = x509.NewCertPool()
	env.WFERoots.AddCert(wfeCert.Leaf)

	redirect := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "https://"+r.Host+r.URL.RequestURI(), http.StatusMovedPermanently)
	})
	serve(t, httpLn, &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/.well-known/acme-challenge/") {
			env.HTTPProbes.Add(1)
		}
		c := env.target.Load()
		if c == nil {
			redirect.ServeHTTP(w, r)
			return
		}
		c.HTTPHandler(redirect).ServeHTTP(w, r)
	})})
	base := certs.ServerConfig(env.Fallback)
	tlsCfg := &tls.Config{GetConfigForClient: func(hello *tls.ClientHelloInfo) (*tls.Config, error) {
		if acme.IsACMEHello(hello) {
			env.ALPNHellos.Add(1)
		}
		c := env.target.Load()
		if c == nil {
			return base, nil
		}
		return c.TLSConfig(base), nil
	}}
	serve(t, tls.NewListener(tlsLn, tlsCfg), &http.Server{Handler: http.NotFoundHandler()})
	return env
}

// answer makes the listeners answer c's challenges.
func (e *pebbleEnv) answer(c *acme.Client) { e.target.Store(c) }

// rootPool returns the CA's root, taken from the ca package as the management /roots/0
// endpoint would serve it.
func (e *pebbleEnv) rootPool() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(e.CA.GetRootCert(0).Cert)
	return p
}

func listen(t *testing.T) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	return ln
}

func port(t *testing.T, ln net.Listener) int {
	t.Helper()
	_, p, err := net.SplitHostPort(ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	n, err := strconv.Atoi(p)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func serve(t *testing.T, ln net.Listener, srv *http.Server) {
	t.Helper()
	srv.ErrorLog = log.New(io.Discard, "", 0) // the VA's handshakes end abruptly by design
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			t.Errorf("serve %s: %v", ln.Addr(), err)
		}
	}()
	t.Cleanup(func() { _ = srv.Close(); <-done })
}

// startDNS answers every A question with 127.0.0.1 (and AAAA with nothing), over TCP as
// Pebble's VA asks, so that any FQDN the tests order points at the loopback listeners.
func startDNS(t *testing.T) string {
	t.Helper()
	ln := listen(t)
	srv := &dns.Server{Listener: ln, Handler: dns.HandlerFunc(func(w dns.ResponseWriter, r *dns.Msg) {
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
	})}
	started := make(chan struct{})
	srv.NotifyStartedFunc = func() { close(started) }
	go func() { _ = srv.ActivateAndServe() }()
	<-started
	t.Cleanup(func() { _ = srv.Shutdown() })
	return ln.Addr().String()
}

// selfSigned makes a throw-away certificate for name and 127.0.0.1.
func selfSigned(t *testing.T, name string) tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(time.Now().UnixNano()),
		Subject:               pkix.Name{CommonName: name},
		DNSNames:              []string{name},
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}
}
