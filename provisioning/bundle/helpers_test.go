package bundle

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"testing"
	"time"
)

var testNow = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// caPEM makes a real self-signed CA certificate.
func caPEM(t testing.TB, cn string) string {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: cn},
		NotBefore:             testNow.Add(-time.Hour),
		NotAfter:              testNow.Add(365 * 24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
}

type fixture struct {
	pub    ed25519.PublicKey
	priv   ed25519.PrivateKey
	portal string
	comp   string
}

func newFixture(t testing.TB) fixture {
	t.Helper()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return fixture{pub: pub, priv: priv, portal: caPEM(t, "portal root"), comp: caPEM(t, "component CA")}
}

func (f fixture) bundle(v uint64) Bundle {
	return Bundle{
		Version:     v,
		IssuedAt:    testNow.Add(time.Duration(v) * time.Minute),
		PortalURL:   "https://portal.example:443",
		MgmtURL:     "https://portal.example:8444",
		PortalRoots: []string{f.portal},
		ComponentCA: f.comp,
	}
}

func (f fixture) sign(t testing.TB, b Bundle) []byte {
	t.Helper()
	env, err := Sign(b, f.priv)
	if err != nil {
		t.Fatalf("Sign: %v", err)
	}
	return env
}
