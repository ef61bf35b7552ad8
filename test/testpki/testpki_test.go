package testpki

import (
	"crypto"
	"crypto/md5"
	"crypto/rsa"
	"crypto/x509"
	"testing"
	"time"
)

func TestChainVerifies(t *testing.T) {
	now := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	root := NewCA(t, "Root", At(now))
	inter := root.Intermediate(t, "Inter")
	leaf := inter.Leaf(t, LeafOptions{DNS: []string{"stoa.test"}})
	_, err := leaf.Cert.Verify(x509.VerifyOptions{
		DNSName: "stoa.test", Roots: root.Pool(), Intermediates: Pool(leaf.Intermediates()...),
		CurrentTime: now,
	})
	if err != nil {
		t.Fatalf("verify: %v", err)
	}
	if len(leaf.Chain) != 2 || leaf.Chain[1] != root.Cert {
		t.Fatalf("chain = %d certs, want inter+root", len(leaf.Chain))
	}
}

func TestWeakSignatures(t *testing.T) {
	tests := []struct {
		name string
		alg  x509.SignatureAlgorithm
	}{
		{"sha1", x509.SHA1WithRSA},
		{"md5", x509.MD5WithRSA},
	}
	root := NewCA(t, "RSA Root", WithKeyAlg("rsa2048"))
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			l := root.Leaf(t, LeafOptions{DNS: []string{"a.test"}, SigAlg: tc.alg})
			if l.Cert.SignatureAlgorithm != tc.alg {
				t.Fatalf("signature algorithm = %v, want %v", l.Cert.SignatureAlgorithm, tc.alg)
			}
			if err := l.Cert.CheckSignatureFrom(root.Cert); err == nil {
				t.Fatalf("Go accepted a %v signature; expected InsecureAlgorithmError", tc.alg)
			}
			if tc.alg == x509.MD5WithRSA {
				sum := md5.Sum(l.Cert.RawTBSCertificate)
				if err := rsa.VerifyPKCS1v15(root.Key.Public().(*rsa.PublicKey), crypto.MD5, sum[:], l.Cert.Signature); err != nil {
					t.Fatalf("hand-made MD5 signature does not verify: %v", err)
				}
			}
		})
	}
}
