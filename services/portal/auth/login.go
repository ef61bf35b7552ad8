package auth

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/stoa-rooms/stoa/services/api"
	"github.com/stoa-rooms/stoa/services/password"
	"github.com/stoa-rooms/stoa/services/portal/store"
)

// MaxLoginBody bounds the login request; a name and a password fit easily.
const MaxLoginBody = 4 << 10

// Field limits: names are short identifiers; passwords may be long passphrases, but bounded so
// the hash input stays small.
const (
	maxNameLen     = 64
	maxPasswordLen = 1024
)

// DecodeLogin parses a login request strictly: one JSON object, no unknown fields, a non-empty
// name and password within limits.
func DecodeLogin(body []byte) (api.LoginRequest, error) {
	var req api.LoginRequest
	if err := decodeStrict(body, &req); err != nil {
		return api.LoginRequest{}, fmt.Errorf("decode login: %w", err)
	}
	switch {
	case req.Name == "" || req.Password == "":
		return api.LoginRequest{}, errors.New("decode login: name and password are required")
	case len(req.Name) > maxNameLen || !utf8.ValidString(req.Name):
		return api.LoginRequest{}, fmt.Errorf("decode login: name longer than %d bytes or not UTF-8", maxNameLen)
	case len(req.Password) > maxPasswordLen:
		return api.LoginRequest{}, fmt.Errorf("decode login: password longer than %d bytes", maxPasswordLen)
	}
	return req, nil
}

// decodeStrict decodes exactly one JSON value with no unknown fields into v.
func decodeStrict(body []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if _, err := dec.Token(); err != io.EOF {
		return errors.New("trailing data after the JSON object")
	}
	return nil
}

// readBody reads at most limit bytes, failing on more.
func readBody(w http.ResponseWriter, r *http.Request, limit int64) ([]byte, error) {
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	if err != nil {
		return nil, fmt.Errorf("read body: %w", err)
	}
	return b, nil
}

// remoteIP is the client address the rate limit counts by: the TCP peer, not a forwardable
// header.
func remoteIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// HandleLogin serves POST /api/v1/login: a fresh session and api.Me on the right password.
func (m *Manager) HandleLogin(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		writeError(w, http.StatusMethodNotAllowed, "method", "use POST")
		return
	}
	// Login has no session to hold a CSRF token, so the origin check is its CSRF defence; it is
	// repeated here in case the handler is mounted outside Middleware.
	if !m.sameOrigin(w, r) {
		return
	}
	now := m.cfg.Now()
	if ok, wait := m.limiter.allow(remoteIP(r), now); !ok {
		m.log.Warn("login rate limited", "remote", r.RemoteAddr)
		w.Header().Set("Retry-After", strconv.Itoa(int(wait/time.Second)+1))
		writeError(w, http.StatusTooManyRequests, "login.rate_limited", "too many login attempts; wait a minute")
		return
	}
	body, err := readBody(w, r, MaxLoginBody)
	if err != nil {
		writeError(w, http.StatusRequestEntityTooLarge, "bad_request", "login request too large")
		return
	}
	req, err := DecodeLogin(body)
	if err != nil {
		writeError(w, http.StatusBadRequest, "bad_request", err.Error())
		return
	}
	ctx := r.Context()
	u, err := m.st.UserByName(ctx, req.Name)
	if errors.Is(err, store.ErrNotFound) {
		_, _ = password.Verify(req.Password, m.dummyHash) // same work as a real account
		m.audit(ctx, req.Name, "login.failed", "unknown user", r.RemoteAddr)
		writeError(w, http.StatusUnauthorized, "login.failed", "wrong name or password")
		return
	}
	if err != nil {
		m.log.Error("login: look up user", "err", err)
		writeError(w, http.StatusInternalServerError, "internal", "account store unavailable")
		return
	}
	if now.Before(u.LockedUntil) {
		// The password is not even checked: a locked account gives a guesser no signal at all.
		m.audit(ctx, u.Name, "login.failed", "account locked", r.RemoteAddr)
		m.writeLocked(w, u.LockedUntil.Sub(now))
		return
	}
	ok, err := password.Verify(req.Password, u.PasswordHash)
	if err != nil {
		m.log.Error("login: stored hash unusable", "user", u.Name, "err", err)
	}
	if !ok {
		m.loginFailed(w, r, u, now)
		return
	}
	if err := m.st.SetLoginState(ctx, u.ID, 0, time.Time{}); err != nil {
		m.log.Error("login: reset failures", "user", u.Name, "err", err)
		writeError(w, http.StatusInternalServerError, "internal", "account store unavailable")
		return
	}
	// Drop any session the browser arrived with: a login always starts a new session ID, so a
	// planted cookie never becomes an authenticated one (session fixation).
	if c, err := r.Cookie(CookieName); err == nil && c.Value != "" {
		if err := m.st.DeleteSession(ctx, sessionID(c.Value)); err != nil {
			m.log.Warn("login: drop old session", "err", err)
		}
	}
	val, s, err := m.newSession(ctx, u)
	if err != nil {
		m.log.Error("login: new session", "user", u.Name, "err", err)
		writeError(w, http.StatusInternalServerError, "internal", "could not start a session")
		return
	}
	m.audit(ctx, u.Name, "login.ok", "", r.RemoteAddr)
	http.SetCookie(w, m.sessionCookie(val))
	writeJSON(w, http.StatusOK, api.Me{Name: u.Name, Role: string(u.Role), CSRFToken: s.CSRFToken})
}

