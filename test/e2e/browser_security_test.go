package e2e

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"math/big"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/stoa-rooms/stoa/services/api"
	"github.com/stoa-rooms/stoa/test/browser"
	"github.com/stoa-rooms/stoa/test/stoatest"
	"github.com/stoa-rooms/stoa/test/testpki"
)

// TestBrowserSecurityCertificateFlow drives the Security page in a real Chromium against the
// real stoa-server: sign in, generate a key, create a CSR, have it signed by a test CA, upload
// an expired certificate (refused, with the server's message shown and nothing changed), upload
// the good one with its chain, activate, and check that Go's TLS stack now verifies the portal
// against the test CA and sees the new serial, and that a reload shows it too.
func TestBrowserSecurityCertificateFlow(t *testing.T) {
	stack := stoatest.Start(t, stoatest.Options{})
	root := testpki.NewCA(t, "Stoa E2E Root")
	issuing := root.Intermediate(t, "Stoa E2E Issuing CA")

	// The portal starts self-signed, which Chromium cannot know in advance.
	ctx := browser.New(t, browser.IgnoreCertificateErrors())
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()

	initial := bsServedCert(t, stack.PortalHost, nil)

	t.Run("sign in", func(t *testing.T) {
		bsDo(t, ctx,
			chromedp.Navigate(stack.PortalURL+"/"),
			chromedp.WaitVisible(chromedp.CSS("#login-name")),
			chromedp.SendKeys(chromedp.CSS("#login-name"), stack.AdminName),
			chromedp.SendKeys(chromedp.CSS("#login-password"), stack.AdminPassword),
			chromedp.Click(chromedp.CSS("#login-submit")),
			chromedp.WaitVisible(chromedp.CSS("#active-serial")),
		)
		if loc := bsRun(t, ctx, chromedp.Location()); !strings.HasSuffix(loc, "/ui/security.html") {
			t.Fatalf("after sign-in the browser is at %s, want the Security page", loc)
		}
		if got := bsText(t, ctx, "#nav-user"); !strings.Contains(got, stack.AdminName) {
			t.Errorf("#nav-user = %q, want the signed-in name %q", got, stack.AdminName)
		}
		if got := bsText(t, ctx, "#active-serial"); !bsSameSerial(got, initial.SerialNumber) {
			t.Fatalf("#active-serial = %q, but the portal serves serial %x", got, initial.SerialNumber)
		}
	})

	var csr *x509.CertificateRequest
	t.Run("key and CSR", func(t *testing.T) {
		bsDo(t, ctx,
			chromedp.SetValue(chromedp.CSS("#key-alg"), "ecdsa-p256"),
			chromedp.Click(chromedp.CSS("#key-generate")),
		)
		bsWaitText(t, ctx, "#key-status", "ECDSA P-256")
		if got := bsValue(t, ctx, "#csr-cn"); got != stack.FQDN {
			t.Errorf("#csr-cn defaults to %q, want the portal FQDN %q", got, stack.FQDN)
		}
		bsDo(t, ctx,
			chromedp.SetValue(chromedp.CSS("#csr-o"), "Stoa E2E"),
			chromedp.SetValue(chromedp.CSS("#csr-cn"), "localhost"),
			chromedp.SetValue(chromedp.CSS("#csr-dns"), "portal.stoa.test"),
			chromedp.Click(chromedp.CSS("#csr-submit")),
		)
		bsPoll(t, ctx, `document.getElementById("csr-pem").value.includes("BEGIN CERTIFICATE REQUEST")`, "the CSR PEM in #csr-pem")
		pemText := bsValue(t, ctx, "#csr-pem")
		block, _ := pem.Decode([]byte(pemText))
		if block == nil {
			t.Fatalf("#csr-pem holds no PEM block: %q", pemText)
		}
		var err error
		if csr, err = x509.ParseCertificateRequest(block.Bytes); err != nil {
			t.Fatalf("parse CSR from the page: %v", err)
		}
		if err := csr.CheckSignature(); err != nil {
			t.Fatalf("CSR signature: %v", err)
		}
		if pub, ok := csr.PublicKey.(*ecdsa.PublicKey); !ok || pub.Curve != elliptic.P256() {
			t.Errorf("CSR key is %T, want ECDSA P-256", csr.PublicKey)
		}
		if csr.Subject.CommonName != "localhost" || !slices.Contains(csr.DNSNames, "localhost") || !slices.Contains(csr.DNSNames, "portal.stoa.test") {
			t.Errorf("CSR subject %q DNS %v, want CN localhost and DNS localhost + portal.stoa.test", csr.Subject, csr.DNSNames)
		}
		// The page's download link serves the same PEM.
		if href := bsRun(t, ctx, chromedp.Evaluate[string](`document.getElementById("csr-download").href`)); !strings.HasSuffix(href, "/api/v1/security/csr") {
			t.Errorf("download link %q", href)
		}
		sess := stack.Login(t)
		status, body, err := sess.Do(http.MethodGet, "/api/v1/security/csr", nil, "", nil)
		if err != nil || status != http.StatusOK || strings.TrimSpace(string(body)) != strings.TrimSpace(pemText) {
			t.Errorf("GET /api/v1/security/csr: status %d err %v; same PEM as the page: %v", status, err, strings.TrimSpace(string(body)) == strings.TrimSpace(pemText))
		}
	})
	if csr == nil {
		t.Fatal("no CSR; cannot go on")
	}

	dir := t.TempDir()
	chainFiles := []string{
		bsWritePEM(t, dir, "issuing-ca.pem", issuing.Cert),
		bsWritePEM(t, dir, "root-ca.pem", root.Cert),
	}
	now := time.Now()
	sign := func(notBefore, notAfter time.Time) *x509.Certificate {
		return testpki.Issue(t, &x509.Certificate{
			SerialNumber: testpki.Serial(),
			Subject:      csr.Subject,
			DNSNames:     csr.DNSNames,
			IPAddresses:  csr.IPAddresses,
			NotBefore:    notBefore,
			NotAfter:     notAfter,
			KeyUsage:     x509.KeyUsageDigitalSignature,
			ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		}, issuing.Cert, csr.PublicKey, issuing.Key, 0)
	}

	t.Run("expired certificate is refused", func(t *testing.T) {
		expired := bsWritePEM(t, dir, "expired.pem", sign(now.Add(-60*24*time.Hour), now.Add(-24*time.Hour)))
		bsDo(t, ctx,
			chromedp.SetUploadFiles(chromedp.CSS("#upload-cert"), []string{expired}),
			chromedp.SetUploadFiles(chromedp.CSS("#upload-chain"), chainFiles),
			chromedp.Click(chromedp.CSS("#upload-submit")),
			chromedp.WaitVisible(chromedp.CSS("#upload-error")),
		)
		msg := bsText(t, ctx, "#upload-error")
		if !strings.Contains(strings.ToLower(msg), "expired") {
			t.Errorf("#upload-error = %q, want a message about the expired certificate", msg)
		}
		if role := bsRun(t, ctx, chromedp.Evaluate[string](`document.getElementById("upload-error").getAttribute("role")`)); role != "alert" {
			t.Errorf("#upload-error role = %q, want alert", role)
		}
		// The page shows the server's own words: the same text the portal wrote to its audit log.
		var audit []api.AuditEntry
		sess := stack.Login(t)
		if status, _, err := sess.Do(http.MethodGet, "/api/v1/audit?limit=50", nil, "", &audit); err != nil || status != http.StatusOK {
			t.Fatalf("GET audit: status %d, %v", status, err)
		}
		i := slices.IndexFunc(audit, func(e api.AuditEntry) bool { return e.Action == "cert.upload_rejected" })
		if i < 0 || audit[i].Detail != msg {
			t.Errorf("#upload-error %q is not the server's message (audit: %+v)", msg, audit)
		}
		if hidden := bsRun(t, ctx, chromedp.Evaluate[bool](`document.getElementById("upload-result").hidden`)); !hidden {
			t.Errorf("#upload-result is visible after a refused upload")
		}
		if got := bsText(t, ctx, "#active-serial"); !bsSameSerial(got, initial.SerialNumber) {
			t.Errorf("#active-serial = %q after a refused upload, want the unchanged %x", got, initial.SerialNumber)
		}
		if served := bsServedCert(t, stack.PortalHost, nil); served.SerialNumber.Cmp(initial.SerialNumber) != 0 {
			t.Errorf("portal serves serial %x after a refused upload, want the unchanged %x", served.SerialNumber, initial.SerialNumber)
		}
	})

	leaf := sign(now.Add(-time.Hour), now.Add(90*24*time.Hour))
	t.Run("upload and activate", func(t *testing.T) {
		leafFile := bsWritePEM(t, dir, "portal.pem", leaf)
		bsDo(t, ctx,
			chromedp.SetUploadFiles(chromedp.CSS("#upload-cert"), []string{leafFile}),
			chromedp.SetUploadFiles(chromedp.CSS("#upload-chain"), chainFiles),
			chromedp.Click(chromedp.CSS("#upload-submit")),
			chromedp.WaitVisible(chromedp.CSS("#upload-result")),
		)
		if got := bsText(t, ctx, "#staged-serial"); !bsSameSerial(got, leaf.SerialNumber) {
			t.Errorf("#staged-serial = %q, want %x", got, leaf.SerialNumber)
		}
		if hidden := bsRun(t, ctx, chromedp.Evaluate[bool](`document.getElementById("upload-error").hidden`)); !hidden {
			t.Errorf("#upload-error still visible after a good upload: %q", bsText(t, ctx, "#upload-error"))
		}
		bsDo(t, ctx,
			chromedp.WaitEnabled(chromedp.CSS("#activate")),
			chromedp.Click(chromedp.CSS("#activate")),
			chromedp.WaitVisible(chromedp.CSS("#activate-result")),
		)
		if got := bsText(t, ctx, "#active-serial"); !bsSameSerial(got, leaf.SerialNumber) {
			t.Errorf("#active-serial = %q right after activation, want %x", got, leaf.SerialNumber)
		}
	})

	t.Run("Go TLS verifies the new certificate", func(t *testing.T) {
		served := bsServedCert(t, stack.PortalHost, root.Pool())
		if served.SerialNumber.Cmp(leaf.SerialNumber) != 0 {
			t.Fatalf("portal serves serial %x, want the activated %x", served.SerialNumber, leaf.SerialNumber)
		}
	})

	t.Run("reload shows the new certificate", func(t *testing.T) {
		bsDo(t, ctx,
			chromedp.Navigate(stack.PortalURL+"/ui/security.html"),
			chromedp.WaitVisible(chromedp.CSS("#active-serial")),
		)
		if got := bsText(t, ctx, "#active-serial"); !bsSameSerial(got, leaf.SerialNumber) {
			t.Errorf("#active-serial after reload = %q, want %x", got, leaf.SerialNumber)
		}
		if got := bsText(t, ctx, "#previous-serial"); !bsSameSerial(got, initial.SerialNumber) {
			t.Errorf("#previous-serial = %q, want the first certificate %x (rollback target)", got, initial.SerialNumber)
		}
	})

	t.Run("Chromium trusting only the issuing CA loads the portal", func(t *testing.T) {
		// A second browser without --ignore-certificate-errors. Chromium matches the SPKI list
		// against the chain the server sends, so this passes only if the portal now serves the
		// uploaded intermediate along with the new leaf.
		strict := browser.New(t, browser.TrustCertificates(issuing.Cert))
		strict, cancel := context.WithTimeout(strict, 30*time.Second)
		defer cancel()
		bsDo(t, strict,
			chromedp.Navigate(stack.PortalURL+"/ui/"),
			chromedp.WaitVisible(chromedp.CSS("#login-form")),
		)
		browser.RequireNoErrors(t, strict)
	})

	// The refused upload answers 422 on purpose, and Chromium logs every non-2xx fetch.
	browser.RequireNoErrors(t, ctx, "status of 422")
}

