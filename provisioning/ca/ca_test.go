package ca

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func newCA(t *testing.T) *CA {
	t.Helper()
	c, err := LoadOrCreate(filepath.Join(t.TempDir(), "ca"), "Stoa test CA", t0)
	if err != nil {
		t.Fatal(err)
	}
	c.Now = func() time.Time { return t0 }
	return c
}

func csrFor(t *testing.T, curve elliptic.Curve, names ...string) (*ecdsa.PrivateKey, *x509.CertificateRequest) {
	t.Helper()
	key, err := ecdsa.GenerateKey(curve, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: "asked"}, DNSNames: names}, key)
	if err != nil {
		t.Fatal(err)
	}
	csr, err := x509.ParseCertificateRequest(der)
	if err != nil {
		t.Fatal(err)
	}
	return key, csr
}

func TestLoadOrCreate(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "ca")
	c1, err := LoadOrCreate(dir, "Stoa CA", t0)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []struct {
		path string
		mode os.FileMode
	}{{dir, 0o700 | os.ModeDir}, {filepath.Join(dir, KeyFile), 0o600}} {
		st, err := os.Stat(f.path)
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode() != f.mode {
			t.Errorf("%s mode %v, want %v", f.path, st.Mode(), f.mode)
		}
	}
	r := c1.Root()
	if !r.IsCA || r.Subject.CommonName != "Stoa CA" || r.SerialNumber.BitLen() < 100 {
		t.Errorf("root: IsCA=%v CN=%q serial bits=%d", r.IsCA, r.Subject.CommonName, r.SerialNumber.BitLen())
	}
	if _, ok := r.PublicKey.(*ecdsa.PublicKey); !ok || r.PublicKey.(*ecdsa.PublicKey).Curve != elliptic.P256() {
		t.Errorf("root key is %T, want ECDSA P-256", r.PublicKey)
	}
	if got := r.NotAfter.Sub(t0); got < RootValidity-time.Minute || got > RootValidity {
		t.Errorf("root lifetime %v, want about %v", got, RootValidity)
	}
	c2, err := LoadOrCreate(dir, "ignored on reload", t0.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if !c2.Root().Equal(r) || string(c2.RootPEM()) != string(c1.RootPEM()) {
		t.Error("reload produced a different root")
	}
}

func TestLoadOrCreateRefusesBrokenDirs(t *testing.T) {
	other := newCA(t)
	tests := []struct {
		name  string
		setup func(dir string)
		want  string
	}{
		{"key only", func(dir string) { os.Remove(filepath.Join(dir, CertFile)) }, "only one of"},
		{"cert only", func(dir string) { os.Remove(filepath.Join(dir, KeyFile)) }, "only one of"},
		{"mismatched key", func(dir string) {
			os.WriteFile(filepath.Join(dir, CertFile), other.RootPEM(), 0o644)
		}, "does not match"},
		{"garbage cert", func(dir string) { os.WriteFile(filepath.Join(dir, CertFile), []byte("nope"), 0o644) }, "no PEM CERTIFICATE"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "ca")
			if _, err := LoadOrCreate(dir, "x", t0); err != nil {
				t.Fatal(err)
			}
			tc.setup(dir)
			before := snapshot(t, dir)
			_, err := LoadOrCreate(dir, "x", t0)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
			if after := snapshot(t, dir); after != before {
				t.Errorf("directory changed after a refused load:\n%s\n---\n%s", before, after)
			}
		})
	}
}

func snapshot(t *testing.T, dir string) string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for _, e := range ents {
		data, _ := os.ReadFile(filepath.Join(dir, e.Name()))
		b.WriteString(e.Name() + "=" + string(data) + "\n")
	}
	return b.String()
}

