package acmetest

import (
	"crypto/x509"
	"encoding/json"
	"errors"
	"math/big"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/stoa-rooms/stoa/services/certs"
)

// TestDirectoryTrustedOnlyThroughRootsPEM fetches the directory over real TLS: with RootsPEM it
// answers with the RFC 8555 section 7.1.1 resources; without, the handshake is refused.
func TestDirectoryTrustedOnlyThroughRootsPEM(t *testing.T) {
	p := Start(t, Options{})
	fromPEM := x509.NewCertPool()
	if !fromPEM.AppendCertsFromPEM([]byte(p.RootsPEM)) {
		t.Fatal("RootsPEM holds no certificate")
	}
	tests := []struct {
		name  string
		roots *x509.CertPool
		ok    bool
	}{
		{"RootsPEM", fromPEM, true},
		{"Roots", p.Roots, true},
		{"issuer pool is not the directory's root", p.IssuerPool(), false},
		{"empty pool", x509.NewCertPool(), false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := certs.ClientConfig()
			cfg.RootCAs = tc.roots
			c := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: cfg}}
			defer c.CloseIdleConnections()
			resp, err := c.Get(p.DirectoryURL)
			if !tc.ok {
				var uerr x509.UnknownAuthorityError
				if !errors.As(err, &uerr) {
					t.Fatalf("GET directory: err = %v, want an unknown-authority error", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("GET directory: %v", err)
			}
			defer resp.Body.Close()
			var dir map[string]any
			if err := json.NewDecoder(resp.Body).Decode(&dir); err != nil {
				t.Fatalf("decode directory: %v", err)
			}
			for _, k := range []string{"newNonce", "newAccount", "newOrder"} {
				if _, ok := dir[k].(string); !ok {
					t.Errorf("directory lacks %q: %v", k, dir)
				}
			}
		})
	}
}

func TestIssuerPoolAnchorsTheIntermediate(t *testing.T) {
	p := Start(t, Options{})
	inter := p.CA.GetIntermediateCert(0).Cert
	if _, err := inter.Verify(x509.VerifyOptions{Roots: p.IssuerPool(), KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}); err != nil {
		t.Fatalf("intermediate does not chain to IssuerPool: %v", err)
	}
	if _, err := inter.Verify(x509.VerifyOptions{Roots: p.Roots, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}); err == nil {
		t.Fatal("intermediate chains to the directory's HTTPS root; the two must be distinct")
	}
}

func TestValidatedChallengesUnknownSerial(t *testing.T) {
	p := Start(t, Options{})
	got, err := p.ValidatedChallenges(&x509.Certificate{SerialNumber: big.NewInt(42)})
	if err == nil {
		t.Fatalf("ValidatedChallenges(unknown) = %v, want an error", got)
	}
}

// TestDNSResolvesEverythingToLoopback asks the VA's resolver as the VA does (over TCP).
func TestDNSResolvesEverythingToLoopback(t *testing.T) {
	addr := startDNS(t)
	tests := []struct {
		name  string
		qtype uint16
		want  []string
	}{
		{"portal.stoa.test.", dns.TypeA, []string{"127.0.0.1"}},
		{"localhost.", dns.TypeA, []string{"127.0.0.1"}},
		{"example.com.", dns.TypeA, []string{"127.0.0.1"}},
		{"portal.stoa.test.", dns.TypeAAAA, nil},
	}
	c := &dns.Client{Net: "tcp", Timeout: 5 * time.Second}
	for _, tc := range tests {
		t.Run(tc.name+dns.TypeToString[tc.qtype], func(t *testing.T) {
			m := new(dns.Msg)
			m.SetQuestion(tc.name, tc.qtype)
			r, _, err := c.Exchange(m, addr)
			if err != nil {
				t.Fatalf("exchange: %v", err)
			}
			var got []string
			for _, rr := range r.Answer {
				a, ok := rr.(*dns.A)
				if !ok {
					t.Fatalf("unexpected record %v", rr)
				}
				got = append(got, a.A.String())
			}
			if len(got) != len(tc.want) || (len(got) > 0 && got[0] != tc.want[0]) {
				t.Fatalf("answers = %v, want %v", got, tc.want)
			}
			if len(got) > 0 && !net.ParseIP(got[0]).IsLoopback() {
				t.Fatalf("%s is not loopback", got[0])
			}
		})
	}
}
