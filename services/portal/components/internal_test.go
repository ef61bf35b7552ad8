package components

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"io"
	"mime/multipart"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stoa-rooms/stoa/services/api"
	"github.com/stoa-rooms/stoa/services/certs"
	"github.com/stoa-rooms/stoa/test/testpki"
)

func TestInternalListenerRequiresInternalClientCert(t *testing.T) {
	e := newEnv(t)
	j := e.join(t, "manager", "m.stoa.test")
	other := testpki.NewCA(t, "other CA")
	foreign := other.Leaf(t, testpki.LeafOptions{DNS: []string{"m.stoa.test"}, EKU: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}})
	foreignCert := tls.Certificate{Certificate: [][]byte{foreign.Cert.Raw}, PrivateKey: foreign.Key, Leaf: foreign.Cert}
	deviceKey := newKey(t)
	deviceLeaf, err := e.svc.CA.IssueClient(deviceKey.Public(), "room-1", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	deviceCert := tls.Certificate{Certificate: [][]byte{deviceLeaf.Raw}, PrivateKey: deviceKey, Leaf: deviceLeaf}

	tests := []struct {
		name      string
		cert      *tls.Certificate
		handshake bool // handshake must fail
		status    int
	}{
		{"no client certificate", nil, true, 0},
		{"certificate from another CA", &foreignCert, true, 0},
		{"internal CA device certificate, not a component", &deviceCert, false, http.StatusForbidden},
		{"joined component", &j.cert, false, http.StatusOK},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			// A raw handshake first: refusal must happen in TLS, before any HTTP.
			conf := certs.ClientConfig()
			conf.RootCAs = e.svc.CA.Pool()
			conf.ServerName = "localhost"
			if tc.cert != nil {
				// Always sent, even when it does not match the CAs the server asks for.
				conf.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return tc.cert, nil }
			}
			conn, err := tls.Dial("tcp", e.internal, conf)
			if err == nil {
				// TLS 1.3 reports the server's refusal of a client certificate only on the
				// first read, so send a request and read: an accepted client gets HTTP back.
				conn.SetDeadline(time.Now().Add(5 * time.Second))
				_, err = conn.Write([]byte("GET / HTTP/1.0\r\nHost: localhost\r\n\r\n"))
				if err == nil {
					var b [12]byte
					_, err = io.ReadFull(conn, b[:])
					if err == nil && !strings.HasPrefix(string(b[:]), "HTTP/1.0 404") {
						t.Fatalf("unexpected answer %q", b)
					}
				}
				conn.Close()
			}
			refused := err != nil
			if refused != tc.handshake {
				t.Fatalf("handshake refused=%v (%v), want %v", refused, err, tc.handshake)
			}
			if tc.handshake {
				return
			}
			code, _, ae := e.heartbeat(t, tc.cert, api.Heartbeat{Address: "m.stoa.test:8444", Version: "2"})
			if code != tc.status {
				t.Fatalf("heartbeat: %d %+v, want %d", code, ae, tc.status)
			}
		})
	}
	c := e.components(t)[0]
	if c.LastHeartbeat.IsZero() || c.Version != "2" {
		t.Errorf("heartbeat not recorded: %+v", c)
	}
}

func TestRejoinRevokesOldCertificate(t *testing.T) {
	e := newEnv(t)
	first := e.join(t, "proxy", "p.stoa.test")
	second := e.join(t, "proxy", "p.stoa.test")
	if first.resp.ComponentID != second.resp.ComponentID {
		t.Errorf("re-join got a new ID %s, want %s", second.resp.ComponentID, first.resp.ComponentID)
	}
	if code, _, ae := e.heartbeat(t, &first.cert, api.Heartbeat{}); code != http.StatusForbidden || ae.Code != "component.cert_replaced" {
		t.Errorf("old certificate: %d %+v, want 403 component.cert_replaced", code, ae)
	}
	if code, _, ae := e.heartbeat(t, &second.cert, api.Heartbeat{}); code != http.StatusOK {
		t.Errorf("new certificate: %d %+v", code, ae)
	}
}

