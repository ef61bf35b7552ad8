// Package testpki builds throw-away certificate authorities, intermediates and leaves for tests
// anywhere in the repository. Everything is generated at test time (nothing checked in expires),
// fast by default (ECDSA P-256), and flexible enough to make deliberately bad certificates:
// weak keys, SHA-1 or MD5 signatures, wrong names, odd validity windows, CA leaves.
package testpki

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"testing"
	"time"
)

// CA is a certificate authority: a root (Parent nil) or an intermediate.
type CA struct {
	Cert   *x509.Certificate
	Key    crypto.Signer
	Parent *CA
	// Now is the reference time for default validity windows of everything this CA issues.
	Now time.Time
}

// CAOption tunes NewCA and Intermediate.
type CAOption func(*caConfig)

type caConfig struct {
	now       time.Time
	keyAlg    string
	sigAlg    x509.SignatureAlgorithm
	notBefore time.Time
	notAfter  time.Time
	pathLen   int
	key       crypto.Signer
}

// At sets the reference time (default time.Now()); intermediates and leaves inherit it.
func At(now time.Time) CAOption { return func(c *caConfig) { c.now = now } }

// WithKeyAlg picks the CA key: "ecdsa-p256" (default), "ecdsa-p384", "rsa1024", "rsa2048", ...
func WithKeyAlg(alg string) CAOption { return func(c *caConfig) { c.keyAlg = alg } }

// WithKey uses an existing key for the CA certificate.
func WithKey(k crypto.Signer) CAOption { return func(c *caConfig) { c.key = k } }

// WithSigAlg sets the algorithm the issuer signs this CA certificate with (x509.SHA1WithRSA,
// x509.MD5WithRSA, ...). For a root it is the self-signature.
func WithSigAlg(a x509.SignatureAlgorithm) CAOption { return func(c *caConfig) { c.sigAlg = a } }

// WithValidity sets the CA certificate's validity window.
func WithValidity(notBefore, notAfter time.Time) CAOption {
	return func(c *caConfig) { c.notBefore, c.notAfter = notBefore, notAfter }
}

func buildCAConfig(now time.Time, opts []CAOption) caConfig {
	c := caConfig{now: now, keyAlg: "ecdsa-p256", pathLen: -1}
	for _, o := range opts {
		o(&c)
	}
	if c.now.IsZero() {
		c.now = time.Now()
	}
	if c.notBefore.IsZero() {
		c.notBefore = c.now.Add(-24 * time.Hour)
	}
	if c.notAfter.IsZero() {
		c.notAfter = c.now.Add(10 * 365 * 24 * time.Hour)
	}
	return c
}

// NewCA makes a self-signed root CA named name.
func NewCA(t testing.TB, name string, opts ...CAOption) *CA {
	t.Helper()
	c := buildCAConfig(time.Time{}, opts)
	key := c.key
	if key == nil {
		key = NewKey(t, c.keyAlg)
	}
	tmpl := caTemplate(name, c)
	cert := Issue(t, tmpl, tmpl, key.Public(), key, c.sigAlg)
	return &CA{Cert: cert, Key: key, Now: c.now}
}

// Intermediate makes a CA certificate issued by ca.
func (ca *CA) Intermediate(t testing.TB, name string, opts ...CAOption) *CA {
	t.Helper()
	c := buildCAConfig(ca.Now, opts)
	key := c.key
	if key == nil {
		key = NewKey(t, c.keyAlg)
	}
	cert := Issue(t, caTemplate(name, c), ca.Cert, key.Public(), ca.Key, c.sigAlg)
	return &CA{Cert: cert, Key: key, Parent: ca, Now: c.now}
}

func caTemplate(name string, c caConfig) *x509.Certificate {
	return &x509.Certificate{
		SerialNumber:          Serial(),
		Subject:               pkix.Name{CommonName: name, Organization: []string{"Stoa Test PKI"}},
		NotBefore:             c.notBefore,
		NotAfter:              c.notAfter,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLen:            c.pathLen,
	}
}

// Root returns the root at the top of ca's chain.
func (ca *CA) Root() *CA {
	for ca.Parent != nil {
		ca = ca.Parent
	}
	return ca
}

// Chain returns ca's certificate followed by its issuers, root last.
func (ca *CA) Chain() []*x509.Certificate {
	var out []*x509.Certificate
	for c := ca; c != nil; c = c.Parent {
		out = append(out, c.Cert)
	}
	return out
}

// Intermediates returns ca's chain without the root (empty for a root).
func (ca *CA) Intermediates() []*x509.Certificate {
	ch := ca.Chain()
	return ch[:len(ch)-1]
}

// Pool returns a pool holding only the root of ca's chain.
func (ca *CA) Pool() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(ca.Root().Cert)
	return p
}

// LeafOptions describe a leaf (end-entity) certificate. Zero values give a valid TLS server
// certificate for DNS, valid from Now-1h for 90 days, ECDSA P-256, EKU serverAuth.
type LeafOptions struct {
	CommonName string   // default: DNS[0], or "leaf"
	DNS        []string // DNS SANs
	IPs        []net.IP // IP SANs
	NotBefore  time.Time
	NotAfter   time.Time
	KeyAlg     string        // see NewKey; default "ecdsa-p256"
	Key        crypto.Signer // use this key instead of generating one (e.g. a pending CSR key)
	SigAlg     x509.SignatureAlgorithm
	IsCA       bool                    // BasicConstraints CA=true
	EKU        []x509.ExtKeyUsage      // default [serverAuth]
	NoEKU      bool                    // omit the extended key usage extension entirely
	SelfSigned bool                    // sign with its own key instead of the CA's
	Serial     *big.Int                // default random 128-bit
	Subject    *pkix.Name              // overrides CommonName entirely when set
	Template   func(*x509.Certificate) // last-minute edits to the template
}

