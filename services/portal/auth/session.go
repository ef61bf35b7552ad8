package auth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/stoa-rooms/stoa/services/portal/store"
)

// CookieName is the session cookie. The __Host- prefix makes browsers insist on Secure, Path=/
// and no Domain, so a sibling subdomain cannot plant or overwrite it
// (https://datatracker.ietf.org/doc/html/draft-ietf-httpbis-rfc6265bis#section-4.1.3.2).
const CookieName = "__Host-stoa_session"

// touchEvery limits how often a session's LastSeen is written: idle timeouts are minutes long,
// so a few seconds of slack saves a database write on every request.
const touchEvery = 15 * time.Second

// randomToken returns 32 random bytes, base64url without padding.
func randomToken() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("random token: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// sessionID is what the store keeps for a cookie value: its SHA-256, so a copy of the database
// does not hold usable cookies.
func sessionID(cookie string) string {
	sum := sha256.Sum256([]byte(cookie))
	return hex.EncodeToString(sum[:])
}

// newSession creates a fresh session for u and returns the cookie value.
func (m *Manager) newSession(ctx context.Context, u store.User) (string, store.Session, error) {
	val, err := randomToken()
	if err != nil {
		return "", store.Session{}, err
	}
	csrf, err := randomToken()
	if err != nil {
		return "", store.Session{}, err
	}
	now := m.cfg.Now().UTC()
	s := store.Session{ID: sessionID(val), UserID: u.ID, CSRFToken: csrf, CreatedAt: now, LastSeen: now}
	if err := m.st.CreateSession(ctx, s); err != nil {
		return "", store.Session{}, fmt.Errorf("create session: %w", err)
	}
	return val, s, nil
}

func (m *Manager) sessionCookie(val string) *http.Cookie {
	return &http.Cookie{
		Name:     CookieName,
		Value:    val,
		Path:     "/",
		MaxAge:   int(m.cfg.Max / time.Second),
		Secure:   true,
		HttpOnly: true,
		SameSite: http.SameSiteStrictMode,
	}
}

func clearCookie() *http.Cookie {
	return &http.Cookie{Name: CookieName, Value: "", Path: "/", MaxAge: -1, Secure: true, HttpOnly: true,
		SameSite: http.SameSiteStrictMode}
}

var errNoSession = errors.New("no valid session")

// loadSession resolves the request's cookie to a live session and its user. Expired sessions
// are deleted on sight.
func (m *Manager) loadSession(r *http.Request) (store.User, store.Session, error) {
	c, err := r.Cookie(CookieName)
	if err != nil || c.Value == "" || len(c.Value) > 128 {
		return store.User{}, store.Session{}, errNoSession
	}
	ctx := r.Context()
	s, err := m.st.SessionByID(ctx, sessionID(c.Value))
	if errors.Is(err, store.ErrNotFound) {
		return store.User{}, store.Session{}, errNoSession
	}
	if err != nil {
		return store.User{}, store.Session{}, fmt.Errorf("load session: %w", err)
	}
	now := m.cfg.Now()
	switch {
	case now.Sub(s.LastSeen) >= m.cfg.Idle:
		m.expire(ctx, s, "idle timeout")
		return store.User{}, store.Session{}, errNoSession
	case now.Sub(s.CreatedAt) >= m.cfg.Max:
		m.expire(ctx, s, "absolute timeout")
		return store.User{}, store.Session{}, errNoSession
	}
	u, err := m.st.UserByID(ctx, s.UserID)
	if errors.Is(err, store.ErrNotFound) {
		m.expire(ctx, s, "user gone")
		return store.User{}, store.Session{}, errNoSession
	}
	if err != nil {
		return store.User{}, store.Session{}, fmt.Errorf("load session user: %w", err)
	}
	if now.Sub(s.LastSeen) >= touchEvery {
		if err := m.st.TouchSession(ctx, s.ID, now.UTC()); err != nil {
			m.log.Warn("touch session", "user", u.Name, "err", err)
		} else {
			s.LastSeen = now.UTC()
		}
	}
	return u, s, nil
}

func (m *Manager) expire(ctx context.Context, s store.Session, why string) {
	if err := m.st.DeleteSession(ctx, s.ID); err != nil {
		m.log.Warn("delete expired session", "err", err)
	}
	m.log.Info("session expired", "user_id", s.UserID, "reason", why)
}
