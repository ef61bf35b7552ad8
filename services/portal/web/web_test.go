package web

import (
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"path"
	"regexp"
	"strings"
	"testing"

	"golang.org/x/net/html"
)

func serve(t *testing.T, method, target string) *http.Response {
	t.Helper()
	rec := httptest.NewRecorder()
	Handler().ServeHTTP(rec, httptest.NewRequest(method, target, nil))
	return rec.Result()
}

func pages(t *testing.T) []string {
	t.Helper()
	names, err := fs.Glob(Files(), "*.html")
	if err != nil || len(names) == 0 {
		t.Fatalf("no embedded pages (%v)", err)
	}
	return names
}

func TestPagesServed(t *testing.T) {
	want := []string{"index.html", "security.html", "components.html", "rooms.html", "audit.html", "users.html", "meetings.html", "meeting.html", "updates.html"}
	for _, name := range want {
		for _, target := range []string{"/ui/" + name, "/" + name} {
			t.Run(target, func(t *testing.T) {
				res := serve(t, http.MethodGet, target)
				if res.StatusCode != http.StatusOK {
					t.Fatalf("status %d", res.StatusCode)
				}
				if ct := res.Header.Get("Content-Type"); ct != "text/html; charset=utf-8" {
					t.Errorf("Content-Type %q", ct)
				}
				if res.Header.Get("X-Content-Type-Options") != "nosniff" {
					t.Errorf("no nosniff header")
				}
				if res.Header.Get("Content-Security-Policy") == "" {
					t.Errorf("no CSP header")
				}
			})
		}
	}
	t.Run("root is the login page", func(t *testing.T) {
		res := serve(t, http.MethodGet, "/ui/")
		body, _ := io.ReadAll(res.Body)
		if res.StatusCode != http.StatusOK || !strings.Contains(string(body), `id="login-form"`) {
			t.Fatalf("GET /ui/: status %d, login form present %v", res.StatusCode, strings.Contains(string(body), "login-form"))
		}
	})
}

func TestAssetsAndErrors(t *testing.T) {
	tests := []struct {
		method, target string
		status         int
		contentType    string
	}{
		{"GET", "/ui/js/api.js", 200, "text/javascript; charset=utf-8"},
		{"GET", "/ui/css/stoa.css", 200, "text/css; charset=utf-8"},
		{"GET", "/ui/favicon.svg", 200, "image/svg+xml"},
		{"HEAD", "/ui/security.html", 200, "text/html; charset=utf-8"},
		{"GET", "/ui/missing.html", 404, ""},
		{"GET", "/ui/js/", 404, ""},
		{"GET", "/ui/../web.go", 404, ""},
		{"POST", "/ui/index.html", 405, ""},
	}
	for _, tc := range tests {
		t.Run(tc.method+" "+tc.target, func(t *testing.T) {
			res := serve(t, tc.method, tc.target)
			if res.StatusCode != tc.status {
				t.Fatalf("status %d, want %d", res.StatusCode, tc.status)
			}
			if tc.contentType != "" && res.Header.Get("Content-Type") != tc.contentType {
				t.Errorf("Content-Type %q, want %q", res.Header.Get("Content-Type"), tc.contentType)
			}
		})
	}
}

// page is what the checks need from one parsed HTML file.
type page struct {
	refs       []string // src and href values
	ids        map[string]int
	violations []string // anything the CSP "default-src 'self'" would block or that runs inline
}

