package certs_test

import (
	"crypto/x509"
	"encoding/pem"
	"errors"
	"testing"

	"github.com/stoa-rooms/stoa/services/certs"
	"github.com/stoa-rooms/stoa/test/certcorpus"
	"github.com/stoa-rooms/stoa/test/testpki"
)

// requireCertsError fails unless err is nil or a *certs.Error with a code and message: every
// parser error must reach the user as something readable.
func requireCertsError(t *testing.T, err error) {
	t.Helper()
	if err == nil {
		return
	}
	var ce *certs.Error
	if !errors.As(err, &ce) || ce.Code == "" || ce.Msg == "" {
		t.Fatalf("error %v (%T) is not a *certs.Error with code and message", err, err)
	}
}

func FuzzParseUpload(f *testing.F) {
	for _, c := range append(certcorpus.Good(f, fqdn, corpusNow), certcorpus.Bad(f, fqdn, corpusNow)...) {
		if len(c.Cert) <= certs.MaxUploadSize {
			f.Add(c.Cert, c.Password)
		}
	}
	f.Add([]byte{0x30, 0x80}, "")
	f.Add([]byte{0x30, 0x84, 0xff, 0xff, 0xff, 0xff, 0x02}, "x")
	f.Fuzz(func(t *testing.T, data []byte, password string) {
		b, err := certs.ParseUpload(data, nil, nil, password)
		requireCertsError(t, err)
		if err == nil && (b == nil || b.Leaf == nil) {
			t.Fatalf("no error but no leaf")
		}
		if err == nil {
			for _, c := range b.Chain {
				if c.Equal(b.Leaf) {
					t.Fatalf("leaf repeated in chain")
				}
			}
		}
	})
}

func FuzzParseKeyPEM(f *testing.F) {
	for _, alg := range []string{"ecdsa-p256", "ecdsa-p384", "rsa2048"} {
		k := testpki.NewKey(f, alg)
		f.Add(testpki.KeyPEM(f, k))
	}
	f.Add([]byte("-----BEGIN EC PRIVATE KEY-----\nMAA=\n-----END EC PRIVATE KEY-----\n"))
	f.Add(pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Headers: map[string]string{"DEK-Info": "AES-128-CBC,00"}, Bytes: []byte{1}}))
	f.Add([]byte(""))
	f.Fuzz(func(t *testing.T, data []byte) {
		k, err := certs.ParseKeyPEM(data)
		requireCertsError(t, err)
		if err == nil && k == nil {
			t.Fatalf("no error but no key")
		}
	})
}

func FuzzParseChainPEM(f *testing.F) {
	root := testpki.NewCA(f, "Fuzz Root")
	l := root.Intermediate(f, "Fuzz Inter").Leaf(f, testpki.LeafOptions{DNS: []string{fqdn}})
	full := testpki.CertPEM(append([]*x509.Certificate{l.Cert}, l.Chain...)...)
	f.Add(full)
	f.Add(full[:len(full)/2])
	f.Add([]byte("-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		chain, err := certs.ParseChainPEM(data)
		requireCertsError(t, err)
		if err == nil && len(chain) == 0 {
			t.Fatalf("no error but empty chain")
		}
		if err == nil {
			if _, err := certs.ParseChainPEM(certs.ChainPEM(chain)); err != nil {
				t.Fatalf("ChainPEM output does not parse back: %v", err)
			}
		}
	})
}
