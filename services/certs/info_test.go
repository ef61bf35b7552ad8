package certs_test

import (
	"crypto/sha1"
	"crypto/sha256"
	"crypto/x509"
	"fmt"
	"math/big"
	"net"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stoa-rooms/stoa/services/certs"
	"github.com/stoa-rooms/stoa/test/testpki"
)

func TestInfo(t *testing.T) {
	now := corpusNow
	root := testpki.NewCA(t, "Info Root", testpki.At(now))
	inter := root.Intermediate(t, "Info Intermediate")
	colonHex := regexp.MustCompile(`^([0-9A-F]{2}:)+[0-9A-F]{2}$`)
	tests := []struct {
		name     string
		opts     testpki.LeafOptions
		keyAlg   string
		daysLeft int
		soon     bool
	}{
		{"ecdsa_p256_long", testpki.LeafOptions{KeyAlg: "ecdsa-p256", NotAfter: now.Add(90*24*time.Hour + time.Hour)}, "ECDSA P-256", 90, false},
		{"ecdsa_p384_soon", testpki.LeafOptions{KeyAlg: "ecdsa-p384", NotAfter: now.Add(29 * 24 * time.Hour)}, "ECDSA P-384", 29, true},
		{"rsa2048_expired", testpki.LeafOptions{KeyAlg: "rsa2048", NotBefore: now.Add(-48 * time.Hour), NotAfter: now.Add(-time.Hour)}, "RSA 2048", -1, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			o := tc.opts
			o.DNS = []string{fqdn, "alt.stoa.test"}
			o.IPs = []net.IP{net.ParseIP("192.0.2.1")}
			o.Serial = big.NewInt(0xABCDEF0123)
			l := inter.Leaf(t, o)
			ci := certs.Info(append([]*x509.Certificate{l.Cert}, l.Chain...), now)
			s256 := sha256.Sum256(l.Cert.Raw)
			s1 := sha1.Sum(l.Cert.Raw)
			checks := []struct {
				field string
				ok    bool
			}{
				{"Subject", strings.Contains(ci.Subject, "CN="+fqdn)},
				{"Issuer", strings.Contains(ci.Issuer, "CN=Info Intermediate")},
				{"IssuerChain", len(ci.IssuerChain) == 2 && strings.Contains(ci.IssuerChain[0], "Info Intermediate") && strings.Contains(ci.IssuerChain[1], "Info Root")},
				{"DNSNames", slices.Equal(ci.DNSNames, []string{fqdn, "alt.stoa.test"})},
				{"IPAddresses", slices.Equal(ci.IPAddresses, []string{"192.0.2.1"})},
				{"Serial", ci.Serial == "ABCDEF0123"},
				{"SHA256", colonHex.MatchString(ci.SHA256) && strings.ReplaceAll(ci.SHA256, ":", "") == fmt.Sprintf("%X", s256)},
				{"SHA1", colonHex.MatchString(ci.SHA1) && strings.ReplaceAll(ci.SHA1, ":", "") == fmt.Sprintf("%X", s1)},
				{"NotBefore", ci.NotBefore.Equal(l.Cert.NotBefore)},
				{"NotAfter", ci.NotAfter.Equal(l.Cert.NotAfter)},
				{"DaysLeft", ci.DaysLeft == tc.daysLeft},
				{"ExpiresSoon", ci.ExpiresSoon == tc.soon},
				{"KeyAlgorithm", ci.KeyAlgorithm == tc.keyAlg},
			}
			for _, c := range checks {
				if !c.ok {
					t.Errorf("%s wrong in %+v", c.field, ci)
				}
			}
		})
	}
	if got := certs.Info(nil, now); got.Subject != "" {
		t.Fatalf("Info(nil) = %+v, want zero", got)
	}
}

func TestSelfSigned(t *testing.T) {
	tests := []struct {
		fqdn string
		ips  int
	}{
		{fqdn, 0},
		{"localhost", 2},
	}
	for _, tc := range tests {
		t.Run(tc.fqdn, func(t *testing.T) {
			tc0, certPEM, keyPEM, err := certs.SelfSigned(tc.fqdn, corpusNow)
			if err != nil {
				t.Fatalf("SelfSigned: %v", err)
			}
			leaf := tc0.Leaf
			if err := leaf.VerifyHostname(tc.fqdn); err != nil {
				t.Fatalf("does not cover %s: %v", tc.fqdn, err)
			}
			if len(leaf.IPAddresses) != tc.ips {
				t.Fatalf("IP SANs = %v, want %d", leaf.IPAddresses, tc.ips)
			}
			if certs.KeyAlgorithm(leaf) != "ECDSA P-256" || leaf.SerialNumber.BitLen() < 64 ||
				!slices.Equal(leaf.ExtKeyUsage, []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}) {
				t.Fatalf("unexpected certificate: key %s serial bits %d EKU %v", certs.KeyAlgorithm(leaf), leaf.SerialNumber.BitLen(), leaf.ExtKeyUsage)
			}
			if d := leaf.NotAfter.Sub(corpusNow); d < 364*24*time.Hour || d > 366*24*time.Hour {
				t.Fatalf("valid for %v after now, want about a year", d)
			}
			kp, err := certs.LoadKeyPair(certPEM, keyPEM)
			if err != nil {
				t.Fatalf("LoadKeyPair: %v", err)
			}
			if kp.Leaf == nil || !kp.Leaf.Equal(leaf) {
				t.Fatalf("LoadKeyPair Leaf not set to the certificate")
			}
			// Validate must refuse it with its own code: a self-signed cert is only a first-boot stopgap.
			b, err := certs.ParseUpload(certPEM, nil, keyPEM, "")
			if err != nil {
				t.Fatalf("ParseUpload: %v", err)
			}
			if _, err := certs.Validate(b, certs.ValidateOptions{FQDN: tc.fqdn, Now: corpusNow}); err == nil || err.(*certs.Error).Code != certs.CodeSelfSigned {
				t.Fatalf("Validate = %v, want %s", err, certs.CodeSelfSigned)
			}
		})
	}
}

func TestChainPEMRoundTripAndLoadKeyPairMismatch(t *testing.T) {
	root := testpki.NewCA(t, "PEM Root")
	l := root.Intermediate(t, "PEM Inter").Leaf(t, testpki.LeafOptions{DNS: []string{fqdn}})
	chain := append([]*x509.Certificate{l.Cert}, l.Chain...)
	back, err := certs.ParseChainPEM(certs.ChainPEM(chain))
	if err != nil {
		t.Fatalf("ParseChainPEM: %v", err)
	}
	if len(back) != 3 || !back[0].Equal(l.Cert) || !back[2].Equal(root.Cert) {
		t.Fatalf("round trip changed the chain")
	}
	_, err = certs.LoadKeyPair(certs.ChainPEM(chain), testpki.KeyPEM(t, testpki.NewKey(t, "")))
	if err == nil || !strings.Contains(err.Error(), "does not belong") {
		t.Fatalf("LoadKeyPair with a foreign key = %v, want mismatch", err)
	}
	full := certs.ChainPEM(chain)
	for _, bad := range [][]byte{nil, []byte("junk"), full[:len(full)-30]} {
		if _, err := certs.ParseChainPEM(bad); err == nil {
			t.Fatalf("ParseChainPEM(%q...) accepted bad input", bad[:min(len(bad), 20)])
		}
	}
}
