package auth

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stoa-rooms/stoa/services/portal/store"
)

func TestLockoutAfterFailuresAndAudit(t *testing.T) {
	e := newEnv(t, Config{MaxFailures: 3, Lockout: 5 * time.Minute})
	e.addUser("alice", store.RoleUser, userPW)
	c := e.client()
	wrong := []string{"guess-one-aaaa", "guess-two-bbbb", "guess-three-cc"}
	steps := []struct {
		name, pw string
		advance  time.Duration
		status   int
		code     string
	}{
		{"wrong 1", wrong[0], 0, 401, "login.failed"},
		{"wrong 2", wrong[1], 0, 401, "login.failed"},
		{"wrong 3 locks", wrong[2], 0, 423, "login.locked"},
		{"right while locked", userPW, time.Minute, 423, "login.locked"},
		{"right just before end", userPW, 4*time.Minute - time.Second, 423, "login.locked"},
		{"right after lockout", userPW, time.Second, 200, ""},
	}
	for _, s := range steps {
		e.clk.Advance(s.advance)
		r := e.do(c, http.MethodPost, "/api/v1/login", loginBody("alice", s.pw), nil)
		if r.status != s.status {
			t.Fatalf("%s: %d %s, want %d", s.name, r.status, r.body, s.status)
		}
		if s.code != "" {
			if got := r.apiError(t).Code; got != s.code {
				t.Fatalf("%s: code %q, want %q", s.name, got, s.code)
			}
			if s.status == 423 && r.header.Get("Retry-After") == "" {
				t.Errorf("%s: no Retry-After", s.name)
			}
		}
	}
	u, err := e.st.UserByName(context.Background(), "alice")
	if err != nil || u.FailedLogins != 0 || !u.LockedUntil.IsZero() {
		t.Fatalf("login state after success: %+v, %v", u, err)
	}
	count := map[string]int{}
	for _, a := range e.auditActions() {
		count[a.Action]++
		row := a.Actor + a.Action + a.Detail + a.Remote
		for _, pw := range append(wrong, userPW) {
			if strings.Contains(row, pw) {
				t.Errorf("audit row holds a password: %+v", a)
			}
		}
		if a.Actor != "alice" || !strings.HasPrefix(a.Remote, "127.0.0.1:") {
			t.Errorf("audit row without actor/remote: %+v", a)
		}
	}
	// 3 wrong passwords + 2 attempts while locked are failures; one lockout; one success.
	if count["login.failed"] != 5 || count["login.locked"] != 1 || count["login.ok"] != 1 {
		t.Fatalf("audit counts = %v", count)
	}
}

func TestUnknownUserLooksLikeWrongPassword(t *testing.T) {
	e := newEnv(t, Config{})
	e.addUser("alice", store.RoleUser, userPW)
	c := e.client()
	unknown := e.do(c, http.MethodPost, "/api/v1/login", loginBody("mallory", "whatever-pass"), nil)
	wrong := e.do(c, http.MethodPost, "/api/v1/login", loginBody("alice", "whatever-pass"), nil)
	if unknown.status != 401 || wrong.status != 401 || string(unknown.body) != string(wrong.body) {
		t.Fatalf("unknown %d %s vs wrong %d %s", unknown.status, unknown.body, wrong.status, wrong.body)
	}
	es := e.auditActions()
	if len(es) != 2 || es[1].Actor != "mallory" || es[1].Action != "login.failed" {
		t.Fatalf("audit = %+v", es)
	}
}

func TestLoginBadRequests(t *testing.T) {
	e := newEnv(t, Config{})
	c := e.client()
	for _, tc := range []struct {
		name string
		body string
		want int
	}{
		{"not JSON", `name=alice`, 400},
		{"unknown field", `{"name":"a","password":"b","admin":true}`, 400},
		{"trailing data", `{"name":"a","password":"b"}{}`, 400},
		{"empty password", `{"name":"a","password":""}`, 400},
		{"too large", `{"name":"a","password":"` + strings.Repeat("x", MaxLoginBody) + `"}`, 413},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := e.do(c, http.MethodPost, "/api/v1/login", []byte(tc.body), nil)
			if r.status != tc.want {
				t.Fatalf("%d %s, want %d", r.status, r.body, tc.want)
			}
		})
	}
	if n := len(e.auditActions()); n != 0 {
		t.Fatalf("malformed requests wrote %d audit rows", n)
	}
}

func TestLoginRateLimitPerIP(t *testing.T) {
	e := newEnv(t, Config{LoginRatePerMinute: 3})
	c := e.client()
	bad := []byte(`{}`) // rejected after the limiter, without argon2 work
	for i := range 3 {
		if r := e.do(c, http.MethodPost, "/api/v1/login", bad, nil); r.status != 400 {
			t.Fatalf("attempt %d: %d %s", i, r.status, r.body)
		}
	}
	r := e.do(c, http.MethodPost, "/api/v1/login", bad, nil)
	if r.status != 429 || r.apiError(t).Code != "login.rate_limited" || r.header.Get("Retry-After") == "" {
		t.Fatalf("4th attempt: %d %s", r.status, r.body)
	}
	e.clk.Advance(20 * time.Second) // one token back (3 per minute)
	if r := e.do(c, http.MethodPost, "/api/v1/login", bad, nil); r.status != 400 {
		t.Fatalf("after refill: %d %s", r.status, r.body)
	}
	if r := e.do(c, http.MethodPost, "/api/v1/login", bad, nil); r.status != 429 {
		t.Fatalf("after one refill, second: %d %s", r.status, r.body)
	}
}