func TestSetFQDNReissuesOnHeartbeat(t *testing.T) {
	e := newEnv(t)
	j := e.join(t, "router", "old.stoa.test")
	id := j.resp.ComponentID
	url := e.publicURL + "/api/v1/components/" + id + "/fqdn"
	for _, tc := range []struct {
		name, url, fqdn, code string
		status                int
	}{
		{"bad fqdn", url, "bad_name", "component.bad_fqdn", 400},
		{"unknown component", e.publicURL + "/api/v1/components/" + strings.Repeat("0", 32) + "/fqdn", "x.stoa.test", "component.not_found", 404},
		{"malformed id", e.publicURL + "/api/v1/components/..%2f/fqdn", "x.stoa.test", "component.not_found", 404},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, ae := post(t, e.publicClient(), "PUT", tc.url, "", api.ComponentFQDN{FQDN: tc.fqdn}, nil)
			if code != tc.status || ae.Code != tc.code {
				t.Fatalf("got %d %+v, want %d %s", code, ae, tc.status, tc.code)
			}
			if f := e.components(t)[0].FQDN; f != "old.stoa.test" {
				t.Fatalf("FQDN changed to %q by a refused request", f)
			}
		})
	}
	var row api.Component
	if code, ae := post(t, e.publicClient(), "PUT", url, "", api.ComponentFQDN{FQDN: "new.stoa.test"}, &row); code != 200 {
		t.Fatalf("set FQDN: %d %+v", code, ae)
	}
	if row.FQDN != "new.stoa.test" || !slices.Contains(row.Warnings, "FQDN new.stoa.test is not in the certificate") {
		t.Errorf("row after change %+v: the component still serves the old certificate until its next heartbeat", row)
	}
	// Heartbeat with the old certificate: the reissued one comes back, for the same key.
	code, resp, ae := e.heartbeat(t, &j.cert, api.Heartbeat{})
	if code != 200 || resp.FQDN != "new.stoa.test" || resp.CertPEM == "" {
		t.Fatalf("heartbeat: %d %+v %+v", code, resp, ae)
	}
	next := keyPair(t, resp.CertPEM, j.key) // fails if not for the component's key
	if err := next.Leaf.VerifyHostname("new.stoa.test"); err != nil {
		t.Fatal(err)
	}
	// Answer lost? The next heartbeat with the old certificate gets the same one again.
	if _, again, _ := e.heartbeat(t, &j.cert, api.Heartbeat{}); again.CertPEM != resp.CertPEM {
		t.Error("reissued certificate not resent while the component still presents the old one")
	}
	// Presenting the new certificate makes it current; the old one stops working.
	if code, resp, ae := e.heartbeat(t, &next, api.Heartbeat{}); code != 200 || resp.CertPEM != "" {
		t.Fatalf("heartbeat with new certificate: %d %+v %+v", code, resp, ae)
	}
	if code, _, _ := e.heartbeat(t, &j.cert, api.Heartbeat{}); code != http.StatusForbidden {
		t.Errorf("old certificate after switch: %d, want 403", code)
	}
	if c := e.components(t)[0]; !bytes.Equal(c.CertPEM, []byte(resp.CertPEM)) && !strings.Contains(string(c.CertPEM), strings.TrimSpace(resp.CertPEM)) {
		t.Error("stored certificate is not the reissued one")
	}
}

func TestHeartbeatRenewalWithCSR(t *testing.T) {
	e := newEnv(t)
	j := e.join(t, "manager", "m.stoa.test")
	code, resp, ae := e.heartbeat(t, &j.cert, api.Heartbeat{CSRPEM: csrPEM(t, j.key, "ignored.example")})
	if code != 200 || resp.CertPEM == "" {
		t.Fatalf("renewal: %d %+v %+v", code, resp, ae)
	}
	renewed := keyPair(t, resp.CertPEM, j.key)
	if renewed.Leaf.SerialNumber.Cmp(j.cert.Leaf.SerialNumber) == 0 || !slices.Equal(renewed.Leaf.DNSNames, []string{"m.stoa.test"}) {
		t.Errorf("renewed certificate: serial %x SANs %v", renewed.Leaf.SerialNumber, renewed.Leaf.DNSNames)
	}
	code, _, ae = e.heartbeat(t, &j.cert, api.Heartbeat{CSRPEM: "garbage"})
	if code != 400 || ae.Code != "request.invalid" {
		t.Errorf("garbage CSR: %d %+v", code, ae)
	}
}

