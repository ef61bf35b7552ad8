package meetings

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stoa-rooms/stoa/provisioning/ca"
	"github.com/stoa-rooms/stoa/services/api"
	"github.com/stoa-rooms/stoa/services/certs"
	"github.com/stoa-rooms/stoa/services/httpserver"
	"github.com/stoa-rooms/stoa/services/password"
	"github.com/stoa-rooms/stoa/services/portal/auth"
	"github.com/stoa-rooms/stoa/services/portal/components"
	"github.com/stoa-rooms/stoa/services/portal/store"
)

// cheap keeps argon2id fast in tests; the code under test is the same.
var cheap = password.Params{MemoryKiB: 8 * 1024, Time: 1, Threads: 1}

// env is a portal front end over real TLS: real SQLite, the real session middleware, the
// meetings routes as server.go wires them, and the internal CA issuing the portal's internal
// certificate for calls to the manager and routers.
type env struct {
	st       *store.SQLite
	svc      *Service
	srv      *httptest.Server
	ica      *ca.CA
	tokenPub ed25519.PublicKey
	audit    *auditLog

	mu         sync.Mutex
	managerURL string
	routers    map[string]string
}

type auditLog struct {
	mu      sync.Mutex
	actions []string
}

func (a *auditLog) add(action, detail string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.actions = append(a.actions, action+" "+detail)
}

func (a *auditLog) has(prefix string) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, s := range a.actions {
		if strings.HasPrefix(s, prefix) {
			return true
		}
	}
	return false
}

func newEnv(t *testing.T) *env {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	st, err := store.OpenSQLite(ctx, filepath.Join(dir, "portal.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	ica, err := ca.LoadOrCreate(filepath.Join(dir, "ca"), "test internal CA", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	comps := &components.Service{Store: st, CA: ica}
	icert, err := comps.PortalInternalCert("localhost")
	if err != nil {
		t.Fatal(err)
	}
	tc := certs.ClientConfig()
	tc.RootCAs = ica.Pool()
	tc.Certificates = []tls.Certificate{icert}
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.DiscardHandler)
	am := auth.New(st, auth.Config{LoginRatePerMinute: 1000}, log)
	e := &env{st: st, ica: ica, tokenPub: pub, audit: &auditLog{}, routers: map[string]string{}}
	e.svc = &Service{
		Store: st, TokenKey: priv, ClientTLS: tc, PIN: cheap, Log: log,
		Audit: func(r *http.Request, action, detail string) { e.audit.add(action, detail) },
		ManagerURL: func(context.Context) (string, error) {
			e.mu.Lock()
			defer e.mu.Unlock()
			return e.managerURL, nil
		},
		RouterURL: func(_ context.Context, id string) (string, error) {
			e.mu.Lock()
			defer e.mu.Unlock()
			if u, ok := e.routers[id]; ok {
				return u, nil
			}
			return "", components.ErrOffline
		},
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /api/v1/login", am.HandleLogin)
	user := func(h http.HandlerFunc) http.Handler { return am.Require(store.RoleUser, h) }
	admin := func(h http.HandlerFunc) http.Handler { return am.Require(store.RoleAdmin, h) }
	mux.Handle("GET /api/v1/meetings", user(e.svc.HandleList))
	mux.Handle("POST /api/v1/meetings", user(e.svc.HandleCreate))
	mux.Handle("GET /api/v1/meetings/{id}", user(e.svc.HandleGet))
	mux.Handle("PUT /api/v1/meetings/{id}", user(e.svc.HandleUpdate))
	mux.Handle("DELETE /api/v1/meetings/{id}", user(e.svc.HandleDelete))
	mux.Handle("POST /api/v1/meetings/{id}/join", user(e.svc.HandleJoin))
	mux.Handle("PUT /api/v1/rooms/{id}/meeting", admin(e.svc.HandleRoomMeeting))
	top := http.NewServeMux()
	top.HandleFunc("GET "+RTCPathPrefix+"{router}", e.svc.HandleRTC)
	top.Handle("/", am.Middleware(mux))
	e.srv = httptest.NewUnstartedServer(top)
	e.srv.StartTLS()
	t.Cleanup(e.srv.Close)
	e.svc.PublicURL = e.srv.URL
	for _, u := range []struct {
		name string
		role store.Role
	}{{"alice", store.RoleUser}, {"bob", store.RoleUser}, {"root", store.RoleAdmin}} {
		h, err := password.HashWith(u.name+"-password", cheap)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := st.CreateUser(ctx, store.User{Name: u.name, Role: u.role, PasswordHash: h}); err != nil {
			t.Fatal(err)
		}
	}
	return e
}

func (e *env) setManager(url string) { e.mu.Lock(); e.managerURL = url; e.mu.Unlock() }
func (e *env) setRouter(id, url string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.routers[id] = url
}

// client is a signed-in browser session.
type client struct {
	t    *testing.T
	e    *env
	hc   *http.Client
	csrf string
}

func (e *env) login(t *testing.T, name string) *client {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	hc := &http.Client{Transport: e.srv.Client().Transport, Jar: jar, Timeout: 30 * time.Second}
	c := &client{t: t, e: e, hc: hc}
	var me api.Me
	if status := c.do("POST", "/api/v1/login", api.LoginRequest{Name: name, Password: name + "-password"}, &me); status != 200 {
		t.Fatalf("login %s: %d", name, status)
	}
	c.csrf = me.CSRFToken
	return c
}

// do sends body as JSON and decodes the answer into out (an *api.Error on failure, when out
// is not one); it returns the status.
func (c *client) do(method, path string, body, out any) int {
	c.t.Helper()
	status, b := c.raw(method, path, body)
	if out != nil && len(b) > 0 {
		if err := json.Unmarshal(b, out); err != nil {
			c.t.Fatalf("%s %s: %d %q: %v", method, path, status, b, err)
		}
	}
	return status
}

// raw sends body as JSON and returns the status and the answer's bytes.
func (c *client) raw(method, path string, body any) (int, []byte) {
	c.t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, c.e.srv.URL+path, rd)
	req.Header.Set("Content-Type", "application/json")
	if c.csrf != "" {
		req.Header.Set(auth.CSRFHeader, c.csrf)
	}
	res, err := c.hc.Do(req)
	if err != nil {
		c.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, b
}

// serveComponent serves h over TLS with a component certificate for localhost from the
// internal CA, asking for (and verifying) client certificates as components do. It returns
// https://localhost:port.
func (e *env) serveComponent(t *testing.T, h http.Handler) string {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	id := strings.Repeat("c0", 16)
	leaf, err := e.ica.IssueServerKey(key.Public(), "localhost", nil, time.Hour, ca.ComponentURI(id))
	if err != nil {
		t.Fatal(err)
	}
	hold := &certs.Holder{}
	hold.Set(&tls.Certificate{Certificate: [][]byte{leaf.Raw}, PrivateKey: key, Leaf: leaf})
	tc := certs.ServerConfig(hold)
	tc.ClientAuth = tls.VerifyClientCertIfGiven
	tc.ClientCAs = e.ica.Pool()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = httpserver.Serve(ctx, slog.New(slog.DiscardHandler), ln, h, tc) }()
	t.Cleanup(func() { cancel(); <-done })
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	return "https://" + net.JoinHostPort("localhost", port)
}
