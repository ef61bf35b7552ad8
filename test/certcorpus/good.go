package certcorpus

import (
	"crypto/x509"
	"encoding/pem"
	"testing"
	"time"

	"github.com/smallstep/pkcs7"
	"github.com/stoa-rooms/stoa/test/testpki"
	"software.sslmate.com/src/go-pkcs12"
)

// Good returns valid uploads for fqdn at now, one per container format and key source.
func Good(t testing.TB, fqdn string, now time.Time) []Case {
	t.Helper()
	p := newPKI(t, fqdn, now)
	l := p.leaf(t, testpki.LeafOptions{})
	root := p.root.Cert
	var out []Case
	add := func(c Case, s []*x509.Certificate) {
		c.Served = s
		out = append(out, c)
	}

	add(p.files(t, "pem_leaf_and_chain_files", l), served(l))

	// One PEM bundle, deliberately out of order, root and key included.
	bundle := testpki.CertPEM(root)
	bundle = append(bundle, testpki.KeyPEM(t, l.Key)...)
	bundle = append(bundle, testpki.CertPEM(l.Cert, p.inter.Cert)...)
	add(Case{Name: "pem_bundle_any_order", Cert: bundle, Roots: p.root.Pool()}, served(l))

	c := p.files(t, "der_leaf_pem_chain", l)
	c.Cert = l.Cert.Raw
	add(c, served(l))

	p7 := P7(t, l.Cert, p.inter.Cert, root)
	add(Case{Name: "pkcs7_der_chain", Cert: p7, Key: testpki.KeyPEM(t, l.Key), Roots: p.root.Pool()}, served(l))
	c = p.files(t, "pem_leaf_pkcs7_pem_chain", l)
	c.Chain = [][]byte{pem.EncodeToMemory(&pem.Block{Type: "PKCS7", Bytes: P7(t, p.inter.Cert, root)})}
	add(c, served(l))

	add(Case{Name: "pkcs12_with_key", Cert: P12(t, l, "correct horse"), Password: "correct horse", Roots: p.root.Pool()}, served(l))

	pending := testpki.NewKey(t, "ecdsa-p384")
	pl := p.leaf(t, testpki.LeafOptions{Key: pending})
	c = p.files(t, "csr_flow_pending_key", pl)
	c.Key, c.PendingKey = nil, pending
	add(c, served(pl))

	rl := p.rsaInter.Leaf(t, testpki.LeafOptions{DNS: []string{fqdn}, KeyAlg: "rsa2048"})
	add(p.files(t, "rsa_leaf_rsa_intermediate", rl), served(rl))

	nl := p.leaf(t, testpki.LeafOptions{NoEKU: true, DNS: []string{"other.example", fqdn}})
	add(p.files(t, "no_eku_second_san", nl), served(nl))

	dl := p.root.Leaf(t, testpki.LeafOptions{DNS: []string{fqdn}})
	add(p.files(t, "issued_by_root_directly", dl), served(dl))

	// A private CA the portal does not know yet: its uploaded root is the anchor.
	priv := testpki.NewCA(t, "Private Root", testpki.At(now))
	pi := priv.Intermediate(t, "Private Intermediate")
	ppl := pi.Leaf(t, testpki.LeafOptions{DNS: []string{fqdn}})
	c = p.files(t, "private_ca_root_uploaded", ppl)
	c.Chain = [][]byte{testpki.CertPEM(pi.Cert), testpki.CertPEM(priv.Cert)}
	add(c, served(ppl))
	return out
}

// P7 packs certificates into a degenerate PKCS#7 SignedData (a ".p7b"), DER encoded.
func P7(t testing.TB, certs ...*x509.Certificate) []byte {
	t.Helper()
	var der []byte
	for _, c := range certs {
		der = append(der, c.Raw...)
	}
	out, err := pkcs7.DegenerateCertificate(der)
	if err != nil {
		t.Fatalf("certcorpus: pkcs7: %v", err)
	}
	return out
}

// P12 packs a leaf, its key and its intermediates into a PKCS#12 file.
func P12(t testing.TB, l *testpki.Leaf, password string) []byte {
	t.Helper()
	out, err := pkcs12.Modern.Encode(l.Key, l.Cert, l.Intermediates(), password)
	if err != nil {
		t.Fatalf("certcorpus: pkcs12: %v", err)
	}
	return out
}
