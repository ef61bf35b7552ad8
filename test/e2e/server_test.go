package e2e

import (
	"crypto/tls"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stoa-rooms/stoa/test/stoatest"
)

// TestAllRolesServeHTTPS starts `stoa-server all` and checks the front door: HTTPS health and
// metrics on every role, HSTS, TLS policy, redirect-only plain HTTP, 0600 credentials.
func TestAllRolesServeHTTPS(t *testing.T) {
	s := stoatest.Start(t, stoatest.Options{})
	c := stoatest.InsecureClient()

	roles := map[string]string{"portal": s.PortalURL, "manager": "https://" + s.ManagerAddr,
		"router": "https://" + s.RouterAddr, "proxy": "https://" + s.ProxyAddr}
	for role, base := range roles {
		t.Run(role, func(t *testing.T) {
			s.WaitHealthy(t, base)
			resp, err := c.Get(base + "/metrics")
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 || !strings.Contains(string(body), "go_goroutines") {
				t.Fatalf("/metrics: status %d, body lacks go_goroutines", resp.StatusCode)
			}
		})
	}

	t.Run("hsts", func(t *testing.T) {
		resp, err := c.Get(s.PortalURL + "/healthz")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if h := resp.Header.Get("Strict-Transport-Security"); !strings.Contains(h, "max-age=") {
			t.Fatalf("no HSTS header, got %q", h)
		}
	})

	t.Run("plain http only redirects", func(t *testing.T) {
		for _, tc := range []struct{ method, path string }{
			{"GET", "/"}, {"GET", "/healthz"}, {"GET", "/api/v1/me"}, {"POST", "/api/v1/login"}, {"GET", "/ui/security.html?x=1"},
		} {
			req, _ := http.NewRequest(tc.method, s.HTTPURL+tc.path, strings.NewReader("{}"))
			resp, err := c.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			loc := resp.Header.Get("Location")
			if resp.StatusCode != http.StatusMovedPermanently || !strings.HasPrefix(loc, "https://localhost:") || !strings.HasSuffix(loc, tc.path) {
				t.Fatalf("%s %s over http: status %d location %q", tc.method, tc.path, resp.StatusCode, loc)
			}
			if strings.Contains(string(body), "ok") && tc.path == "/healthz" {
				t.Fatalf("plain http served content: %q", body)
			}
		}
	})

	t.Run("tls policy", func(t *testing.T) {
		for _, tc := range []struct {
			name string
			conf *tls.Config
			ok   bool
		}{
			{"tls1.3", &tls.Config{InsecureSkipVerify: true, MinVersion: tls.VersionTLS13}, true},
			{"tls1.2 aead", &tls.Config{InsecureSkipVerify: true, MaxVersion: tls.VersionTLS12, CipherSuites: []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256}}, true},
			{"tls1.1", &tls.Config{InsecureSkipVerify: true, MinVersion: tls.VersionTLS10, MaxVersion: tls.VersionTLS11}, false},
			{"tls1.2 cbc only", &tls.Config{InsecureSkipVerify: true, MaxVersion: tls.VersionTLS12, CipherSuites: []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA, tls.TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA}}, false},
		} {
			t.Run(tc.name, func(t *testing.T) {
				conn, err := tls.Dial("tcp", s.PortalHost, tc.conf)
				if err == nil {
					if tc.conf.MaxVersion == 0 && conn.ConnectionState().Version != tls.VersionTLS13 {
						t.Errorf("negotiated %x, want TLS 1.3", conn.ConnectionState().Version)
					}
					conn.Close()
				}
				if (err == nil) != tc.ok {
					t.Fatalf("handshake error %v, want success=%v", err, tc.ok)
				}
			})
		}
	})

	t.Run("credentials file 0600", func(t *testing.T) {
		fi, err := os.Stat(filepath.Join(s.DataDir, "superadmin-credentials.txt"))
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != 0o600 {
			t.Fatalf("credentials mode %v, want 0600", fi.Mode().Perm())
		}
		if !strings.Contains(s.Stdout.String(), "superadmin-credentials.txt") || !strings.Contains(s.Stdout.String(), s.AdminPassword) {
			t.Fatalf("first start did not print the credentials location and password:\n%s", s.Stdout)
		}
	})

	t.Run("graceful shutdown", func(t *testing.T) {
		s.Stop(t) // fails the test unless the process exits cleanly after SIGTERM
	})

	t.Run("restart keeps state, prints no password", func(t *testing.T) {
		s2 := stoatest.Start(t, stoatest.Options{DataDir: s.DataDir})
		if strings.Contains(s2.Stdout.String(), s.AdminPassword) {
			t.Fatal("second start printed the password again")
		}
		sess := s2.Login(t)
		if code, _, _ := sess.Do("GET", "/api/v1/me", nil, "", nil); code != 200 {
			t.Fatalf("login after restart: %d", code)
		}
	})
}

func TestConfigErrors(t *testing.T) {
	bin := stoatest.Build(t, t.TempDir())
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.json")
	if err := os.WriteFile(bad, []byte(`{"portal": {"fqdn": "x", "colour": "blue"}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"unknown key", []string{"--config", bad}, `unknown field "colour"`},
		{"bad role", []string{"--data-dir", dir, "conductor"}, `role "conductor"`},
		{"component without portal", []string{"--data-dir", dir, "router"}, "portal_url is empty"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, err := runCmd(bin, tc.args...)
			if err == nil || !strings.Contains(out, tc.want) {
				t.Fatalf("stoa-server %v: err %v, output %q; want it to mention %q", tc.args, err, out, tc.want)
			}
		})
	}
}
