package certs_test

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"net"
	"slices"
	"strings"
	"testing"

	"github.com/stoa-rooms/stoa/services/api"
	"github.com/stoa-rooms/stoa/services/certs"
	"github.com/stoa-rooms/stoa/test/testpki"
)

func TestCSRRoundTripEveryAlgorithm(t *testing.T) {
	want := map[string]x509.PublicKeyAlgorithm{
		"rsa2048": x509.RSA, "rsa3072": x509.RSA, "rsa4096": x509.RSA,
		"ecdsa-p256": x509.ECDSA, "ecdsa-p384": x509.ECDSA,
	}
	for _, alg := range certs.KeyAlgorithms() {
		t.Run(alg, func(t *testing.T) {
			key, err := certs.GenerateKey(alg)
			if err != nil {
				t.Fatalf("GenerateKey: %v", err)
			}
			keyPEM, err := certs.MarshalKeyPEM(key)
			if err != nil {
				t.Fatalf("MarshalKeyPEM: %v", err)
			}
			back, err := certs.ParseKeyPEM(keyPEM)
			if err != nil {
				t.Fatalf("ParseKeyPEM: %v", err)
			}
			csrPEM, err := certs.CreateCSR(back, api.CSRRequest{
				Country: "de", State: "Berlin", Locality: "Berlin", Organization: "Stoa",
				OrganizationalUnit: "IT", DNSNames: []string{"alt.stoa.test", fqdn, "*.rooms.stoa.test"},
				IPAddresses: []string{"192.0.2.10", "2001:db8::10"},
			}, fqdn)
			if err != nil {
				t.Fatalf("CreateCSR: %v", err)
			}
			b, _ := pem.Decode(csrPEM)
			if b == nil || b.Type != "CERTIFICATE REQUEST" {
				t.Fatalf("CSR is not a PEM CERTIFICATE REQUEST: %q", csrPEM)
			}
			csr, err := x509.ParseCertificateRequest(b.Bytes)
			if err != nil {
				t.Fatalf("parse CSR: %v", err)
			}
			if err := csr.CheckSignature(); err != nil {
				t.Fatalf("CSR signature: %v", err)
			}
			if csr.PublicKeyAlgorithm != want[alg] {
				t.Fatalf("public key algorithm %v, want %v", csr.PublicKeyAlgorithm, want[alg])
			}
			if !csr.PublicKey.(interface{ Equal(crypto.PublicKey) bool }).Equal(key.Public()) {
				t.Fatalf("CSR public key is not the generated key")
			}
			if got := []string{"portal.stoa.test", "alt.stoa.test", "*.rooms.stoa.test"}; !slices.Equal(csr.DNSNames, got) {
				t.Fatalf("DNS SANs = %v, want %v (fqdn first, no duplicates)", csr.DNSNames, got)
			}
			if len(csr.IPAddresses) != 2 || !csr.IPAddresses[0].Equal(net.ParseIP("192.0.2.10")) || !csr.IPAddresses[1].Equal(net.ParseIP("2001:db8::10")) {
				t.Fatalf("IP SANs = %v", csr.IPAddresses)
			}
			s := csr.Subject
			if s.CommonName != fqdn || !slices.Equal(s.Country, []string{"DE"}) || !slices.Equal(s.Organization, []string{"Stoa"}) ||
				!slices.Equal(s.OrganizationalUnit, []string{"IT"}) || !slices.Equal(s.Province, []string{"Berlin"}) {
				t.Fatalf("subject = %v", s)
			}
		})
	}
}

