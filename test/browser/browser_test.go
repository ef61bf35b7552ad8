package browser

import (
	"context"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// page serves a tiny same-origin app under the portal's CSP: /ok has no errors, /bad logs a
// console error and throws from an ES module.
func page(t *testing.T) *httptest.Server {
	t.Helper()
	mux := http.NewServeMux()
	html := func(script string) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Security-Policy", "default-src 'self'")
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			fmt.Fprintf(w, `<!doctype html><title>t</title><p id="p">hello</p><script type="module" src="%s"></script>`, script)
		}
	}
	js := func(body string) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/javascript")
			fmt.Fprint(w, body)
		}
	}
	mux.HandleFunc("/ok", html("/ok.js"))
	mux.HandleFunc("/ok.js", js(`document.getElementById("p").textContent = "ready";`))
	mux.HandleFunc("/bad", html("/bad.js"))
	mux.HandleFunc("/bad.js", js(`console.error("boom-console"); throw new Error("boom-throw");`))
	mux.HandleFunc("/favicon.ico", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) })
	srv := httptest.NewUnstartedServer(mux)
	// The untrusted case makes Chromium abort handshakes on purpose; keep that out of the log.
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv
}

func TestCertificateTrust(t *testing.T) {
	srv := page(t)
	tests := []struct {
		name    string
		opts    []Option
		wantErr string
	}{
		{name: "untrusted", wantErr: "ERR_CERT"},
		{name: "spki", opts: []Option{TrustCertificates(srv.Certificate())}},
		{name: "ignore", opts: []Option{IgnoreCertificateErrors()}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx := New(t, tc.opts...)
			ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
			defer cancel()
			err := chromedp.Do(ctx, chromedp.Navigate(srv.URL+"/ok"))
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("navigate: got %v, want error containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("navigate: %v", err)
			}
			if _, err := chromedp.Run(ctx, chromedp.Poll[bool](`document.getElementById("p").textContent === "ready"`)); err != nil {
				t.Fatalf("module script did not run: %v", err)
			}
			RequireNoErrors(t, ctx)
		})
	}
}

func TestConsoleErrorsCollected(t *testing.T) {
	srv := page(t)
	ctx := New(t, TrustCertificates(srv.Certificate()))
	ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, chromedp.Navigate(srv.URL+"/bad")); err != nil {
		t.Fatalf("navigate: %v", err)
	}
	want := []string{"boom-console", "boom-throw"}
	deadline := time.Now().Add(10 * time.Second)
	for {
		var texts []string
		for _, m := range Errors(ctx) {
			texts = append(texts, m.String())
		}
		joined := strings.Join(texts, "\n")
		if strings.Contains(joined, want[0]) && strings.Contains(joined, want[1]) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("errors collected = %q, want both of %q", texts, want)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if got := Errors(ctx, "boom"); len(got) != 0 {
		t.Errorf("Errors with allow list = %v, want none", got)
	}
}

// fatalTB records Fatalf and stops the goroutine as testing.T does.
type fatalTB struct {
	testing.TB
	msg string
}

func (f *fatalTB) Helper() {}
func (f *fatalTB) Fatalf(format string, args ...any) {
	f.msg = fmt.Sprintf(format, args...)
	runtime.Goexit()
}

func TestMissingChromiumFails(t *testing.T) {
	f := &fatalTB{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		New(f, execPath("/nonexistent/chromium"))
	}()
	<-done
	if !strings.Contains(f.msg, "make deps") {
		t.Fatalf("New with no browser: Fatalf message %q, want one telling to run `make deps`", f.msg)
	}
}

// chromiumProcesses lists processes whose command line mentions fragment in --user-data-dir.
func chromiumProcesses(fragment string) []string {
	entries, _ := os.ReadDir("/proc")
	var out []string
	for _, e := range entries {
		b, err := os.ReadFile("/proc/" + e.Name() + "/cmdline")
		if err != nil {
			continue
		}
		cmd := strings.ReplaceAll(string(b), "\x00", " ")
		if strings.Contains(cmd, "--user-data-dir=") && strings.Contains(cmd, fragment) {
			out = append(out, e.Name()+": "+cmd)
		}
	}
	return out
}

func TestCleanupLeavesNoProcess(t *testing.T) {
	var dirFragment string
	t.Run("browse", func(t *testing.T) {
		srv := page(t)
		ctx := New(t, IgnoreCertificateErrors())
		if err := chromedp.Do(ctx, chromedp.Navigate(srv.URL+"/ok")); err != nil {
			t.Fatalf("navigate: %v", err)
		}
		dirFragment = "TestCleanupLeavesNoProcessbrowse"
		if len(chromiumProcesses(dirFragment)) == 0 {
			t.Fatalf("no chromium process found with %q in its profile dir while running", dirFragment)
		}
	})
	if ps := chromiumProcesses(dirFragment); len(ps) > 0 {
		t.Fatalf("chromium processes left after cleanup:\n%s", strings.Join(ps, "\n"))
	}
}
