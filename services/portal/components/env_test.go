package components

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
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stoa-rooms/stoa/provisioning/ca"
	"github.com/stoa-rooms/stoa/services/api"
	"github.com/stoa-rooms/stoa/services/certs"
	"github.com/stoa-rooms/stoa/services/httpserver"
	"github.com/stoa-rooms/stoa/services/portal/store"
)

// clock is a settable test clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// env is a portal with its real SQLite store, internal CA, public HTTPS listener (join) and
// internal mTLS listener (heartbeat), all on loopback.
type env struct {
	svc         *Service
	st          *store.SQLite
	clk         *clock
	publicURL   string
	publicRoots *x509.CertPool
	internal    string // host:port
	resolvable  map[string]bool
	mu          sync.Mutex
}

func newEnv(t *testing.T) *env {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	dir := t.TempDir()
	st, err := store.OpenSQLite(ctx, filepath.Join(dir, "portal.db"))
	if err != nil {
		t.Fatal(err)
	}
	clk := &clock{t: time.Now().Truncate(time.Second)}
	internalCA, err := ca.LoadOrCreate(filepath.Join(dir, "ca"), "test internal CA", clk.Now())
	if err != nil {
		t.Fatal(err)
	}
	internalCA.Now = clk.Now
	e := &env{st: st, clk: clk, resolvable: map[string]bool{}}
	e.svc = &Service{
		Store: st, CA: internalCA, Now: clk.Now, Log: slog.New(slog.DiscardHandler), HeartbeatInterval: time.Second,
		LookupHost: func(ctx context.Context, host string) ([]string, error) {
			e.mu.Lock()
			defer e.mu.Unlock()
			if e.resolvable[host] {
				return []string{"127.0.0.1"}, nil
			}
			return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
		},
	}
	log := slog.New(slog.DiscardHandler)

	pub, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	in, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	e.internal = net.JoinHostPort("localhost", portOf(in))
	e.svc.InternalURL = "https://" + net.JoinHostPort("localhost", portOf(in))
	self, _, _, err := certs.SelfSigned("localhost", clk.Now())
	if err != nil {
		t.Fatal(err)
	}
	pubHolder := &certs.Holder{}
	pubHolder.Set(&self)
	e.publicRoots = x509.NewCertPool()
	e.publicRoots.AddCert(self.Leaf)
	e.publicURL = "https://" + net.JoinHostPort("localhost", portOf(pub))
	mux := http.NewServeMux()
	mux.HandleFunc("POST /api/v1/components/join", e.svc.HandleJoin)
	mux.HandleFunc("GET /api/v1/components", e.svc.HandleList)
	mux.HandleFunc("POST /api/v1/components/tokens", e.svc.HandleTokens)
	mux.HandleFunc("PUT /api/v1/components/{id}/fqdn", e.svc.HandleSetFQDN)
	mux.HandleFunc("POST /api/v1/components/{id}/certificate", e.svc.HandleUploadCert)

	icert, err := e.svc.PortalInternalCert("localhost")
	if err != nil {
		t.Fatal(err)
	}
	inHolder := &certs.Holder{}
	inHolder.Set(&icert)
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); _ = httpserver.Serve(ctx, log, pub, mux, certs.ServerConfig(pubHolder)) }()
	go func() {
		defer wg.Done()
		_ = httpserver.Serve(ctx, log, in, e.svc.InternalHandler(), e.svc.InternalTLSConfig(inHolder))
	}()
	t.Cleanup(func() { cancel(); wg.Wait(); st.Close() })
	return e
}

func portOf(ln net.Listener) string {
	_, p, _ := net.SplitHostPort(ln.Addr().String())
	return p
}

// publicClient trusts the portal's self-signed public certificate.
func (e *env) publicClient() *http.Client {
	tc := certs.ClientConfig()
	tc.RootCAs = e.publicRoots
	return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: tc}}
}

// internalClient presents cert (may be nil) to the internal listener.
func (e *env) internalClient(cert *tls.Certificate) *http.Client {
	tc := certs.ClientConfig()
	tc.RootCAs = e.svc.CA.Pool()
	if cert != nil {
		tc.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return cert, nil }
	}
	return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: tc, DisableKeepAlives: true}}
}

func (e *env) token(t *testing.T, kind, fqdn string) string {
	t.Helper()
	resp, err := e.svc.CreateToken(context.Background(), "tester", api.JoinTokenRequest{Kind: kind, FQDN: fqdn})
	if err != nil {
		t.Fatal(err)
	}
	return resp.Token
}

func newKey(t *testing.T) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func csrPEM(t *testing.T, key crypto.Signer, names ...string) string {
	t.Helper()
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: "x"}, DNSNames: names}, key)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der}))
}

// post sends a JSON body and decodes the answer into out (api.Error on failure).
func post(t *testing.T, c *http.Client, method, url, bearer string, body any, out any) (int, api.Error) {
	t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case string:
		rd = bytes.NewReader([]byte(b))
	default:
		j, _ := json.Marshal(b)
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	res, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	var ae api.Error
	if res.StatusCode >= 300 {
		if err := json.Unmarshal(b, &ae); err != nil {
			t.Fatalf("%s %s: HTTP %d with non-JSON body %q", method, url, res.StatusCode, b)
		}
		return res.StatusCode, ae
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			t.Fatalf("decode %s: %v (%q)", url, err, b)
		}
	}
	return res.StatusCode, ae
}

// joined is a component that joined through the real endpoint.
type joined struct {
	resp api.JoinResponse
	key  *ecdsa.PrivateKey
	cert tls.Certificate
}

func (e *env) join(t *testing.T, kind, fqdn string) joined {
	t.Helper()
	key := newKey(t)
	var jr api.JoinResponse
	code, ae := post(t, e.publicClient(), "POST", e.publicURL+"/api/v1/components/join", e.token(t, kind, fqdn),
		api.JoinRequest{CSRPEM: csrPEM(t, key, "evil.example"), Address: fqdn + ":8444", Version: "test"}, &jr)
	if code != http.StatusOK {
		t.Fatalf("join: %d %+v", code, ae)
	}
	return joined{resp: jr, key: key, cert: keyPair(t, jr.CertPEM, key)}
}

func keyPair(t *testing.T, certPEM string, key crypto.Signer) tls.Certificate {
	t.Helper()
	kp, err := certs.MarshalKeyPEM(key)
	if err != nil {
		t.Fatal(err)
	}
	tc, err := certs.LoadKeyPair([]byte(certPEM), kp)
	if err != nil {
		t.Fatal(err)
	}
	return tc
}

func (e *env) heartbeat(t *testing.T, cert *tls.Certificate, hb api.Heartbeat) (int, api.HeartbeatResponse, api.Error) {
	t.Helper()
	var resp api.HeartbeatResponse
	code, ae := post(t, e.internalClient(cert), "POST", "https://"+e.internal+"/api/v1/components/heartbeat", "", hb, &resp)
	return code, resp, ae
}

func (e *env) components(t *testing.T) []store.Component {
	t.Helper()
	cs, err := e.st.ListComponents(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return cs
}

func jsonDecode(r io.Reader, v any) error { return json.NewDecoder(r).Decode(v) }
