package portal

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stoa-rooms/stoa/services/api"
	"github.com/stoa-rooms/stoa/services/certs"
	"github.com/stoa-rooms/stoa/services/portal/acme"
	"github.com/stoa-rooms/stoa/test/acmetest"
)

// acmeFQDN is the portal's name in the ACME tests. The ACME client wants a multi-label DNS name
// (a public CA never issues for "localhost"); Pebble's VA resolves it to 127.0.0.1 through the
// harness's DNS server, and TLS clients here dial 127.0.0.1 with it as ServerName.
const acmeFQDN = "portal.stoa.test"

// startACMEPortal starts a portal and a Pebble whose VA validates tls-alpn-01 on the portal's
// HTTPS port and http-01 on its plain-HTTP port. The listeners are bound first so Pebble knows
// the ports before the portal serves.
func startACMEPortal(t *testing.T) (*testPortal, *acmetest.Pebble) {
	t.Helper()
	var peb *acmetest.Pebble
	p := startPortalWith(t, portalOptions{fqdn: acmeFQDN, beforeRun: func(lns Listeners) {
		// Pebble's cleanup is registered before the portal's, so it runs after the portal (and
		// its renewer) stopped.
		peb = acmetest.Start(t, acmetest.Options{HTTPPort: portNum(t, lns.HTTP), TLSPort: portNum(t, lns.HTTPS)})
	}})
	return p, peb
}

func portNum(t *testing.T, ln net.Listener) int {
	t.Helper()
	n, err := strconv.Atoi(portOf(ln))
	if err != nil {
		t.Fatalf("port of %s: %v", ln.Addr(), err)
	}
	return n
}

// trustedLeaf handshakes with the portal trusting only roots, as a browser that trusts the ACME
// CA would, and returns the served leaf (nil with the error when verification fails).
func (p *testPortal) trustedLeaf(roots *x509.CertPool) (*x509.Certificate, error) {
	cfg := certs.ClientConfig()
	cfg.RootCAs, cfg.ServerName = roots, acmeFQDN
	d := &tls.Dialer{Config: cfg, NetDialer: &net.Dialer{Timeout: 5 * time.Second}}
	conn, err := d.DialContext(context.Background(), "tcp", p.https)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	return conn.(*tls.Conn).ConnectionState().PeerCertificates[0], nil
}

