package portal

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/tls"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/cookiejar"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stoa-rooms/stoa/services/api"
	"github.com/stoa-rooms/stoa/services/component"
	"github.com/stoa-rooms/stoa/services/config"
	"github.com/stoa-rooms/stoa/services/manager"
	"github.com/stoa-rooms/stoa/test/stoatest"
)

// securedPortal is a real portal on a data directory the test keeps, so it can be stopped
// and started again, with its plain-HTTP redirect listener.
type securedPortal struct {
	*roomsPortal
	http string // host:port of the plain-HTTP listener
	stop func()
}

func startSecuredPortal(t *testing.T, dir string) *securedPortal {
	t.Helper()
	cfg := config.Default().Portal
	cfg.HTTPSAddr, cfg.HTTPAddr, cfg.InternalAddr = "127.0.0.1:0", "127.0.0.1:0", "127.0.0.1:0"
	clk := &fakeClock{}
	ctx, cancel := context.WithCancel(context.Background())
	creds := filepath.Join(dir, "creds.txt")
	s, err := New(ctx, Options{Config: cfg, DataDir: dir, CredentialsPath: creds, Log: slog.New(slog.DiscardHandler),
		Now: clk.Now, RoomsTuning: shortRoomWaits})
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
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx, lns) }()
	stopped := false
	stop := func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		if err := <-done; err != nil {
			t.Errorf("portal Run: %v", err)
		}
		s.Close()
	}
	t.Cleanup(stop)
	p := &testPortal{Server: s, https: lns.HTTPS.Addr().String(), internal: lns.Internal.Addr().String()}
	p.base = "https://" + p.https
	c := stoatest.InsecureClient()
	c.Jar, _ = cookiejar.New(nil)
	p.sess = stoatest.LoginAs(t, p.base, c, "admin", readPassword(creds))
	return &securedPortal{roomsPortal: &roomsPortal{testPortal: p, clock: clk}, http: lns.HTTP.Addr().String(), stop: stop}
}

// startLicensedManager runs the real manager joined to p, with a licence granting options
// (nil: a licence without the Secured option), and waits until the portal sees it online.
func (p *roomsPortal) startLicensedManager(t *testing.T, options []string) string {
	t.Helper()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "manager")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	lic, err := manager.SignLicence(manager.Licence{Licensee: "Test AG", Seats: 20, Options: options, NotAfter: time.Now().Add(24 * time.Hour)}, priv)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, manager.LicenceFile), lic, 0o600); err != nil {
		t.Fatal(err)
	}
	tok, err := p.Components().CreateToken(context.Background(), "test", api.JoinTokenRequest{Kind: "manager", FQDN: "localhost"})
	if err != nil {
		t.Fatal(err)
	}
	cfg := component.Config{Kind: "manager", FQDN: "localhost", PortalURL: p.base, PortalRoots: p.ServingRoots(),
		JoinToken: tok.Token, DataDir: dir, HeartbeatInterval: 200 * time.Millisecond}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- manager.RunLicensed(ctx, cfg, pub, ln, slog.New(slog.DiscardHandler)) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil && !errors.Is(err, context.Canceled) {
			t.Errorf("manager: %v", err)
		}
	})
	var url string
	waitFor(t, "the manager online at the portal", func() bool {
		url, _ = p.Components().OnlineURL(context.Background(), "manager")
		return url != ""
	})
	return url
}

func (p *roomsPortal) securedState(t *testing.T) api.SecuredState {
	t.Helper()
	var st api.SecuredState
	if code, body, err := p.sess.Do("GET", "/api/v1/security/secured", nil, "", &st); err != nil || code != 200 {
		t.Fatalf("secured state: %d %s %v", code, body, err)
	}
	return st
}

