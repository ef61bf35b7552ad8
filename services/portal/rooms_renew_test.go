package portal

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stoa-rooms/stoa/provisioning/bundle"
	"github.com/stoa-rooms/stoa/provisioning/pairing"
	"github.com/stoa-rooms/stoa/services/api"
	"github.com/stoa-rooms/stoa/services/portal/rooms"
)

// pairRoom pairs a fresh room through the admin API and returns its grant and key.
func pairRoom(t *testing.T, p *roomsPortal, name string) (pairing.Grant, *ecdsa.PrivateKey) {
	t.Helper()
	code := newCode(t)
	room := newRoom(t, p.base, code)
	res := room.start()
	if status, e, _ := p.adminPair(t, code.String(), name); status != 200 {
		t.Fatalf("pair %s: %d %+v", name, status, e)
	}
	r := <-res
	if r.err != nil || r.gone != "" {
		t.Fatalf("pair %s, room side: %v %q", name, r.err, r.gone)
	}
	return r.grant, room.key
}

// withCert is g with another client certificate, for mgmtClient.
func withCert(g pairing.Grant, cert *x509.Certificate) pairing.Grant {
	g.CertPEM = string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw}))
	return g
}

func parseCertPEM(t *testing.T, s string) *x509.Certificate {
	t.Helper()
	blk, rest := pem.Decode([]byte(s))
	if blk == nil || blk.Type != "CERTIFICATE" || len(bytes.TrimSpace(rest)) != 0 {
		t.Fatalf("not one PEM certificate: %q", s)
	}
	c, err := x509.ParseCertificate(blk.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func csrPEM(t *testing.T, key crypto.Signer) string {
	t.Helper()
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: "evil.example"}, DNSNames: []string{"evil.example"}}, key)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der}))
}

// mgmtPost posts a raw body to a management endpoint and decodes the api.Error of a refusal.
func mgmtPost(c *http.Client, g pairing.Grant, path string, body []byte) (int, []byte, api.Error, error) {
	resp, err := c.Post(g.MgmtURL+path, "application/json", bytes.NewReader(body))
	if err != nil {
		return 0, nil, api.Error{}, err
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	var e api.Error
	if resp.StatusCode != 200 {
		json.Unmarshal(out, &e)
	}
	return resp.StatusCode, out, e, nil
}

func renewJSON(t *testing.T, csr string) []byte {
	t.Helper()
	b, err := json.Marshal(api.RenewRequest{CSRPEM: csr})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// pollNow polls as a room behind on its bundle (version 0), so the portal answers at once
// instead of holding the long-poll.
func pollNow(t *testing.T, c *http.Client, g pairing.Grant) (int, api.Error) {
	t.Helper()
	status, _, e, err := poll(c, g, api.RoomStatus{Firmware: "0.1.0"})
	if err != nil {
		t.Fatalf("poll: %v", err)
	}
	return status, e
}

func (p *roomsPortal) room(t *testing.T, id string) (api.Room, bool) {
	t.Helper()
	for _, r := range p.rooms(t) {
		if r.ID == id {
			return r, true
		}
	}
	return api.Room{}, false
}

func (p *roomsPortal) audits(t *testing.T, action, actor string) []api.AuditEntry {
	t.Helper()
	var all, out []api.AuditEntry
	if code, body, err := p.sess.Do("GET", "/api/v1/audit?limit=500", nil, "", &all); err != nil || code != 200 {
		t.Fatalf("audit: %d %s %v", code, body, err)
	}
	for _, a := range all {
		if a.Action == action && a.Actor == actor {
			out = append(out, a)
		}
	}
	return out
}

// rawTLSClient reaches the management listener verifying the server like a room, presenting
// cert whatever CAs the server asks for (none when nil; Go's client would otherwise withhold a
// certificate from a CA the server does not name, and the server's own check would go untested).
func (p *roomsPortal) rawTLSClient(t *testing.T, g pairing.Grant, cert *tls.Certificate) *http.Client {
	t.Helper()
	b, err := bundle.Verify(g.Bundle, g.BundleKey)
	if err != nil {
		t.Fatal(err)
	}
	pool, err := b.MgmtPool()
	if err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse(g.MgmtURL)
	tc := &tls.Config{MinVersion: tls.VersionTLS12, RootCAs: pool, ServerName: u.Hostname(),
		GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
			if cert == nil {
				return &tls.Certificate{}, nil
			}
			return cert, nil
		}}
	tr := &http.Transport{TLSClientConfig: tc, DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, "tcp", p.internal)
	}}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: 10 * time.Second}
}

