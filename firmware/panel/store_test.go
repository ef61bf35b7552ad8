package panel

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// clock is an injected, settable clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) { c.mu.Lock(); defer c.mu.Unlock(); c.t = c.t.Add(d) }
func newClock() *clock               { return &clock{t: time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)} }
func wrongPIN(pin string) string {
	return map[bool]string{true: "000001", false: "000000"}[pin == "000000"]
}
func openTest(t *testing.T, path string, c *clock, shown *[]string) *Store {
	t.Helper()
	s, err := OpenStore(StoreOptions{Path: path, Now: c.Now, OnPIN: func(p string) { *shown = append(*shown, p) }})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestPairing(t *testing.T) {
	c := newClock()
	var shown []string
	path := filepath.Join(t.TempDir(), "panels.json")
	s := openTest(t, path, c, &shown)

	if _, _, err := s.Pair("123456", "x"); !errors.Is(err, ErrNoPIN) {
		t.Fatalf("pair without a PIN showing: %v, want ErrNoPIN", err)
	}
	if _, err := s.StartPairing(); err != nil {
		t.Fatal(err)
	}
	pin := s.PIN()
	if len(pin) != 6 || len(shown) != 1 || shown[0] != pin {
		t.Fatalf("PIN %q, shown %q", pin, shown)
	}
	tok, p, err := s.Pair(pin, "Table\x00 panel")
	if err != nil {
		t.Fatal(err)
	}
	if p.Name != "Table panel" || len(tok) < 40 {
		t.Fatalf("panel %+v token %q", p, tok)
	}
	if s.PIN() != "" || shown[len(shown)-1] != "" {
		t.Fatal("a used PIN stays showing")
	}
	if _, _, err := s.Pair(pin, "again"); !errors.Is(err, ErrNoPIN) {
		t.Fatalf("reusing a PIN: %v", err)
	}

	t.Run("token checks and only its hash is stored, 0600", func(t *testing.T) {
		got, err := s.Check(tok)
		if err != nil || got.ID != p.ID {
			t.Fatalf("check: %+v %v", got, err)
		}
		if _, err := s.Check(tok + "x"); !errors.Is(err, ErrBadToken) {
			t.Fatalf("wrong token: %v", err)
		}
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(data), tok) || !strings.Contains(string(data), hashToken(tok)) {
			t.Fatalf("store file holds the token or lacks its hash:\n%s", data)
		}
		fi, _ := os.Stat(path)
		if fi.Mode().Perm() != 0o600 {
			t.Fatalf("store file mode %v", fi.Mode().Perm())
		}
	})
	t.Run("persists across a restart", func(t *testing.T) {
		s2 := openTest(t, path, c, &shown)
		if got, err := s2.Check(tok); err != nil || got.ID != p.ID {
			t.Fatalf("after reopen: %+v %v", got, err)
		}
	})
	t.Run("last seen follows use", func(t *testing.T) {
		c.Add(2 * time.Minute)
		if _, err := s.Check(tok); err != nil {
			t.Fatal(err)
		}
		if ps := s.Panels(); len(ps) != 1 || !ps[0].LastSeen.Equal(c.Now()) {
			t.Fatalf("panels %+v", ps)
		}
	})
	t.Run("revocation refuses the token, also after a restart", func(t *testing.T) {
		if ok, err := s.Revoke(p.ID); err != nil || !ok {
			t.Fatalf("revoke: %v %v", ok, err)
		}
		if _, err := s.Check(tok); !errors.Is(err, ErrBadToken) {
			t.Fatalf("revoked token: %v", err)
		}
		if ok, err := s.Revoke(p.ID); err != nil || ok {
			t.Fatalf("second revoke: %v %v", ok, err)
		}
		if _, err := openTest(t, path, c, &shown).Check(tok); !errors.Is(err, ErrBadToken) {
			t.Fatalf("revoked token after reopen: %v", err)
		}
	})
}

func TestLockout(t *testing.T) {
	c := newClock()
	var shown []string
	s := openTest(t, "", c, &shown)
	if _, err := s.StartPairing(); err != nil {
		t.Fatal(err)
	}
	pin := s.PIN()
	for i := 1; i < MaxAttempts; i++ {
		if _, _, err := s.Pair(wrongPIN(pin), "x"); !errors.Is(err, ErrWrongPIN) {
			t.Fatalf("attempt %d: %v", i, err)
		}
	}
	_, _, err := s.Pair(wrongPIN(pin), "x")
	var le *LockedError
	if !errors.As(err, &le) || !le.Until.Equal(c.Now().Add(DefaultLockout)) {
		t.Fatalf("fifth wrong PIN: %v", err)
	}
	tests := []struct {
		name  string
		after time.Duration
		want  error
	}{
		{"the right PIN is refused while locked", 0, ErrLocked},
		{"still locked a second before the end", DefaultLockout - time.Second, ErrLocked},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c.Add(tc.after)
			if _, _, err := s.Pair(pin, "x"); !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
			if _, err := s.StartPairing(); !errors.Is(err, ErrLocked) {
				t.Fatalf("start pairing while locked: %v", err)
			}
		})
	}
	t.Run("opens again after the lockout with a fresh count", func(t *testing.T) {
		c.Add(time.Second)
		if err := s.Locked(); err != nil {
			t.Fatal(err)
		}
		if _, err := s.StartPairing(); err != nil {
			t.Fatal(err)
		}
		if _, _, err := s.Pair(wrongPIN(s.PIN()), "x"); err == nil || !strings.Contains(err.Error(), "4 of 5") {
			t.Fatalf("first wrong PIN after the lockout: %v", err)
		}
		if _, _, err := s.Pair(s.PIN(), "x"); err != nil {
			t.Fatal(err)
		}
	})
}

func TestPINExpires(t *testing.T) {
	c := newClock()
	var shown []string
	s := openTest(t, "", c, &shown)
	if _, err := s.StartPairing(); err != nil {
		t.Fatal(err)
	}
	pin := s.PIN()
	c.Add(DefaultPINLifetime)
	s.Expire()
	if s.PIN() != "" || shown[len(shown)-1] != "" {
		t.Fatal("an expired PIN still shows")
	}
	if _, _, err := s.Pair(pin, "x"); !errors.Is(err, ErrNoPIN) {
		t.Fatalf("expired PIN: %v", err)
	}
}

func TestBadStoreFile(t *testing.T) {
	for name, body := range map[string]string{
		"not json":      "{",
		"unknown field": `{"panels":[],"x":1}`,
		"short hash":    `{"panels":[{"id":"a","token_sha256":"00"}]}`,
	} {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "panels.json")
			if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
				t.Fatal(err)
			}
			if _, err := OpenStore(StoreOptions{Path: path}); err == nil {
				t.Fatal("a broken store file was accepted")
			}
		})
	}
}
