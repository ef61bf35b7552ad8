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
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stoa-rooms/stoa/services/certs"
	"github.com/stoa-rooms/stoa/services/portal/acme"
	"github.com/stoa-rooms/stoa/test/acmetest"
)

// pebbleEnv is an in-process Pebble CA (test/acmetest) plus the portal-side listeners its VA
// validates against: a plain-HTTP one serving HTTPHandler and a TLS one using
// TLSConfig(certs.ServerConfig(...)), both on 127.0.0.1.
type pebbleEnv struct {
	*acmetest.Pebble
	WFERoots *x509.CertPool // trusts the WFE's HTTPS certificate
	TLSAddr  string         // the portal's HTTPS listener
	Fallback *certs.Holder

	ALPNHellos atomic.Int64 // tls-alpn-01 validation handshakes seen
	HTTPProbes atomic.Int64 // http-01 validation requests seen

	target atomic.Pointer[acme.Client] // the client whose challenges the listeners answer
}

// startPebble starts Pebble issuing certificates valid for validity.
func startPebble(t *testing.T, validity time.Duration) *pebbleEnv {
	t.Helper()
	env := &pebbleEnv{Fallback: &certs.Holder{}}
	fallback := selfSigned(t, "fallback.stoa.test")
	env.Fallback.Set(&fallback)

	httpLn := listen(t)
	tlsLn := listen(t)
	env.TLSAddr = tlsLn.Addr().String()
	env.Pebble = acmetest.Start(t, acmetest.Options{HTTPPort: port(t, httpLn), TLSPort: port(t, tlsLn), Validity: validity})
	env.WFERoots = env.Roots

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

// rootPool returns the roots Pebble issues from.
func (e *pebbleEnv) rootPool() *x509.CertPool { return e.IssuerPool() }

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
