package component

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stoa-rooms/stoa/provisioning/ca"
	"github.com/stoa-rooms/stoa/services/api"
	"github.com/stoa-rooms/stoa/services/certs"
	"github.com/stoa-rooms/stoa/services/httpserver"
	"github.com/stoa-rooms/stoa/services/portal/components"
	"github.com/stoa-rooms/stoa/services/portal/store"
	"github.com/stoa-rooms/stoa/test/registrytest"
	"github.com/stoa-rooms/stoa/test/testpki"
)

// portal is a real portal-side registry with its public and internal listeners on loopback.
type portal struct {
	svc   *components.Service
	st    *store.SQLite
	url   string
	roots *x509.CertPool
	reg   *registrytest.Registry
}

func newPortal(t *testing.T) *portal { t.Helper(); return newPortalWith(t, nil) }

// newPortalWith is newPortal with a hook that completes the Service before it serves.
func newPortalWith(t *testing.T, setup func(*components.Service)) *portal {
	t.Helper()
	r := registrytest.Start(t, setup)
	return &portal{svc: r.Svc, st: r.Store, url: r.URL, roots: r.Roots, reg: r}
}

func listen(t *testing.T) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return ln
}

func port(ln net.Listener) string {
	_, p, _ := net.SplitHostPort(ln.Addr().String())
	return p
}

func (p *portal) token(t *testing.T, kind, fqdn string) string {
	t.Helper()
	return p.reg.Token(t, kind, fqdn)
}

// running is a component started with Run.
type running struct {
	addr string
	done chan error
	stop context.CancelFunc
}

func start(t *testing.T, cfg Config) *running {
	t.Helper()
	ln := listen(t)
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{addr: ln.Addr().String(), done: make(chan error, 1), stop: cancel}
	routes := func(mux *http.ServeMux) {
		mux.Handle("GET /api/v1/peer", RequireComponentClient(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			io.WriteString(w, "hello component")
		})))
		mux.Handle("GET /api/v1/portal-only", RequirePortalClient(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			io.WriteString(w, "hello portal")
		})))
	}
	go func() { r.done <- Run(ctx, cfg, ln, routes, httpserver.NewRegistry(), slog.New(slog.DiscardHandler)) }()
	t.Cleanup(func() {
		cancel()
		<-r.done
	})
	return r
}

// eventually polls cond until it holds or 10 s pass.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// servedLeaf handshakes with the component as a TLS client asking for serverName and
// verifying against roots; it returns the leaf or the handshake error.
func servedLeaf(addr, serverName string, roots *x509.CertPool, client *tls.Certificate) (*x509.Certificate, error) {
	conf := certs.ClientConfig()
	conf.RootCAs, conf.ServerName = roots, serverName
	if client != nil {
		conf.Certificates = []tls.Certificate{*client}
	}
	conn, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", addr, conf)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	return conn.ConnectionState().PeerCertificates[0], nil
}

func httpsGet(t *testing.T, addr, fqdn, path string, roots *x509.CertPool, client *tls.Certificate, user, pass string) (int, string) {
	t.Helper()
	conf := certs.ClientConfig()
	conf.RootCAs, conf.ServerName = roots, fqdn
	if client != nil {
		conf.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return client, nil }
	}
	hc := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: conf, DisableKeepAlives: true}}
	req, _ := http.NewRequest("GET", "https://"+addr+path, nil)
	if user != "" {
		req.SetBasicAuth(user, pass)
	}
	res, err := hc.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b)
}

func TestRunWithoutIdentityNeedsToken(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "router")
	err := Run(context.Background(), Config{Kind: "router", FQDN: "r.stoa.test", PortalURL: "https://localhost:1", DataDir: dir}, listen(t), nil, httpserver.NewRegistry(), nil)
	if err == nil || !strings.Contains(err.Error(), "not joined: get a join token from Super Admin → Components and pass --join-token") {
		t.Fatalf("err = %v", err)
	}
	if Joined(dir) {
		t.Error("a failed start left an identity behind")
	}
}

func TestRunRefusesBadToken(t *testing.T) {
	p := newPortal(t)
	dir := filepath.Join(t.TempDir(), "proxy")
	err := Run(context.Background(), Config{Kind: "proxy", FQDN: "p.stoa.test", PortalURL: p.url, PortalRoots: p.roots,
		JoinToken: strings.Repeat("A", 43), DataDir: dir}, listen(t), nil, httpserver.NewRegistry(), nil)
	if err == nil || !strings.Contains(err.Error(), "join.token_invalid") {
		t.Fatalf("err = %v", err)
	}
	if Joined(dir) {
		t.Error("a refused join left an identity behind")
	}
}

