// Package acmetest runs a real ACME CA (Let's Encrypt's Pebble, wired in-process as cmd/pebble
// does: db, ca, va, wfe) for tests anywhere in the repository. Its validation authority checks
// challenges on 127.0.0.1 at the ports the test names, through a tiny in-process DNS server that
// resolves every name to 127.0.0.1, so any FQDN a test orders reaches the test's own listeners.
// Nothing leaves the loopback interface.
package acmetest

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/letsencrypt/pebble/v2/ca"
	"github.com/letsencrypt/pebble/v2/db"
	"github.com/letsencrypt/pebble/v2/va"
	"github.com/letsencrypt/pebble/v2/wfe"

	"github.com/stoa-rooms/stoa/services/certs"
	"github.com/stoa-rooms/stoa/test/testpki"
)

// Options say where the challenges are validated and how long certificates live.
type Options struct {
	// HTTPPort is the port on 127.0.0.1 Pebble's VA fetches http-01 tokens from (RFC 8555
	// section 8.3). 0 leaves http-01 unanswerable (the VA dials port 0 and fails).
	HTTPPort int
	// TLSPort is the port on 127.0.0.1 Pebble's VA performs tls-alpn-01 handshakes on
	// (RFC 8737). 0 leaves tls-alpn-01 unanswerable.
	TLSPort int
	// Validity is the lifetime of issued certificates; 0 is 24 hours.
	Validity time.Duration
}

// Pebble is a running in-process ACME CA.
type Pebble struct {
	// DirectoryURL is the ACME directory (https://127.0.0.1:port/dir).
	DirectoryURL string
	// RootsPEM holds the root that signs the directory's HTTPS certificate (what an ACME client
	// must trust to talk to the CA, e.g. api.ACMEConfig.RootsPEM); Roots is the same, parsed.
	RootsPEM string
	Roots    *x509.CertPool

	// CA and DB are Pebble's own, for tests that inspect or steer it (blocked domains, accounts,
	// orders).
	CA *ca.CAImpl
	DB *db.MemoryStore
}

// Start runs Pebble until t ends. It sets Pebble's environment knobs through t.Setenv (so t must
// not be parallel): no random VA sleeps, no injected badNonce errors, and no authorization reuse
// so every order really runs its challenge.
func Start(t testing.TB, o Options) *Pebble {
	t.Helper()
	t.Setenv("PEBBLE_VA_NOSLEEP", "1")
	t.Setenv("PEBBLE_WFE_NONCEREJECT", "0")
	t.Setenv("PEBBLE_AUTHZREUSE", "0")
	if o.Validity <= 0 {
		o.Validity = 24 * time.Hour
	}

	logger := log.New(io.Discard, "", 0)
	memdb := db.NewMemoryStore()
	profiles := map[string]ca.Profile{"default": {Description: "test", ValidityPeriod: uint64(o.Validity / time.Second)}}
	caImpl := ca.New(logger, memdb, "", "ecdsa", 0, 1, profiles)
	vaImpl := va.New(logger, o.HTTPPort, o.TLSPort, false, startDNS(t), memdb)
	wfeImpl := wfe.New(logger, memdb, vaImpl, caImpl, []string{"pebble.letsencrypt.org"}, false, false, 0, 0)

	// The directory's HTTPS certificate comes from a throw-away root, the way a private ACME CA
	// would be deployed; clients trust it through RootsPEM, never through InsecureSkipVerify.
	root := testpki.NewCA(t, "Pebble WFE test root")
	leaf := root.Leaf(t, testpki.LeafOptions{DNS: []string{"localhost"}, IPs: []net.IP{net.IPv4(127, 0, 0, 1)}})
	holder := &certs.Holder{}
	holder.Set(&tls.Certificate{Certificate: [][]byte{leaf.Cert.Raw}, PrivateKey: leaf.Key, Leaf: leaf.Cert})

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("acmetest: listen WFE: %v", err)
	}
	srv := &http.Server{Handler: wfeImpl.Handler(), TLSConfig: certs.ServerConfig(holder), ErrorLog: logger, ReadHeaderTimeout: 10 * time.Second}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := srv.ServeTLS(ln, "", ""); err != nil && !errors.Is(err, http.ErrServerClosed) {
			t.Errorf("acmetest: serve WFE: %v", err)
		}
	}()
	t.Cleanup(func() { _ = srv.Close(); <-done })

	p := &Pebble{
		DirectoryURL: "https://" + ln.Addr().String() + wfe.DirectoryPath,
		RootsPEM:     string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: root.Cert.Raw})),
		Roots:        root.Pool(),
		CA:           caImpl,
		DB:           memdb,
	}
	return p
}

// IssuerPool holds the roots Pebble signs issued certificates with (as its management
// /roots/{n} endpoints would serve them): what a TLS client of an ACME-certified server trusts.
func (p *Pebble) IssuerPool() *x509.CertPool {
	pool := x509.NewCertPool()
	for i := range p.CA.GetNumberOfRootCerts() {
		pool.AddCert(p.CA.GetRootCert(i).Cert)
	}
	return pool
}

// ValidatedChallenges returns the types of the challenges that were validated for the order
// that issued leaf (e.g. ["tls-alpn-01"]). Pebble files the order under the certificate's serial
// just after finalizing it, so a caller that has only just received leaf should poll.
func (p *Pebble) ValidatedChallenges(leaf *x509.Certificate) ([]string, error) {
	order, err := p.DB.GetOrderByIssuedSerial(hex.EncodeToString(leaf.SerialNumber.Bytes()))
	if err != nil {
		return nil, fmt.Errorf("acmetest: find order for serial %x: %w", leaf.SerialNumber, err)
	}
	order.RLock()
	authzs := order.AuthorizationObjects
	order.RUnlock()
	var types []string
	for _, az := range authzs {
		az.RLock()
		chals := az.Challenges
		az.RUnlock()
		for _, ch := range chals {
			ch.RLock()
			if ch.Status == "valid" {
				types = append(types, ch.Type)
			}
			ch.RUnlock()
		}
	}
	return types, nil
}
