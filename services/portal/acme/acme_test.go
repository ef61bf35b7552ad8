package acme_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"io"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/stoa-rooms/stoa/services/portal/acme"
	"github.com/stoa-rooms/stoa/services/portal/store"
)

// newSettings opens a real SQLite store in a temporary directory: the portal's own Settings.
func newSettings(t *testing.T) *store.SQLite {
	t.Helper()
	s, err := store.OpenSQLite(context.Background(), filepath.Join(t.TempDir(), "portal.db"))
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

func (e *pebbleEnv) client(t *testing.T, fqdn string, ch acme.ChallengeType, s acme.Settings) *acme.Client {
	t.Helper()
	c := acme.New(acme.Config{
		DirectoryURL: e.DirectoryURL,
		Email:        "admin@stoa.test",
		FQDN:         fqdn,
		Roots:        e.WFERoots,
		Challenge:    ch,
		PollInterval: 20 * time.Millisecond,
	}, s, testLogger(t))
	e.answer(c)
	return c
}

// checkIssued verifies the chain up to Pebble's root for fqdn and that the key belongs to it.
func checkIssued(t *testing.T, e *pebbleEnv, fqdn string, certPEM, keyPEM []byte) *x509.Certificate {
	t.Helper()
	var chain []*x509.Certificate
	for rest := certPEM; ; {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			break
		}
		c, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			t.Fatalf("parse chain: %v", err)
		}
		chain = append(chain, c)
	}
	if len(chain) < 2 {
		t.Fatalf("chain has %d certificates, want leaf + intermediate", len(chain))
	}
	inter := x509.NewCertPool()
	for _, c := range chain[1:] {
		inter.AddCert(c)
	}
	if _, err := chain[0].Verify(x509.VerifyOptions{DNSName: fqdn, Roots: e.rootPool(), Intermediates: inter}); err != nil {
		t.Fatalf("leaf does not verify against Pebble's root: %v", err)
	}
	kb, _ := pem.Decode(keyPEM)
	if kb == nil || kb.Type != "PRIVATE KEY" {
		t.Fatalf("key is not a PKCS#8 PEM block: %q", keyPEM)
	}
	k, err := x509.ParsePKCS8PrivateKey(kb.Bytes)
	if err != nil {
		t.Fatalf("parse key: %v", err)
	}
	if ek, ok := k.(*ecdsa.PrivateKey); !ok || ek.Curve != elliptic.P256() {
		t.Fatalf("key is %T, want ECDSA P-256", k)
	}
	if _, err := tls.X509KeyPair(certPEM, keyPEM); err != nil {
		t.Fatalf("key does not match certificate: %v", err)
	}
	return chain[0]
}

func TestObtain(t *testing.T) {
	e := startPebble(t, 24*time.Hour)
	for _, tc := range []struct {
		name      string
		fqdn      string
		challenge acme.ChallengeType
		wantALPN  bool
	}{
		{"auto prefers tls-alpn-01", "auto.stoa.test", acme.ChallengeAuto, true},
		{"forced tls-alpn-01", "alpn.stoa.test", acme.ChallengeTLSALPN01, true},
		{"forced http-01", "http.stoa.test", acme.ChallengeHTTP01, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			alpn0, http0 := e.ALPNHellos.Load(), e.HTTPProbes.Load()
			c := e.client(t, tc.fqdn, tc.challenge, newSettings(t))
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			certPEM, keyPEM, err := c.Obtain(ctx)
			if err != nil {
				t.Fatalf("Obtain: %v", err)
			}
			checkIssued(t, e, tc.fqdn, certPEM, keyPEM)
			alpn, http := e.ALPNHellos.Load()-alpn0, e.HTTPProbes.Load()-http0
			if tc.wantALPN && (alpn == 0 || http != 0) || !tc.wantALPN && (http == 0 || alpn != 0) {
				t.Fatalf("validations seen: tls-alpn-01 %d, http-01 %d; want only %v", alpn, http, tc.challenge)
			}
			// The challenge certificate is gone once the order is done, and ordinary
			// handshakes on the same listener always got the portal's own certificate.
			if _, err := c.GetCertificate(&tls.ClientHelloInfo{ServerName: tc.fqdn, SupportedProtos: []string{acme.ALPNProto}}); err == nil {
				t.Fatal("challenge certificate still served after Obtain")
			}
			conn, err := tls.Dial("tcp", e.TLSAddr, &tls.Config{ServerName: tc.fqdn, InsecureSkipVerify: true, NextProtos: []string{"h2", "http/1.1"}})
			if err != nil {
				t.Fatalf("plain handshake: %v", err)
			}
			defer conn.Close()
			if got := conn.ConnectionState().PeerCertificates[0].Subject.CommonName; got != "fallback.stoa.test" {
				t.Fatalf("plain handshake got certificate %q, want the portal's own", got)
			}
		})
	}
}

func TestAccountKeyPersistedAndReused(t *testing.T) {
	e := startPebble(t, 24*time.Hour)
	s := newSettings(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if _, err := s.Setting(ctx, acme.SettingAccountKey); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("account key before first Obtain: %v, want ErrNotFound", err)
	}
	var stored []byte
	var issued []*x509.Certificate
	for i := range 2 {
		// A new Client each time, as after a portal restart: only the settings carry over.
		c := e.client(t, "reuse.stoa.test", acme.ChallengeAuto, s)
		certPEM, keyPEM, err := c.Obtain(ctx)
		if err != nil {
			t.Fatalf("Obtain %d: %v", i, err)
		}
		issued = append(issued, checkIssued(t, e, "reuse.stoa.test", certPEM, keyPEM))
		got, err := s.Setting(ctx, acme.SettingAccountKey)
		if err != nil {
			t.Fatalf("account key after Obtain %d: %v", i, err)
		}
		if stored != nil && !bytes.Equal(got, stored) {
			t.Fatal("account key changed between issuances")
		}
		stored = got
	}
	if issued[0].SerialNumber.Cmp(issued[1].SerialNumber) == 0 {
		t.Fatal("second Obtain returned the first certificate")
	}
	b, _ := pem.Decode(stored)
	k, err := x509.ParsePKCS8PrivateKey(b.Bytes)
	if err != nil {
		t.Fatalf("stored account key: %v", err)
	}
	acct, err := e.DB.GetAccountByKey(k.(*ecdsa.PrivateKey).Public())
	if err != nil || acct == nil {
		t.Fatalf("Pebble has no account for the stored key: %v", err)
	}
	if n := len(e.DB.GetOrdersByAccountID(acct.ID)); n != 2 {
		t.Fatalf("account %s has %d orders, want both issuances on it", acct.ID, n)
	}
}