// bsServedCert dials the portal and returns the leaf it serves. With roots nil it only reads
// the certificate; with roots it requires a chain that verifies for localhost.
func bsServedCert(t *testing.T, addr string, roots *x509.CertPool) *x509.Certificate {
	t.Helper()
	conf := &tls.Config{ServerName: "localhost", RootCAs: roots, MinVersion: tls.VersionTLS12}
	if roots == nil {
		conf.InsecureSkipVerify = true //nolint:gosec // reading the self-signed first certificate
	}
	d := &tls.Dialer{Config: conf}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		t.Fatalf("TLS dial %s (verify=%v): %v", addr, roots != nil, err)
	}
	defer conn.Close()
	return conn.(*tls.Conn).ConnectionState().PeerCertificates[0]
}

// bsSameSerial compares the page's hex serial (any case, colons allowed) with n.
func bsSameSerial(text string, n *big.Int) bool {
	v, ok := new(big.Int).SetString(strings.ReplaceAll(strings.TrimSpace(text), ":", ""), 16)
	return ok && v.Cmp(n) == 0
}

func bsWritePEM(t *testing.T, dir, name string, c *x509.Certificate) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, testpki.CertPEM(c), 0o600); err != nil {
		t.Fatalf("write %s: %v", name, err)
	}
	return p
}

