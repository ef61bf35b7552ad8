package component

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"github.com/stoa-rooms/stoa/services/certs"
	"github.com/stoa-rooms/stoa/services/portal/components"
)

// TestRuntimePeers runs a manager and a router against a real portal registry: the router's
// Runtime learns the portal's token key and the manager's URL from heartbeat answers, and its
// mTLS client reaches the manager's component-only route; the portal's internal certificate
// is accepted where only the portal may call.
func TestRuntimePeers(t *testing.T) {
	tokenPub, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	p := newPortalWith(t, func(s *components.Service) { s.TokenKey = tokenPub })
	base := t.TempDir()
	beat := 50 * time.Millisecond

	var mgrRT *Runtime
	mgrReady := make(chan struct{})
	mgr := start(t, Config{Kind: "manager", FQDN: "localhost", PortalURL: p.url, PortalRoots: p.roots,
		JoinToken: p.token(t, "manager", "localhost"), DataDir: filepath.Join(base, "manager"), HeartbeatInterval: beat,
		Ready: func(rt *Runtime) { mgrRT = rt; close(mgrReady) }})
	<-mgrReady

	rtrReady := make(chan *Runtime, 1)
	start(t, Config{Kind: "router", FQDN: "r1.stoa.test", PortalURL: p.url, PortalRoots: p.roots,
		JoinToken: p.token(t, "router", "r1.stoa.test"), DataDir: filepath.Join(base, "router"), HeartbeatInterval: beat,
		Ready: func(rt *Runtime) { rtrReady <- rt }})
	rtr := <-rtrReady

	wantMgr := "https://" + net.JoinHostPort("localhost", port2(mgr.addr))
	if mgrRT.Kind() != "manager" || mgrRT.FQDN() != "localhost" || mgrRT.URL() != wantMgr || len(mgrRT.ID()) != 32 {
		t.Fatalf("manager runtime: kind %q fqdn %q url %q id %q", mgrRT.Kind(), mgrRT.FQDN(), mgrRT.URL(), mgrRT.ID())
	}
	eventually(t, "the router to learn the token key and the manager URL", func() bool {
		return rtr.TokenKey().Equal(tokenPub) && rtr.ManagerURL() == wantMgr
	})

	get := func(t *testing.T, hc *http.Client, path string) (int, string) {
		t.Helper()
		res, err := hc.Get(rtr.ManagerURL() + path)
		if err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(b)
	}
	icert, err := p.svc.PortalInternalCert("localhost")
	if err != nil {
		t.Fatal(err)
	}
	portalTLS := certs.ClientConfig()
	portalTLS.RootCAs = p.svc.CA.Pool()
	portalTLS.Certificates = []tls.Certificate{icert}
	portalClient := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: portalTLS}}

	for _, tc := range []struct {
		name, path string
		client     *http.Client
		status     int
		body       string
	}{
		{"router to component route", "/api/v1/peer", rtr.HTTPClient(5 * time.Second), 200, "hello component"},
		{"router to portal-only route", "/api/v1/portal-only", rtr.HTTPClient(5 * time.Second), 403, ""},
		{"portal to component route", "/api/v1/peer", portalClient, 200, "hello component"},
		{"portal to portal-only route", "/api/v1/portal-only", portalClient, 200, "hello portal"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, body := get(t, tc.client, tc.path)
			if status != tc.status || (tc.body != "" && body != tc.body) {
				t.Fatalf("GET %s = %d %q, want %d %q", tc.path, status, body, tc.status, tc.body)
			}
		})
	}

	t.Run("manager offline clears the URL", func(t *testing.T) {
		mgr.stop()
		<-mgr.done
		mgr.done <- nil // the cleanup waits on it too
		eventually(t, "the router to forget the manager", func() bool { return rtr.ManagerURL() == "" })
		if !rtr.TokenKey().Equal(tokenPub) {
			t.Fatal("token key lost")
		}
	})
}