// waitTrusted polls until the portal serves a chain that verifies against roots and returns its
// leaf; on timeout it reports the last handshake error and the renewer's last error.
func (p *testPortal) waitTrusted(t *testing.T, roots *x509.CertPool) *x509.Certificate {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		leaf, err := p.trustedLeaf(roots)
		if err == nil {
			return leaf
		}
		if time.Now().After(deadline) {
			t.Fatalf("portal never served a trusted certificate: last handshake: %v; ACME last error: %q", err, p.acmeState(t).LastError)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (p *testPortal) acmeState(t *testing.T) api.ACMEState {
	t.Helper()
	var st api.ACMEState
	if code, body, err := p.sess.Do("GET", "/api/v1/security/acme", nil, "", &st); err != nil || code != 200 {
		t.Fatalf("GET acme: %d %s %v", code, body, err)
	}
	return st
}

func (p *testPortal) putACME(t *testing.T, cfg api.ACMEConfig) (int, api.Error) {
	t.Helper()
	code, body, err := p.sess.Do("PUT", "/api/v1/security/acme", cfg, "", nil)
	if err != nil {
		t.Fatalf("PUT acme: %v", err)
	}
	var e api.Error
	if code != 200 {
		if err := json.Unmarshal(body, &e); err != nil {
			t.Fatalf("PUT acme: %d with undecodable error %q: %v", code, body, err)
		}
	}
	return code, e
}

// TestACMEIssuesAndServesWithTLSALPN01 runs the whole flow against a real ACME CA: refused
// configurations change nothing, issuing while disabled is a conflict, and a valid configuration
// makes the renewer obtain a certificate by tls-alpn-01 on the portal's own HTTPS listener and
// serve it, trusted through Pebble's root alone.
func TestACMEIssuesAndServesWithTLSALPN01(t *testing.T) {
	p, peb := startACMEPortal(t)
	before := p.state(t)
	if before.Active.Source == "acme" {
		t.Fatalf("fresh portal already serves an ACME certificate: %+v", before.Active)
	}

	refused := []struct {
		name string
		cfg  api.ACMEConfig
	}{
		{"http directory", api.ACMEConfig{Enabled: true, DirectoryURL: "http" + peb.DirectoryURL[len("https"):], RootsPEM: peb.RootsPEM}},
		{"relative directory", api.ACMEConfig{Enabled: true, DirectoryURL: "/dir", RootsPEM: peb.RootsPEM}},
		{"roots_pem without a certificate", api.ACMEConfig{Enabled: true, DirectoryURL: peb.DirectoryURL, RootsPEM: "not a PEM"}},
		{"bad contact e-mail", api.ACMEConfig{Enabled: true, DirectoryURL: peb.DirectoryURL, Email: "ops@@stoa", RootsPEM: peb.RootsPEM}},
	}
	for _, tc := range refused {
		t.Run("refused "+tc.name, func(t *testing.T) {
			code, e := p.putACME(t, tc.cfg)
			if code != 400 || e.Code != "acme.config" || e.Message == "" {
				t.Fatalf("PUT = %d %+v, want 400 acme.config with a message", code, e)
			}
			if st := p.acmeState(t); st.Enabled || st.DirectoryURL != "" || st.RootsPEM != "" {
				t.Fatalf("refused PUT changed the ACME state: %+v", st)
			}
			if _, err := p.store.Setting(context.Background(), settingACME); err == nil {
				t.Fatal("refused PUT stored a configuration")
			}
			if after := p.state(t); after.Active.Serial != before.Active.Serial {
				t.Fatalf("refused PUT changed the served certificate: %s -> %s", before.Active.Serial, after.Active.Serial)
			}
		})
	}

	t.Run("issue while disabled", func(t *testing.T) {
		code, body, err := p.sess.Do("POST", "/api/v1/security/acme/issue", nil, "", nil)
		var e api.Error
		if err != nil || json.Unmarshal(body, &e) != nil {
			t.Fatalf("POST issue: %v (%q)", err, body)
		}
		if code != 409 || e.Code != "acme.disabled" {
			t.Fatalf("POST issue = %d %+v, want 409 acme.disabled", code, e)
		}
	})

	if _, err := p.trustedLeaf(peb.IssuerPool()); err == nil {
		t.Fatal("the self-signed certificate verifies against Pebble's roots before any issuance")
	}

	var first *x509.Certificate
	t.Run("tls-alpn-01", func(t *testing.T) {
		start := time.Now()
		cfg := api.ACMEConfig{Enabled: true, DirectoryURL: peb.DirectoryURL, Email: "ops@stoa.test", RootsPEM: peb.RootsPEM}
		if code, e := p.putACME(t, cfg); code != 200 {
			t.Fatalf("PUT acme = %d %+v", code, e)
		}
		leaf := p.waitTrusted(t, peb.IssuerPool())
		first = leaf
		t.Logf("ACME certificate served %v after PUT", time.Since(start).Round(time.Millisecond))

		var chals []string
		waitFor(t, "Pebble to file the order", func() bool {
			var err error
			chals, err = peb.ValidatedChallenges(leaf)
			return err == nil
		})
		if len(chals) != 1 || chals[0] != string(acme.ChallengeTLSALPN01) {
			t.Fatalf("validated challenges = %v, want [tls-alpn-01]", chals)
		}

		st := p.state(t)
		if st.Active.Source != "acme" || !strings.EqualFold(st.Active.Serial, leaf.SerialNumber.Text(16)) {
			t.Fatalf("active = source %q serial %s, want acme %x", st.Active.Source, st.Active.Serial, leaf.SerialNumber)
		}
		if st.ACME.LastIssued.IsZero() || !st.ACME.Enabled || st.ACME.DirectoryURL != peb.DirectoryURL || st.ACME.LastError != "" {
			t.Fatalf("ACME state = %+v, want enabled, issued, no error", st.ACME)
		}
		if st.Previous == nil || st.Previous.Serial != before.Active.Serial {
			t.Fatalf("previous = %+v, want the self-signed %s kept for rollback", st.Previous, before.Active.Serial)
		}
		if !st.ACME.NextRenewal.After(leaf.NotBefore) || !st.ACME.NextRenewal.Before(leaf.NotAfter) {
			t.Fatalf("next renewal %v outside the certificate's life %v..%v", st.ACME.NextRenewal, leaf.NotBefore, leaf.NotAfter)
		}
	})
	t.Run("issue now replaces the served certificate", func(t *testing.T) {
		if first == nil {
			t.Fatal("no first ACME certificate")
		}
		var st api.SecurityState
		if code := p.post(t, "/api/v1/security/acme/issue", nil, &st); code != 200 {
			t.Fatalf("POST issue = %d", code)
		}
		if st.Active.Source != "acme" || strings.EqualFold(st.Active.Serial, first.SerialNumber.Text(16)) {
			t.Fatalf("after issue: active source %q serial %s, want a new acme certificate", st.Active.Source, st.Active.Serial)
		}
		leaf := p.waitTrusted(t, peb.IssuerPool())
		if !strings.EqualFold(st.Active.Serial, leaf.SerialNumber.Text(16)) {
			t.Fatalf("served serial %x, API says %s", leaf.SerialNumber, st.Active.Serial)
		}
		if st.Previous == nil || !strings.EqualFold(st.Previous.Serial, first.SerialNumber.Text(16)) {
			t.Fatalf("previous = %+v, want the first ACME certificate", st.Previous)
		}
	})
}
