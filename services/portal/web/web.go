// Package web holds the portal's browser UI: plain HTML, CSS and JavaScript modules with no
// build step, embedded in the binary. The pages talk to the JSON API under /api/v1 through
// static/js/api.js.
package web

import (
	"embed"
	"io"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"strings"
)

//go:embed static
var static embed.FS

// Prefix is where the portal mounts Handler.
const Prefix = "/ui/"

// csp repeats the portal's policy for when Handler is served on its own; the portal's
// middleware sets the header first and then it is left alone.
const csp = "default-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"

// Files returns the embedded UI files, rooted at the directory that Handler serves.
func Files() fs.FS {
	sub, err := fs.Sub(static, "static")
	if err != nil {
		// fs.Sub fails only on an invalid path, and "static" is a constant.
		panic("web: " + err.Error())
	}
	return sub
}

// Handler serves the UI. It accepts paths with or without the /ui/ prefix, so the portal can
// mount it at "/ui/" directly or behind http.StripPrefix. "/ui/" serves the login page.
func Handler() http.Handler {
	files := Files()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		name := strings.TrimPrefix(path.Clean("/"+r.URL.Path), strings.TrimSuffix(Prefix, "/"))
		name = strings.TrimPrefix(name, "/")
		if name == "" {
			name = "index.html"
		}
		f, err := files.Open(name)
		if err != nil {
			http.NotFound(w, r)
			return
		}
		defer f.Close()
		st, err := f.Stat()
		if err != nil || st.IsDir() {
			http.NotFound(w, r)
			return
		}
		h := w.Header()
		h.Set("Content-Type", ContentType(name))
		h.Set("X-Content-Type-Options", "nosniff")
		// Revalidate every time: a new binary must never run with stale JS.
		h.Set("Cache-Control", "no-cache")
		if h.Get("Content-Security-Policy") == "" {
			h.Set("Content-Security-Policy", csp)
		}
		// Embedded files are io.ReadSeekers; ServeContent adds Range and HEAD support and,
		// unlike FileServer, never redirects index.html or lists a directory.
		http.ServeContent(w, r, name, st.ModTime(), f.(io.ReadSeeker))
	})
}

// ContentType is the type Handler sends for a file name. The types the UI relies on are
// fixed here (module scripts are refused without a JavaScript type), whatever the host's
// mime tables say.
func ContentType(name string) string {
	switch path.Ext(name) {
	case ".html":
		return "text/html; charset=utf-8"
	case ".js":
		return "text/javascript; charset=utf-8"
	case ".css":
		return "text/css; charset=utf-8"
	case ".svg":
		return "image/svg+xml"
	}
	if ct := mime.TypeByExtension(path.Ext(name)); ct != "" {
		return ct
	}
	return "application/octet-stream"
}