func parsePage(t *testing.T, name string) page {
	t.Helper()
	f, err := Files().Open(name)
	if err != nil {
		t.Fatalf("open %s: %v", name, err)
	}
	defer f.Close()
	doc, err := html.Parse(f)
	if err != nil {
		t.Fatalf("parse %s: %v", name, err)
	}
	p := page{ids: map[string]int{}}
	var walk func(*html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.ElementNode {
			hasSrc := false
			for _, a := range n.Attr {
				switch {
				case a.Key == "src" || a.Key == "href":
					p.refs = append(p.refs, a.Val)
					hasSrc = hasSrc || a.Key == "src"
				case a.Key == "id":
					p.ids[a.Val]++
				case a.Key == "style" || strings.HasPrefix(a.Key, "on"):
					p.violations = append(p.violations, "<"+n.Data+" "+a.Key+">")
				}
			}
			if n.Data == "style" || (n.Data == "script" && !hasSrc) {
				p.violations = append(p.violations, "inline <"+n.Data+">")
			}
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(doc)
	return p
}

// TestReferencedAssetsExist parses every page and checks that each local src/href names an
// embedded file (or another page, or an API route), and that nothing would need 'unsafe-inline'.
func TestReferencedAssetsExist(t *testing.T) {
	for _, name := range pages(t) {
		t.Run(name, func(t *testing.T) {
			p := parsePage(t, name)
			if len(p.violations) > 0 {
				t.Errorf("blocked by the CSP: %v", p.violations)
			}
			for id, n := range p.ids {
				if n > 1 {
					t.Errorf("id %q used %d times", id, n)
				}
			}
			scripts := 0
			for _, ref := range p.refs {
				if strings.HasPrefix(ref, "/api/") {
					continue
				}
				if strings.Contains(ref, "://") || strings.HasPrefix(ref, "//") {
					t.Errorf("external reference %q: the CSP allows only 'self'", ref)
					continue
				}
				target := strings.TrimPrefix(ref, Prefix)
				if _, err := fs.Stat(Files(), target); err != nil {
					t.Errorf("reference %q: no embedded file %q", ref, target)
				}
				if strings.HasSuffix(target, ".js") {
					scripts++
				}
			}
			if scripts != 1 {
				t.Errorf("%d page scripts, want exactly one entry module", scripts)
			}
		})
	}
}

var importRE = regexp.MustCompile(`(?m)^import .* from "(\./[a-z]+\.js)";$`)

// TestModules checks the JS modules: every import resolves to an embedded file, and no module
// turns strings into markup (all server data is rendered with textContent).
func TestModules(t *testing.T) {
	mods, err := fs.Glob(Files(), "js/*.js")
	if err != nil || len(mods) == 0 {
		t.Fatalf("no modules (%v)", err)
	}
	for _, m := range mods {
		t.Run(m, func(t *testing.T) {
			b, err := fs.ReadFile(Files(), m)
			if err != nil {
				t.Fatal(err)
			}
			src := string(b)
			for _, bad := range []string{"innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "new Function"} {
				if strings.Contains(src, bad) {
					t.Errorf("uses %s", bad)
				}
			}
			for _, imp := range importRE.FindAllStringSubmatch(src, -1) {
				if _, err := fs.Stat(Files(), path.Join("js", imp[1])); err != nil {
					t.Errorf("import %q: %v", imp[1], err)
				}
			}
		})
	}
}

// TestSecurityPageIDs pins the element ids that the browser test and people's bookmarks rely on.
func TestSecurityPageIDs(t *testing.T) {
	want := map[string][]string{
		"index.html":      {"login-form", "login-name", "login-password", "login-submit", "login-error"},
		"security.html":   {"key-alg", "key-generate", "csr-form", "csr-c", "csr-st", "csr-l", "csr-o", "csr-ou", "csr-cn", "csr-dns", "csr-ip", "csr-submit", "csr-pem", "csr-download", "upload-cert", "upload-chain", "upload-key", "upload-password", "upload-submit", "upload-result", "upload-error", "activate", "active-cert", "active-expiry-warning", "rollback", "reset-self-signed", "acme-directory", "acme-email", "acme-enabled", "acme-save", "acme-issue", "acme-last-error", "acme-next-renewal", "activate-error", "activate-force-row", "activate-force", "activate-force-cancel", "nav-user", "logout"},
		"components.html": {"components-body", "token-form", "token-kind", "token-fqdn", "token-submit", "token-value", "fqdn-form", "fqdn-value"},
		"audit.html":      {"audit-body", "audit-error"},
		"users.html":      {"users-body", "user-form", "user-name", "user-role", "user-password", "user-submit"},
		"meetings.html":   {"meetings-table", "meetings-body", "meetings-empty", "meetings-error", "meeting-form", "meeting-name", "meeting-pin", "meeting-submit", "meeting-error", "meeting-result", "delete-confirm-row", "delete-confirm", "delete-cancel", "delete-error", "joinid-form", "joinid-value", "joinid-submit", "joinid-error", "nav-user", "logout"},
		"meeting.html":    {"meeting-title", "meeting-id", "lobby", "preview", "join-form", "join-name", "pin-field", "join-pin", "join-submit", "join-error", "media-error", "call", "call-state", "quality", "call-error", "grid", "toggle-mic", "toggle-cam", "leave", "left-notice", "nav-user", "logout"},
		"rooms.html":      {"rooms-table", "rooms-body", "rooms-error", "push-all", "push-status", "push-error", "pair-form", "pair-code", "pair-name", "pair-submit", "pair-error", "pair-result", "unpair-confirm-row", "unpair-confirm", "unpair-cancel", "unpair-error", "rename-section", "rename-form", "rename-id", "rename-name", "rename-submit", "rename-error", "nav-user", "logout", "update-section", "update-form", "update-version", "update-start", "update-cancel-offer", "update-close", "update-error"},
		"updates.html":    {"upload-form", "upload-file", "upload-submit", "upload-progress", "upload-error", "upload-result", "updates-body", "updates-empty", "updates-error", "delete-confirm", "nav-user", "logout"},
	}
	for name, ids := range want {
		t.Run(name, func(t *testing.T) {
			p := parsePage(t, name)
			for _, id := range ids {
				if p.ids[id] != 1 {
					t.Errorf("#%s present %d times, want 1", id, p.ids[id])
				}
			}
		})
	}
}

// FuzzHandlerPath: whatever path a client sends, the handler answers without panicking and
// serves only embedded files.
func FuzzHandlerPath(f *testing.F) {
	for _, s := range []string{"/ui/", "/ui/index.html", "/ui/../../etc/passwd", "/ui/js/", "//x", "/ui/%2e%2e/web.go", "/ui/js/api.js"} {
		f.Add(s)
	}
	h := Handler()
	f.Fuzz(func(t *testing.T, p string) {
		req, err := http.NewRequest(http.MethodGet, "http://portal"+p, nil)
		if err != nil || !strings.HasPrefix(req.URL.Path, "/") {
			return
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code == http.StatusOK {
			name := strings.TrimPrefix(strings.TrimPrefix(path.Clean(req.URL.Path), "/ui"), "/")
			if name == "" {
				name = "index.html"
			}
			if _, err := fs.Stat(Files(), name); err != nil {
				t.Fatalf("200 for %q, which is not an embedded file", p)
			}
		}
	})
}
