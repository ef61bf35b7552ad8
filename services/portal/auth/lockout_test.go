package auth

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
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

// TestParallelGuessesAllCount fires MaxFailures wrong passwords at once: every one must count,
// so the account ends up locked (no lost update of the failure counter).
func TestParallelGuessesAllCount(t *testing.T) {
	e := newEnv(t, Config{MaxFailures: 3, Lockout: time.Hour})
	e.addUser("alice", store.RoleUser, userPW)
	var wg sync.WaitGroup
	for i := range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req, _ := http.NewRequest(http.MethodPost, e.srv.URL+"/api/v1/login",
				bytes.NewReader(loginBody("alice", fmt.Sprintf("wrong-guess-%d", i))))
			resp, err := e.bare().Do(req)
			if err != nil {
				t.Error(err)
				return
			}
			resp.Body.Close()
		}()
	}
	wg.Wait()
	u, err := e.st.UserByName(context.Background(), "alice")
	if err != nil || u.FailedLogins != 3 || u.LockedUntil.IsZero() {
		t.Fatalf("after 3 parallel guesses: %+v, %v", u, err)
	}
	if r := e.do(e.client(), http.MethodPost, "/api/v1/login", loginBody("alice", userPW), nil); r.status != http.StatusLocked {
		t.Fatalf("right password on locked account: %d", r.status)
	}
}

func TestRateLimiterBoundsMemory(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	l := newRateLimiter(2, time.Minute)
	for i := range maxTrackedIPs + 10 {
		if ok, _ := l.allow(fmt.Sprintf("ip-%d", i), now); !ok {
			t.Fatalf("fresh key %d refused", i)
		}
	}
	if n := len(l.buckets); n > maxTrackedIPs {
		t.Fatalf("%d buckets tracked, cap %d", n, maxTrackedIPs)
	}
	l.allow("a", now)
	l.allow("a", now)
	if ok, wait := l.allow("a", now); ok || wait <= 0 || wait > 30*time.Second {
		t.Fatalf("third attempt: ok=%v wait=%v", ok, wait)
	}
	if ok, _ := l.allow("b", now); !ok {
		t.Fatal("limit leaked across keys")
	}
}
