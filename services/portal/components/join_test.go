package components

import (
	"context"
	"crypto/x509"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stoa-rooms/stoa/services/api"
	"github.com/stoa-rooms/stoa/services/certs"
)

func TestJoinIssuesCertificateForTokenFQDN(t *testing.T) {
	e := newEnv(t)
	j := e.join(t, "router", "router1.stoa.test")
	leaf := j.cert.Leaf
	if len(leaf.DNSNames) != 1 || leaf.DNSNames[0] != "router1.stoa.test" {
		t.Errorf("SANs %v, want [router1.stoa.test] (the token's FQDN, not the CSR's)", leaf.DNSNames)
	}
	roots, err := certs.ParseChainPEM([]byte(j.resp.CAPEM))
	if err != nil {
		t.Fatal(err)
	}
	if !roots[0].Equal(e.svc.CA.Root()) {
		t.Error("join answer carries another CA than the portal's")
	}
	if _, err := leaf.Verify(x509.VerifyOptions{DNSName: "router1.stoa.test", Roots: e.svc.CA.Pool(), CurrentTime: e.clk.Now()}); err != nil {
		t.Errorf("issued certificate does not verify against the internal CA: %v", err)
	}
	if id, ok := IdentityFromCert(leaf); !ok || id != j.resp.ComponentID {
		t.Errorf("certificate names %q, want %q", id, j.resp.ComponentID)
	}
	if j.resp.InternalURL != e.svc.InternalURL || j.resp.Kind != "router" || j.resp.FQDN != "router1.stoa.test" {
		t.Errorf("join answer %+v", j.resp)
	}
	cs := e.components(t)
	if len(cs) != 1 || cs[0].ID != j.resp.ComponentID || cs[0].Address != "router1.stoa.test:8444" || !cs[0].CertNotAfter.Equal(leaf.NotAfter) {
		t.Errorf("stored components %+v", cs)
	}
}

func TestJoinRefusals(t *testing.T) {
	e := newEnv(t)
	url := e.publicURL + "/api/v1/components/join"
	c := e.publicClient()
	key := newKey(t)
	good := api.JoinRequest{CSRPEM: csrPEM(t, key), Address: "m.stoa.test:8444", Version: "1"}

	used := e.token(t, "manager", "m.stoa.test")
	if code, ae := post(t, c, "POST", url, used, good, nil); code != http.StatusOK {
		t.Fatalf("first join: %d %+v", code, ae)
	}
	expired := e.token(t, "proxy", "p.stoa.test")
	kept := e.token(t, "router", "r.stoa.test") // must survive every bad request below

	tamperedCSR := strings.Replace(csrPEM(t, key), "A", "B", 3)
	tests := []struct {
		name   string
		bearer string
		body   any
		before func()
		status int
		code   string
	}{
		{"no token", "", good, nil, 401, "join.token_missing"},
		{"malformed token", "not-a-token", good, nil, 401, "join.token_malformed"},
		{"unknown token", strings.Repeat("A", 43), good, nil, 401, "join.token_invalid"},
		{"token used twice", used, good, nil, 401, "join.token_invalid"},
		{"bad CSR", kept, api.JoinRequest{CSRPEM: "garbage"}, nil, 400, "join.bad_request"},
		{"tampered CSR", kept, api.JoinRequest{CSRPEM: tamperedCSR}, nil, 400, "join.bad_request"},
		{"unknown field", kept, `{"csr_pem":"","admin":true}`, nil, 400, "join.bad_request"},
		{"trailing data", kept, `{"csr_pem":""} {}`, nil, 400, "join.bad_request"},
		{"bad address", kept, api.JoinRequest{CSRPEM: good.CSRPEM, Address: "no port"}, nil, 400, "join.bad_request"},
		{"expired token", expired, good, func() { e.clk.Add(TokenTTL + time.Second) }, 401, "join.token_invalid"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.before != nil {
				tc.before()
			}
			code, ae := post(t, c, "POST", url, tc.bearer, tc.body, nil)
			if code != tc.status || ae.Code != tc.code || ae.Message == "" {
				t.Fatalf("got %d %+v, want %d %s", code, ae, tc.status, tc.code)
			}
			if n := len(e.components(t)); n != 1 {
				t.Fatalf("%d components stored after a refused join, want 1", n)
			}
		})
	}
	// Nothing above burnt the token the malformed requests carried: it is rejected only now
	// because the clock moved past its expiry, which proves it was still unused.
	if _, err := e.st.ConsumeJoinToken(context.Background(), hashToken(kept), e.clk.Now().Add(-TokenTTL)); err != nil {
		t.Errorf("token of the refused requests was consumed: %v", err)
	}
}

func TestCreateTokenValidates(t *testing.T) {
	e := newEnv(t)
	tests := []struct {
		name, kind, fqdn, code string
	}{
		{"bad kind", "portal", "a.stoa.test", "component.bad_kind"},
		{"bad fqdn", "router", "a..stoa.test", "component.bad_fqdn"},
		{"ip", "router", "10.1.1.1", "component.bad_fqdn"},
		{"empty", "router", "", "component.bad_fqdn"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, ae := post(t, e.publicClient(), "POST", e.publicURL+"/api/v1/components/tokens", "", api.JoinTokenRequest{Kind: tc.kind, FQDN: tc.fqdn}, nil)
			if code != 400 || ae.Code != tc.code {
				t.Fatalf("got %d %+v, want 400 %s", code, ae, tc.code)
			}
		})
	}
	var tr api.JoinTokenResponse
	if code, ae := post(t, e.publicClient(), "POST", e.publicURL+"/api/v1/components/tokens", "", api.JoinTokenRequest{Kind: "router", FQDN: "Router.Stoa.Test"}, &tr); code != 201 {
		t.Fatalf("create token: %d %+v", code, ae)
	}
	if !wellFormedToken(tr.Token) || !tr.ExpiresAt.Equal(e.clk.Now().Add(TokenTTL)) {
		t.Errorf("token %+v", tr)
	}
	tok, err := e.st.ConsumeJoinToken(context.Background(), hashToken(tr.Token), e.clk.Now())
	if err != nil || tok.FQDN != "router.stoa.test" {
		t.Errorf("stored token %+v, %v (want FQDN lowercased, found by hash)", tok, err)
	}
}

func FuzzDecodeJoinRequest(f *testing.F) {
	f.Add([]byte(`{"csr_pem":"","address":"a:1","version":"1"}`))
	f.Add([]byte(`{"csr_pem":"-----BEGIN CERTIFICATE REQUEST-----\nMIIB\n-----END CERTIFICATE REQUEST-----\n"}`))
	f.Add([]byte(`{"csr_pem":1}`))
	f.Add([]byte(`{} {}`))
	f.Add([]byte(`{"address":"[::1]:443","version":"\u0000"}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		req, csr, err := DecodeJoinRequest(strings.NewReader(string(b)))
		if err != nil {
			return
		}
		if csr == nil || csr.CheckSignature() != nil {
			t.Fatal("accepted a request without a valid CSR")
		}
		if checkAddress(req.Address) != nil || checkVersion(req.Version) != nil {
			t.Fatalf("accepted bad fields %+v", req)
		}
	})
}
