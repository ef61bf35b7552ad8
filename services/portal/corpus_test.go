package portal

import (
	"context"
	"crypto/tls"
	"testing"
	"time"

	"github.com/stoa-rooms/stoa/services/certs"
	"github.com/stoa-rooms/stoa/services/portal/store"
	"github.com/stoa-rooms/stoa/test/certcorpus"
)

// setPendingKey puts the case's "generated on the portal" key in place, or clears it.
func (p *testPortal) setPendingKey(t *testing.T, c certcorpus.Case) {
	t.Helper()
	ctx := context.Background()
	if c.PendingKey == nil {
		if err := p.store.DeletePendingKey(ctx); err != nil {
			t.Fatal(err)
		}
		return
	}
	pemKey, err := certs.MarshalKeyPEM(c.PendingKey)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.store.PutPendingKey(ctx, store.PendingKey{KeyPEM: pemKey, Algorithm: "test", CreatedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
}

// TestBadUploadCorpus sends every bad upload of the generated corpus through the REST API: each
// is refused with its own code and message, and neither the served nor the staged certificate
// changes.
func TestBadUploadCorpus(t *testing.T) {
	now := time.Now()
	bad := certcorpus.Bad(t, "localhost", now)
	if len(bad) < 25 {
		t.Fatalf("corpus has %d bad uploads, want at least 25", len(bad))
	}
	p := startPortal(t, bad[0].Roots)
	before := p.serial(t)
	messages := map[string]string{}
	for _, c := range bad {
		t.Run(c.Name, func(t *testing.T) {
			p.setPendingKey(t, c)
			code, e, _ := p.upload(t, "/api/v1/security/upload", c.Cert, c.Chain, c.Key, c.Password)
			if code != 422 || e.Code != c.WantCode {
				t.Fatalf("upload answered %d %q (%s), want 422 %q", code, e.Code, e.Message, c.WantCode)
			}
			if e.Message == "" {
				t.Fatal("no message for the user")
			}
			messages[e.Code] = e.Message
			if got := p.serial(t); got != before {
				t.Fatalf("served certificate changed from %s to %s", before, got)
			}
			if st := p.state(t); st.Staged != nil {
				t.Fatalf("a refused upload was staged: %+v", st.Staged)
			}
		})
	}
	if len(messages) < 15 {
		t.Errorf("only %d distinct error codes across the corpus", len(messages))
	}
	if p.post(t, "/api/v1/security/activate", nil, nil) != 409 || p.serial(t) != before {
		t.Fatal("activate after refused uploads changed something")
	}
}

// TestGoodUploadFormats activates an upload of every container format and checks the served
// chain.
func TestGoodUploadFormats(t *testing.T) {
	good := certcorpus.Good(t, "localhost", time.Now())
	p := startPortal(t, good[0].Roots)
	for _, c := range good {
		t.Run(c.Name, func(t *testing.T) {
			p.setPendingKey(t, c)
			code, e, info := p.upload(t, "/api/v1/security/upload", c.Cert, c.Chain, c.Key, c.Password)
			if code != 200 {
				t.Fatalf("upload: %d %+v", code, e)
			}
			if info.Subject == "" || info.SHA256 == "" {
				t.Fatalf("staged info incomplete: %+v", info)
			}
			if code := p.post(t, "/api/v1/security/activate", nil, nil); code != 200 {
				t.Fatalf("activate: %d", code)
			}
			roots := c.Roots.Clone() // plus a root uploaded in the chain, which the portal trusts too
			for _, f := range c.Chain {
				if chain, err := certs.ParseChainPEM(f); err == nil {
					for _, ca := range chain {
						if ca.IsCA && ca.CheckSignatureFrom(ca) == nil {
							roots.AddCert(ca)
						}
					}
				}
			}
			conn, err := tls.Dial("tcp", p.https, &tls.Config{RootCAs: roots, ServerName: "localhost"})
			if err != nil {
				t.Fatalf("verified handshake: %v", err)
			}
			defer conn.Close()
			got := conn.ConnectionState().PeerCertificates
			if len(got) != len(c.Served) {
				t.Fatalf("served %d certificates, want %d", len(got), len(c.Served))
			}
			for i := range got {
				if !got[i].Equal(c.Served[i]) {
					t.Fatalf("served chain[%d] = %s, want %s", i, got[i].Subject, c.Served[i].Subject)
				}
			}
		})
	}
}