func TestListStatusAndWarnings(t *testing.T) {
	e := newEnv(t)
	a := e.join(t, "manager", "a.stoa.test")
	e.join(t, "router", "b.stoa.test")
	e.mu.Lock()
	e.resolvable["a.stoa.test"] = true
	e.mu.Unlock()
	if code, _, _ := e.heartbeat(t, &a.cert, api.Heartbeat{}); code != 200 {
		t.Fatal("heartbeat failed")
	}
	list := func() map[string]api.Component {
		var rows []api.Component
		if code, ae := post(t, e.publicClient(), "GET", e.publicURL+"/api/v1/components", "", "", &rows); code != 200 {
			t.Fatalf("list: %d %+v", code, ae)
		}
		m := map[string]api.Component{}
		for _, r := range rows {
			m[r.FQDN] = r
		}
		return m
	}
	m := list()
	tests := []struct {
		fqdn, status string
		warnings     []string
	}{
		{"a.stoa.test", "online", nil},
		{"b.stoa.test", "offline", []string{"FQDN b.stoa.test does not resolve"}},
	}
	for _, tc := range tests {
		t.Run(tc.fqdn, func(t *testing.T) {
			r := m[tc.fqdn]
			if r.Status != tc.status || !slices.Equal(r.Warnings, tc.warnings) {
				t.Errorf("row %+v, want status %s warnings %v", r, tc.status, tc.warnings)
			}
		})
	}
	e.clk.Add(3*e.svc.HeartbeatInterval + time.Second)
	if r := list()["a.stoa.test"]; r.Status != "offline" {
		t.Errorf("after 3 missed intervals: status %s, want offline", r.Status)
	}
}

func TestUploadCertificate(t *testing.T) {
	e := newEnv(t)
	j := e.join(t, "router", "r.stoa.test")
	pub := testpki.NewCA(t, "Public CA")
	good := pub.Leaf(t, testpki.LeafOptions{DNS: []string{"r.stoa.test"}, Key: j.key})
	otherKey := pub.Leaf(t, testpki.LeafOptions{DNS: []string{"r.stoa.test"}})
	wrongName := pub.Leaf(t, testpki.LeafOptions{DNS: []string{"x.stoa.test"}, Key: j.key})
	url := e.publicURL + "/api/v1/components/" + j.resp.ComponentID + "/certificate"
	upload := func(leaf *testpki.Leaf) (int, string) {
		var buf bytes.Buffer
		mw := multipart.NewWriter(&buf)
		fw, _ := mw.CreateFormFile("certificate", "leaf.pem")
		fw.Write(testpki.CertPEM(leaf.Cert))
		cw, _ := mw.CreateFormFile("chain", "chain.pem")
		cw.Write(testpki.CertPEM(leaf.Chain...))
		mw.Close()
		res, err := e.publicClient().Post(url, mw.FormDataContentType(), &buf)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		var ae api.Error
		_ = jsonDecode(res.Body, &ae)
		return res.StatusCode, ae.Code
	}
	for _, tc := range []struct {
		name   string
		leaf   *testpki.Leaf
		status int
		code   string
	}{
		{"issued for another key", otherKey, 422, certs.CodeKeyMismatch},
		{"wrong name", wrongName, 422, certs.CodeSANMismatch},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if status, code := upload(tc.leaf); status != tc.status || code != tc.code {
				t.Fatalf("got %d %s, want %d %s", status, code, tc.status, tc.code)
			}
			if p, _ := e.svc.slotPEM(context.Background(), uploadedSlot(j.resp.ComponentID)); p != nil {
				t.Fatal("a refused upload was stored")
			}
		})
	}
	if status, code := upload(good); status != 200 {
		t.Fatalf("upload: %d %s", status, code)
	}
	_, resp, _ := e.heartbeat(t, &j.cert, api.Heartbeat{})
	served := keyPair(t, resp.CertPEM, j.key)
	if !served.Leaf.Equal(good.Cert) {
		t.Error("heartbeat does not deliver the uploaded certificate")
	}
}