func TestCSRRejectsBadFields(t *testing.T) {
	key, err := certs.GenerateKey("ecdsa-p256")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		req  api.CSRRequest
		fqdn string
		want string // substring of the message
	}{
		{"country_three_letters", api.CSRRequest{Country: "DEU"}, fqdn, "two-letter"},
		{"country_digits", api.CSRRequest{Country: "D1"}, fqdn, "two-letter"},
		{"dns_underscore", api.CSRRequest{DNSNames: []string{"bad_name.test"}}, fqdn, "bad_name.test"},
		{"dns_double_dot", api.CSRRequest{DNSNames: []string{"a..test"}}, fqdn, "empty label"},
		{"dns_hyphen_edge", api.CSRRequest{DNSNames: []string{"-a.test"}}, fqdn, "hyphen"},
		{"dns_long_label", api.CSRRequest{DNSNames: []string{strings.Repeat("a", 64) + ".test"}}, fqdn, "63"},
		{"dns_inner_wildcard", api.CSRRequest{DNSNames: []string{"a.*.test"}}, fqdn, "*"},
		{"ip_garbage", api.CSRRequest{IPAddresses: []string{"300.1.1.1"}}, fqdn, "300.1.1.1"},
		{"ip_with_zone", api.CSRRequest{IPAddresses: []string{"fe80::1%eth0"}}, fqdn, "fe80::1%eth0"},
		{"cn_too_long", api.CSRRequest{CommonName: strings.Repeat("c", 65)}, fqdn, "common name"},
		{"org_too_long", api.CSRRequest{Organization: strings.Repeat("o", 65)}, fqdn, "organization"},
		{"bad_fqdn", api.CSRRequest{}, "not a host!", "FQDN"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := certs.CreateCSR(key, tc.req, tc.fqdn)
			var ce *certs.Error
			if !errors.As(err, &ce) || ce.Code != certs.CodeCSRInvalid {
				t.Fatalf("err = %v, want %s", err, certs.CodeCSRInvalid)
			}
			if !strings.Contains(ce.Msg, tc.want) {
				t.Fatalf("message %q does not mention %q", ce.Msg, tc.want)
			}
		})
	}
}

func TestCSRForIPPortal(t *testing.T) {
	key, err := certs.GenerateKey("ecdsa-p256")
	if err != nil {
		t.Fatal(err)
	}
	csrPEM, err := certs.CreateCSR(key, api.CSRRequest{}, "192.0.2.7")
	if err != nil {
		t.Fatalf("CreateCSR: %v", err)
	}
	b, _ := pem.Decode(csrPEM)
	csr, err := x509.ParseCertificateRequest(b.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	if len(csr.DNSNames) != 0 || len(csr.IPAddresses) != 1 || csr.IPAddresses[0].String() != "192.0.2.7" {
		t.Fatalf("SANs = %v %v, want only IP 192.0.2.7", csr.DNSNames, csr.IPAddresses)
	}
}

func TestGenerateKeyUnknown(t *testing.T) {
	_, err := certs.GenerateKey("dsa1024")
	var ce *certs.Error
	if !errors.As(err, &ce) || ce.Code != certs.CodeKeyAlgorithm {
		t.Fatalf("err = %v, want %s", err, certs.CodeKeyAlgorithm)
	}
	for _, s := range append(certs.KeyAlgorithms(), "dsa1024") {
		if !strings.Contains(ce.Msg, s) {
			t.Fatalf("message %q does not name %q", ce.Msg, s)
		}
	}
}

func TestParseKeyPEMFormats(t *testing.T) {
	rsaKey := testpki.NewKey(t, "rsa2048").(*rsa.PrivateKey)
	ecKey := testpki.NewKey(t, "ecdsa-p384").(*ecdsa.PrivateKey)
	sec1, err := x509.MarshalECPrivateKey(ecKey)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		pem  []byte
		want crypto.PublicKey
	}{
		{"pkcs8_rsa", testpki.KeyPEM(t, rsaKey), rsaKey.Public()},
		{"pkcs8_ec", testpki.KeyPEM(t, ecKey), ecKey.Public()},
		{"pkcs1", pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(rsaKey)}), rsaKey.Public()},
		{"sec1", pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: sec1}), ecKey.Public()},
		{"sec1_after_ec_parameters", append([]byte("-----BEGIN EC PARAMETERS-----\nBgUrgQQAIg==\n-----END EC PARAMETERS-----\n"),
			pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: sec1})...), ecKey.Public()},
		{"mislabelled_pkcs1_as_pkcs8", pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(rsaKey)}), rsaKey.Public()},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			k, err := certs.ParseKeyPEM(tc.pem)
			if err != nil {
				t.Fatalf("ParseKeyPEM: %v", err)
			}
			if !k.Public().(interface{ Equal(crypto.PublicKey) bool }).Equal(tc.want) {
				t.Fatalf("parsed a different key")
			}
		})
	}
	for _, bad := range []string{"", "not pem", "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"} {
		_, err := certs.ParseKeyPEM([]byte(bad))
		var ce *certs.Error
		if !errors.As(err, &ce) || ce.Code != certs.CodeKeyInvalid {
			t.Fatalf("ParseKeyPEM(%q) = %v, want %s", bad, err, certs.CodeKeyInvalid)
		}
	}
}
