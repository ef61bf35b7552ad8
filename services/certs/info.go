package certs

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/x509"
	"fmt"
	"strings"
	"time"

	"github.com/stoa-rooms/stoa/services/api"
)

// expiresSoon is when the Security page starts warning.
const expiresSoon = 30 * 24 * time.Hour

// Info describes chain (leaf first) for the Security and Components pages. An empty chain gives
// a zero CertInfo.
func Info(chain []*x509.Certificate, now time.Time) api.CertInfo {
	if len(chain) == 0 {
		return api.CertInfo{}
	}
	leaf := chain[0]
	s256 := sha256.Sum256(leaf.Raw)
	// SHA-1 fingerprints are still what many admins compare against their CA portal; it is
	// an identifier here, not a security decision.
	s1 := sha1.Sum(leaf.Raw)
	ci := api.CertInfo{
		Subject:      leaf.Subject.String(),
		DNSNames:     append([]string{}, leaf.DNSNames...),
		IPAddresses:  []string{},
		Issuer:       leaf.Issuer.String(),
		IssuerChain:  []string{},
		Serial:       fmt.Sprintf("%X", leaf.SerialNumber),
		SHA256:       colonHex(s256[:]),
		SHA1:         colonHex(s1[:]),
		NotBefore:    leaf.NotBefore.UTC(),
		NotAfter:     leaf.NotAfter.UTC(),
		KeyAlgorithm: KeyAlgorithm(leaf),
	}
	for _, ip := range leaf.IPAddresses {
		ci.IPAddresses = append(ci.IPAddresses, ip.String())
	}
	for _, c := range chain[1:] {
		ci.IssuerChain = append(ci.IssuerChain, c.Subject.String())
	}
	left := leaf.NotAfter.Sub(now)
	ci.DaysLeft = int(left / (24 * time.Hour))
	if left < 0 && left%(24*time.Hour) != 0 {
		ci.DaysLeft-- // floor, so an hour past expiry already shows -1
	}
	ci.ExpiresSoon = left < expiresSoon
	return ci
}

// KeyAlgorithm names c's public key the way people read it: "RSA 2048", "ECDSA P-256".
func KeyAlgorithm(c *x509.Certificate) string {
	switch k := c.PublicKey.(type) {
	case *rsa.PublicKey:
		return fmt.Sprintf("RSA %d", k.N.BitLen())
	case *ecdsa.PublicKey:
		return "ECDSA " + k.Curve.Params().Name
	case ed25519.PublicKey:
		return "Ed25519"
	}
	return c.PublicKeyAlgorithm.String()
}

func colonHex(b []byte) string {
	parts := make([]string, len(b))
	for i, x := range b {
		parts[i] = fmt.Sprintf("%02X", x)
	}
	return strings.Join(parts, ":")
}
