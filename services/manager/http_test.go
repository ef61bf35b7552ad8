package manager

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stoa-rooms/stoa/provisioning/ca"
	"github.com/stoa-rooms/stoa/services/api"
	"github.com/stoa-rooms/stoa/services/certs"
	"github.com/stoa-rooms/stoa/services/httpserver"
	"github.com/stoa-rooms/stoa/services/proxy"
)

// testPKI is an internal CA as the portal keeps it, issuing component certificates.
type testPKI struct {
	ca *ca.CA
}

func newPKI(t *testing.T, name string) *testPKI {
	t.Helper()
	c, err := ca.LoadOrCreate(filepath.Join(t.TempDir(), "ca"), name, time.Now())
	mustNoErr(t, err)
	return &testPKI{ca: c}
}

// component issues a certificate for component id, as the portal does at join.
func (p *testPKI) component(t *testing.T, id string) tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	mustNoErr(t, err)
	cert, err := p.ca.IssueServerKey(key.Public(), "localhost", []net.IP{net.IPv4(127, 0, 0, 1)}, time.Hour, ca.ComponentURI(id))
	mustNoErr(t, err)
	return tls.Certificate{Certificate: [][]byte{cert.Raw}, PrivateKey: key, Leaf: cert}
}

// portal issues the portal's internal certificate (URI SAN urn:stoa:portal), as
// components.Service.PortalInternalCert does.
func (p *testPKI) portal(t *testing.T) tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	mustNoErr(t, err)
	u, err := url.Parse(api.PortalIdentityURI)
	mustNoErr(t, err)
	cert, err := p.ca.IssueServerKey(key.Public(), "localhost", nil, time.Hour, u)
	mustNoErr(t, err)
	return tls.Certificate{Certificate: [][]byte{cert.Raw}, PrivateKey: key, Leaf: cert}
}

// serve runs the manager's API over HTTPS on loopback with the TLS settings component.Run
// uses, and returns its base URL.
func serve(t *testing.T, s *Service, pki *testPKI) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	mustNoErr(t, err)
	h := &certs.Holder{}
	srv := pki.component(t, rid(9))
	h.Set(&srv)
	tc := certs.ServerConfig(h)
	tc.ClientAuth = tls.VerifyClientCertIfGiven
	tc.ClientCAs = pki.ca.Pool()
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	log, _ := newLog()
	go func() { defer wg.Done(); _ = httpserver.Serve(ctx, log, ln, s.Handler(), tc) }()
	t.Cleanup(func() { cancel(); wg.Wait() })
	return "https://" + ln.Addr().String()
}

// client trusts pki's root and presents cert (none when nil).
func client(pki *testPKI, cert *tls.Certificate) *http.Client {
	tc := certs.ClientConfig()
	tc.RootCAs = pki.ca.Pool()
	if cert != nil {
		tc.Certificates = []tls.Certificate{*cert}
	}
	return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: tc}}
}

// forcedClient presents cert even when the server asks for another CA's certificates (a Go
// client would otherwise send none), so the server's own handshake check is what refuses it.
func forcedClient(pki *testPKI, cert tls.Certificate) *http.Client {
	c := client(pki, nil)
	c.Transport.(*http.Transport).TLSClientConfig.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
		return &cert, nil
	}
	return c
}

// call does one request and decodes a JSON answer into out (when not nil).
func call(t *testing.T, c *http.Client, method, url string, body any, out any) (int, api.Error, error) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		mustNoErr(t, err)
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, url, rd)
	mustNoErr(t, err)
	res, err := c.Do(req)
	if err != nil {
		return 0, api.Error{}, err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	mustNoErr(t, err)
	var ae api.Error
	if res.StatusCode >= 400 {
		_ = json.Unmarshal(b, &ae)
		return res.StatusCode, ae, nil
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			t.Fatalf("%s %s: answer %q: %v", method, url, b, err)
		}
	}
	return res.StatusCode, ae, nil
}

