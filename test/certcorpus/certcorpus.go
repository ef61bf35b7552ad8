// Package certcorpus generates certificate uploads for tests: Bad ones, each with exactly one
// defect and the error code Stoa must answer with, and Good ones in every container format.
// Everything is made at test time from testpki, relative to the given now, so nothing expires.
package certcorpus

import (
	"crypto"
	"crypto/x509"
	"testing"
	"time"

	"github.com/stoa-rooms/stoa/test/testpki"
)

// Case is one upload as the Security page would send it.
type Case struct {
	Name     string
	Cert     []byte   // the "certificate" file
	Chain    [][]byte // extra "chain" files
	Key      []byte   // the "key" file
	Password string   // PKCS#12 password
	// PendingKey is the key generated on the portal for a CSR (ValidateOptions.Key), if any.
	PendingKey crypto.Signer
	// Roots is the test root pool to validate against (ValidateOptions.Roots).
	Roots *x509.CertPool
	// WantCode is the certs.Error code expected; "" for a good upload.
	WantCode string
	// Served is, for good uploads, the chain that must be served: leaf first, root excluded.
	Served []*x509.Certificate
}

// pki is the shared test hierarchy: one trusted root with an ECDSA and an RSA intermediate.
type pki struct {
	fqdn     string
	now      time.Time
	root     *testpki.CA
	inter    *testpki.CA
	rsaInter *testpki.CA
}

func newPKI(t testing.TB, fqdn string, now time.Time) *pki {
	t.Helper()
	root := testpki.NewCA(t, "Stoa Corpus Root", testpki.At(now))
	return &pki{
		fqdn:     fqdn,
		now:      now,
		root:     root,
		inter:    root.Intermediate(t, "Stoa Corpus Intermediate"),
		rsaInter: root.Intermediate(t, "Stoa Corpus RSA Intermediate", testpki.WithKeyAlg("rsa2048")),
	}
}

// files is the plain upload of l: leaf PEM, one chain PEM file with its intermediates, key PEM.
func (p *pki) files(t testing.TB, name string, l *testpki.Leaf) Case {
	t.Helper()
	c := Case{Name: name, Cert: testpki.CertPEM(l.Cert), Key: testpki.KeyPEM(t, l.Key), Roots: p.root.Pool()}
	if in := l.Intermediates(); len(in) > 0 {
		c.Chain = [][]byte{testpki.CertPEM(in...)}
	}
	return c
}

func (p *pki) leaf(t testing.TB, o testpki.LeafOptions) *testpki.Leaf {
	t.Helper()
	if o.DNS == nil && o.CommonName == "" {
		o.DNS = []string{p.fqdn}
	}
	return p.inter.Leaf(t, o)
}

func served(l *testpki.Leaf) []*x509.Certificate {
	return append([]*x509.Certificate{l.Cert}, l.Intermediates()...)
}