func TestIssueServer(t *testing.T) {
	c := newCA(t)
	_, csr := csrFor(t, elliptic.P256(), "evil.example.com")
	id, _ := url.Parse("urn:stoa:component:abc")
	cert, err := c.IssueServer(csr, "router.example.net", []net.IP{net.ParseIP("127.0.0.1")}, 90*24*time.Hour, id)
	if err != nil {
		t.Fatal(err)
	}
	if len(cert.DNSNames) != 1 || cert.DNSNames[0] != "router.example.net" {
		t.Errorf("DNS SANs %v, want only the given FQDN (not the CSR's)", cert.DNSNames)
	}
	if len(cert.URIs) != 1 || cert.URIs[0].String() != id.String() {
		t.Errorf("URIs %v", cert.URIs)
	}
	if cert.SerialNumber.BitLen() < 100 || cert.SerialNumber.BitLen() > 128 {
		t.Errorf("serial has %d bits", cert.SerialNumber.BitLen())
	}
	if !cert.NotAfter.Equal(t0.Add(90 * 24 * time.Hour)) {
		t.Errorf("NotAfter %v", cert.NotAfter)
	}
	for _, usage := range []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth} {
		if _, err := cert.Verify(x509.VerifyOptions{DNSName: "router.example.net", Roots: c.Pool(), CurrentTime: t0, KeyUsages: []x509.ExtKeyUsage{usage}}); err != nil {
			t.Errorf("verify for usage %v: %v", usage, err)
		}
	}
	if err := cert.VerifyHostname("evil.example.com"); err == nil {
		t.Error("certificate covers the name the CSR asked for")
	}
}

func TestIssueServerRejects(t *testing.T) {
	c := newCA(t)
	_, good := csrFor(t, elliptic.P256())
	_, weak := csrFor(t, elliptic.P224())
	tampered := *good
	tampered.Signature = append([]byte{}, good.Signature...)
	tampered.Signature[len(tampered.Signature)-3] ^= 0xff
	tests := []struct {
		name     string
		csr      *x509.CertificateRequest
		fqdn     string
		validity time.Duration
		want     string
	}{
		{"tampered signature", &tampered, "a.example", time.Hour, "signature"},
		{"nil CSR", nil, "a.example", time.Hour, "missing"},
		{"P-224 key", weak, "a.example", time.Hour, "P-224"},
		{"empty fqdn", good, "", time.Hour, "empty"},
		{"wildcard", good, "*.example.com", time.Hour, "only lowercase"},
		{"IP as name", good, "10.0.0.1", time.Hour, "IP address"},
		{"zero validity", good, "a.example", 0, "validity"},
		{"too long validity", good, "a.example", 5 * 365 * 24 * time.Hour, "validity"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := c.IssueServer(tc.csr, tc.fqdn, nil, tc.validity)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want it to mention %q", err, tc.want)
			}
		})
	}
}

func TestIssueClient(t *testing.T) {
	c := newCA(t)
	key, _ := csrFor(t, elliptic.P256())
	cert, err := c.IssueClient(key.Public(), "room-42", 24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cert.Verify(x509.VerifyOptions{Roots: c.Pool(), CurrentTime: t0, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
		t.Errorf("client verify: %v", err)
	}
	if _, err := cert.Verify(x509.VerifyOptions{Roots: c.Pool(), CurrentTime: t0, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}); err == nil {
		t.Error("a device certificate verifies as a server")
	}
}

func TestSerialsDiffer(t *testing.T) {
	seen := map[string]bool{}
	for range 1000 {
		s, err := Serial()
		if err != nil {
			t.Fatal(err)
		}
		if seen[s.String()] {
			t.Fatalf("serial %s repeated", s)
		}
		seen[s.String()] = true
	}
}

func TestCheckFQDN(t *testing.T) {
	tests := []struct {
		name string
		ok   bool
	}{
		{"localhost", true}, {"router-1.example.net", true}, {"a.b.c.d.example", true},
		{"", false}, {"Router.example.net", false}, {"a..b", false}, {"-a.example", false},
		{"a-.example", false}, {"example.com.", false}, {"127.0.0.1", false}, {"a_b.example", false},
		{strings.Repeat("a", 64) + ".example", false}, {strings.Repeat("abcdefgh.", 29) + "com", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if err := CheckFQDN(tc.name); (err == nil) != tc.ok {
				t.Errorf("CheckFQDN(%q) = %v, want ok=%v", tc.name, err, tc.ok)
			}
		})
	}
}

func FuzzCheckFQDN(f *testing.F) {
	for _, s := range []string{"localhost", "a.example", "1.2.3.4", "*.x", "a..b", "xn--bcher-kva.example"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if CheckFQDN(s) != nil {
			return
		}
		// Whatever passes must be acceptable to x509 as a DNS SAN.
		c := newCA(t)
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		cert, err := c.IssueServerKey(key.Public(), s, nil, time.Hour)
		if err != nil {
			t.Fatalf("CheckFQDN accepted %q but issuing failed: %v", s, err)
		}
		if err := cert.VerifyHostname(s); err != nil {
			t.Fatalf("issued certificate does not cover %q: %v", s, err)
		}
	})
}