func bsDo(t *testing.T, ctx context.Context, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	if err := chromedp.Do(ctx, steps...); err != nil {
		t.Fatalf("browser: %v (console: %v)", err, browser.Console(ctx))
	}
}

func bsRun[T any](t *testing.T, ctx context.Context, a chromedp.Action[T]) T {
	t.Helper()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		t.Fatalf("browser: %v (console: %v)", err, browser.Console(ctx))
	}
	return v
}

func bsText(t *testing.T, ctx context.Context, sel string) string {
	t.Helper()
	return strings.TrimSpace(bsRun(t, ctx, chromedp.TextContent(chromedp.CSS(sel))))
}

func bsValue(t *testing.T, ctx context.Context, sel string) string {
	t.Helper()
	return bsRun(t, ctx, chromedp.Value(chromedp.CSS(sel)))
}

func bsPoll(t *testing.T, ctx context.Context, expr, what string) {
	t.Helper()
	pctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	if _, err := chromedp.Run(pctx, chromedp.Poll[bool](expr)); err != nil {
		t.Fatalf("waiting for %s: %v (console: %v)", what, err, browser.Console(ctx))
	}
}

func bsWaitText(t *testing.T, ctx context.Context, sel, want string) {
	t.Helper()
	bsPoll(t, ctx, `(document.querySelector(`+jsString(sel)+`)?.textContent || "").includes(`+jsString(want)+`)`, sel+" containing "+want)
}

