package panel

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"net/http/cookiejar"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stoa-rooms/stoa/firmware/control"
)

// testServer runs the panel server over real TLS on 127.0.0.1 and returns its URL. Clients
// from 127.0.0.1 are the device itself; clients dialing from 127.0.0.2 (Linux routes all of
// 127/8 to lo) are LAN panels.
func testServer(t *testing.T) (string, *Server, *Store, *control.Hub) {
	t.Helper()
	dir := t.TempDir()
	st, err := OpenStore(StoreOptions{Path: filepath.Join(dir, "panels.json")})
	if err != nil {
		t.Fatal(err)
	}
	hub := control.NewHub(control.HubOptions{Initial: control.Status{Call: control.CallStatus{State: control.CallIdle}}})
	d := control.NewDispatcher()
	if err := d.Register(control.CmdMic, control.Specs()[control.CmdMic], func(_ context.Context, a control.Args) (any, error) {
		hub.Update(func(s *control.Status) { s.Audio.MicMuted = a["action"] == "mute" })
		return nil, nil
	}); err != nil {
		t.Fatal(err)
	}
	srv, err := NewServer(ServerOptions{Hub: hub, Dispatcher: d, Store: st})
	if err != nil {
		t.Fatal(err)
	}
	cert, err := LoadOrCreateCert(dir, nil, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Serve(ctx, ln, srv, cert, nil) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	})
	return "https://" + ln.Addr().String(), srv, st, hub
}

// client dials from src (127.0.0.1: the device; 127.0.0.2: a LAN panel) with a cookie jar.
func client(t *testing.T, src string) *http.Client {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}, Timeout: 5 * time.Second}
	return &http.Client{Jar: jar, Timeout: 10 * time.Second, Transport: &http.Transport{
		DialContext:     d.DialContext,
		TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, //nolint:gosec // the panel's self-signed certificate
	}}
}

func post(t *testing.T, c *http.Client, url, body string) (*http.Response, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var m map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&m)
	return resp, m
}

func wsURL(base string) string { return "wss://" + strings.TrimPrefix(base, "https://") + "/api/ws" }

func TestServerAuth(t *testing.T) {
	base, srv, st, hub := testServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()

	t.Run("the device itself needs no PIN", func(t *testing.T) {
		ws, err := control.DialWS(ctx, wsURL(base), client(t, "127.0.0.1"))
		if err != nil {
			t.Fatal(err)
		}
		defer ws.Close()
		m, err := ws.Next(ctx)
		if err != nil || m.Status == nil {
			t.Fatalf("first message %+v %v", m, err)
		}
	})
	lan := client(t, "127.0.0.2")
	t.Run("a LAN panel without a token is refused", func(t *testing.T) {
		if _, err := control.DialWS(ctx, wsURL(base), lan); err == nil || !strings.Contains(err.Error(), "401") {
			t.Fatalf("dial without a token: %v", err)
		}
		resp, err := lan.Get(base + "/api/session")
		if err != nil {
			t.Fatal(err)
		}
		var s Session
		_ = json.NewDecoder(resp.Body).Decode(&s)
		resp.Body.Close()
		if s.Paired || s.Local {
			t.Fatalf("session %+v", s)
		}
	})
	t.Run("a cross-origin pairing request is refused", func(t *testing.T) {
		req, _ := http.NewRequest(http.MethodPost, base+"/api/pair/start", strings.NewReader("{}"))
		req.Header.Set("Origin", "https://evil.example")
		resp, err := lan.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusForbidden || st.PIN() != "" {
			t.Fatalf("cross-origin start: %d, PIN %q", resp.StatusCode, st.PIN())
		}
	})

	var panelID string
	t.Run("pairing with the PIN sets a __Host- cookie that opens the WebSocket", func(t *testing.T) {
		if resp, _ := post(t, lan, base+"/api/pair/start", "{}"); resp.StatusCode != http.StatusOK {
			t.Fatalf("start: %d", resp.StatusCode)
		}
		resp, m := post(t, lan, base+"/api/pair", `{"pin":"`+st.PIN()+`","name":"Tablet"}`)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("pair: %d %v", resp.StatusCode, m)
		}
		panelID, _ = m["id"].(string)
		sc := resp.Header.Get("Set-Cookie")
		for _, want := range []string{CookieName + "=", "Path=/", "Secure", "HttpOnly", "SameSite=Strict"} {
			if !strings.Contains(sc, want) {
				t.Fatalf("Set-Cookie %q lacks %q", sc, want)
			}
		}
		if strings.Contains(strings.ToLower(sc), "domain=") {
			t.Fatalf("Set-Cookie %q names a domain", sc)
		}
		ws, err := control.DialWS(ctx, wsURL(base), lan)
		if err != nil {
			t.Fatal(err)
		}
		defer ws.Close()
		if m, err := ws.Next(ctx); err != nil || m.Status == nil {
			t.Fatalf("first message %+v %v", m, err)
		}
		if err := ws.Send(ctx, control.Command{ID: "1", Name: "mic", Args: map[string]string{"action": "mute"}}); err != nil {
			t.Fatal(err)
		}
		for {
			m, err := ws.Next(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if m.Reply != nil {
				if !m.Reply.OK || !hub.Status().Audio.MicMuted {
					t.Fatalf("mute from the panel: %+v", m.Reply)
				}
				break
			}
		}
	})
	t.Run("revocation closes the open WebSocket and refuses the token", func(t *testing.T) {
		ws, err := control.DialWS(ctx, wsURL(base), lan)
		if err != nil {
			t.Fatal(err)
		}
		defer ws.Close()
		if _, err := ws.Next(ctx); err != nil {
			t.Fatal(err)
		}
		if err := srv.Revoke(panelID); err != nil {
			t.Fatal(err)
		}
		for {
			if _, err := ws.Next(ctx); err != nil {
				if errors.Is(err, context.DeadlineExceeded) {
					t.Fatal("the revoked panel's WebSocket stayed open")
				}
				break
			}
		}
		if _, err := control.DialWS(ctx, wsURL(base), lan); err == nil {
			t.Fatal("a revoked token opened the WebSocket")
		}
	})
}