// putSecured changes the option and returns the status with the error (if any).
func (p *roomsPortal) putSecured(t *testing.T, ch api.SecuredChange) (int, api.Error) {
	t.Helper()
	code, body, err := p.sess.Do("PUT", "/api/v1/security/secured", ch, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	var e api.Error
	if code != 200 {
		_ = json.Unmarshal(body, &e)
	}
	return code, e
}

func TestSecuredOptionNotLicensed(t *testing.T) {
	p := startSecuredPortal(t, t.TempDir())
	t.Run("no manager online", func(t *testing.T) {
		code, e := p.putSecured(t, api.SecuredChange{Enabled: true, Confirm: true})
		if code != 503 || e.Code != "secured.licence_unknown" || !strings.Contains(e.Message, "no manager") {
			t.Fatalf("%d %+v, want 503 secured.licence_unknown naming the missing manager", code, e)
		}
	})
	p.startLicensedManager(t, nil)
	t.Run("licence without the option", func(t *testing.T) {
		if st := p.securedState(t); st.Licensed || st.Enabled {
			t.Fatalf("state = %+v, want not licensed, off", st)
		}
		code, e := p.putSecured(t, api.SecuredChange{Enabled: true, Confirm: true})
		if code != 403 || e.Code != "secured.not_licensed" || e.Message != "the licence does not include the Secured option" {
			t.Fatalf("%d %+v, want 403 with the licence message", code, e)
		}
		if p.secured.On() || p.securedState(t).Enabled {
			t.Fatal("a refused change turned the option on")
		}
		for _, e := range p.audit(t) {
			if strings.HasPrefix(e.Action, "secured.") {
				t.Fatalf("a refused change was audited as %+v", e)
			}
		}
	})
}

func TestSecuredOption(t *testing.T) {
	dir := t.TempDir()
	p := startSecuredPortal(t, dir)
	p.startLicensedManager(t, []string{api.LicenceOptionSecured})

	// A paired room whose firmware does not declare end-to-end encryption.
	code := newCode(t)
	room := newRoom(t, p.base, code)
	res := room.start()
	if status, e, _ := p.adminPair(t, code.String(), "Boardroom"); status != 200 {
		t.Fatalf("pair: %d %+v", status, e)
	}
	r := <-res
	if r.err != nil || r.gone != "" {
		t.Fatalf("room side: %v %q", r.err, r.gone)
	}
	mc := p.mgmtClient(t, r.grant, room.key)
	mgr, _ := p.Components().OnlineURL(context.Background(), "manager")
	routerID := strings.Repeat("cd", 16)
	rc, _ := p.componentClient(t, routerID)
	heartbeatRouter(t, rc, mgr, routerID)
	var meeting api.Meeting
	if status := p.post(t, "/api/v1/meetings", api.NewMeeting{Name: "Weekly"}, &meeting); status != 201 {
		t.Fatalf("create meeting: %d", status)
	}
	join := func(t *testing.T) api.MeetingJoinResponse {
		t.Helper()
		var resp api.MeetingJoinResponse
		if status := p.post(t, "/api/v1/meetings/"+meeting.ID+"/join", api.MeetingJoinRequest{Name: "Ada"}, &resp); status != 200 || resp.Token == "" {
			t.Fatalf("join: %d %+v", status, resp)
		}
		return resp
	}
	go func() {
		_, _, _, _ = poll(mc, r.grant, api.RoomStatus{Firmware: "0.1.0", Capabilities: []string{"panel"}})
	}()

	t.Run("off by default, readiness lists the room", func(t *testing.T) {
		var st api.SecuredState
		waitFor(t, "the room in the readiness list", func() bool {
			st = p.securedState(t)
			return len(st.NotReady) > 0
		})
		if st.Enabled || !st.Licensed {
			t.Fatalf("state = %+v, want off and licensed", st)
		}
		if len(st.NotReady) != 1 || st.NotReady[0].Kind != "room" || st.NotReady[0].ID != r.grant.RoomID ||
			!strings.Contains(st.NotReady[0].Reason, `firmware 0.1.0 does not declare the "e2ee" capability`) {
			t.Fatalf("not ready = %+v, want only the room, for its firmware", st.NotReady)
		}
	})
	t.Run("join answer is not secured while off", func(t *testing.T) {
		if join(t).Secured {
			t.Fatal("secured: true while the option is off")
		}
	})
	t.Run("plain HTTP redirects while off", func(t *testing.T) {
		c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }, Timeout: 5 * time.Second}
		res, err := c.Get("http://" + p.http + "/ui/")
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != http.StatusMovedPermanently {
			t.Fatalf("plain HTTP: %d, want 301", res.StatusCode)
		}
	})
	t.Run("turning on asks for confirmation listing the room", func(t *testing.T) {
		code, e := p.putSecured(t, api.SecuredChange{Enabled: true})
		if code != 409 || e.Code != "secured.confirm" || !strings.Contains(e.Message, "Boardroom") || !strings.Contains(e.Message, "1 not ready") {
			t.Fatalf("%d %+v, want 409 secured.confirm naming Boardroom", code, e)
		}
		if p.secured.On() {
			t.Fatal("an unconfirmed change turned the option on")
		}
	})
	t.Run("confirmed: on, audited", func(t *testing.T) {
		before := time.Now().Add(-time.Second)
		if code, e := p.putSecured(t, api.SecuredChange{Enabled: true, Confirm: true}); code != 200 {
			t.Fatalf("%d %+v", code, e)
		}
		st := p.securedState(t)
		if !st.Enabled || st.ChangedBy != "admin" || st.ChangedAt.Before(before) {
			t.Fatalf("state = %+v, want on, by admin, now", st)
		}
		wantAudit(t, p.roomsPortal, "secured.on", before)
	})
	t.Run("join answer says secured while on", func(t *testing.T) {
		if !join(t).Secured {
			t.Fatal("the join answer lacks secured: true while the option is on")
		}
	})
	t.Run("plain HTTP gets no answer while on", func(t *testing.T) {
		for _, path := range []string{"/ui/", "/.well-known/acme-challenge/abc"} {
			if got := rawHTTP(t, p.http, path); got != "" {
				t.Fatalf("GET %s over plain HTTP answered %q, want the connection closed without a response", path, got)
			}
		}
	})
	t.Run("component links are TLS 1.3 only while on", func(t *testing.T) {
		if err := dialTLS12(t, mc, p.internal); err == nil {
			t.Fatal("a TLS 1.2 handshake with the internal listener succeeded while the option is on")
		}
	})
	t.Run("persisted across a restart", func(t *testing.T) {
		p.stop()
		p2 := startSecuredPortal(t, dir)
		if !p2.secured.On() {
			t.Fatal("the option is off after a restart")
		}
		p2.startLicensedManager(t, []string{api.LicenceOptionSecured})
		if st := p2.securedState(t); !st.Enabled || st.ChangedBy != "admin" {
			t.Fatalf("after restart: %+v", st)
		}
		if got := rawHTTP(t, p2.http, "/ui/"); got != "" {
			t.Fatalf("plain HTTP answered %q after the restart", got)
		}
		before := time.Now().Add(-time.Second)
		if code, e := p2.putSecured(t, api.SecuredChange{Enabled: false}); code != 200 {
			t.Fatalf("turn off: %d %+v", code, e)
		}
		wantAudit(t, p2.roomsPortal, "secured.off", before)
		c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }, Timeout: 5 * time.Second}
		res, err := c.Get("http://" + p2.http + "/ui/")
		if err != nil {
			t.Fatalf("plain HTTP after turning off: %v", err)
		}
		res.Body.Close()
		if res.StatusCode != http.StatusMovedPermanently {
			t.Fatalf("plain HTTP after turning off: %d, want 301", res.StatusCode)
		}
		if err := dialTLS12(t, mc, p2.internal); err != nil {
			t.Fatalf("TLS 1.2 with the internal listener while off: %v", err)
		}
	})
}

