package portal

import (
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"strings"
	"testing"
	"time"

	"github.com/stoa-rooms/stoa/services/api"
	"github.com/stoa-rooms/stoa/test/testpki"
)

// signCSR plays the external CA: it signs the portal's CSR as a TLS server certificate.
func signCSR(t *testing.T, ca *testpki.CA, csrPEM string, notAfter time.Time) *x509.Certificate {
	t.Helper()
	blk, _ := pem.Decode([]byte(csrPEM))
	if blk == nil || blk.Type != "CERTIFICATE REQUEST" {
		t.Fatalf("CSR is not PEM: %q", csrPEM)
	}
	csr, err := x509.ParseCertificateRequest(blk.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	if err := csr.CheckSignature(); err != nil {
		t.Fatalf("CSR signature: %v", err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: testpki.Serial(), Subject: pkix.Name{CommonName: csr.Subject.CommonName},
		DNSNames: csr.DNSNames, IPAddresses: csr.IPAddresses,
		NotBefore: time.Now().Add(-time.Hour), NotAfter: notAfter,
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	return testpki.Issue(t, tmpl, ca.Cert, csr.PublicKey, ca.Key, 0)
}

// TestCSRFlowActivateRollbackReset walks the Security page's steps through the REST API: key,
// CSR, upload of the CA-signed certificate with its chain, activate (hot, no restart), rollback,
// reset to self-signed.
func TestCSRFlowActivateRollbackReset(t *testing.T) {
	p := startPortal(t, nil)
	selfSigned := p.serial(t)
	if st := p.state(t); st.Active.Source != "self-signed" || !contains(st.Active.DNSNames, "localhost") {
		t.Fatalf("first start serves %+v, want a self-signed certificate for localhost", st.Active)
	}

	for _, alg := range []string{"rsa2048", "ecdsa-p384", "ecdsa-p256"} {
		var ki api.KeyInfo
		if code := p.post(t, "/api/v1/security/key", api.KeyRequest{Algorithm: alg}, &ki); code != 200 || ki.Algorithm != alg {
			t.Fatalf("generate %s key: %d %+v", alg, code, ki)
		}
	}
	if code := p.post(t, "/api/v1/security/key", api.KeyRequest{Algorithm: "dsa1024"}, nil); code != 400 {
		t.Fatalf("unknown algorithm accepted: %d", code)
	}
	var csr api.CSRResponse
	req := api.CSRRequest{Country: "DE", Organization: "Stoa Test", DNSNames: []string{"portal.example.test"}, IPAddresses: []string{"127.0.0.1"}}
	if code := p.post(t, "/api/v1/security/csr", req, &csr); code != 200 {
		t.Fatalf("CSR: %d", code)
	}
	code, pemFile, err := p.sess.Do("GET", "/api/v1/security/csr", nil, "", nil)
	if err != nil || code != 200 || string(pemFile) != csr.CSRPEM {
		t.Fatalf("CSR download: %d %v, same as shown: %v", code, err, string(pemFile) == csr.CSRPEM)
	}

	ca := testpki.NewCA(t, "Stoa Test Root")
	inter := ca.Intermediate(t, "Stoa Test Issuing CA")
	leaf := signCSR(t, inter, csr.CSRPEM, time.Now().Add(90*24*time.Hour))
	chain := [][]byte{testpki.CertPEM(inter.Cert), testpki.CertPEM(ca.Cert)}

	// An expired certificate for the same key is refused and changes nothing.
	expired := signCSR(t, inter, csr.CSRPEM, time.Now().Add(-time.Minute))
	if code, e, _ := p.upload(t, "/api/v1/security/upload", testpki.CertPEM(expired), chain, nil, ""); code != 422 || e.Code != "cert.expired" {
		t.Fatalf("expired upload: %d %+v", code, e)
	}
	if p.serial(t) != selfSigned || p.state(t).Staged != nil {
		t.Fatal("a refused upload changed the served or staged certificate")
	}
	if code := p.post(t, "/api/v1/security/activate", nil, nil); code != 409 {
		t.Fatalf("activate with nothing staged: %d, want 409", code)
	}

	code, e, info := p.upload(t, "/api/v1/security/upload", testpki.CertPEM(leaf), chain, nil, "")
	if code != 200 {
		t.Fatalf("upload: %d %+v", code, e)
	}
	if info.Serial != leaf.SerialNumber.Text(16) && !strings.EqualFold(strings.ReplaceAll(info.Serial, ":", ""), leaf.SerialNumber.Text(16)) {
		t.Fatalf("staged serial %s, want %s", info.Serial, leaf.SerialNumber.Text(16))
	}
	if p.serial(t) != selfSigned {
		t.Fatal("upload alone changed the served certificate; only activate may")
	}
	var st api.SecurityState
	if code := p.post(t, "/api/v1/security/activate", nil, &st); code != 200 {
		t.Fatalf("activate: %d", code)
	}
	if got := p.serial(t); got != leaf.SerialNumber.Text(16) {
		t.Fatalf("after activate the portal serves %s, want %s", got, leaf.SerialNumber.Text(16))
	}
	// A client that trusts only the test root now verifies the portal by name.
	conn, err := tls.Dial("tcp", p.https, &tls.Config{RootCAs: ca.Pool(), ServerName: "localhost"})
	if err != nil {
		t.Fatalf("verified handshake after activation: %v", err)
	}
	if n := len(conn.ConnectionState().PeerCertificates); n != 2 {
		t.Errorf("served chain has %d certificates, want leaf + intermediate", n)
	}
	conn.Close()
	if st.Previous == nil || st.Active.Source != "uploaded" || len(st.Active.IssuerChain) == 0 {
		t.Fatalf("state after activate: %+v", st)
	}

	if code := p.post(t, "/api/v1/security/rollback", nil, nil); code != 200 || p.serial(t) != selfSigned {
		t.Fatalf("rollback: %d, serving %s want %s", code, p.serial(t), selfSigned)
	}
	if code := p.post(t, "/api/v1/security/reset-self-signed", nil, nil); code != 200 {
		t.Fatalf("reset: %d", code)
	}
	if s := p.serial(t); s == selfSigned || s == leaf.SerialNumber.Text(16) {
		t.Fatalf("reset serves %s: not a fresh self-signed certificate", s)
	}

	// Every security change is in the audit log.
	var audit []api.AuditEntry
	if code, _, err := p.sess.Do("GET", "/api/v1/audit?limit=100", nil, "", &audit); err != nil || code != 200 {
		t.Fatalf("audit: %d %v", code, err)
	}
	for _, want := range []string{"login.ok", "cert.key_generate", "cert.csr_generate", "cert.upload_rejected", "cert.upload", "cert.activate", "cert.rollback", "cert.reset_self_signed"} {
		found := false
		for _, a := range audit {
			found = found || a.Action == want
		}
		if !found {
			t.Errorf("audit log lacks %q", want)
		}
	}
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// TestACMERefusesSingleLabelFQDN: ACME cannot issue for "localhost"; the page says so at once
// instead of failing later in the renewer.
func TestACMERefusesSingleLabelFQDN(t *testing.T) {
	p := startPortal(t, nil)
	code, body, err := p.sess.Do("PUT", "/api/v1/security/acme", api.ACMEConfig{Enabled: true, DirectoryURL: "https://127.0.0.1:1/dir", Email: "ops@example.com"}, "", nil)
	if err != nil || code != 400 || !strings.Contains(string(body), "portal FQDN") {
		t.Fatalf("PUT acme with FQDN localhost: %d %s %v", code, body, err)
	}
	if st := p.state(t); st.ACME.Enabled {
		t.Fatal("refused ACME configuration was applied")
	}
}
