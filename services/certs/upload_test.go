package certs_test

import (
	"errors"
	"testing"

	"github.com/stoa-rooms/stoa/services/certs"
	"github.com/stoa-rooms/stoa/test/testpki"
)

func TestParseUploadOrdersAnyBundle(t *testing.T) {
	root := testpki.NewCA(t, "Order Root", testpki.At(corpusNow))
	i1 := root.Intermediate(t, "Order Inter 1")
	i2 := i1.Intermediate(t, "Order Inter 2")
	l := i2.Leaf(t, testpki.LeafOptions{DNS: []string{fqdn}})
	key := testpki.KeyPEM(t, l.Key)
	tests := []struct {
		name  string
		cert  []byte
		chain [][]byte
	}{
		{"root_first_bundle", append(testpki.CertPEM(root.Cert, i1.Cert, l.Cert, i2.Cert), key...), nil},
		{"leaf_in_chain_file", testpki.CertPEM(i1.Cert), [][]byte{testpki.CertPEM(root.Cert), testpki.CertPEM(l.Cert), append(key, testpki.CertPEM(i2.Cert)...)}},
		{"duplicates", testpki.CertPEM(l.Cert, l.Cert, i2.Cert), [][]byte{testpki.CertPEM(i1.Cert, i2.Cert, root.Cert), key}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b, err := certs.ParseUpload(tc.cert, tc.chain, nil, "")
			if err != nil {
				t.Fatalf("ParseUpload: %v", err)
			}
			if !b.Leaf.Equal(l.Cert) || b.Key == nil {
				t.Fatalf("leaf %q key %v, want the leaf and its key", b.Leaf.Subject, b.Key != nil)
			}
			want := []string{"Order Inter 2", "Order Inter 1", "Order Root"}
			if len(b.Chain) != len(want) {
				t.Fatalf("chain has %d certificates, want %d", len(b.Chain), len(want))
			}
			for i, n := range want {
				if b.Chain[i].Subject.CommonName != n {
					t.Fatalf("chain[%d] = %q, want %q", i, b.Chain[i].Subject.CommonName, n)
				}
			}
			tcert, err := certs.Validate(b, certs.ValidateOptions{FQDN: fqdn, Now: corpusNow})
			if err != nil {
				t.Fatalf("Validate with the uploaded root as anchor and no extra roots: %v", err)
			}
			if len(tcert.Certificate) != 3 {
				t.Fatalf("served %d certificates, want leaf + 2 intermediates", len(tcert.Certificate))
			}
		})
	}
}

func TestValidateWithoutRootsRefusesUnknownCA(t *testing.T) {
	root := testpki.NewCA(t, "Unknown", testpki.At(corpusNow))
	l := root.Intermediate(t, "Unknown Inter").Leaf(t, testpki.LeafOptions{DNS: []string{fqdn}})
	b, err := certs.ParseUpload(testpki.CertPEM(l.Cert, l.Chain[0]), nil, testpki.KeyPEM(t, l.Key), "")
	if err != nil {
		t.Fatal(err)
	}
	_, err = certs.Validate(b, certs.ValidateOptions{FQDN: fqdn, Now: corpusNow})
	var ce *certs.Error
	if !errors.As(err, &ce) || ce.Code != certs.CodeUntrusted {
		t.Fatalf("Validate = %v, want %s (system roots only)", err, certs.CodeUntrusted)
	}
}
