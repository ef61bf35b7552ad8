// Package ca is the portal's internal certificate authority: one ECDSA P-256 root kept in a
// directory, which certifies the components (manager, router, proxy) by their FQDN and, later,
// the room devices. Components use these certificates both to serve HTTPS and as TLS client
// certificates towards the portal, so mutual TLS needs no public CA.
package ca

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"math/big"
	"os"
	"path/filepath"
	"time"
)

// File names inside the CA directory.
const (
	CertFile = "ca.pem"
	KeyFile  = "ca-key.pem"
)

// RootValidity is the lifetime of a newly created root.
const RootValidity = 10 * 365 * 24 * time.Hour

// CA is a loaded internal CA. It is safe for concurrent use: issuing only reads its fields.
type CA struct {
	root    *x509.Certificate
	rootPEM []byte
	key     crypto.Signer
	// Now is the clock used for validity periods; time.Now when nil.
	Now func() time.Time
}

// LoadOrCreate loads the CA kept in dir, or creates one named name valid from now for ten years
// when dir holds none. The directory is made 0700 and the key file 0600. A directory with a
// certificate but no key (or the reverse) is an error rather than a silent new CA, because a new
// root would orphan every certificate already issued.
func LoadOrCreate(dir, name string, now time.Time) (*CA, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("ca: create %s: %w", dir, err)
	}
	if err := os.Chmod(dir, 0o700); err != nil {
		return nil, fmt.Errorf("ca: chmod %s: %w", dir, err)
	}
	certPath, keyPath := filepath.Join(dir, CertFile), filepath.Join(dir, KeyFile)
	certPEM, cerr := os.ReadFile(certPath)
	keyPEM, kerr := os.ReadFile(keyPath)
	switch {
	case cerr == nil && kerr == nil:
		return parse(certPEM, keyPEM)
	case errors.Is(cerr, fs.ErrNotExist) && errors.Is(kerr, fs.ErrNotExist):
		return create(certPath, keyPath, name, now)
	case cerr != nil && !errors.Is(cerr, fs.ErrNotExist):
		return nil, fmt.Errorf("ca: read certificate: %w", cerr)
	case kerr != nil && !errors.Is(kerr, fs.ErrNotExist):
		return nil, fmt.Errorf("ca: read key: %w", kerr)
	default:
		return nil, fmt.Errorf("ca: %s holds only one of %s and %s; refusing to create a new root over it", dir, CertFile, KeyFile)
	}
}

func create(certPath, keyPath, name string, now time.Time) (*CA, error) {
	if name == "" {
		return nil, errors.New("ca: create: name is empty")
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("ca: generate key: %w", err)
	}
	serial, err := Serial()
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: name, Organization: []string{"Stoa"}},
		NotBefore:             now.Add(-time.Hour), // tolerate small clock skew between hosts
		NotAfter:              now.Add(RootValidity),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true, // it signs leaves only
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return nil, fmt.Errorf("ca: self-sign root: %w", err)
	}
	pk8, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("ca: marshal key: %w", err)
	}
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: pk8})
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	// Key first: a crash between the two writes leaves a key without a certificate, which
	// LoadOrCreate reports instead of silently replacing.
	if err := WriteFileAtomic(keyPath, keyPEM, 0o600); err != nil {
		return nil, fmt.Errorf("ca: write key: %w", err)
	}
	if err := WriteFileAtomic(certPath, certPEM, 0o644); err != nil {
		return nil, fmt.Errorf("ca: write certificate: %w", err)
	}
	return parse(certPEM, keyPEM)
}

func parse(certPEM, keyPEM []byte) (*CA, error) {
	cb, _ := pem.Decode(certPEM)
	if cb == nil || cb.Type != "CERTIFICATE" {
		return nil, errors.New("ca: load: certificate file holds no PEM CERTIFICATE")
	}
	root, err := x509.ParseCertificate(cb.Bytes)
	if err != nil {
		return nil, fmt.Errorf("ca: load certificate: %w", err)
	}
	if !root.IsCA {
		return nil, errors.New("ca: load: certificate is not a CA")
	}
	kb, _ := pem.Decode(keyPEM)
	if kb == nil || kb.Type != "PRIVATE KEY" {
		return nil, errors.New("ca: load: key file holds no PEM PRIVATE KEY")
	}
	k, err := x509.ParsePKCS8PrivateKey(kb.Bytes)
	if err != nil {
		return nil, fmt.Errorf("ca: load key: %w", err)
	}
	signer, ok := k.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("ca: load: key type %T cannot sign", k)
	}
	pub, ok := signer.Public().(interface{ Equal(crypto.PublicKey) bool })
	if !ok || !pub.Equal(root.PublicKey) {
		return nil, errors.New("ca: load: key does not match the certificate")
	}
	return &CA{root: root, rootPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: root.Raw}), key: signer}, nil
}

// Root returns the root certificate.
func (c *CA) Root() *x509.Certificate { return c.root }

// RootPEM returns the root certificate as PEM.
func (c *CA) RootPEM() []byte { return bytes.Clone(c.rootPEM) }

// Pool returns a new pool holding only the root, for RootCAs or ClientCAs.
func (c *CA) Pool() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(c.root)
	return p
}

func (c *CA) now() time.Time {
	if c.Now != nil {
		return c.Now()
	}
	return time.Now()
}

// Serial returns a random positive 128-bit serial number. RFC 5280 §4.1.2.2 allows up to 20
// octets; CA/Browser Forum practice asks for at least 64 bits of randomness.
func Serial() (*big.Int, error) {
	b := make([]byte, 16)
	for {
		if _, err := rand.Read(b); err != nil {
			return nil, fmt.Errorf("ca: serial: %w", err)
		}
		if s := new(big.Int).SetBytes(b); s.Sign() > 0 {
			return s, nil
		}
	}
}
