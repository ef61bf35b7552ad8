package auth

import (
	"context"
	"encoding/base64"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stoa-rooms/stoa/services/portal/store"
)

func sessionCookieOf(t *testing.T, r reply) *http.Cookie {
	t.Helper()
	for _, c := range r.resp.Cookies() {
		if c.Name == CookieName {
			return c
		}
	}
	t.Fatalf("no %s cookie in %v", CookieName, r.header.Values("Set-Cookie"))
	return nil
}

func TestLoginCookieAttributesAndStoredHash(t *testing.T) {
	e := newEnv(t, Config{})
	e.addUser("alice", store.RoleUser, userPW)
	c := e.client()
	r := e.do(c, http.MethodPost, "/api/v1/login", loginBody("alice", userPW), nil)
	if r.status != http.StatusOK {
		t.Fatalf("login: %d %s", r.status, r.body)
	}
	if ct, cc := r.header.Get("Content-Type"), r.header.Get("Cache-Control"); ct != "application/json" || cc != "no-store" {
		t.Errorf("Content-Type %q, Cache-Control %q", ct, cc)
	}
	ck := sessionCookieOf(t, r)
	raw := r.header.Get("Set-Cookie")
	for _, tc := range []struct {
		name string
		ok   bool
	}{
		{"__Host- prefix", strings.HasPrefix(ck.Name, "__Host-")},
		{"Secure", ck.Secure},
		{"HttpOnly", ck.HttpOnly},
		{"SameSite=Strict", ck.SameSite == http.SameSiteStrictMode && strings.Contains(raw, "SameSite=Strict")},
		{"Path=/", ck.Path == "/"},
		{"no Domain", ck.Domain == "" && !strings.Contains(strings.ToLower(raw), "domain=")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if !tc.ok {
				t.Fatalf("Set-Cookie %q lacks %s", raw, tc.name)
			}
		})
	}
	if b, err := base64.RawURLEncoding.DecodeString(ck.Value); err != nil || len(b) != 32 {
		t.Fatalf("cookie value %q is not 32 base64url bytes (%v)", ck.Value, err)
	}
	ctx := context.Background()
	if _, err := e.st.SessionByID(ctx, ck.Value); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("raw cookie value stored as session ID: %v", err)
	}
	s, err := e.st.SessionByID(ctx, sessionID(ck.Value))
	if err != nil || len(s.ID) != 64 {
		t.Fatalf("session under SHA-256 hex: %+v, %v", s, err)
	}
	var me = e.login(c, "alice", userPW)
	if me.Name != "alice" || me.Role != "user" || len(me.CSRFToken) < 40 {
		t.Fatalf("Me = %+v", me)
	}
}

func TestSessionIDChangesAtLogin(t *testing.T) {
	e := newEnv(t, Config{})
	e.addUser("alice", store.RoleUser, userPW)
	c := e.client()
	first := sessionCookieOf(t, e.do(c, http.MethodPost, "/api/v1/login", loginBody("alice", userPW), nil))
	// Logging in again while signed in (the jar sends the first cookie) must issue a new ID
	// and retire the old one.
	second := sessionCookieOf(t, e.do(c, http.MethodPost, "/api/v1/login", loginBody("alice", userPW), nil))
	if first.Value == second.Value {
		t.Fatal("session cookie unchanged across logins")
	}
	if _, err := e.st.SessionByID(context.Background(), sessionID(first.Value)); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("old session survived a new login: %v", err)
	}
	// A cookie planted before login (fixation) never becomes valid.
	planted := "planted-by-attacker"
	c2 := e.bare()
	r := e.do(c2, http.MethodPost, "/api/v1/login", loginBody("alice", userPW), map[string]string{"Cookie": CookieName + "=" + planted})
	if got := sessionCookieOf(t, r).Value; got == planted {
		t.Fatal("login adopted the planted cookie")
	}
	if r := e.do(c2, http.MethodGet, "/api/v1/me", nil, map[string]string{"Cookie": CookieName + "=" + planted}); r.status != http.StatusUnauthorized {
		t.Fatalf("planted cookie after login: %d", r.status)
	}
}

