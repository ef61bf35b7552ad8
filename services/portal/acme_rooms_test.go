package portal

import (
	"context"
	"crypto/tls"
	"testing"

	"github.com/stoa-rooms/stoa/provisioning/bundle"
	"github.com/stoa-rooms/stoa/services/api"
	"github.com/stoa-rooms/stoa/test/acmetest"
)

// TestACMEInstallWaitsForRooms: a certificate from ACME is a certificate from a CA the paired
// rooms have never seen. Like a manual activation, the installation first pushes a bundle with
// the new root to the rooms and waits for their acknowledgements; the room then verifies the
// portal's ACME certificate with its bundle alone.
func TestACMEInstallWaitsForRooms(t *testing.T) {
	var peb *acmetest.Pebble
	tp := startPortalWith(t, portalOptions{fqdn: acmeFQDN, roomsTuning: shortRoomWaits, beforeRun: func(lns Listeners) {
		peb = acmetest.Start(t, acmetest.Options{HTTPPort: portNum(t, lns.HTTP), TLSPort: portNum(t, lns.HTTPS)})
	}})
	p := &roomsPortal{testPortal: tp, clock: &fakeClock{}}

	code := newCode(t)
	room := newRoom(t, p.base, code)
	res := room.start()
	if status, e, _ := p.adminPair(t, code.String(), "Lobby"); status != 200 {
		t.Fatalf("pair: %d %+v", status, e)
	}
	r := <-res
	if r.err != nil {
		t.Fatal(r.err)
	}
	st := &bundle.Store{Dir: t.TempDir(), Pub: r.grant.BundleKey}
	if _, err := st.Save(r.grant.Bundle); err != nil {
		t.Fatal(err)
	}
	paired, _ := st.Load()
	ctx, cancel := context.WithCancel(context.Background())
	done := roomAgent(ctx, p.mgmtClient(t, r.grant, room.key), r.grant, st)
	defer func() { cancel(); <-done }()

	cfg := api.ACMEConfig{Enabled: true, DirectoryURL: peb.DirectoryURL, Email: "ops@example.com", RootsPEM: peb.RootsPEM}
	if code, body, err := p.sess.Do("PUT", "/api/v1/security/acme", cfg, "", nil); err != nil || code != 200 {
		t.Fatalf("enable ACME: %d %s %v", code, body, err)
	}
	leaf := p.waitTrusted(t, peb.IssuerPool())

	// The room took a newer bundle, and that bundle alone verifies the ACME certificate.
	b, err := st.Load()
	if err != nil || b.Version <= paired.Version {
		t.Fatalf("room bundle v%d (paired with v%d): %v", b.Version, paired.Version, err)
	}
	pool, err := b.PortalPool()
	if err != nil {
		t.Fatal(err)
	}
	conn, err := tls.Dial("tcp", p.https, &tls.Config{RootCAs: pool, ServerName: acmeFQDN})
	if err != nil {
		t.Fatalf("the room's bundle does not verify the ACME certificate: %v", err)
	}
	if got := conn.ConnectionState().PeerCertificates[0].SerialNumber; got.Cmp(leaf.SerialNumber) != 0 {
		t.Fatalf("served %x, want the ACME leaf %x", got, leaf.SerialNumber)
	}
	conn.Close()

	// It was acknowledged before the switch: nothing activated past an unacknowledged room.
	var audit []api.AuditEntry
	if code, _, err := p.sess.Do("GET", "/api/v1/audit?limit=200", nil, "", &audit); err != nil || code != 200 {
		t.Fatalf("audit: %d %v", code, err)
	}
	for _, a := range audit {
		if a.Action == "cert.acme_rotation_unacknowledged" {
			t.Fatalf("ACME certificate activated before the room acknowledged: %s", a.Detail)
		}
	}
}
