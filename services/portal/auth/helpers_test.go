package auth

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stoa-rooms/stoa/services/api"
	"github.com/stoa-rooms/stoa/services/password"
	"github.com/stoa-rooms/stoa/services/portal/store"
)

// clock is a settable time source for the Manager under test.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// env is a portal front end: real SQLite, the Manager's middleware and handlers behind a real
// TLS server.
type env struct {
	t   *testing.T
	st  *store.SQLite
	m   *Manager
	clk *clock
	srv *httptest.Server
}

const (
	userPW  = "user-password-123"
	adminPW = "admin-password-123"
	superPW = "super-password-123"
)

func newEnv(t *testing.T, cfg Config) *env {
	t.Helper()
	st, err := store.OpenSQLite(context.Background(), filepath.Join(t.TempDir(), "portal.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	clk := &clock{now: time.Date(2026, 5, 1, 9, 0, 0, 0, time.UTC)}
	cfg.Now = clk.Now
	if cfg.LoginRatePerMinute == 0 {
		cfg.LoginRatePerMinute = 1000
	}
	m := New(st, cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"ok": "yes"})
	})
	mux := http.NewServeMux()
	mux.HandleFunc("POST /api/v1/login", m.HandleLogin)
	mux.HandleFunc("POST /api/v1/logout", m.HandleLogout)
	mux.HandleFunc("GET /api/v1/me", m.HandleMe)
	mux.HandleFunc("GET /api/v1/audit", m.HandleAudit)
	mux.HandleFunc("/api/v1/users", m.HandleUsers)
	mux.Handle("/api/v1/echo", m.Require(store.RoleUser, ok))
	mux.Handle("/api/v1/admin", m.Require(store.RoleAdmin, ok))
	mux.Handle("/api/v1/super", m.Require(store.RoleSuperAdmin, ok))
	srv := httptest.NewTLSServer(m.Middleware(mux))
	t.Cleanup(srv.Close)
	e := &env{t: t, st: st, m: m, clk: clk, srv: srv}
	return e
}

func (e *env) addUser(name string, role store.Role, pw string) {
	e.t.Helper()
	h, err := password.Hash(pw)
	if err != nil {
		e.t.Fatal(err)
	}
	if _, err := e.st.CreateUser(context.Background(), store.User{Name: name, Role: role, PasswordHash: h}); err != nil {
		e.t.Fatal(err)
	}
}

// client returns a browser-like client: the server's TLS trust and a cookie jar.
func (e *env) client() *http.Client {
	e.t.Helper()
	c := e.bare()
	jar, err := cookiejar.New(nil)
	if err != nil {
		e.t.Fatal(err)
	}
	c.Jar = jar
	return c
}

// bare returns a client without cookie jar (srv.Client returns one shared value, so copy it).
func (e *env) bare() *http.Client {
	c := *e.srv.Client()
	c.Jar = nil
	return &c
}

type reply struct {
	status int
	header http.Header
	body   []byte
	resp   *http.Response
}

func (r reply) apiError(t *testing.T) api.Error {
	t.Helper()
	var ae api.Error
	if err := json.Unmarshal(r.body, &ae); err != nil {
		t.Fatalf("body %q is not an api.Error: %v", r.body, err)
	}
	return ae
}

// do sends one request; hdr values are set as headers.
func (e *env) do(c *http.Client, method, path string, body []byte, hdr map[string]string) reply {
	e.t.Helper()
	req, err := http.NewRequest(method, e.srv.URL+path, bytes.NewReader(body))
	if err != nil {
		e.t.Fatal(err)
	}
	if body != nil && hdr["Content-Type"] == "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := c.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	return reply{status: resp.StatusCode, header: resp.Header, body: b, resp: resp}
}

func loginBody(name, pw string) []byte {
	b, _ := json.Marshal(api.LoginRequest{Name: name, Password: pw})
	return b
}

// login signs c in and returns the Me reply.
func (e *env) login(c *http.Client, name, pw string) api.Me {
	e.t.Helper()
	r := e.do(c, http.MethodPost, "/api/v1/login", loginBody(name, pw), nil)
	if r.status != http.StatusOK {
		e.t.Fatalf("login %s: %d %s", name, r.status, r.body)
	}
	var me api.Me
	if err := json.Unmarshal(r.body, &me); err != nil {
		e.t.Fatal(err)
	}
	return me
}

func (e *env) auditActions() []store.AuditEntry {
	e.t.Helper()
	es, err := e.st.ListAudit(context.Background(), store.MaxAuditLimit)
	if err != nil {
		e.t.Fatal(err)
	}
	return es
}

func (r reply) me(t *testing.T) api.Me {
	t.Helper()
	var me api.Me
	if err := json.Unmarshal(r.body, &me); err != nil {
		t.Fatalf("body %q is not api.Me: %v", r.body, err)
	}
	return me
}