func TestHTTPFlowOverMTLS(t *testing.T) {
	pki := newPKI(t, "internal")
	c := newClock()
	log, _ := newLog()
	s := New(Options{Licence: Licence{Licensee: "t", Seats: 2, NotAfter: c.Now().Add(time.Hour)}, Secret: testSecret, Now: c.Now, Log: log})
	base := serve(t, s, pki)
	routerCert, proxyCert, portalCert := pki.component(t, rid(1)), pki.component(t, rid(7)), pki.portal(t)
	router, proxyc, portal := client(pki, &routerCert), client(pki, &proxyCert), client(pki, &portalCert)

	// No router yet: 503.
	adm := api.AdmitRequest{Meeting: "1234567890", Participant: "p1", Name: "Ada", Kind: "user"}
	if code, ae, err := call(t, portal, "POST", base+"/api/v1/manager/admit", adm, nil); err != nil || code != 503 || ae.Code != "router.unavailable" {
		t.Fatalf("admit without router: %d %+v %v", code, ae, err)
	}
	hb := api.RouterHeartbeat{RouterID: rid(1), URL: "https://127.0.0.1:8445"}
	if code, _, err := call(t, router, "POST", base+"/api/v1/manager/routers/heartbeat", hb, &api.RouterHeartbeatResponse{}); err != nil || code != 200 {
		t.Fatalf("router heartbeat: %d %v", code, err)
	}
	var phr api.ProxyHeartbeatResponse
	ph := api.ProxyHeartbeat{ProxyID: rid(7), URLs: []string{"turn:127.0.0.1:3478?transport=udp"}}
	if code, _, err := call(t, proxyc, "POST", base+"/api/v1/manager/proxies/heartbeat", ph, &phr); err != nil || code != 200 {
		t.Fatalf("proxy heartbeat: %d %v", code, err)
	}
	if !bytes.Equal(phr.Secret, testSecret) || len(phr.RouterAddrs) != 1 || phr.RouterAddrs[0] != "127.0.0.1" {
		t.Fatalf("proxy heartbeat answer = %+v", phr)
	}
	// The proxy's own parser takes the answer as it is.
	raw, err := json.Marshal(phr)
	mustNoErr(t, err)
	if secret, routers, err := proxy.ParseHeartbeatAnswer(raw); err != nil || !bytes.Equal(secret, testSecret) || len(routers) != 1 || routers[0].String() != "127.0.0.1" {
		t.Fatalf("proxy.ParseHeartbeatAnswer = %q %v %v", secret, routers, err)
	}
	var ar api.AdmitResponse
	if code, ae, err := call(t, portal, "POST", base+"/api/v1/manager/admit", adm, &ar); err != nil || code != 200 {
		t.Fatalf("admit: %d %+v %v", code, ae, err)
	}
	if ar.RouterID != rid(1) || ar.RouterURL != hb.URL || len(ar.ICEServers) != 1 || !strings.HasSuffix(ar.ICEServers[0].Username, ":p1") {
		t.Fatalf("admit answer = %+v", ar)
	}
	adm2 := adm
	adm2.Participant = "p2"
	if code, _, _ := call(t, portal, "POST", base+"/api/v1/manager/admit", adm2, &ar); code != 200 {
		t.Fatalf("second admit: %d", code)
	}
	adm3 := adm
	adm3.Participant = "p3"
	code, ae, err := call(t, portal, "POST", base+"/api/v1/manager/admit", adm3, nil)
	if err != nil || code != 403 || ae.Code != "licence.full" || !strings.HasPrefix(ae.Message, "All 2 licensed seats are in use") {
		t.Fatalf("admit beyond the licence: %d %+v %v", code, ae, err)
	}
	var pres []api.Presence
	if code, _, _ := call(t, portal, "GET", base+"/api/v1/manager/presence", nil, &pres); code != 200 || len(pres) != 2 || pres[0].Name != "Ada" || pres[0].RouterID != rid(1) {
		t.Fatalf("presence: %d %+v", code, pres)
	}
	if code, _, _ := call(t, portal, "POST", base+"/api/v1/manager/leave", api.LeaveRequest{Meeting: adm.Meeting, Participant: "p1"}, nil); code != 204 {
		t.Fatalf("leave: %d", code)
	}
	if code, _, _ := call(t, portal, "POST", base+"/api/v1/manager/admit", adm3, &ar); code != 200 {
		t.Fatalf("admit after leave: %d", code)
	}
}

