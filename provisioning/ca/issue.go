package ca

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
	"time"
)

// MaxLeafValidity bounds any certificate this CA issues.
const MaxLeafValidity = 398 * 24 * time.Hour

// backdate tolerates clock skew between the portal and the host that verifies the certificate.
const backdate = 5 * time.Minute

// IssueServer certifies the key in csr for fqdn (and ips) as a server and client of the internal
// network: serverAuth and clientAuth extended key usages, because every component both serves
// HTTPS and calls the portal with mutual TLS. The names come from the arguments, never from the
// CSR, so a component cannot ask for a name it was not given. uris are extra URI SANs (the
// component identity). The CSR's self-signature is checked (RFC 2986 §3: proof of possession).
func (c *CA) IssueServer(csr *x509.CertificateRequest, fqdn string, ips []net.IP, validity time.Duration, uris ...*url.URL) (*x509.Certificate, error) {
	pub, err := CSRPublicKey(csr)
	if err != nil {
		return nil, err
	}
	return c.IssueServerKey(pub, fqdn, ips, validity, uris...)
}

// IssueServerKey is IssueServer for a key already proven, for example reissuing a certificate
// for a new FQDN with the key of the component's current certificate.
func (c *CA) IssueServerKey(pub crypto.PublicKey, fqdn string, ips []net.IP, validity time.Duration, uris ...*url.URL) (*x509.Certificate, error) {
	if err := CheckFQDN(fqdn); err != nil {
		return nil, fmt.Errorf("ca: issue server certificate: %w", err)
	}
	tmpl := &x509.Certificate{
		Subject:     pkix.Name{CommonName: fqdn},
		DNSNames:    []string{fqdn},
		IPAddresses: ips,
		URIs:        uris,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
	}
	return c.sign(tmpl, pub, validity)
}

// IssueClient certifies pub as a TLS client named cn (room devices): clientAuth only.
func (c *CA) IssueClient(pub crypto.PublicKey, cn string, validity time.Duration, uris ...*url.URL) (*x509.Certificate, error) {
	if cn == "" || len(cn) > 64 {
		return nil, errors.New("ca: issue client certificate: common name must be 1 to 64 characters")
	}
	tmpl := &x509.Certificate{
		Subject:     pkix.Name{CommonName: cn},
		URIs:        uris,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	return c.sign(tmpl, pub, validity)
}

func (c *CA) sign(tmpl *x509.Certificate, pub crypto.PublicKey, validity time.Duration) (*x509.Certificate, error) {
	if err := CheckPublicKey(pub); err != nil {
		return nil, fmt.Errorf("ca: issue: %w", err)
	}
	if validity <= 0 || validity > MaxLeafValidity {
		return nil, fmt.Errorf("ca: issue: validity %v is not within (0, %v]", validity, MaxLeafValidity)
	}
	now := c.now()
	serial, err := Serial()
	if err != nil {
		return nil, err
	}
	tmpl.SerialNumber = serial
	tmpl.NotBefore = now.Add(-backdate)
	tmpl.NotAfter = now.Add(validity)
	if tmpl.NotAfter.After(c.root.NotAfter) {
		tmpl.NotAfter = c.root.NotAfter // a leaf cannot outlive its root
	}
	if !now.Before(c.root.NotAfter) {
		return nil, fmt.Errorf("ca: issue: root expired on %s", c.root.NotAfter.Format(time.DateOnly))
	}
	tmpl.KeyUsage = x509.KeyUsageDigitalSignature
	if _, ok := pub.(*rsa.PublicKey); ok {
		tmpl.KeyUsage |= x509.KeyUsageKeyEncipherment // RSA key exchange in TLS 1.2
	}
	tmpl.BasicConstraintsValid = true
	der, err := x509.CreateCertificate(rand.Reader, tmpl, c.root, pub, c.key)
	if err != nil {
		return nil, fmt.Errorf("ca: sign: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("ca: parse issued certificate: %w", err)
	}
	return cert, nil
}

// CSRPublicKey checks a CSR's self-signature and key, and returns its public key.
func CSRPublicKey(csr *x509.CertificateRequest) (crypto.PublicKey, error) {
	if csr == nil {
		return nil, errors.New("ca: CSR is missing")
	}
	if err := csr.CheckSignature(); err != nil {
		return nil, fmt.Errorf("ca: CSR signature does not verify: %w", err)
	}
	if err := CheckPublicKey(csr.PublicKey); err != nil {
		return nil, fmt.Errorf("ca: CSR: %w", err)
	}
	return csr.PublicKey, nil
}

// CheckPublicKey accepts ECDSA P-256/P-384, RSA of 2048 to 8192 bits, and Ed25519.
func CheckPublicKey(pub crypto.PublicKey) error {
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		if k.Curve != elliptic.P256() && k.Curve != elliptic.P384() {
			return fmt.Errorf("ECDSA curve %s is not P-256 or P-384", k.Curve.Params().Name)
		}
	case *rsa.PublicKey:
		if b := k.N.BitLen(); b < 2048 || b > 8192 {
			return fmt.Errorf("RSA key of %d bits is not within 2048 to 8192", b)
		}
	case ed25519.PublicKey:
	default:
		return fmt.Errorf("key type %T is not supported", pub)
	}
	return nil
}

// CheckFQDN reports whether name is a host name a certificate can carry as a DNS SAN
// (RFC 1123 §2.1 labels, RFC 5280 §4.2.1.6 preferred name syntax): lowercase letters, digits and
// hyphens in dot-separated labels of 1 to 63 characters, 253 characters at most, no trailing dot,
// no wildcard, and not an IP address (the last label is not all digits).
func CheckFQDN(name string) error {
	if name == "" {
		return errors.New("FQDN is empty")
	}
	if len(name) > 253 {
		return fmt.Errorf("FQDN %.40q... is longer than 253 characters", name)
	}
	labels := strings.Split(name, ".")
	for _, l := range labels {
		if l == "" || len(l) > 63 {
			return fmt.Errorf("FQDN %q has an empty label or one longer than 63 characters", name)
		}
		if l[0] == '-' || l[len(l)-1] == '-' {
			return fmt.Errorf("FQDN %q has a label starting or ending with a hyphen", name)
		}
		for i := 0; i < len(l); i++ {
			ch := l[i]
			if !(ch >= 'a' && ch <= 'z' || ch >= '0' && ch <= '9' || ch == '-') {
				return fmt.Errorf("FQDN %q contains %q: only lowercase letters, digits, hyphens and dots are allowed", name, ch)
			}
		}
	}
	last := labels[len(labels)-1]
	if strings.Trim(last, "0123456789") == "" {
		return fmt.Errorf("FQDN %q looks like an IP address; give a host name", name)
	}
	return nil
}
