package e2e

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/tls"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/stoa-rooms/stoa/services/api"
	"github.com/stoa-rooms/stoa/services/manager"
	"github.com/stoa-rooms/stoa/test/stoatest"
)

// TestSecuredOptionToggle runs `stoa-server all` with a licence that includes the Secured
// option and turns the option on and off on the running server: the plain-HTTP port stops
// answering and answers again, component links go TLS 1.3 only and back, a call in progress is
// ended with policy_changed, join answers carry secured: true, and both changes are audited.
// No server restarts.
func TestSecuredOptionToggle(t *testing.T) {
	stack := startSecuredStack(t, []string{api.LicenceOptionSecured})
	admin := stack.Login(t)
	deadline := time.Now().Add(30 * time.Second)
	for st := securedGet(t, admin); !st.Licensed; st = securedGet(t, admin) {
		if time.Now().After(deadline) {
			t.Fatalf("the portal never saw a licensed manager: %+v", st)
		}
		time.Sleep(200 * time.Millisecond)
	}
	meeting := cfCreateMeeting(t, admin, "Secured toggle", "")
	jr := cfWaitRouter(t, admin, meeting.ID)
	if jr.Secured {
		t.Fatal("join answer says secured while the option is off")
	}
	portalTLS := cfPortalTLS(t, stack, admin)
	ws := securedSignal(t, portalTLS, jr)

	t.Run("off: plain HTTP redirects, component links take TLS 1.2", func(t *testing.T) {
		if code := plainStatus(t, stack.HTTPURL); code != http.StatusMovedPermanently {
			t.Fatalf("plain HTTP: %d, want 301", code)
		}
		if err := tls12(stack.ManagerAddr); err != nil {
			t.Fatalf("TLS 1.2 with the manager while off: %v", err)
		}
	})
	before := time.Now().Add(-time.Second)
	if status, body, err := admin.Do(http.MethodPut, "/api/v1/security/secured", api.SecuredChange{Enabled: true, Confirm: true}, "", nil); err != nil || status != http.StatusOK {
		t.Fatalf("turn on: %d %v %s", status, err, body)
	}
	t.Run("on: plain HTTP closes without an answer", func(t *testing.T) {
		if got := plainRaw(t, strings.TrimPrefix(stack.HTTPURL, "http://")); got != "" {
			t.Fatalf("plain HTTP answered %q", got)
		}
	})
	t.Run("on: the call in progress is told to rejoin", func(t *testing.T) {
		code := securedReadError(t, ws, 40*time.Second)
		if code != api.SignalErrorPolicyChanged {
			t.Fatalf("signaling ended with %q, want %q", code, api.SignalErrorPolicyChanged)
		}
	})
	t.Run("on: component links are TLS 1.3 only", func(t *testing.T) {
		deadline := time.Now().Add(30 * time.Second)
		for tls12(stack.ManagerAddr) == nil {
			if time.Now().After(deadline) {
				t.Fatal("the manager still takes TLS 1.2 30 s after the option went on")
			}
			time.Sleep(200 * time.Millisecond)
		}
		// Refused for its version, not for something else (the internal listener also wants
		// a client certificate, which this probe does not present).
		for _, addr := range []string{stack.ManagerAddr, stack.InternalAddr} {
			if err := tls12(addr); err == nil || !strings.Contains(err.Error(), "protocol version") {
				t.Fatalf("TLS 1.2 with %s while on: %v, want a protocol version refusal", addr, err)
			}
		}
	})
	t.Run("on: join answers say secured", func(t *testing.T) {
		status, jr, ae, err := cfJoin(admin, meeting.ID, "Ada", "")
		if err != nil || status != http.StatusOK || !jr.Secured {
			t.Fatalf("join: %d %+v %+v %v, want 200 with secured: true", status, jr, ae, err)
		}
	})
	if status, body, err := admin.Do(http.MethodPut, "/api/v1/security/secured", api.SecuredChange{Enabled: false}, "", nil); err != nil || status != http.StatusOK {
		t.Fatalf("turn off: %d %v %s", status, err, body)
	}
	t.Run("off again: plain HTTP redirects, audit has both changes", func(t *testing.T) {
		if code := plainStatus(t, stack.HTTPURL); code != http.StatusMovedPermanently {
			t.Fatalf("plain HTTP after turning off: %d, want 301", code)
		}
		var es []api.AuditEntry
		if status, body, err := admin.Do(http.MethodGet, "/api/v1/audit", nil, "", &es); err != nil || status != http.StatusOK {
			t.Fatalf("audit: %d %v %s", status, err, body)
		}
		seen := map[string]bool{}
		for _, e := range es {
			if strings.HasPrefix(e.Action, "secured.") && e.Actor == stack.AdminName && !e.At.Before(before) {
				seen[e.Action] = true
			}
		}
		if !seen["secured.on"] || !seen["secured.off"] {
			t.Fatalf("audit lacks secured.on/off by %s: %+v", stack.AdminName, es)
		}
	})
}