func TestTLSPolicy(t *testing.T) {
	base, _, _, _ := testServer(t)
	addr := strings.TrimPrefix(base, "https://")
	tests := []struct {
		name string
		conf *tls.Config
		ok   bool
	}{
		{"TLS 1.3", &tls.Config{MinVersion: tls.VersionTLS13}, true},
		{"TLS 1.2 AEAD", &tls.Config{MaxVersion: tls.VersionTLS12, CipherSuites: []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256}}, true},
		{"TLS 1.2 CBC refused", &tls.Config{MaxVersion: tls.VersionTLS12, CipherSuites: []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA}}, false},
		{"TLS 1.1 refused", &tls.Config{MinVersion: tls.VersionTLS10, MaxVersion: tls.VersionTLS11}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.conf.InsecureSkipVerify = true //nolint:gosec // the self-signed certificate
			c, err := tls.Dial("tcp", addr, tc.conf)
			if err == nil {
				c.Close()
			}
			if (err == nil) != tc.ok {
				t.Fatalf("handshake error %v, want ok=%v", err, tc.ok)
			}
		})
	}
}

func TestCertificateFiles(t *testing.T) {
	dir := t.TempDir()
	c1, err := LoadOrCreateCert(dir, []string{"room.local", "192.0.2.7"}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(filepath.Join(dir, KeyFile))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file: %v %v", fi, err)
	}
	if err := c1.Leaf.VerifyHostname("room.local"); err != nil {
		t.Fatal(err)
	}
	c2, err := LoadOrCreateCert(dir, nil, time.Now())
	if err != nil || string(c2.Certificate[0]) != string(c1.Certificate[0]) {
		t.Fatalf("second start made a new certificate (%v)", err)
	}
	if err := os.WriteFile(filepath.Join(dir, KeyFile), []byte("junk"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadOrCreateCert(dir, nil, time.Now()); err == nil {
		t.Fatal("a broken key was silently replaced")
	}
}

func TestStaticApp(t *testing.T) {
	base, _, _, _ := testServer(t)
	c := client(t, "127.0.0.2")
	for path, ctype := range map[string]string{"/": "text/html", "/app.js": "javascript", "/panel.css": "text/css"} {
		resp, err := c.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 || !strings.Contains(resp.Header.Get("Content-Type"), ctype) ||
			!strings.Contains(resp.Header.Get("Content-Security-Policy"), "default-src 'self'") {
			t.Fatalf("%s: %d %q %q", path, resp.StatusCode, resp.Header.Get("Content-Type"), resp.Header.Get("Content-Security-Policy"))
		}
	}
}
