package component

import (
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/stoa-rooms/stoa/provisioning/ca"
	"github.com/stoa-rooms/stoa/services/password"
)

// The local console account, created at first start.
const (
	ConsoleUser      = "console"
	credentialsFile  = "console-credentials.txt" // "user: console\npassword: ..." for the operator, 0600
	consoleHashFile  = "console.hash"            // argon2id PHC string, 0600
	consolePassChars = 20
)

// ensureConsoleAccount creates the console account unless its hash exists. The password is
// written once, for the operator, to a 0600 file; only the hash is used afterwards.
func ensureConsoleAccount(dir string) error {
	_, err := os.Stat(filepath.Join(dir, consoleHashFile))
	if err == nil {
		return nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("console account: %w", err)
	}
	pw, err := password.Generate(consolePassChars)
	if err != nil {
		return fmt.Errorf("console account: %w", err)
	}
	hash, err := password.Hash(pw)
	if err != nil {
		return fmt.Errorf("console account: %w", err)
	}
	creds := fmt.Sprintf("user: %s\npassword: %s\n", ConsoleUser, pw)
	if err := ca.WriteFileAtomic(filepath.Join(dir, credentialsFile), []byte(creds), 0o600); err != nil {
		return fmt.Errorf("console account: %w", err)
	}
	if err := ca.WriteFileAtomic(filepath.Join(dir, consoleHashFile), []byte(hash+"\n"), 0o600); err != nil {
		return fmt.Errorf("console account: %w", err)
	}
	return nil
}

// requireConsole demands the console account with HTTP Basic auth (RFC 7617); the listener is
// TLS only, so the password never crosses the network in clear. A verified password's SHA-256
// is remembered so that each page view does not cost an argon2id run.
func (rt *runtime) requireConsole(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		user, pw, ok := r.BasicAuth()
		if ok && subtle.ConstantTimeCompare([]byte(user), []byte(ConsoleUser)) == 1 && rt.checkConsolePassword(pw) {
			next(w, r)
			return
		}
		if ok {
			rt.log.Warn("console login failed", "remote", r.RemoteAddr)
		}
		w.Header().Set("WWW-Authenticate", `Basic realm="Stoa system console", charset="UTF-8"`)
		http.Error(w, "the system console needs the console account (see console-credentials.txt in the data directory)", http.StatusUnauthorized)
	}
}

func (rt *runtime) checkConsolePassword(pw string) bool {
	sum := sha256.Sum256([]byte(pw))
	rt.mu.Lock()
	cached := rt.pwSum
	rt.mu.Unlock()
	if cached != nil && subtle.ConstantTimeCompare(sum[:], cached[:]) == 1 {
		return true
	}
	b, err := os.ReadFile(filepath.Join(rt.cfg.DataDir, consoleHashFile))
	if err != nil {
		rt.log.Error("console account unreadable", "err", err)
		return false
	}
	ok, err := password.Verify(pw, strings.TrimSpace(string(b)))
	if err != nil {
		rt.log.Error("console account hash malformed", "err", err)
		return false
	}
	if ok {
		rt.mu.Lock()
		rt.pwSum = &sum
		rt.mu.Unlock()
	}
	return ok
}

func (rt *runtime) consoleRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET /{$}", rt.requireConsole(rt.handleConsole))
	mux.HandleFunc("GET /csr", rt.requireConsole(rt.handleCSR))
	mux.HandleFunc("GET /console.css", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/css; charset=utf-8")
		w.Header().Set("Cache-Control", "max-age=3600")
		_, _ = w.Write([]byte(consoleCSS))
	})
}

// consoleView is what the console page shows.
type consoleView struct {
	Kind, FQDN, PortalURL, InternalURL, ID, Version string
	Subject, Issuer, Serial                         string
	DNSNames                                        []string
	NotAfter                                        time.Time
	Uploaded                                        bool
	LastBeat                                        beatResult
}