// TestSecuredOptionNeedsLicence: a licence without the option refuses turning it on.
func TestSecuredOptionNeedsLicence(t *testing.T) {
	stack := startSecuredStack(t, nil)
	admin := stack.Login(t)
	deadline := time.Now().Add(30 * time.Second)
	for {
		var ae api.Error
		status, body, err := admin.Do(http.MethodPut, "/api/v1/security/secured", api.SecuredChange{Enabled: true, Confirm: true}, "", nil)
		if err != nil {
			t.Fatal(err)
		}
		_ = json.Unmarshal(body, &ae)
		if status == http.StatusForbidden {
			if ae.Code != "secured.not_licensed" || ae.Message != api.ErrSecuredNotLicensed {
				t.Fatalf("refusal %+v, want the licence message", ae)
			}
			break
		}
		if status != http.StatusServiceUnavailable || time.Now().After(deadline) { // 503 until the manager is online
			t.Fatalf("turn on without the licence option: %d %s", status, body)
		}
		time.Sleep(200 * time.Millisecond)
	}
	if code := plainStatus(t, stack.HTTPURL); code != http.StatusMovedPermanently {
		t.Fatalf("plain HTTP after a refused change: %d, want 301", code)
	}
}

// startSecuredStack starts stoa-server all with a manager licence granting options.
func startSecuredStack(t *testing.T, options []string) *stoatest.Stack {
	t.Helper()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	data := t.TempDir()
	lic, err := manager.SignLicence(manager.Licence{Licensee: "Stoa e2e", Seats: 10, Options: options, NotAfter: time.Now().Add(time.Hour)}, priv)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(data, "manager"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(data, "manager", manager.LicenceFile), lic, 0o600); err != nil {
		t.Fatal(err)
	}
	cfgPath := filepath.Join(t.TempDir(), "stoa.json")
	cfg := fmt.Sprintf(`{"manager": {"licence_key": %q}}`, base64.StdEncoding.EncodeToString(pub))
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return stoatest.Start(t, stoatest.Options{DataDir: data, Args: []string{"--config", cfgPath}})
}

func securedGet(t *testing.T, admin *stoatest.Session) api.SecuredState {
	t.Helper()
	var st api.SecuredState
	if status, body, err := admin.Do(http.MethodGet, "/api/v1/security/secured", nil, "", &st); err != nil || status != http.StatusOK {
		t.Fatalf("secured state: %d %v %s", status, err, body)
	}
	return st
}

// securedSignal opens the join's signaling socket through the portal and waits for "joined".
func securedSignal(t *testing.T, conf *tls.Config, jr api.MeetingJoinResponse) *websocket.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: conf.Clone()}}
	ws, _, err := websocket.Dial(ctx, jr.SignalURL, &websocket.DialOptions{HTTPClient: hc})
	if err != nil {
		t.Fatalf("signaling dial: %v", err)
	}
	t.Cleanup(func() { ws.CloseNow() })
	join, _ := json.Marshal(map[string]any{"type": api.SigTypeJoin, "data": api.SigJoin{Token: jr.Token}})
	if err := ws.Write(ctx, websocket.MessageText, join); err != nil {
		t.Fatalf("signaling join: %v", err)
	}
	for {
		_, b, err := ws.Read(ctx)
		if err != nil {
			t.Fatalf("signaling before joined: %v", err)
		}
		if m, err := api.DecodeSig(b); err == nil && m.Type == api.SigTypeJoined {
			return ws
		}
	}
}

// securedReadError reads signaling until the socket ends and returns the last error code.
func securedReadError(t *testing.T, ws *websocket.Conn, d time.Duration) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	code := ""
	for {
		_, b, err := ws.Read(ctx)
		if err != nil {
			if errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("the call was not ended within %s", d)
			}
			return code
		}
		m, err := api.DecodeSig(b)
		if err != nil {
			continue
		}
		if m.Type == api.SigTypeError {
			if e, err := api.DecodeSigError(m); err == nil {
				code = e.Code
			}
		}
	}
}

// plainStatus is the status of GET / on the plain-HTTP port (redirects not followed).
func plainStatus(t *testing.T, base string) int {
	t.Helper()
	c := &http.Client{Timeout: 5 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	res, err := c.Get(base + "/ui/")
	if err != nil {
		t.Fatalf("plain HTTP: %v", err)
	}
	res.Body.Close()
	return res.StatusCode
}

// plainRaw sends a plain HTTP request on its own connection and returns what came back
// before the server closed it ("" is no answer at all).
func plainRaw(t *testing.T, addr string) string {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.WriteString(conn, "GET /ui/ HTTP/1.1\r\nHost: localhost\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(conn)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Fatalf("plain HTTP neither answered nor closed within 5 s (read %q)", b)
	}
	return string(b)
}

// tls12 tries a TLS 1.2 handshake with a component listener. Only the protocol version is
// under test here, not the peer's identity, so the certificate is not verified.
func tls12(addr string) error {
	conn, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", addr,
		&tls.Config{InsecureSkipVerify: true, MinVersion: tls.VersionTLS12, MaxVersion: tls.VersionTLS12}) //nolint:gosec // version probe only
	if err != nil {
		return err
	}
	return conn.Close()
}
