package certs

import (
	"bytes"
	"crypto"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"strings"
	"time"
)

// ValidateOptions is what an upload is checked against.
type ValidateOptions struct {
	// FQDN is the name the certificate must cover in its SANs.
	FQDN string
	// Key is the pending key generated on the portal, used when the bundle has none.
	Key crypto.Signer
	// Roots are extra trust anchors, tried besides the system roots. Self-signed CA
	// certificates in the upload also count as anchors, so a private CA works once its root
	// is uploaded (the trust bundle then carries it to the rooms).
	Roots *x509.CertPool
	// Now is the time validity is judged at; zero means time.Now().
	Now time.Time
}

// minRSABits follows NIST SP 800-131A and the CA/Browser Forum baseline requirements.
const minRSABits = 2048

// Validate checks b before anything is served or stored and returns the chain ready for a
// Holder: leaf and intermediates (root excluded), Leaf and PrivateKey set. Each problem is a
// *Error with its own code; the checks run from the most to the least specific, so an upload
// with one defect gets the message about that defect rather than a generic chain failure.
func Validate(b *Bundle, o ValidateOptions) (tls.Certificate, error) {
	if b == nil || b.Leaf == nil {
		return tls.Certificate{}, errf(CodeNoCertificate, "the upload contains no certificate")
	}
	now := o.Now
	if now.IsZero() {
		now = time.Now()
	}
	leaf := b.Leaf
	key, err := pickKey(leaf, b.Key, o.Key)
	if err != nil {
		return tls.Certificate{}, err
	}
	if isSelfSigned(leaf) {
		return tls.Certificate{}, errf(CodeSelfSigned, "certificate %q is self-signed: browsers and rooms will not trust it; upload a certificate issued by a certificate authority", name(leaf))
	}
	if leaf.IsCA {
		return tls.Certificate{}, errf(CodeLeafIsCA, "certificate %q is a CA certificate (BasicConstraints CA=true), not a server certificate: upload the certificate issued for %s", name(leaf), o.FQDN)
	}
	path := append([]*x509.Certificate{leaf}, issuerPath(leaf, b.Chain)...)
	for _, c := range path {
		if err := checkValidity(c, leaf, now); err != nil {
			return tls.Certificate{}, err
		}
	}
	for _, c := range path {
		if err := checkKeyStrength(c); err != nil {
			return tls.Certificate{}, err
		}
	}
	for _, c := range path {
		if err := checkSignatureAlg(c); err != nil {
			return tls.Certificate{}, err
		}
	}
	if err := checkName(leaf, o.FQDN); err != nil {
		return tls.Certificate{}, err
	}
	if err := checkServerAuth(leaf); err != nil {
		return tls.Certificate{}, err
	}
	inters, err := buildChain(leaf, b.Chain, path, o.Roots, now)
	if err != nil {
		return tls.Certificate{}, err
	}
	tc := tls.Certificate{Certificate: [][]byte{leaf.Raw}, PrivateKey: key, Leaf: leaf}
	for _, c := range inters {
		tc.Certificate = append(tc.Certificate, c.Raw)
	}
	return tc, nil
}

func pickKey(leaf *x509.Certificate, uploaded, pending crypto.Signer) (crypto.Signer, error) {
	switch {
	case keyMatches(leaf, uploaded):
		return uploaded, nil
	case keyMatches(leaf, pending):
		return pending, nil
	case uploaded != nil:
		return nil, errf(CodeKeyMismatch, "the uploaded private key does not belong to certificate %q: upload the key the certificate was issued for", name(leaf))
	case pending != nil:
		return nil, errf(CodeKeyMismatch, "certificate %q was not issued for the key generated on this portal: submit this portal's CSR to your CA, or upload the certificate's own key", name(leaf))
	}
	return nil, errf(CodeKeyMissing, "no private key: the upload has none and no key was generated on this portal; add the key file, or upload a PKCS#12 file that contains it")
}

func name(c *x509.Certificate) string {
	if c.Subject.CommonName != "" {
		return c.Subject.CommonName
	}
	return c.Subject.String()
}

func day(t time.Time) string { return t.UTC().Format("2006-01-02 15:04 MST") }

