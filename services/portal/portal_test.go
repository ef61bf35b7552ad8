package portal

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"io"
	"log/slog"
	"mime/multipart"
	"net/http/cookiejar"
	"path/filepath"
	"testing"
	"time"

	"github.com/stoa-rooms/stoa/services/api"
	"github.com/stoa-rooms/stoa/services/config"
	"github.com/stoa-rooms/stoa/services/portal/rooms"
	"github.com/stoa-rooms/stoa/test/stoatest"
)

// testPortal is a real portal (real SQLite, real TLS listeners on loopback) in this process.
type testPortal struct {
	*Server
	base     string
	https    string // host:port
	internal string // host:port of the mTLS listener
	sess     *stoatest.Session
	dir      string // the portal's data directory
}

func startPortal(t *testing.T, extraRoots *x509.CertPool) *testPortal {
	t.Helper()
	return startPortalWith(t, portalOptions{extraRoots: extraRoots})
}

// portalOptions vary a test portal.
type portalOptions struct {
	fqdn       string // default "localhost"
	extraRoots *x509.CertPool
	// beforeRun sees the bound listeners before the portal serves (e.g. to point a test CA's
	// validation at the portal's ports).
	beforeRun func(Listeners)
	now       func() time.Time
	// roomsTuning shortens the rooms service's long-polls and waits.
	roomsTuning func(*rooms.Options)
	noHTTP      bool // no plain-HTTP redirect listener
	// maxUpdateBytes sets portal.max_update_bytes when not 0.
	maxUpdateBytes int64
}

func startPortalWith(t *testing.T, o portalOptions) *testPortal {
	t.Helper()
	dir := t.TempDir()
	cfg := config.Default().Portal
	if o.fqdn != "" {
		cfg.FQDN = o.fqdn
	}
	cfg.HTTPSAddr, cfg.HTTPAddr, cfg.InternalAddr = "127.0.0.1:0", "127.0.0.1:0", "127.0.0.1:0"
	if o.noHTTP {
		cfg.HTTPAddr = ""
	}
	if o.maxUpdateBytes != 0 {
		cfg.MaxUpdateBytes = o.maxUpdateBytes
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	ctx, cancel := context.WithCancel(context.Background())
	s, err := New(ctx, Options{Config: cfg, DataDir: dir, CredentialsPath: filepath.Join(dir, "creds.txt"), Log: log,
		ExtraRoots: o.extraRoots, Now: o.now, RoomsTuning: o.roomsTuning})
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	lns, err := Listen(cfg)
	if err != nil {
		cancel()
		s.Close()
		t.Fatal(err)
	}
	if o.beforeRun != nil {
		o.beforeRun(lns)
	}
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx, lns) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("portal Run: %v", err)
			}
		case <-time.After(5 * time.Second):
			t.Error("portal did not stop within 5 s: a long-poll ignores shutdown")
		}
		s.Close()
	})
	p := &testPortal{Server: s, https: lns.HTTPS.Addr().String(), internal: lns.Internal.Addr().String(), dir: dir}
	p.base = "https://" + p.https
	c := stoatest.InsecureClient()
	c.Jar, _ = cookiejar.New(nil)
	p.sess = stoatest.LoginAs(t, p.base, c, "admin", s.BootstrapPassword())
	return p
}

// serial is the serial (hex) of the certificate the portal serves right now.
func (p *testPortal) serial(t *testing.T) string {
	t.Helper()
	conn, err := tls.Dial("tcp", p.https, &tls.Config{InsecureSkipVerify: true, ServerName: "localhost"}) //nolint:gosec // reading what is served
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	return conn.ConnectionState().PeerCertificates[0].SerialNumber.Text(16)
}

// upload posts a certificate upload as multipart/form-data.
func (p *testPortal) upload(t *testing.T, path string, cert []byte, chain [][]byte, key []byte, password string) (int, api.Error, api.CertInfo) {
	t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	add := func(field, name string, b []byte) {
		w, _ := mw.CreateFormFile(field, name)
		w.Write(b)
	}
	add("certificate", "cert", cert)
	for _, c := range chain {
		add("chain", "chain", c)
	}
	if key != nil {
		add("key", "key", key)
	}
	if password != "" {
		mw.WriteField("password", password)
	}
	mw.Close()
	code, body, err := p.sess.Do("POST", path, buf.Bytes(), mw.FormDataContentType(), nil)
	if err != nil {
		t.Fatal(err)
	}
	var e api.Error
	var info api.CertInfo
	if code == 200 {
		json.Unmarshal(body, &info)
	} else {
		json.Unmarshal(body, &e)
	}
	return code, e, info
}

func (p *testPortal) state(t *testing.T) api.SecurityState {
	t.Helper()
	var st api.SecurityState
	if code, body, err := p.sess.Do("GET", "/api/v1/security/certificate", nil, "", &st); err != nil || code != 200 {
		t.Fatalf("security state: %d %s %v", code, body, err)
	}
	return st
}

func (p *testPortal) post(t *testing.T, path string, in, out any) int {
	t.Helper()
	code, body, err := p.sess.Do("POST", path, in, "", out)
	if err != nil {
		t.Fatalf("POST %s: %v (%s)", path, err, body)
	}
	return code
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
