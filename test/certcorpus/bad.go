package certcorpus

import (
	"bytes"
	"crypto/x509"
	"encoding/pem"
	"testing"
	"time"

	"github.com/stoa-rooms/stoa/test/testpki"
)

// maxUpload mirrors certs.MaxUploadSize (1 MiB) without importing the package under test.
const maxUpload = 1 << 20

// Bad returns uploads that must be refused, each with one defect and the code it must get.
func Bad(t testing.TB, fqdn string, now time.Time) []Case {
	t.Helper()
	p := newPKI(t, fqdn, now)
	good := p.leaf(t, testpki.LeafOptions{})
	base := func(name, code string) Case {
		c := p.files(t, name, good)
		c.WantCode = code
		return c
	}
	leafCase := func(name, code string, l *testpki.Leaf) Case {
		c := p.files(t, name, l)
		c.WantCode = code
		return c
	}
	year := 365 * 24 * time.Hour
	var out []Case
	add := func(c Case) { out = append(out, c) }

	// Keys.
	c := base("key_mismatch", "key.mismatch")
	c.Key = testpki.KeyPEM(t, testpki.NewKey(t, ""))
	add(c)
	c = base("pending_key_mismatch", "key.mismatch")
	c.Key, c.PendingKey = nil, testpki.NewKey(t, "")
	add(c)
	c = base("no_key_at_all", "key.missing")
	c.Key = nil
	add(c)
	c = base("key_file_garbage", "key.invalid")
	c.Key = []byte("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n")
	add(c)
	c = base("key_encrypted", "key.invalid")
	c.Key = pem.EncodeToMemory(&pem.Block{Type: "ENCRYPTED PRIVATE KEY", Bytes: []byte{0x30, 0x00}})
	add(c)

	// Validity.
	add(leafCase("expired", "cert.expired", p.leaf(t, testpki.LeafOptions{NotBefore: now.Add(-2 * year), NotAfter: now.Add(-24 * time.Hour)})))
	add(leafCase("not_yet_valid", "cert.not_yet_valid", p.leaf(t, testpki.LeafOptions{NotBefore: now.Add(48 * time.Hour), NotAfter: now.Add(year)})))
	oldInter := p.root.Intermediate(t, "Expired Intermediate", testpki.WithValidity(now.Add(-3*year), now.Add(-year)))
	add(leafCase("expired_intermediate", "cert.expired", oldInter.Leaf(t, testpki.LeafOptions{DNS: []string{fqdn}})))

	// Names.
	add(leafCase("wrong_san", "cert.san_mismatch", p.leaf(t, testpki.LeafOptions{DNS: []string{"other.example"}})))
	add(leafCase("wildcard_other_domain", "cert.san_mismatch", p.leaf(t, testpki.LeafOptions{DNS: []string{"*.other.example"}})))
	add(leafCase("cn_only_no_san", "cert.san_mismatch", p.leaf(t, testpki.LeafOptions{CommonName: fqdn})))

	// Chain and trust.
	c = base("missing_intermediate", "chain.missing_intermediate")
	c.Chain = nil
	add(c)
	stranger := testpki.NewCA(t, "Unknown Root", testpki.At(now))
	si := stranger.Intermediate(t, "Unknown Intermediate")
	add(leafCase("untrusted_root", "chain.untrusted", si.Leaf(t, testpki.LeafOptions{DNS: []string{fqdn}})))
	self := (*testpki.CA)(nil).Leaf(t, testpki.LeafOptions{DNS: []string{fqdn}, SelfSigned: true})
	add(leafCase("self_signed_leaf", "cert.self_signed", self))
	add(leafCase("ca_cert_as_leaf", "cert.leaf_is_ca", p.leaf(t, testpki.LeafOptions{IsCA: true})))
	add(leafCase("client_auth_only", "cert.no_server_auth", p.leaf(t, testpki.LeafOptions{EKU: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}})))

	// Weak cryptography.
	add(leafCase("sha1_signed_leaf", "cert.weak_signature", p.rsaInter.Leaf(t, testpki.LeafOptions{DNS: []string{fqdn}, SigAlg: x509.SHA1WithRSA})))
	add(leafCase("md5_signed_leaf", "cert.weak_signature", p.rsaInter.Leaf(t, testpki.LeafOptions{DNS: []string{fqdn}, SigAlg: x509.MD5WithRSA})))
	sha1Inter := p.root.Intermediate(t, "SHA-1 Intermediate", testpki.WithSigAlg(x509.ECDSAWithSHA1))
	add(leafCase("sha1_signed_intermediate", "cert.weak_signature", sha1Inter.Leaf(t, testpki.LeafOptions{DNS: []string{fqdn}})))
	add(leafCase("rsa1024_leaf", "cert.weak_key", p.leaf(t, testpki.LeafOptions{KeyAlg: "rsa1024"})))
	weakInter := p.root.Intermediate(t, "RSA-1024 Intermediate", testpki.WithKeyAlg("rsa1024"))
	add(leafCase("rsa1024_intermediate", "cert.weak_key", weakInter.Leaf(t, testpki.LeafOptions{DNS: []string{fqdn}})))

	// Containers and bytes.
	full := testpki.CertPEM(good.Cert)
	c = base("truncated_pem", "cert.truncated_pem")
	c.Cert = full[:len(full)*3/5]
	add(c)
	c = base("truncated_pem_bundle", "cert.truncated_pem")
	ip := testpki.CertPEM(p.inter.Cert)
	c.Cert, c.Chain = append(append([]byte{}, full...), ip[:len(ip)/2]...), nil
	add(c)
	c = base("garbage_text", "cert.garbage")
	c.Cert = []byte("this is not a certificate, it is a shopping list\n")
	add(c)
	c = base("der_garbage", "cert.garbage")
	c.Cert = append([]byte{0x30, 0x82, 0x01, 0x00, 0x30, 0x82, 0x00, 0xf0}, bytes.Repeat([]byte{0xA5}, 248)...)
	add(c)
	c = base("der_truncated", "cert.garbage")
	c.Cert = good.Cert.Raw[:len(good.Cert.Raw)-40]
	add(c)
	c = base("empty_file", "cert.empty")
	c.Cert = nil
	add(c)
	c = base("whitespace_only", "cert.empty")
	c.Cert = []byte(" \n\r\n\t")
	add(c)
	c = base("empty_chain_file", "cert.empty")
	c.Chain = append(c.Chain, []byte{})
	add(c)
	c = base("huge_file", "cert.too_large")
	c.Cert = bytes.Repeat(full, maxUpload/len(full)+1)
	add(c)
	c = base("huge_chain_file", "cert.too_large")
	c.Chain = [][]byte{make([]byte, maxUpload+1)}
	add(c)
	c = base("pem_only_a_key", "cert.no_certificate")
	c.Cert, c.Chain, c.Key = testpki.KeyPEM(t, good.Key), nil, nil
	add(c)
	c = base("csr_instead_of_certificate", "cert.no_certificate")
	c.Cert = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: []byte{0x30, 0x00}})
	add(c)
	other := stranger.Leaf(t, testpki.LeafOptions{DNS: []string{"other.example"}})
	c = base("two_unrelated_leaves", "cert.multiple_leaves")
	c.Cert, c.Chain, c.Key = testpki.CertPEM(good.Cert, other.Cert), [][]byte{testpki.CertPEM(p.inter.Cert)}, nil
	add(c)

	p12 := P12(t, good, "right password")
	add(Case{Name: "pkcs12_wrong_password", Cert: p12, Password: "wrong password", Roots: p.root.Pool(), WantCode: "p12.password"})
	add(Case{Name: "pkcs12_no_password_given", Cert: p12, Roots: p.root.Pool(), WantCode: "p12.password"})
	add(Case{Name: "pkcs12_corrupt", Cert: p12[:len(p12)/2], Password: "right password", Roots: p.root.Pool(), WantCode: "p12.invalid"})
	p7 := P7(t, good.Cert, p.inter.Cert)
	c = base("pkcs7_corrupt_der", "p7.invalid")
	c.Cert, c.Chain = p7[:len(p7)*2/3], nil
	add(c)
	c = base("pkcs7_corrupt_pem", "p7.invalid")
	c.Chain = [][]byte{pem.EncodeToMemory(&pem.Block{Type: "PKCS7", Bytes: []byte("\x30\x0b\x06\x09\x2a\x86\x48\x86\xf7\x0d\x01\x07\x02junk")})}
	add(c)
	return out
}