// Leaf is an issued end-entity certificate with its key and issuer chain.
type Leaf struct {
	Cert *x509.Certificate
	Key  crypto.Signer
	// Chain is the issuing CA's chain, root last; nil for a self-signed leaf.
	Chain []*x509.Certificate
}

// Leaf issues an end-entity certificate from ca (ca may be nil when o.SelfSigned).
func (ca *CA) Leaf(t testing.TB, o LeafOptions) *Leaf {
	t.Helper()
	now := time.Now()
	if ca != nil && !ca.Now.IsZero() {
		now = ca.Now
	}
	key := o.Key
	if key == nil {
		key = NewKey(t, o.KeyAlg)
	}
	tmpl := &x509.Certificate{
		SerialNumber: o.Serial,
		NotBefore:    o.NotBefore,
		NotAfter:     o.NotAfter,
		DNSNames:     o.DNS,
		IPAddresses:  o.IPs,
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  o.EKU,
	}
	if tmpl.SerialNumber == nil {
		tmpl.SerialNumber = Serial()
	}
	if tmpl.NotBefore.IsZero() {
		tmpl.NotBefore = now.Add(-time.Hour)
	}
	if tmpl.NotAfter.IsZero() {
		tmpl.NotAfter = now.Add(90 * 24 * time.Hour)
	}
	if tmpl.ExtKeyUsage == nil && !o.NoEKU {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
	}
	if o.NoEKU {
		tmpl.ExtKeyUsage = nil
	}
	if _, isRSA := key.Public().(*rsa.PublicKey); isRSA {
		// RSA key exchange is long gone from Stoa's suites, but the bit is harmless and usual.
		tmpl.KeyUsage |= x509.KeyUsageKeyEncipherment
	}
	cn := o.CommonName
	if cn == "" {
		cn = "leaf"
		if len(o.DNS) > 0 {
			cn = o.DNS[0]
		}
	}
	tmpl.Subject = pkix.Name{CommonName: cn, Organization: []string{"Stoa Test"}}
	if o.Subject != nil {
		tmpl.Subject = *o.Subject
	}
	if o.IsCA {
		tmpl.BasicConstraintsValid = true
		tmpl.IsCA = true
		tmpl.KeyUsage |= x509.KeyUsageCertSign
	}
	if o.Template != nil {
		o.Template(tmpl)
	}
	if o.SelfSigned || ca == nil {
		return &Leaf{Cert: Issue(t, tmpl, tmpl, key.Public(), key, o.SigAlg), Key: key}
	}
	cert := Issue(t, tmpl, ca.Cert, key.Public(), ca.Key, o.SigAlg)
	return &Leaf{Cert: cert, Key: key, Chain: ca.Chain()}
}

// Intermediates returns the leaf's issuers without the root.
func (l *Leaf) Intermediates() []*x509.Certificate {
	if len(l.Chain) == 0 {
		return nil
	}
	return l.Chain[:len(l.Chain)-1]
}

// Serial returns a random positive 128-bit serial number.
func Serial() *big.Int {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 128))
	if err != nil {
		panic(fmt.Sprintf("testpki: random serial: %v", err))
	}
	return n.Add(n, big.NewInt(1))
}

// NewKey generates a key: "ecdsa-p256" (default for ""), "ecdsa-p384", "rsa1024", "rsa2048",
// "rsa3072", "rsa4096". RSA 1024 exists only to make weak-key test cases.
func NewKey(t testing.TB, alg string) crypto.Signer {
	t.Helper()
	var (
		k   crypto.Signer
		err error
	)
	switch alg {
	case "", "ecdsa-p256":
		k, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case "ecdsa-p384":
		k, err = ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	case "rsa1024":
		k, err = rsa.GenerateKey(rand.Reader, 1024)
	case "rsa2048":
		k, err = rsa.GenerateKey(rand.Reader, 2048)
	case "rsa3072":
		k, err = rsa.GenerateKey(rand.Reader, 3072)
	case "rsa4096":
		k, err = rsa.GenerateKey(rand.Reader, 4096)
	default:
		t.Fatalf("testpki: unknown key algorithm %q", alg)
	}
	if err != nil {
		t.Fatalf("testpki: generate %s key: %v", alg, err)
	}
	return k
}

// CertPEM encodes certificates as concatenated "CERTIFICATE" PEM blocks.
func CertPEM(certs ...*x509.Certificate) []byte {
	var out []byte
	for _, c := range certs {
		out = append(out, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})...)
	}
	return out
}

// KeyPEM encodes a key as PKCS#8 "PRIVATE KEY" PEM.
func KeyPEM(t testing.TB, k crypto.Signer) []byte {
	t.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		t.Fatalf("testpki: marshal key: %v", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
}

// Pool returns a pool of the given certificates.
func Pool(certs ...*x509.Certificate) *x509.CertPool {
	p := x509.NewCertPool()
	for _, c := range certs {
		p.AddCert(c)
	}
	return p
}