// audit reads the audit log as the super admin.
func (p *roomsPortal) audit(t *testing.T) []api.AuditEntry {
	t.Helper()
	var es []api.AuditEntry
	if code, body, err := p.sess.Do("GET", "/api/v1/audit", nil, "", &es); err != nil || code != 200 {
		t.Fatalf("audit: %d %s %v", code, body, err)
	}
	return es
}

// wantAudit finds action by the admin at or after since.
func wantAudit(t *testing.T, p *roomsPortal, action string, since time.Time) {
	t.Helper()
	for _, e := range p.audit(t) {
		if e.Action == action && e.Actor == "admin" && !e.At.Before(since) {
			return
		}
	}
	t.Fatalf("no %s audit entry by admin since %s in %+v", action, since, p.audit(t))
}

// rawHTTP sends one plain HTTP request on a fresh TCP connection and returns whatever came
// back before the server closed it.
func rawHTTP(t *testing.T, addr, path string) string {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.WriteString(conn, "GET "+path+" HTTP/1.1\r\nHost: localhost\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(conn)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Fatalf("the connection was neither answered nor closed within 5 s (read %q)", b)
	}
	return string(b)
}

// dialTLS12 tries a TLS 1.2 handshake with the room's client certificate.
func dialTLS12(t *testing.T, mc *http.Client, addr string) error {
	t.Helper()
	tc := mc.Transport.(*http.Transport).TLSClientConfig.Clone()
	tc.MaxVersion = tls.VersionTLS12
	conn, err := tls.Dial("tcp", addr, tc)
	if err != nil {
		return err
	}
	defer conn.Close()
	return conn.Handshake()
}