func TestComponentLifecycle(t *testing.T) {
	p := newPortal(t)
	root := p.svc.CA.Pool()
	dir := filepath.Join(t.TempDir(), "router")
	cfg := Config{Kind: "router", FQDN: "r1.stoa.test", PortalURL: p.url, PortalRoots: p.roots, JoinToken: p.token(t, "router", "r1.stoa.test"),
		DataDir: dir, Version: "1.2.3", HeartbeatInterval: 50 * time.Millisecond}
	c := start(t, cfg)

	var comp store.Component
	eventually(t, "the first heartbeat", func() bool {
		cs, err := p.st.ListComponents(context.Background())
		if err != nil || len(cs) != 1 || cs[0].LastHeartbeat.IsZero() {
			return false
		}
		comp = cs[0]
		return true
	})
	if comp.Version != "1.2.3" || comp.Address != net.JoinHostPort("r1.stoa.test", port2(c.addr)) {
		t.Errorf("stored component %+v", comp)
	}

	t.Run("serves its internal certificate for its FQDN", func(t *testing.T) {
		leaf, err := servedLeaf(c.addr, "r1.stoa.test", root, nil)
		if err != nil {
			t.Fatal(err)
		}
		if len(leaf.DNSNames) != 1 || leaf.DNSNames[0] != "r1.stoa.test" {
			t.Errorf("SANs %v", leaf.DNSNames)
		}
	})

	t.Run("files are private", func(t *testing.T) {
		for name, want := range map[string]os.FileMode{"": 0o700 | os.ModeDir, keyFile: 0o600, credentialsFile: 0o600, consoleHashFile: 0o600} {
			st, err := os.Stat(filepath.Join(dir, name))
			if err != nil || st.Mode() != want {
				t.Errorf("%q: mode %v (%v), want %v", name, st.Mode(), err, want)
			}
		}
	})

	t.Run("console requires the console account", func(t *testing.T) {
		b, err := os.ReadFile(filepath.Join(dir, credentialsFile))
		if err != nil {
			t.Fatal(err)
		}
		lines := strings.Split(strings.TrimSpace(string(b)), "\n")
		if len(lines) != 2 || lines[0] != "user: console" || len(strings.TrimPrefix(lines[1], "password: ")) != 20 {
			t.Fatalf("credentials file %q", b)
		}
		pw := strings.TrimPrefix(lines[1], "password: ")
		if h, _ := os.ReadFile(filepath.Join(dir, consoleHashFile)); strings.Contains(string(h), pw) || !strings.HasPrefix(string(h), "$argon2id$") {
			t.Fatal("console.hash is not an argon2id hash of the password")
		}
		for _, tc := range []struct {
			name, path, user, pass string
			status                 int
			body                   string
		}{
			{"no credentials", "/", "", "", 401, ""},
			{"wrong password", "/", "console", "not-the-password", 401, ""},
			{"wrong user", "/", "admin", pw, 401, ""},
			{"console account", "/", "console", pw, 200, "r1.stoa.test"},
			{"CSR needs the account", "/csr", "", "", 401, ""},
			{"CSR", "/csr", "console", pw, 200, "BEGIN CERTIFICATE REQUEST"},
			{"health is public", "/healthz", "", "", 200, "ok"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				status, body := httpsGet(t, c.addr, "r1.stoa.test", tc.path, root, nil, tc.user, tc.pass)
				if status != tc.status || !strings.Contains(body, tc.body) {
					t.Fatalf("GET %s: %d %.200q, want %d containing %q", tc.path, status, body, tc.status, tc.body)
				}
				if status == 200 && tc.path == "/" {
					for _, want := range []string{"router", comp.ID, p.url, "Last heartbeat", "test internal CA", ": ok"} {
						if !strings.Contains(body, want) {
							t.Errorf("console page lacks %q", want)
						}
					}
					if strings.Contains(body, "<script") || strings.Contains(body, "style=") {
						t.Error("console page has inline script or style")
					}
				}
			})
		}
	})

	t.Run("component API needs a component certificate", func(t *testing.T) {
		key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		peer, err := p.svc.CA.IssueServerKey(key.Public(), "m.stoa.test", nil, time.Hour, ca.ComponentURI(strings.Repeat("ab", 16)))
		if err != nil {
			t.Fatal(err)
		}
		dev, err := p.svc.CA.IssueClient(key.Public(), "room-7", time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		peerCert := &tls.Certificate{Certificate: [][]byte{peer.Raw}, PrivateKey: key}
		devCert := &tls.Certificate{Certificate: [][]byte{dev.Raw}, PrivateKey: key}
		for _, tc := range []struct {
			name   string
			cert   *tls.Certificate
			status int
		}{
			{"no client certificate", nil, 403},
			{"room device certificate", devCert, 403},
			{"component certificate", peerCert, 200},
		} {
			t.Run(tc.name, func(t *testing.T) {
				if status, body := httpsGet(t, c.addr, "r1.stoa.test", "/api/v1/peer", root, tc.cert, "", ""); status != tc.status {
					t.Fatalf("%d %q, want %d", status, body, tc.status)
				}
			})
		}
		foreign := testpki.NewCA(t, "foreign").Leaf(t, testpki.LeafOptions{DNS: []string{"m.stoa.test"}, EKU: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}})
		fc := &tls.Certificate{Certificate: [][]byte{foreign.Cert.Raw}, PrivateKey: foreign.Key}
		conf := certs.ClientConfig()
		conf.RootCAs, conf.ServerName = root, "r1.stoa.test"
		// Certificates alone would not be sent: Go offers only a certificate matching the
		// server's acceptable CAs. Force it, as a hostile client would.
		conf.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return fc, nil }
		hc := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: conf}}
		if res, err := hc.Get("https://" + c.addr + "/api/v1/peer"); err == nil {
			res.Body.Close()
			t.Errorf("a certificate from a foreign CA got HTTP %d, want a refused handshake", res.StatusCode)
		}
	})

	t.Run("FQDN change is picked up on the next heartbeat and served", func(t *testing.T) {
		rec := httptest.NewRecorder()
		req := httptest.NewRequest("PUT", "/api/v1/components/"+comp.ID+"/fqdn", strings.NewReader(`{"fqdn":"r2.stoa.test"}`))
		req.SetPathValue("id", comp.ID)
		p.svc.HandleSetFQDN(rec, req)
		if rec.Code != 200 {
			t.Fatalf("set FQDN: %d %s", rec.Code, rec.Body)
		}
		eventually(t, "the component to serve r2.stoa.test", func() bool {
			leaf, err := servedLeaf(c.addr, "r2.stoa.test", root, nil)
			return err == nil && leaf.DNSNames[0] == "r2.stoa.test"
		})
		eventually(t, "the portal to see the new certificate in use", func() bool {
			got, err := p.st.ComponentByID(context.Background(), comp.ID)
			if err != nil {
				return false
			}
			ch, err := certs.ParseChainPEM(got.CertPEM)
			return err == nil && got.FQDN == "r2.stoa.test" && ch[0].VerifyHostname("r2.stoa.test") == nil
		})
		if _, err := servedLeaf(c.addr, "r1.stoa.test", root, nil); err == nil {
			t.Error("still serving a certificate valid for the old name")
		}
		var id identity
		b, _ := os.ReadFile(filepath.Join(dir, identityFile))
		if err := json.Unmarshal(b, &id); err != nil || id.FQDN != "r2.stoa.test" {
			t.Errorf("component.json %s (%v)", b, err)
		}
		onDisk, _ := os.ReadFile(filepath.Join(dir, certFile))
		if ch, err := certs.ParseChainPEM(onDisk); err != nil || ch[0].VerifyHostname("r2.stoa.test") != nil {
			t.Errorf("cert.pem on disk not replaced: %v", err)
		}
	})

	t.Run("restart reuses the identity without a token", func(t *testing.T) {
		c.stop()
		if err := <-c.done; err != nil && !errors.Is(err, context.Canceled) {
			t.Fatalf("Run returned %v", err)
		}
		c.done <- nil // for the cleanup
		cfg2 := cfg
		cfg2.JoinToken = ""
		c2 := start(t, cfg2)
		eventually(t, "the restarted component to serve", func() bool {
			leaf, err := servedLeaf(c2.addr, "r2.stoa.test", root, nil)
			if err != nil {
				return false
			}
			id, _ := ca.ComponentID(leaf)
			return id == comp.ID
		})
	})
}

func port2(addr string) string {
	_, p, _ := net.SplitHostPort(addr)
	return p
}

// FuzzJoinResponse feeds arbitrary portal answers to the join checks: nothing that does not
// fit together (ID, https internal URL, CA, certificate for our key naming our ID) is accepted.
func FuzzJoinResponse(f *testing.F) {
	f.Add([]byte(`{"component_id":"abababababababababababababababab","internal_url":"https://localhost:1","ca_pem":"","cert_pem":""}`))
	f.Add([]byte(`{"component_id":"x","internal_url":"http://a"}`))
	f.Add([]byte(`{"ca_pem":"-----BEGIN CERTIFICATE-----\nMII\n-----END CERTIFICATE-----\n"}`))
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var jr api.JoinResponse
		if json.Unmarshal(b, &jr) != nil {
			return
		}
		st, err := checkJoinResponse(jr, key, time.Now())
		if err != nil {
			return
		}
		if id, ok := ca.ComponentID(st.cert.Leaf); !ok || id != jr.ComponentID {
			t.Fatalf("accepted a certificate not naming %q", jr.ComponentID)
		}
	})
}