func checkValidity(c, leaf *x509.Certificate, now time.Time) error {
	what := fmt.Sprintf("certificate %q", name(c))
	if c != leaf {
		what = fmt.Sprintf("chain certificate %q", name(c))
	}
	if now.After(c.NotAfter) {
		return errf(CodeExpired, "%s expired on %s (valid %s to %s)", what, day(c.NotAfter), day(c.NotBefore), day(c.NotAfter))
	}
	if now.Before(c.NotBefore) {
		return errf(CodeNotYetValid, "%s is not valid until %s (valid %s to %s); check the portal's clock if this is unexpected", what, day(c.NotBefore), day(c.NotBefore), day(c.NotAfter))
	}
	return nil
}

func checkKeyStrength(c *x509.Certificate) error {
	if k, ok := c.PublicKey.(*rsa.PublicKey); ok && k.N.BitLen() < minRSABits {
		return errf(CodeWeakKey, "certificate %q has a %d-bit RSA key: at least %d bits are required", name(c), k.N.BitLen(), minRSABits)
	}
	return nil
}

func checkSignatureAlg(c *x509.Certificate) error {
	if isSelfSigned(c) {
		// A root's self-signature is never checked by clients: trust comes from the store.
		return nil
	}
	switch c.SignatureAlgorithm {
	case x509.MD2WithRSA, x509.MD5WithRSA, x509.SHA1WithRSA, x509.DSAWithSHA1, x509.ECDSAWithSHA1:
		return errf(CodeWeakSignature, "certificate %q is signed with %v, which browsers reject as insecure: ask your CA to reissue it with SHA-256", name(c), c.SignatureAlgorithm)
	}
	return nil
}

func checkName(leaf *x509.Certificate, fqdn string) error {
	if fqdn == "" {
		return errf(CodeSANMismatch, "no portal FQDN is configured to check the certificate against")
	}
	if len(leaf.DNSNames) == 0 && len(leaf.IPAddresses) == 0 {
		return errf(CodeSANMismatch, "certificate %q has no Subject Alternative Name: browsers ignore the Common Name, so %s must be listed as a DNS SAN", name(leaf), fqdn)
	}
	if err := leaf.VerifyHostname(fqdn); err != nil {
		var names []string
		names = append(names, leaf.DNSNames...)
		for _, ip := range leaf.IPAddresses {
			names = append(names, ip.String())
		}
		return errf(CodeSANMismatch, "certificate %q covers %s but not %s: request a certificate that lists %s as a DNS name", name(leaf), strings.Join(names, ", "), fqdn, fqdn)
	}
	return nil
}

func checkServerAuth(leaf *x509.Certificate) error {
	if len(leaf.ExtKeyUsage) == 0 && len(leaf.UnknownExtKeyUsage) == 0 {
		return nil // no EKU extension: any use is allowed (RFC 5280 §4.2.1.12)
	}
	for _, u := range leaf.ExtKeyUsage {
		if u == x509.ExtKeyUsageServerAuth || u == x509.ExtKeyUsageAny {
			return nil
		}
	}
	return errf(CodeNoServerAuth, "certificate %q is not allowed for TLS servers: its Extended Key Usage lacks serverAuth (TLS Web Server Authentication)", name(leaf))
}

// isSelfSigned reports whether c is signed by its own key. SHA-1 and MD5 self-signatures count
// by name, since Go refuses to check them.
func isSelfSigned(c *x509.Certificate) bool {
	if !bytes.Equal(c.RawIssuer, c.RawSubject) {
		return false
	}
	err := c.CheckSignature(c.SignatureAlgorithm, c.RawTBSCertificate, c.Signature)
	var insecure x509.InsecureAlgorithmError
	return err == nil || errors.As(err, &insecure)
}

// issuerPath follows issuers among the uploaded certificates, nearest first.
func issuerPath(leaf *x509.Certificate, others []*x509.Certificate) []*x509.Certificate {
	var out []*x509.Certificate
	seen := map[*x509.Certificate]bool{leaf: true}
	for cur := leaf; !isSelfSigned(cur); {
		var next *x509.Certificate
		for _, c := range others {
			if !seen[c] && issues(c, cur) {
				next = c
				break
			}
		}
		if next == nil {
			break
		}
		seen[next] = true
		out = append(out, next)
		cur = next
	}
	return out
}