func (rt *runtime) handleConsole(w http.ResponseWriter, r *http.Request) {
	rt.mu.Lock()
	st, last := rt.st, rt.last
	rt.mu.Unlock()
	leaf := st.cert.Leaf
	if st.served != nil && st.served.Leaf.VerifyHostname(st.id.FQDN) == nil {
		leaf = st.served.Leaf
	}
	v := consoleView{
		Kind: st.id.Kind, FQDN: st.id.FQDN, PortalURL: st.id.PortalURL, InternalURL: st.id.InternalURL,
		ID: st.id.ID, Version: rt.cfg.Version,
		Subject: leaf.Subject.String(), Issuer: leaf.Issuer.String(), Serial: fmt.Sprintf("%x", leaf.SerialNumber),
		DNSNames: leaf.DNSNames, NotAfter: leaf.NotAfter, Uploaded: leaf != st.cert.Leaf, LastBeat: last,
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	if err := consoleTmpl.Execute(w, v); err != nil {
		rt.log.Error("render console", "err", err)
	}
}

// handleCSR hands out a CSR for the component's own key and FQDN, for a super admin who wants
// to install a certificate from a public CA on this component (the key never leaves it).
func (rt *runtime) handleCSR(w http.ResponseWriter, r *http.Request) {
	st := rt.state()
	csr, err := newCSR(st.key, st.id.FQDN)
	if err != nil {
		http.Error(w, "could not create the CSR", http.StatusInternalServerError)
		rt.log.Error("console CSR", "err", err)
		return
	}
	w.Header().Set("Content-Type", "application/pkcs10")
	w.Header().Set("Content-Disposition", fmt.Sprintf(`attachment; filename="%s.csr"`, st.id.FQDN))
	_, _ = w.Write([]byte(csr))
}

const consoleCSS = `body{font-family:system-ui,sans-serif;margin:2rem;max-width:50rem;color:#222}
th{text-align:left;padding-right:1.5rem;vertical-align:top;color:#555}td,th{padding-bottom:.4rem}
.err{color:#b00020}.ok{color:#1b5e20}code{font-size:.95em}`

var consoleTmpl = template.Must(template.New("console").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Stoa {{.Kind}} — system console</title>
<link rel="stylesheet" href="/console.css"></head><body>
<h1>Stoa {{.Kind}}</h1>
<table>
<tr><th>Kind</th><td>{{.Kind}}</td></tr>
<tr><th>FQDN</th><td><code>{{.FQDN}}</code></td></tr>
<tr><th>Component ID</th><td><code>{{.ID}}</code></td></tr>
<tr><th>Version</th><td>{{.Version}}</td></tr>
<tr><th>Portal</th><td>{{.PortalURL}}</td></tr>
<tr><th>Portal internal endpoint</th><td>{{.InternalURL}}</td></tr>
</table>
<h2>Certificate{{if .Uploaded}} (uploaded by a super admin){{else}} (portal internal CA){{end}}</h2>
<table>
<tr><th>Subject</th><td>{{.Subject}}</td></tr>
<tr><th>Names (SAN)</th><td>{{range .DNSNames}}<code>{{.}}</code> {{end}}</td></tr>
<tr><th>Issuer</th><td>{{.Issuer}}</td></tr>
<tr><th>Serial</th><td><code>{{.Serial}}</code></td></tr>
<tr><th>Expires</th><td>{{.NotAfter.UTC.Format "2006-01-02 15:04 MST"}}</td></tr>
</table>
<p><a href="/csr">Download a CSR</a> for this component's key, to get a certificate from a public CA.</p>
<h2>Last heartbeat</h2>
{{if .LastBeat.At.IsZero}}<p>None yet.</p>
{{else if .LastBeat.Err}}<p class="err">{{.LastBeat.At.UTC.Format "2006-01-02 15:04:05 MST"}}: failed: {{.LastBeat.Err}}</p>
{{else}}<p class="ok">{{.LastBeat.At.UTC.Format "2006-01-02 15:04:05 MST"}}: ok</p>{{end}}
</body></html>
`))
