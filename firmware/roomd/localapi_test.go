package roomd

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// fakeController is a plain in-memory Controller: the local API's own logic is under test here;
// the agent behind it is tested in agent_test.go.
type fakeController struct {
	mu     sync.Mutex
	st     Status
	portal string
	err    error
}

func (f *fakeController) Status() Status { f.mu.Lock(); defer f.mu.Unlock(); return f.st }
func (f *fakeController) Pair(u string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err != nil {
		return f.err
	}
	f.portal, f.st.PortalURL = u, u
	return nil
}
func (f *fakeController) Unpair() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err != nil {
		return f.err
	}
	f.st = Status{State: StateUnpaired, Code: "1111 2222 3333"}
	return nil
}

func serveLocal(t *testing.T, c Controller) (string, *LocalClient) {
	t.Helper()
	sock := filepath.Join(t.TempDir(), "r.sock")
	ln, err := ListenLocal(sock)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- ServeLocal(ctx, ln, c, slog.New(slog.DiscardHandler)) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	})
	return sock, NewLocalClient(sock)
}

func TestLocalAPI(t *testing.T) {
	fc := &fakeController{st: Status{State: StatePaired, RoomID: "r1", Name: "Boardroom", Online: true, BundleVersion: 3}}
	sock, c := serveLocal(t, fc)
	fi, err := os.Stat(sock)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Fatalf("socket mode %v, want 0600", fi.Mode().Perm())
	}
	ctx := context.Background()

	st, err := c.Status(ctx)
	if err != nil || st.State != StatePaired || st.RoomID != "r1" || !st.Online || st.BundleVersion != 3 || st.Code != "" {
		t.Fatalf("status %+v, %v", st, err)
	}
	if st, err = c.Pair(ctx, "https://portal.example:8443"); err != nil || fc.portal != "https://portal.example:8443" {
		t.Fatalf("pair: %+v %v", st, err)
	}
	if st, err = c.Unpair(ctx); err != nil || st.Code != "1111 2222 3333" {
		t.Fatalf("unpair: %+v %v", st, err)
	}

	fc.err = ErrAlreadyPaired
	if _, err := c.Pair(ctx, "https://portal.example"); err == nil || !strings.Contains(err.Error(), "already paired") {
		t.Fatalf("pair while paired: %v", err)
	}
	fc.err = nil

	tests := []struct {
		name, method, path, body string
		status                   int
		errPart                  string
	}{
		{"pair unknown field", "POST", "/v1/pair", `{"portal_url":"https://p.example","x":1}`, 400, "unknown field"},
		{"pair http url", "POST", "/v1/pair", `{"portal_url":"http://p.example"}`, 400, "not an https"},
		{"pair missing url", "POST", "/v1/pair", `{}`, 400, "portal_url is required"},
		{"pair not json", "POST", "/v1/pair", `portal`, 400, "decode pair request"},
		{"pair huge", "POST", "/v1/pair", `{"portal_url":"https://` + strings.Repeat("a", 5000) + `"}`, 400, "larger than"},
		{"status wrong method", "POST", "/v1/status", ``, 405, ""},
		{"unknown path", "GET", "/v1/nope", ``, 404, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest(tc.method, "http://roomd"+tc.path, strings.NewReader(tc.body))
			resp, err := c.HTTP.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != tc.status {
				t.Fatalf("status %d, want %d (%s)", resp.StatusCode, tc.status, body)
			}
			if tc.errPart != "" {
				var e LocalError
				if err := json.Unmarshal(body, &e); err != nil || !strings.Contains(e.Error, tc.errPart) {
					t.Fatalf("error %q, want it to mention %q", body, tc.errPart)
				}
			}
		})
	}
	if fc.portal != "https://portal.example:8443" {
		t.Fatalf("a refused request changed the portal to %q", fc.portal)
	}
}

func TestListenLocalRefusesNonSocket(t *testing.T) {
	path := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(path, []byte("keep me"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := ListenLocal(path); err == nil || !strings.Contains(err.Error(), "not a socket") {
		t.Fatalf("ListenLocal over a file: %v", err)
	}
	if b, _ := os.ReadFile(path); string(b) != "keep me" {
		t.Fatal("the file was changed")
	}
	// A stale socket from a previous run is replaced.
	sock := filepath.Join(t.TempDir(), "s.sock")
	ln, err := ListenLocal(sock)
	if err != nil {
		t.Fatal(err)
	}
	ln.(interface{ SetUnlinkOnClose(bool) }).SetUnlinkOnClose(false)
	ln.Close()
	ln2, err := ListenLocal(sock)
	if err != nil {
		t.Fatalf("over a stale socket: %v", err)
	}
	ln2.Close()
}

func TestLocalClientUnreachable(t *testing.T) {
	c := NewLocalClient(filepath.Join(t.TempDir(), "none.sock"))
	if _, err := c.Status(context.Background()); err == nil || !strings.Contains(err.Error(), "reach roomd") {
		t.Fatalf("err = %v", err)
	}
}

func FuzzDecodePairRequest(f *testing.F) {
	for _, s := range []string{`{"portal_url":"https://p.example"}`, `{"portal_url":"https://p.example:8443/"}`, `{}`, `{"portal_url":1}`, `{"portal_url":"https://p"} x`, `null`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := DecodePairRequest(data)
		if err != nil {
			if r != (PairRequest{}) {
				t.Fatal("error with a non-zero result")
			}
			return
		}
		if CheckPortalURL(r.PortalURL) != nil {
			t.Fatalf("accepted a bad portal URL %q", r.PortalURL)
		}
	})
}

func FuzzDecodeRoomCommand(f *testing.F) {
	for _, s := range []string{`{}`, ``, `{"bundle":"AAAA"}`, `{"bundle":1}`, `{"x":1}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := DecodeRoomCommand(data)
		if err != nil && c.Bundle != nil {
			t.Fatal("error with a bundle")
		}
		_, _ = DecodeRenewResponse(data)
		_, _ = DecodeAPIError(data)
	})
}
