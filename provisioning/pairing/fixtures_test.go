package pairing

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"testing"
	"time"
)

// testCSRPEM returns a real PEM CSR signed by a fresh P-256 key, as a room makes it.
func testCSRPEM(t testing.TB) string {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: "room"}}, key)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der}))
}

// testCertPEM returns a real self-signed PEM certificate.
func testCertPEM(t testing.TB, cn string) string {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: cn},
		NotBefore:    time.Unix(1_700_000_000, 0),
		NotAfter:     time.Unix(1_900_000_000, 0),
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
}

func testEnrollment(t testing.TB) Enrollment {
	return Enrollment{CSRPEM: testCSRPEM(t), Room: RoomInfo{Model: "sim", Firmware: "0.1.0", Serial: "SIM-1", Hostname: "room-1"}}
}

func testGrant(t testing.TB) Grant {
	pub, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return Grant{
		RoomID:      "r_0123",
		Name:        "Boardroom",
		CertPEM:     testCertPEM(t, "urn:stoa:room:r_0123"),
		DeviceCAPEM: testCertPEM(t, "Stoa device CA"),
		Bundle:      []byte(`{"payload":"e30=","signature":"AA=="}`),
		BundleKey:   pub,
		MgmtURL:     "https://portal.example.test:8444",
	}
}

func mustJSON(t testing.TB, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
