package certs

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"fmt"
)

// ChainPEM encodes certificates as concatenated "CERTIFICATE" PEM blocks, in the given order.
func ChainPEM(chain []*x509.Certificate) []byte {
	var buf bytes.Buffer
	for _, c := range chain {
		// pem.Encode to a bytes.Buffer cannot fail.
		_ = pem.Encode(&buf, &pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})
	}
	return buf.Bytes()
}

// ParseChainPEM reads every "CERTIFICATE" block of data, in order. Other block types are
// skipped; a cut-off block, an unreadable certificate or no certificate at all is an error.
func ParseChainPEM(data []byte) ([]*x509.Certificate, error) {
	var out []*x509.Certificate
	rest := data
	for {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			break
		}
		if b.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			return nil, errf(CodeGarbage, "certificate %d of the PEM chain could not be read: %v", len(out)+1, err)
		}
		out = append(out, c)
	}
	if bytes.Contains(rest, []byte("-----BEGIN")) {
		return nil, errf(CodeTruncatedPEM, "the PEM data is cut off or damaged after %d certificate(s): a block has no matching END line", len(out))
	}
	if len(out) == 0 {
		return nil, errf(CodeNoCertificate, "no certificate found: expected PEM blocks \"-----BEGIN CERTIFICATE-----\"")
	}
	return out, nil
}

// LoadKeyPair parses a PEM chain (leaf first) and a PEM private key into a tls.Certificate with
// Leaf set, checking that the key belongs to the leaf.
func LoadKeyPair(certPEM, keyPEM []byte) (tls.Certificate, error) {
	chain, err := ParseChainPEM(certPEM)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("load key pair: %w", err)
	}
	key, err := ParseKeyPEM(keyPEM)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("load key pair: %w", err)
	}
	if !keyMatches(chain[0], key) {
		return tls.Certificate{}, fmt.Errorf("load key pair: %w", errf(CodeKeyMismatch, "the private key does not belong to certificate %q", chain[0].Subject.String()))
	}
	tc := tls.Certificate{PrivateKey: key, Leaf: chain[0]}
	for _, c := range chain {
		tc.Certificate = append(tc.Certificate, c.Raw)
	}
	return tc, nil
}