// loginFailed counts a wrong password and locks the account after MaxFailures in a row.
func (m *Manager) loginFailed(w http.ResponseWriter, r *http.Request, u store.User, now time.Time) {
	ctx := r.Context()
	m.loginMu.Lock()
	cur, err := m.st.UserByID(ctx, u.ID) // re-read under the lock so parallel guesses all count
	if err == nil {
		failed := cur.FailedLogins
		if !cur.LockedUntil.IsZero() && !now.Before(cur.LockedUntil) {
			failed = 0 // a lockout that ran out starts a fresh count
		}
		failed++
		var until time.Time
		if failed >= m.cfg.MaxFailures {
			until = now.Add(m.cfg.Lockout).UTC()
		}
		err = m.st.SetLoginState(ctx, u.ID, failed, until)
		m.loginMu.Unlock()
		if err == nil {
			m.audit(ctx, u.Name, "login.failed", fmt.Sprintf("wrong password (%d in a row)", failed), r.RemoteAddr)
			if !until.IsZero() {
				m.audit(ctx, u.Name, "login.locked", fmt.Sprintf("locked for %s after %d failed logins", m.cfg.Lockout, failed), r.RemoteAddr)
				m.log.Warn("account locked", "user", u.Name, "until", until, "remote", r.RemoteAddr)
				m.writeLocked(w, m.cfg.Lockout)
				return
			}
			writeError(w, http.StatusUnauthorized, "login.failed", "wrong name or password")
			return
		}
	} else {
		m.loginMu.Unlock()
	}
	m.log.Error("login: record failure", "user", u.Name, "err", err)
	writeError(w, http.StatusInternalServerError, "internal", "account store unavailable")
}

func (m *Manager) writeLocked(w http.ResponseWriter, left time.Duration) {
	w.Header().Set("Retry-After", strconv.Itoa(int(left/time.Second)+1))
	writeError(w, http.StatusLocked, "login.locked", "account locked after too many failed logins; try again later")
}

// HandleLogout serves POST /api/v1/logout: the session is deleted server-side, so the cookie is
// worthless even if replayed.
func (m *Manager) HandleLogout(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		writeError(w, http.StatusMethodNotAllowed, "method", "use POST")
		return
	}
	s, ok := SessionFrom(r.Context())
	if !ok {
		writeError(w, http.StatusUnauthorized, "auth.required", "sign in first")
		return
	}
	if err := m.st.DeleteSession(r.Context(), s.ID); err != nil {
		m.log.Error("logout: delete session", "err", err)
		writeError(w, http.StatusInternalServerError, "internal", "could not end the session")
		return
	}
	m.Audit(r, "logout", "")
	http.SetCookie(w, clearCookie())
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusNoContent)
}