// jsString quotes s as a JavaScript string literal.
func jsString(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`)
	return `"` + r.Replace(s) + `"`
}

// TestBrowserAuditShowsHostileTextInert signs in with a name that is an HTML payload (the
// portal audits the failed login under that name), then opens the Audit page as super admin:
// the payload must show as text, create no element and run nothing.
func TestBrowserAuditShowsHostileTextInert(t *testing.T) {
	stack := stoatest.Start(t, stoatest.Options{})
	ctx := browser.New(t, browser.IgnoreCertificateErrors())
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()

	const payload = `<img id="pwned" src="x" onerror="window.__pwned=1">`
	bsDo(t, ctx,
		chromedp.Navigate(stack.PortalURL+"/ui/"),
		chromedp.WaitVisible(chromedp.CSS("#login-name")),
		chromedp.SendKeys(chromedp.CSS("#login-name"), payload),
		chromedp.SendKeys(chromedp.CSS("#login-password"), "not-the-password"),
		chromedp.Click(chromedp.CSS("#login-submit")),
		chromedp.WaitVisible(chromedp.CSS("#login-error")),
	)
	if got := bsText(t, ctx, "#login-error"); got != "wrong name or password" {
		t.Errorf("#login-error = %q, want the server's message", got)
	}
	bsRun(t, ctx, chromedp.Evaluate[bool](`document.getElementById("login-form").reset(), true`))
	bsDo(t, ctx,
		chromedp.SendKeys(chromedp.CSS("#login-name"), stack.AdminName),
		chromedp.SendKeys(chromedp.CSS("#login-password"), stack.AdminPassword),
		chromedp.Click(chromedp.CSS("#login-submit")),
		chromedp.WaitVisible(chromedp.CSS("#active-serial")),
		chromedp.Click(chromedp.CSS(`a[href="audit.html"]`)),
		chromedp.WaitVisible(chromedp.CSS("#audit-body tr")),
	)
	bsPoll(t, ctx, `document.getElementById("audit-body").textContent.includes(`+jsString(payload)+`)`, "the payload as text in the audit table")
	checks := []struct{ name, expr string }{
		{"no element was created", `document.querySelector("#audit-body img, #pwned") === null`},
		{"no script ran", `window.__pwned === undefined`},
	}
	for _, c := range checks {
		t.Run(c.name, func(t *testing.T) {
			if ok := bsRun(t, ctx, chromedp.Evaluate[bool](c.expr)); !ok {
				t.Errorf("%s is false", c.expr)
			}
		})
	}
	// The failed sign-in answers 401 on purpose.
	browser.RequireNoErrors(t, ctx, "status of 401")
}
