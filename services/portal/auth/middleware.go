package auth

import (
	"crypto/subtle"
	"mime"
	"net/http"
)

// CSRFHeader carries the session's CSRF token on state-changing API calls.
const CSRFHeader = "X-CSRF-Token"

// CSRFField carries the token in form posts (multipart uploads), where JavaScript may not set
// headers, e.g. a plain HTML form.
const CSRFField = "csrf_token"

// LoginPath is exempt from the session's CSRF token (not from the cross-origin check): a browser
// that still holds a live cookie may sign in again, e.g. from a second tab, without first
// fetching the token, and login replaces the session anyway.
const LoginPath = "/api/v1/login"

// MaxFormBytes bounds a form body parsed to find the CSRF field; certificate uploads are small.
const MaxFormBytes = 8 << 20

func unsafeMethod(method string) bool {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodTrace:
		return false
	}
	return true
}

// Middleware loads the session into the request context and protects state-changing requests:
// cross-site ones are refused outright (Sec-Fetch-Site or Origin, before any token is looked
// at, which also covers login), and with a session the per-session CSRF token must match.
// Unsafe requests without a session pass on, so Require (or login) decides.
func (m *Manager) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		unsafe := unsafeMethod(r.Method)
		if unsafe && !m.sameOrigin(w, r) {
			return
		}
		u, s, err := m.loadSession(r)
		if err != nil {
			if err != errNoSession {
				m.log.Error("load session", "err", err)
				writeError(w, http.StatusInternalServerError, "internal", "session store unavailable")
				return
			}
			next.ServeHTTP(w, r)
			return
		}
		if unsafe && r.URL.Path != LoginPath && !validCSRF(r, s.CSRFToken) {
			m.log.Warn("csrf token mismatch", "user", u.Name, "method", r.Method, "path", r.URL.Path, "remote", r.RemoteAddr)
			writeError(w, http.StatusForbidden, "csrf", "missing or wrong CSRF token")
			return
		}
		next.ServeHTTP(w, r.WithContext(withAuth(r.Context(), u, s)))
	})
}

// sameOrigin applies Go's cross-origin protection (Sec-Fetch-Site, else Origin vs Host; see
// https://words.filippo.io/csrf/) and answers 403 csrf when the request is cross-site.
func (m *Manager) sameOrigin(w http.ResponseWriter, r *http.Request) bool {
	if err := m.origin.Check(r); err != nil {
		m.log.Warn("cross-origin request refused", "method", r.Method, "path", r.URL.Path, "remote", r.RemoteAddr,
			"origin", r.Header.Get("Origin"), "sec_fetch_site", r.Header.Get("Sec-Fetch-Site"))
		writeError(w, http.StatusForbidden, "csrf", "cross-site request refused")
		return false
	}
	return true
}

// validCSRF compares the header (or, for form posts, the csrf_token field) with want in
// constant time.
func validCSRF(r *http.Request, want string) bool {
	got := r.Header.Get(CSRFHeader)
	if got == "" {
		ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
		if ct == "multipart/form-data" || ct == "application/x-www-form-urlencoded" {
			r.Body = http.MaxBytesReader(nil, r.Body, MaxFormBytes)
			if ct == "multipart/form-data" {
				_ = r.ParseMultipartForm(MaxFormBytes) // a broken form simply has no token
			} else {
				_ = r.ParseForm()
			}
			got = r.PostFormValue(CSRFField)
		}
	}
	return got != "" && want != "" && subtle.ConstantTimeCompare([]byte(got), []byte(want)) == 1
}
