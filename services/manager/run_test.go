package manager

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stoa-rooms/stoa/provisioning/ca"
	"github.com/stoa-rooms/stoa/services/api"
	"github.com/stoa-rooms/stoa/services/certs"
	"github.com/stoa-rooms/stoa/services/component"
	"github.com/stoa-rooms/stoa/test/registrytest"
)

// TestRunLicensed joins a real portal registry, loads a signed one-seat licence from the data
// dir, and serves the API: the portal's own internal certificate admits, a second participant
// is refused naming the licence's seat count.
func TestRunLicensed(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	dir := t.TempDir()
	reg := registrytest.Start(t, nil)
	icA := reg.Svc.CA
	icert, err := reg.Svc.PortalInternalCert("localhost") // the portal's client certificate
	mustNoErr(t, err)
	mgrLn := listenLocal(t)

	pub, priv := licenceKeys(t)
	data := filepath.Join(dir, "manager")
	mustNoErr(t, os.MkdirAll(data, 0o700))
	mustNoErr(t, os.WriteFile(filepath.Join(data, LicenceFile), signed(t, Licence{Licensee: "Test", Seats: 1, NotAfter: time.Now().Add(time.Hour)}, priv), 0o600))
	log, logs := newLog()
	done := make(chan error, 1)
	go func() {
		done <- RunLicensed(ctx, component.Config{
			FQDN: "localhost", PortalURL: reg.URL, JoinToken: reg.Token(t, "manager", "localhost"),
			PortalRoots: reg.Roots, DataDir: data, HeartbeatInterval: time.Second,
		}, pub, mgrLn, log)
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("RunLicensed: %v", err)
		}
	})

	portalTLS := certs.ClientConfig()
	portalTLS.RootCAs = icA.Pool()
	portalTLS.Certificates = []tls.Certificate{icert}
	portal := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: portalTLS}}
	base := "https://localhost:" + portOf(mgrLn)
	adm := api.AdmitRequest{Meeting: "1234567890", Participant: "p1", Kind: "user"}
	deadline := time.Now().Add(10 * time.Second)
	for {
		code, ae, err := call(t, portal, "POST", base+"/api/v1/manager/admit", adm, nil)
		if err == nil && code == 503 && ae.Code == "router.unavailable" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("manager not serving: %d %+v %v", code, ae, err)
		}
		time.Sleep(20 * time.Millisecond) // polling for the join to finish
	}
	if !strings.Contains(logs.String(), "licence installed") || !strings.Contains(logs.String(), "seats=1") {
		t.Fatalf("licence not loaded: %s", logs.String())
	}
	fi, err := os.Stat(filepath.Join(data, SecretFile))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("TURN secret file: %v %v", fi, err)
	}

	// A router (certificate from the same internal CA naming its component ID) registers.
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	mustNoErr(t, err)
	rc, err := icA.IssueServerKey(key.Public(), "localhost", nil, time.Hour, ca.ComponentURI(rid(3)))
	mustNoErr(t, err)
	routerTLS := portalTLS.Clone()
	routerTLS.Certificates = []tls.Certificate{{Certificate: [][]byte{rc.Raw}, PrivateKey: key, Leaf: rc}}
	router := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: routerTLS}}
	if code, ae, err := call(t, router, "POST", base+"/api/v1/manager/routers/heartbeat", api.RouterHeartbeat{RouterID: rid(3), URL: "https://localhost:1"}, nil); err != nil || code != 200 {
		t.Fatalf("router heartbeat: %d %+v %v", code, ae, err)
	}
	var ar api.AdmitResponse
	if code, ae, err := call(t, portal, "POST", base+"/api/v1/manager/admit", adm, &ar); err != nil || code != 200 || ar.RouterID != rid(3) {
		t.Fatalf("admit: %d %+v %v %+v", code, ae, err, ar)
	}
	adm.Participant = "p2"
	if code, ae, err := call(t, portal, "POST", base+"/api/v1/manager/admit", adm, nil); err != nil || code != 403 || ae.Code != "licence.full" || !strings.Contains(ae.Message, "The 1 licensed seat is in use") {
		t.Fatalf("second admit: %d %+v %v", code, ae, err)
	}
}

func listenLocal(t *testing.T) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	mustNoErr(t, err)
	return ln
}

func portOf(ln net.Listener) string {
	_, p, _ := net.SplitHostPort(ln.Addr().String())
	return p
}
