package testpki

import (
	"bytes"
	"crypto"
	"crypto/md5"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"testing"
)

// DER encodings of the signature algorithm OIDs that Resign swaps (RFC 8017 appendix A.2.4).
// They all have the same length, so the TBS can be patched in place.
var (
	oidSHA256WithRSA = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 11}
	oidMD5WithRSA    = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 4}
)

// Issue signs tmpl with signer (the issuer's key), parent being the issuer's certificate
// (tmpl itself for a self-signed one). sigAlg 0 lets Go choose. Algorithms Go refuses to
// create (MD5WithRSA) are produced by signing with SHA-256 and re-signing by hand.
func Issue(t testing.TB, tmpl, parent *x509.Certificate, pub crypto.PublicKey, signer crypto.Signer, sigAlg x509.SignatureAlgorithm) *x509.Certificate {
	t.Helper()
	if sigAlg == x509.MD5WithRSA {
		tmpl.SignatureAlgorithm = x509.SHA256WithRSA
		der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, pub, signer)
		if err != nil {
			t.Fatalf("testpki: create certificate %q: %v", tmpl.Subject.CommonName, err)
		}
		return parse(t, ResignMD5(t, der, signer))
	}
	tmpl.SignatureAlgorithm = sigAlg
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, pub, signer)
	if err != nil {
		t.Fatalf("testpki: create certificate %q with %v: %v", tmpl.Subject.CommonName, sigAlg, err)
	}
	return parse(t, der)
}

func parse(t testing.TB, der []byte) *x509.Certificate {
	t.Helper()
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatalf("testpki: parse issued certificate: %v", err)
	}
	return c
}

type rawCertificate struct {
	TBS    asn1.RawValue
	SigAlg pkix.AlgorithmIdentifier
	Sig    asn1.BitString
}

// ResignMD5 turns a SHA256WithRSA-signed certificate into an MD5WithRSA-signed one, signing
// the patched TBS with the issuer's RSA key. Go refuses to create such certificates, and real
// uploads still contain them, so the corpus needs them.
func ResignMD5(t testing.TB, der []byte, issuerKey crypto.Signer) []byte {
	t.Helper()
	var c rawCertificate
	if _, err := asn1.Unmarshal(der, &c); err != nil {
		t.Fatalf("testpki: unmarshal certificate: %v", err)
	}
	if !c.SigAlg.Algorithm.Equal(oidSHA256WithRSA) {
		t.Fatalf("testpki: ResignMD5 needs a SHA256WithRSA certificate, got %v", c.SigAlg.Algorithm)
	}
	from, _ := asn1.Marshal(oidSHA256WithRSA)
	to, _ := asn1.Marshal(oidMD5WithRSA)
	tbs := bytes.Replace(c.TBS.FullBytes, from, to, 1)
	rk, ok := issuerKey.(*rsa.PrivateKey)
	if !ok {
		t.Fatalf("testpki: ResignMD5 needs an RSA issuer key, got %T", issuerKey)
	}
	sum := md5.Sum(tbs)
	sig, err := rsa.SignPKCS1v15(rand.Reader, rk, crypto.MD5, sum[:])
	if err != nil {
		t.Fatalf("testpki: MD5 sign: %v", err)
	}
	c.TBS = asn1.RawValue{FullBytes: tbs}
	c.SigAlg.Algorithm = oidMD5WithRSA
	c.Sig = asn1.BitString{Bytes: sig, BitLength: len(sig) * 8}
	out, err := asn1.Marshal(c)
	if err != nil {
		t.Fatalf("testpki: marshal certificate: %v", err)
	}
	return out
}