// TestRoomRenew drives POST /api/v1/room/renew over the real mTLS listener: a renewal with the
// same key, the grace of the replaced certificate until the new one is presented, refusals that
// change nothing, and clients that are not this room.
func TestRoomRenew(t *testing.T) {
	p := startRoomsPortal(t)
	deviceCA := p.Rooms().DeviceCA()
	g, key := pairRoom(t, p, "Renewal")
	oldCert := parseCertPEM(t, g.CertPEM)
	oldClient := p.mgmtClient(t, g, key)
	before, ok := p.room(t, g.RoomID)
	if !ok {
		t.Fatal("paired room not listed")
	}
	// Move the portal's clock so any certificate issued from here on has another NotAfter than
	// the pairing's (a silent issuance would show in cert_not_after). Only by seconds: the TLS
	// handshakes check validity against the real clock, and the CA backdates NotBefore 5 min.
	p.clock.Advance(2 * time.Second)

	t.Run("refused renewals change nothing", func(t *testing.T) {
		other, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		// A CSR naming another key it cannot sign for: the room's CSR signature with the other
		// key's public key swapped in, so proof of possession fails.
		forged := func() string {
			blk, _ := pem.Decode([]byte(csrPEM(t, key)))
			csr, _ := x509.ParseCertificateRequest(blk.Bytes)
			otherBlk, _ := pem.Decode([]byte(csrPEM(t, other)))
			otherCSR, _ := x509.ParseCertificateRequest(otherBlk.Bytes)
			// Replace the SubjectPublicKeyInfo bytes inside the signed request.
			der := bytes.Replace(blk.Bytes, csr.RawSubjectPublicKeyInfo, otherCSR.RawSubjectPublicKeyInfo, 1)
			if bytes.Equal(der, blk.Bytes) {
				t.Fatal("forging the CSR changed nothing")
			}
			return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der}))
		}()
		p224, _ := ecdsa.GenerateKey(elliptic.P224(), rand.Reader) // a curve the device CA refuses
		for _, tc := range []struct {
			name, code, inMessage string
			status                int
			body                  []byte
		}{
			{"CSR for a key it does not hold", "request.invalid", "signature", 400, renewJSON(t, forged)},
			{"CSR for a refused key type", "request.invalid", "P-224", 400, renewJSON(t, csrPEM(t, p224))},
			{"garbage CSR", "request.invalid", "CERTIFICATE REQUEST", 400, renewJSON(t, "not a csr")},
			{"garbage inside the PEM", "request.invalid", "csr_pem", 400, renewJSON(t, string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: []byte("junk")})))},
			{"two CSRs", "request.invalid", "after the CSR", 400, renewJSON(t, csrPEM(t, key)+csrPEM(t, key))},
			{"empty csr_pem", "request.invalid", "csr_pem is empty", 400, []byte(`{"csr_pem":""}`)},
			{"csr_pem over 16 KiB", "request.invalid", "16 KiB", 400, renewJSON(t, strings.Repeat("A", 17<<10))},
			{"unknown field", "request.invalid", "unknown field", 400, []byte(`{"csr_pem":` + jsonQuote(csrPEM(t, key)) + `,"room_id":"x"}`)},
			{"trailing data", "request.invalid", "trailing", 400, append(renewJSON(t, csrPEM(t, key)), []byte(`{}`)...)},
			{"not JSON", "request.invalid", "invalid JSON", 400, []byte("csr_pem=x")},
			{"body over 64 KiB", "request.too_large", "larger than", 413, renewJSON(t, strings.Repeat("A", 70<<10))},
		} {
			t.Run(tc.name, func(t *testing.T) {
				status, _, e, err := mgmtPost(oldClient, g, "/api/v1/room/renew", tc.body)
				if err != nil {
					t.Fatal(err)
				}
				if status != tc.status || e.Code != tc.code || !strings.Contains(e.Message, tc.inMessage) {
					t.Fatalf("got %d %+v, want %d %s mentioning %q", status, e, tc.status, tc.code, tc.inMessage)
				}
			})
		}
		// Nothing was issued: no certificate date changed, nothing audited, and the pairing
		// certificate is still the current one (two silent issuances would have dropped it).
		if r, _ := p.room(t, g.RoomID); !r.CertNotAfter.Equal(before.CertNotAfter) {
			t.Fatalf("cert_not_after %v after refused renewals, was %v", r.CertNotAfter, before.CertNotAfter)
		}
		if a := p.audits(t, "room.renew", "room:"+g.RoomID); len(a) != 0 {
			t.Fatalf("refused renewals audited as renewals: %+v", a)
		}
		if status, e := pollNow(t, oldClient, g); status != 200 {
			t.Fatalf("poll after refused renewals: %d %+v", status, e)
		}
	})

	t.Run("not this room's certificate", func(t *testing.T) {
		body := renewJSON(t, csrPEM(t, key))
		// No client certificate: the listener requires one, so the handshake fails.
		if status, _, _, err := mgmtPost(p.rawTLSClient(t, g, nil), g, "/api/v1/room/renew", body); err == nil || !strings.Contains(err.Error(), "certificate required") {
			t.Fatalf("renewal without a client certificate: %d %v, want the handshake refused", status, err)
		}
		// A self-made certificate naming the room: not from an accepted CA, refused in the handshake.
		selfKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		tmpl := &x509.Certificate{SerialNumber: oldCert.SerialNumber, Subject: oldCert.Subject, URIs: oldCert.URIs,
			NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
			ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}, KeyUsage: x509.KeyUsageDigitalSignature}
		selfDER, _ := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &selfKey.PublicKey, selfKey)
		if status, _, _, err := mgmtPost(p.rawTLSClient(t, g, &tls.Certificate{Certificate: [][]byte{selfDER}, PrivateKey: selfKey}), g, "/api/v1/room/renew", body); err == nil || !strings.Contains(err.Error(), "unknown certificate authority") {
			t.Fatalf("renewal with a self-signed room certificate: %d %v, want the handshake refused", status, err)
		}
		// A component certificate naming the room: the handshake accepts the component CA, the
		// room handler does not.
		compKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		comp, err := p.Components().CA.IssueClient(&compKey.PublicKey, "room-"+g.RoomID, time.Hour, rooms.RoomURI(g.RoomID))
		if err != nil {
			t.Fatal(err)
		}
		status, _, e, err := mgmtPost(p.rawTLSClient(t, g, &tls.Certificate{Certificate: [][]byte{comp.Raw}, PrivateKey: compKey}), g, "/api/v1/room/renew", renewJSON(t, csrPEM(t, compKey)))
		if err != nil || status != 403 || e.Code != "room.unpaired" {
			t.Fatalf("renewal with a component certificate: %d %+v %v", status, e, err)
		}
		if r, _ := p.room(t, g.RoomID); !r.CertNotAfter.Equal(before.CertNotAfter) {
			t.Fatal("a refused client changed the room's certificate")
		}
	})

	var newCert *x509.Certificate
	t.Run("renew with the same key", func(t *testing.T) {
		status, out, e, err := mgmtPost(oldClient, g, "/api/v1/room/renew", renewJSON(t, csrPEM(t, key)))
		if err != nil || status != 200 {
			t.Fatalf("renew: %d %+v %v", status, e, err)
		}
		var rr api.RenewResponse
		if err := json.Unmarshal(out, &rr); err != nil {
			t.Fatal(err)
		}
		newCert = parseCertPEM(t, rr.CertPEM)
		if newCert.SerialNumber.Cmp(oldCert.SerialNumber) == 0 {
			t.Fatal("renewed certificate has the old serial")
		}
		if id, ok := rooms.RoomIDFromCert(newCert); !ok || id != g.RoomID || len(newCert.URIs) != 1 || newCert.URIs[0].String() != "urn:stoa:room:"+g.RoomID {
			t.Fatalf("renewed certificate names %v (%q %v), want the room %s", newCert.URIs, id, ok, g.RoomID)
		}
		if newCert.Subject.CommonName == "evil.example" || len(newCert.DNSNames) != 0 {
			t.Fatalf("renewed certificate took names from the CSR: %v %v", newCert.Subject, newCert.DNSNames)
		}
		if _, err := newCert.Verify(x509.VerifyOptions{Roots: deviceCA.Pool(), CurrentTime: p.clock.Now(), KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
			t.Fatalf("renewed certificate does not chain to the device CA: %v", err)
		}
		if pub, ok := newCert.PublicKey.(*ecdsa.PublicKey); !ok || !pub.Equal(&key.PublicKey) {
			t.Fatal("renewed certificate is not for the room's key")
		}
		if d := newCert.NotAfter.Sub(newCert.NotBefore); d < 89*24*time.Hour || d > 91*24*time.Hour {
			t.Fatalf("renewed lifetime %v, want 90 days", d)
		}
		if !newCert.NotAfter.After(oldCert.NotAfter) {
			t.Fatalf("renewed certificate ends %v, not after the old %v", newCert.NotAfter, oldCert.NotAfter)
		}
		r, _ := p.room(t, g.RoomID)
		if !r.CertNotAfter.Equal(newCert.NotAfter) {
			t.Fatalf("rooms list cert_not_after %v, want %v", r.CertNotAfter, newCert.NotAfter)
		}
		a := p.audits(t, "room.renew", "room:"+g.RoomID)
		if len(a) != 1 || !strings.Contains(a[0].Detail, newCert.SerialNumber.Text(16)) {
			t.Fatalf("audit of the renewal: %+v", a)
		}
	})
	if newCert == nil {
		t.FailNow()
	}
	newClient := p.mgmtClient(t, withCert(g, newCert), key)

	t.Run("old certificate works until the new one is presented", func(t *testing.T) {
		for i := range 2 { // polling with the old one does not end its grace
			if status, e := pollNow(t, oldClient, g); status != 200 {
				t.Fatalf("poll %d with the replaced certificate before the new one was used: %d %+v", i, status, e)
			}
		}
		if status, e := pollNow(t, newClient, g); status != 200 {
			t.Fatalf("poll with the renewed certificate: %d %+v", status, e)
		}
		// From now on the replaced certificate is refused everywhere, for good.
		status, e := pollNow(t, oldClient, g)
		if status != 403 || e.Code != "room.unpaired" || !strings.Contains(e.Message, "replaced") {
			t.Fatalf("poll with the replaced certificate after the new one was used: %d %+v", status, e)
		}
		if status, _, e, err := mgmtPost(oldClient, g, "/api/v1/room/renew", renewJSON(t, csrPEM(t, key))); err != nil || status != 403 || e.Code != "room.unpaired" {
			t.Fatalf("renew with the replaced certificate: %d %+v %v", status, e, err)
		}
		if status, _, e, err := mgmtPost(oldClient, g, "/api/v1/room/unpair", nil); err != nil || status != 403 || e.Code != "room.unpaired" {
			t.Fatalf("unpair with the replaced certificate: %d %+v %v", status, e, err)
		}
		if _, ok := p.room(t, g.RoomID); !ok {
			t.Fatal("the replaced certificate unpaired the room")
		}
		if status, e := pollNow(t, newClient, g); status != 200 {
			t.Fatalf("poll with the current certificate: %d %+v", status, e)
		}
	})

	t.Run("renew into a new key", func(t *testing.T) {
		// api.RenewRequest documents "a CSR for the room's (new or same) key": a room may
		// rotate its key, proving possession by the CSR's signature.
		key2, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		status, out, e, err := mgmtPost(newClient, g, "/api/v1/room/renew", renewJSON(t, csrPEM(t, key2)))
		if err != nil || status != 200 {
			t.Fatalf("renew into a new key: %d %+v %v", status, e, err)
		}
		var rr api.RenewResponse
		json.Unmarshal(out, &rr)
		c3 := parseCertPEM(t, rr.CertPEM)
		if pub, ok := c3.PublicKey.(*ecdsa.PublicKey); !ok || !pub.Equal(&key2.PublicKey) {
			t.Fatal("certificate is not for the CSR's key")
		}
		if id, _ := rooms.RoomIDFromCert(c3); id != g.RoomID {
			t.Fatalf("certificate names %q", id)
		}
		if status, e := pollNow(t, p.mgmtClient(t, withCert(g, c3), key2), g); status != 200 {
			t.Fatalf("poll with the new key: %d %+v", status, e)
		}
		if status, e := pollNow(t, newClient, g); status != 403 || e.Code != "room.unpaired" {
			t.Fatalf("poll with the certificate the key rotation replaced: %d %+v", status, e)
		}
	})
}

