package e2e

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stoa-rooms/stoa/services/api"
	"github.com/stoa-rooms/stoa/test/stoatest"
	"github.com/stoa-rooms/stoa/test/testpki"
)

// TestComponentJoinsSeparately runs the portal and a router as two processes, the way a site
// with several machines does: the super admin mints a join token, the router joins with it and
// receives a certificate for its FQDN, and the portal's component listener refuses clients
// without a component certificate.
func TestComponentJoinsSeparately(t *testing.T) {
	portal := stoatest.Start(t, stoatest.Options{Role: "portal"})
	sess := portal.Login(t)

	var tok api.JoinTokenResponse
	if code, body, err := sess.Do("POST", "/api/v1/components/tokens", api.JoinTokenRequest{Kind: "router", FQDN: "localhost"}, "", &tok); err != nil || code != 201 {
		t.Fatalf("create token: %d %s %v", code, body, err)
	}

	// The portal still serves its first-start self-signed certificate: hand it to the router.
	conn, err := tls.Dial("tcp", portal.PortalHost, &tls.Config{InsecureSkipVerify: true}) //nolint:gosec // fetching the certificate to pin
	if err != nil {
		t.Fatal(err)
	}
	portalCert := conn.ConnectionState().PeerCertificates[0]
	conn.Close()
	caFile := filepath.Join(t.TempDir(), "portal-ca.pem")
	if err := os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: portalCert.Raw}), 0o600); err != nil {
		t.Fatal(err)
	}

	router := stoatest.Start(t, stoatest.Options{Role: "router", Args: []string{
		"--portal-url", portal.PortalURL, "--join-token", tok.Token, "--portal-ca", caFile, "--component-fqdn", "localhost"}})
	router.WaitHealthy(t, "https://"+router.RouterAddr)

	// The router serves a certificate for its FQDN from the portal's internal CA.
	caPEM, err := os.ReadFile(filepath.Join(router.DataDir, "router", "ca.pem"))
	if err != nil {
		t.Fatal(err)
	}
	internalCA := x509.NewCertPool()
	if !internalCA.AppendCertsFromPEM(caPEM) {
		t.Fatal("router holds no internal CA root")
	}
	rc, err := tls.Dial("tcp", router.RouterAddr, &tls.Config{RootCAs: internalCA, ServerName: "localhost"})
	if err != nil {
		t.Fatalf("router certificate does not verify for its FQDN against the internal CA: %v", err)
	}
	rc.Close()

	// The portal lists it online.
	deadline := time.Now().Add(30 * time.Second)
	for {
		var comps []api.Component
		if code, _, err := sess.Do("GET", "/api/v1/components", nil, "", &comps); err == nil && code == 200 &&
			len(comps) == 1 && comps[0].Kind == "router" && comps[0].Status == "online" {
			if len(comps[0].Warnings) != 0 {
				t.Errorf("unexpected warnings: %v", comps[0].Warnings)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("router never showed online; router output:\n%s", router.Stdout)
		}
		time.Sleep(100 * time.Millisecond)
	}

	// The token was single use.
	if code, _, _ := sess.Do("POST", "/api/v1/components/join", api.JoinRequest{CSRPEM: "x"}, "", nil); code != 401 {
		t.Errorf("join without token: %d, want 401", code)
	}

	// mTLS on the portal's component listener: no client certificate, no handshake.
	other := testpki.NewCA(t, "Not The Internal CA")
	stranger := other.Leaf(t, testpki.LeafOptions{DNS: []string{"stranger"}, EKU: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}})
	strangerCert := tls.Certificate{Certificate: [][]byte{stranger.Cert.Raw}, PrivateKey: stranger.Key}
	for _, tc := range []struct {
		name string
		conf *tls.Config
	}{
		{"no client certificate", &tls.Config{RootCAs: internalCA, ServerName: "localhost"}},
		{"certificate from another CA", &tls.Config{RootCAs: internalCA, ServerName: "localhost",
			GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return &strangerCert, nil }}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := tls.Dial("tcp", portal.InternalAddr, tc.conf)
			if err == nil {
				// TLS 1.3 reports the client-certificate refusal on the first read.
				c.SetReadDeadline(time.Now().Add(5 * time.Second))
				_, err = c.Read(make([]byte, 1))
				c.Close()
			}
			if err == nil {
				t.Fatal("the component listener accepted a client without a certificate")
			}
		})
	}
}