func TestReplayedCookieAfterLogout(t *testing.T) {
	e := newEnv(t, Config{})
	e.addUser("alice", store.RoleUser, userPW)
	c := e.client()
	lr := e.do(c, http.MethodPost, "/api/v1/login", loginBody("alice", userPW), nil)
	val := sessionCookieOf(t, lr).Value
	var csrf = lr.me(t).CSRFToken
	r := e.do(c, http.MethodPost, "/api/v1/logout", nil, map[string]string{CSRFHeader: csrf})
	if r.status != http.StatusNoContent {
		t.Fatalf("logout: %d %s", r.status, r.body)
	}
	if got := sessionCookieOf(t, r); got.MaxAge >= 0 || got.Value != "" {
		t.Errorf("logout did not clear the cookie: %+v", got)
	}
	if r := e.do(c, http.MethodGet, "/api/v1/me", nil, nil); r.status != http.StatusUnauthorized {
		t.Fatalf("me after logout: %d", r.status)
	}
	// An attacker who copied the cookie replays it from another client.
	thief := e.bare()
	replay := map[string]string{"Cookie": CookieName + "=" + val, CSRFHeader: csrf}
	for _, tc := range []struct{ method, path string }{
		{http.MethodGet, "/api/v1/me"},
		{http.MethodPost, "/api/v1/echo"},
		{http.MethodPost, "/api/v1/logout"},
	} {
		t.Run(tc.method+tc.path, func(t *testing.T) {
			r := e.do(thief, tc.method, tc.path, nil, replay)
			if r.status != http.StatusUnauthorized || r.apiError(t).Code != "auth.required" {
				t.Fatalf("replayed cookie: %d %s", r.status, r.body)
			}
		})
	}
	found := false
	for _, a := range e.auditActions() {
		found = found || (a.Action == "logout" && a.Actor == "alice" && strings.HasPrefix(a.Remote, "127.0.0.1:"))
	}
	if !found {
		t.Fatal("logout not audited")
	}
}

func TestSessionTimeouts(t *testing.T) {
	for _, tc := range []struct {
		name  string
		steps []time.Duration // clock advances, each followed by GET /me
		want  []int
	}{
		{"idle within limit keeps session", []time.Duration{9 * time.Minute, 9 * time.Minute, 9 * time.Minute}, []int{200, 200, 200}},
		{"idle timeout", []time.Duration{9 * time.Minute, 10 * time.Minute}, []int{200, 401}},
		{"absolute timeout despite activity", []time.Duration{9 * time.Minute, 9 * time.Minute, 9 * time.Minute, 9 * time.Minute, 9 * time.Minute, 9 * time.Minute, 9 * time.Minute}, []int{200, 200, 200, 200, 200, 200, 401}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, Config{Idle: 10 * time.Minute, Max: time.Hour})
			e.addUser("alice", store.RoleUser, userPW)
			c := e.client()
			lr := e.do(c, http.MethodPost, "/api/v1/login", loginBody("alice", userPW), nil)
			val := sessionCookieOf(t, lr).Value
			for i, d := range tc.steps {
				e.clk.Advance(d)
				if r := e.do(c, http.MethodGet, "/api/v1/me", nil, nil); r.status != tc.want[i] {
					t.Fatalf("step %d (+%s): %d %s, want %d", i, d, r.status, r.body, tc.want[i])
				}
			}
			if tc.want[len(tc.want)-1] == 401 {
				if _, err := e.st.SessionByID(context.Background(), sessionID(val)); !errors.Is(err, store.ErrNotFound) {
					t.Fatalf("expired session still stored: %v", err)
				}
			}
		})
	}
}