// TestRoomInitiatedUnpair drives POST /api/v1/room/unpair: the room leaves the list, every
// certificate it held (including one a renewal issued but it never presented) is revoked, and
// the unpair is audited as the room's.
func TestRoomInitiatedUnpair(t *testing.T) {
	p := startRoomsPortal(t)
	stay, stayKey := pairRoom(t, p, "Stays")
	g, key := pairRoom(t, p, "Leaves")
	oldClient := p.mgmtClient(t, g, key)

	// A renewal the room never used: its certificate must die with the room too.
	status, out, e, err := mgmtPost(oldClient, g, "/api/v1/room/renew", renewJSON(t, csrPEM(t, key)))
	if err != nil || status != 200 {
		t.Fatalf("renew: %d %+v %v", status, e, err)
	}
	var rr api.RenewResponse
	json.Unmarshal(out, &rr)
	newClient := p.mgmtClient(t, withCert(g, parseCertPEM(t, rr.CertPEM)), key)

	if status, _, e, err := mgmtPost(oldClient, g, "/api/v1/room/unpair", nil); err != nil || status != 204 {
		t.Fatalf("room-initiated unpair: %d %+v %v", status, e, err)
	}
	if _, ok := p.room(t, g.RoomID); ok {
		t.Fatal("unpaired room still listed")
	}
	if _, ok := p.room(t, stay.RoomID); !ok {
		t.Fatal("another room's unpair removed this one")
	}
	for _, tc := range []struct {
		name string
		c    *http.Client
	}{{"certificate it unpaired with", oldClient}, {"renewed certificate never presented", newClient}} {
		t.Run(tc.name, func(t *testing.T) {
			status, e := pollNow(t, tc.c, g)
			if status != 403 || e.Code != "room.unpaired" || !strings.Contains(e.Message, "revoked") {
				t.Fatalf("poll: %d %+v, want 403 room.unpaired (revoked)", status, e)
			}
			if status, _, e, err := mgmtPost(tc.c, g, "/api/v1/room/renew", renewJSON(t, csrPEM(t, key))); err != nil || status != 403 || e.Code != "room.unpaired" {
				t.Fatalf("renew: %d %+v %v", status, e, err)
			}
			if status, _, e, err := mgmtPost(tc.c, g, "/api/v1/room/unpair", nil); err != nil || status != 403 || e.Code != "room.unpaired" {
				t.Fatalf("second unpair: %d %+v %v", status, e, err)
			}
		})
	}
	a := p.audits(t, "room.unpair", "room:"+g.RoomID)
	if len(a) != 1 || !strings.Contains(a[0].Detail, g.RoomID) || !strings.Contains(a[0].Detail, "by the room") {
		t.Fatalf("audit of the room's unpair: %+v", a)
	}
	if status, e := pollNow(t, p.mgmtClient(t, stay, stayKey), stay); status != 200 {
		t.Fatalf("the other room's poll: %d %+v", status, e)
	}
}

func jsonQuote(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}
