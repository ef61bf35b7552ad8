// Package browser is the harness for Stoa's browser tests: it starts Debian's Chromium through
// chromedp with a fixed, minimal set of flags, a fresh profile per test, and collects what the
// page writes to its console so a test can assert that nothing went wrong.
package browser

import (
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/chromedp/chromedp"
)

// ChromiumPath is where Debian's chromium package installs the browser.
const ChromiumPath = "/usr/bin/chromium"

// Option changes how New starts the browser.
type Option func(*settings)

type settings struct {
	execPath string
	flags    []flag
	spki     []string
}

type flag struct {
	name  string
	value any
}

// Flag passes one more command-line flag: a string value gives --name=value, true gives --name.
func Flag(name string, value any) Option {
	return func(s *settings) { s.flags = append(s.flags, flag{name, value}) }
}

// IgnoreCertificateErrors accepts any server certificate. Use it only where the server starts
// with a self-signed certificate that the test cannot know in advance.
func IgnoreCertificateErrors() Option { return Flag("ignore-certificate-errors", true) }

// TrustCertificates makes Chromium accept servers whose presented chain (leaf or intermediate)
// carries the public key of one of certs, and nothing else beyond the system roots. A root
// that the server does not send is never matched: pass the leaf or an intermediate. Chromium
// honours the SPKI list only together with --user-data-dir, which New always sets.
func TrustCertificates(certs ...*x509.Certificate) Option {
	return func(s *settings) {
		for _, c := range certs {
			s.spki = append(s.spki, SPKIHash(c))
		}
	}
}

// SPKIHash is the base64 SHA-256 of the certificate's SubjectPublicKeyInfo, the form that
// --ignore-certificate-errors-spki-list takes (as in HPKP pins, RFC 7469 section 2.4).
func SPKIHash(c *x509.Certificate) string {
	sum := sha256.Sum256(c.RawSubjectPublicKeyInfo)
	return base64.StdEncoding.EncodeToString(sum[:])
}

// execPath overrides the browser binary; the harness's own test uses it to prove that a
// missing browser fails the test.
func execPath(p string) Option { return func(s *settings) { s.execPath = p } }

// baseFlags are the only flags Stoa's browser tests run with, besides --user-data-dir and the
// options a test passes. They keep Chromium off the network (loopback only), quiet and
// deterministic, and give WebRTC real local addresses and fake media devices.
var baseFlags = []flag{
	{"headless", true},
	{"no-sandbox", true},
	{"disable-gpu", true},
	{"no-first-run", true},
	{"disable-background-networking", true},
	{"disable-component-update", true},
	{"disable-sync", true},
	{"disable-features", "WebRtcHideLocalIpsWithMdns"},
	{"use-fake-ui-for-media-stream", true},
	{"use-fake-device-for-media-stream", true},
	{"disable-quic", true},
}

// New starts a fresh headless Chromium for t and returns a chromedp context bound to its first
// tab. The browser is stopped, and all its processes are gone, when t ends. A missing
// /usr/bin/chromium fails the test: browser tests never skip.
func New(t testing.TB, opts ...Option) context.Context {
	t.Helper()
	s := settings{execPath: ChromiumPath}
	for _, o := range opts {
		o(&s)
	}
	if _, err := os.Stat(s.execPath); err != nil {
		t.Fatalf("browser: %s not found (%v): run `make deps` to install Debian's chromium", s.execPath, err)
	}

	allocOpts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(s.execPath),
		chromedp.UserDataDir(t.TempDir()),
	}
	for _, f := range baseFlags {
		allocOpts = append(allocOpts, chromedp.Flag(f.name, f.value))
	}
	for _, f := range s.flags {
		allocOpts = append(allocOpts, chromedp.Flag(f.name, f.value))
	}
	if len(s.spki) > 0 {
		allocOpts = append(allocOpts, chromedp.Flag("ignore-certificate-errors-spki-list", strings.Join(s.spki, ",")))
	}

	allocCtx, allocCancel := chromedp.NewExecAllocator(context.Background(), allocOpts...)
	ctx, cancel := chromedp.NewContext(allocCtx)
	col := &collector{}
	ctx = context.WithValue(ctx, collectorKey{}, col)

	var wg sync.WaitGroup
	// Cleanups run last-in first-out: stop the tab, then the browser (allocCancel waits for the
	// process and removes leftovers), then wait for the console reader to drain.
	t.Cleanup(wg.Wait)
	t.Cleanup(allocCancel)
	t.Cleanup(cancel)

	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("browser: start chromium: %v", err)
	}
	// Console subscribes before it returns, so nothing after this line is lost.
	messages := chromedp.Console(ctx)
	wg.Add(1)
	go func() {
		defer wg.Done()
		for m, err := range messages {
			if err != nil {
				return
			}
			col.add(m)
		}
	}()
	return ctx
}