func TestHTTPRefusals(t *testing.T) {
	pki := newPKI(t, "internal")
	other := newPKI(t, "someone else")
	s, _ := newService(t, 10)
	base := serve(t, s, pki)
	routerCert := pki.component(t, rid(1))
	portalCert := pki.portal(t)
	foreign := other.component(t, rid(1))
	noID := func() tls.Certificate { // from the right CA but naming no component (e.g. a room)
		key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		cert, err := pki.ca.IssueClient(key.Public(), "room-1", time.Hour)
		mustNoErr(t, err)
		return tls.Certificate{Certificate: [][]byte{cert.Raw}, PrivateKey: key, Leaf: cert}
	}()
	hb := api.RouterHeartbeat{RouterID: rid(1), URL: "https://127.0.0.1:8445"}
	tests := []struct {
		name     string
		c        *http.Client
		path     string
		body     any
		code     int
		apiCode  string
		tlsError bool
	}{
		{"no client certificate", client(pki, nil), "/api/v1/manager/routers/heartbeat", hb, 403, "", false},
		{"no client certificate, presence", client(pki, nil), "/api/v1/manager/presence", nil, 403, "", false},
		{"certificate from another CA, not sent", client(pki, &foreign), "/api/v1/manager/admit", api.AdmitRequest{Meeting: "m", Participant: "p", Kind: "user"}, 403, "", false},
		{"certificate from another CA, forced", forcedClient(pki, foreign), "/api/v1/manager/admit", api.AdmitRequest{Meeting: "m", Participant: "p", Kind: "user"}, 0, "", true},
		{"certificate naming no component", client(pki, &noID), "/api/v1/manager/admit", api.AdmitRequest{Meeting: "m", Participant: "p", Kind: "user"}, 403, "", false},
		{"router id of another component", client(pki, &routerCert), "/api/v1/manager/routers/heartbeat", api.RouterHeartbeat{RouterID: rid(2), URL: "https://127.0.0.1:1"}, 403, "component.mismatch", false},
		{"proxy id of another component", client(pki, &routerCert), "/api/v1/manager/proxies/heartbeat", api.ProxyHeartbeat{ProxyID: rid(2), URLs: []string{"turn:127.0.0.1:3478"}}, 403, "component.mismatch", false},
		{"admit from a router", client(pki, &routerCert), "/api/v1/manager/admit", api.AdmitRequest{Meeting: "m", Participant: "p", Kind: "user"}, 403, "", false},
		{"leave from a router", client(pki, &routerCert), "/api/v1/manager/leave", api.LeaveRequest{Meeting: "m", Participant: "p"}, 403, "", false},
		{"router heartbeat from the portal", client(pki, &portalCert), "/api/v1/manager/routers/heartbeat", hb, 403, "component.mismatch", false},
		{"invalid admit", client(pki, &portalCert), "/api/v1/manager/admit", map[string]any{"meeting": "m", "participant": "p", "kind": "alien"}, 400, "request.invalid", false},
		{"unknown field", client(pki, &portalCert), "/api/v1/manager/leave", map[string]any{"meeting": "m", "participant": "p", "x": 1}, 400, "request.invalid", false},
		{"oversized body", client(pki, &portalCert), "/api/v1/manager/leave", map[string]any{"meeting": strings.Repeat("m", maxBody)}, 413, "request.too_large", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			method := "POST"
			if tc.body == nil {
				method = "GET"
			}
			code, ae, err := call(t, tc.c, method, base+tc.path, tc.body, nil)
			if tc.tlsError {
				// The handshake verifies the client certificate against the internal CA.
				if err == nil || !strings.Contains(err.Error(), "certificate") {
					t.Fatalf("a foreign certificate was not refused in the handshake: HTTP %d, %v", code, err)
				}
				return
			}
			if err != nil || code != tc.code || ae.Code != tc.apiCode {
				t.Fatalf("got %d %+v %v, want %d %q", code, ae, err, tc.code, tc.apiCode)
			}
		})
	}
	if p := s.Presence(); len(p) != 0 {
		t.Fatalf("refused requests changed state: %+v", p)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.routers) != 0 || len(s.proxies) != 0 {
		t.Fatalf("refused heartbeats registered: %d routers, %d proxies", len(s.routers), len(s.proxies))
	}
}
