package store

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

func openTest(t *testing.T) (*SQLite, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "db", "portal.db")
	s, err := OpenSQLite(context.Background(), path)
	if err != nil {
		t.Fatalf("OpenSQLite: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s, path
}

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 123456789, time.FixedZone("CET", 3600))

func TestOpenFileModesAndPragmas(t *testing.T) {
	s, path := openTest(t)
	ctx := context.Background()
	// Force a write so the WAL and shared-memory files exist.
	if err := s.PutSetting(ctx, "k", []byte("v")); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{path, path + "-wal", path + "-shm"} {
		fi, err := os.Stat(name)
		if err != nil {
			t.Fatalf("stat %s: %v", name, err)
		}
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("%s mode = %o, want 600", filepath.Base(name), fi.Mode().Perm())
		}
	}
	fi, err := os.Stat(filepath.Dir(path))
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o700 {
		t.Errorf("directory mode = %o, want 700", fi.Mode().Perm())
	}
	for _, tc := range []struct {
		pragma string
		want   string
	}{{"journal_mode", "wal"}, {"foreign_keys", "1"}, {"busy_timeout", "5000"}} {
		t.Run(tc.pragma, func(t *testing.T) {
			for name, db := range map[string]*sql.DB{"write": s.w, "read": s.r} {
				var got string
				if err := db.QueryRowContext(ctx, "PRAGMA "+tc.pragma).Scan(&got); err != nil {
					t.Fatal(err)
				}
				if got != tc.want {
					t.Errorf("%s pool: %s = %q, want %q", name, tc.pragma, got, tc.want)
				}
			}
		})
	}
	// The read pool really is read-only.
	if _, err := s.r.ExecContext(ctx, `DELETE FROM settings`); err == nil {
		t.Error("read pool accepted a write")
	}
}

func TestOpenTightensExistingFileMode(t *testing.T) {
	path := filepath.Join(t.TempDir(), "portal.db")
	if err := os.WriteFile(path, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	s, err := OpenSQLite(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	fi, _ := os.Stat(path)
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("mode = %o, want 600", fi.Mode().Perm())
	}
}

func TestOpenRejectsBadPaths(t *testing.T) {
	for _, p := range []string{"", ":memory:", "file:x.db", "/tmp/x.db?mode=ro", "/tmp/x#y"} {
		t.Run(p, func(t *testing.T) {
			if s, err := OpenSQLite(context.Background(), p); err == nil {
				s.Close()
				t.Fatalf("OpenSQLite(%q) succeeded", p)
			}
		})
	}
}

func TestMigrationsIdempotentAndNewerSchemaRefused(t *testing.T) {
	ctx := context.Background()
	s, path := openTest(t)
	ms, err := loadMigrations()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.CreateUser(ctx, User{Name: "alice", Role: RoleUser, PasswordHash: "h"}); err != nil {
		t.Fatal(err)
	}
	s.Close()
	for i := range 2 {
		s2, err := OpenSQLite(ctx, path)
		if err != nil {
			t.Fatalf("reopen %d: %v", i, err)
		}
		v, err := s2.SchemaVersion(ctx)
		if err != nil || v != len(ms) {
			t.Fatalf("reopen %d: version %d, %v; want %d", i, v, err, len(ms))
		}
		var n int
		if err := s2.r.QueryRowContext(ctx, `SELECT COUNT(*) FROM schema_migrations`).Scan(&n); err != nil || n != len(ms) {
			t.Fatalf("reopen %d: %d migration rows (%v), want %d", i, n, err, len(ms))
		}
		if _, err := s2.UserByName(ctx, "alice"); err != nil {
			t.Fatalf("reopen %d: data lost: %v", i, err)
		}
		s2.Close()
	}
	// Pretend a newer binary migrated the file.
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, 'future.sql', 0)`, len(ms)+1); err != nil {
		t.Fatal(err)
	}
	db.Close()
	_, err = OpenSQLite(ctx, path)
	if err == nil || !strings.Contains(err.Error(), "newer than this binary") {
		t.Fatalf("open of newer schema: err = %v, want 'newer than this binary'", err)
	}
}

func TestUsers(t *testing.T) {
	s, _ := openTest(t)
	ctx := context.Background()
	u, err := s.CreateUser(ctx, User{Name: "alice", Role: RoleAdmin, PasswordHash: "$argon2id$x", CreatedAt: t0})
	if err != nil {
		t.Fatal(err)
	}
	if u.ID == 0 {
		t.Fatal("no ID assigned")
	}
	for _, tc := range []struct {
		name string
		u    User
		want error
	}{
		{"duplicate", User{Name: "alice", Role: RoleUser, PasswordHash: "h"}, ErrConflict},
		{"empty name", User{Role: RoleUser, PasswordHash: "h"}, nil},
		{"bad role", User{Name: "bob", Role: "root", PasswordHash: "h"}, nil},
		{"no hash", User{Name: "bob", Role: RoleUser}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := s.CreateUser(ctx, tc.u)
			if err == nil || (tc.want != nil && !errors.Is(err, tc.want)) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
		})
	}
	if us, _ := s.ListUsers(ctx); len(us) != 1 {
		t.Fatalf("bad input changed stored users: %v", us)
	}
	got, err := s.UserByName(ctx, "alice")
	if err != nil {
		t.Fatal(err)
	}
	if !got.CreatedAt.Equal(t0) || got.CreatedAt.Location() != time.UTC || got.Role != RoleAdmin || got.ID != u.ID {
		t.Fatalf("UserByName = %+v", got)
	}
	if _, err := s.UserByName(ctx, "nobody"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("unknown name: %v", err)
	}
	if _, err := s.UserByID(ctx, 999); !errors.Is(err, ErrNotFound) {
		t.Fatalf("unknown id: %v", err)
	}
	lock := t0.Add(time.Hour)
	if err := s.SetLoginState(ctx, u.ID, 3, lock); err != nil {
		t.Fatal(err)
	}
	if err := s.SetPassword(ctx, u.ID, "newhash"); err != nil {
		t.Fatal(err)
	}
	got, _ = s.UserByID(ctx, u.ID)
	if got.FailedLogins != 3 || !got.LockedUntil.Equal(lock) || got.PasswordHash != "newhash" {
		t.Fatalf("after updates: %+v", got)
	}
	if err := s.SetLoginState(ctx, u.ID, 0, time.Time{}); err != nil {
		t.Fatal(err)
	}
	if got, _ = s.UserByID(ctx, u.ID); !got.LockedUntil.IsZero() || got.FailedLogins != 0 {
		t.Fatalf("unlock: %+v", got)
	}
	if err := s.SetLoginState(ctx, 999, 1, time.Time{}); !errors.Is(err, ErrNotFound) {
		t.Fatalf("SetLoginState unknown: %v", err)
	}
	if err := s.SetPassword(ctx, 999, "h"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("SetPassword unknown: %v", err)
	}
	if _, err := s.CreateUser(ctx, User{Name: "bob", Role: RoleUser, PasswordHash: "h"}); err != nil {
		t.Fatal(err)
	}
	us, err := s.ListUsers(ctx)
	if err != nil || len(us) != 2 || us[0].Name != "alice" || us[1].Name != "bob" {
		t.Fatalf("ListUsers = %v, %v", us, err)
	}
}

func TestSessions(t *testing.T) {
	s, _ := openTest(t)
	ctx := context.Background()
	u, _ := s.CreateUser(ctx, User{Name: "alice", Role: RoleUser, PasswordHash: "h"})
	sess := Session{ID: "abc", UserID: u.ID, CSRFToken: "tok", CreatedAt: t0, LastSeen: t0}
	if err := s.CreateSession(ctx, sess); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateSession(ctx, sess); !errors.Is(err, ErrConflict) {
		t.Fatalf("duplicate session: %v", err)
	}
	if err := s.CreateSession(ctx, Session{ID: "x", UserID: 999, CSRFToken: "t"}); !errors.Is(err, ErrNotFound) {
		t.Fatalf("session of unknown user: %v", err)
	}
	got, err := s.SessionByID(ctx, "abc")
	if err != nil || got.UserID != u.ID || got.CSRFToken != "tok" || !got.CreatedAt.Equal(t0) {
		t.Fatalf("SessionByID = %+v, %v", got, err)
	}
	later := t0.Add(time.Minute)
	if err := s.TouchSession(ctx, "abc", later); err != nil {
		t.Fatal(err)
	}
	if got, _ = s.SessionByID(ctx, "abc"); !got.LastSeen.Equal(later) || !got.CreatedAt.Equal(t0) {
		t.Fatalf("after touch: %+v", got)
	}
	if err := s.TouchSession(ctx, "nope", later); !errors.Is(err, ErrNotFound) {
		t.Fatalf("touch unknown: %v", err)
	}
	if err := s.DeleteSession(ctx, "abc"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.SessionByID(ctx, "abc"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("deleted session: %v", err)
	}
	if err := s.DeleteSession(ctx, "abc"); err != nil {
		t.Fatalf("second delete: %v", err)
	}
	for _, id := range []string{"s1", "s2"} {
		if err := s.CreateSession(ctx, Session{ID: id, UserID: u.ID, CSRFToken: "t"}); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.DeleteUserSessions(ctx, u.ID); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"s1", "s2"} {
		if _, err := s.SessionByID(ctx, id); !errors.Is(err, ErrNotFound) {
			t.Fatalf("%s survived DeleteUserSessions: %v", id, err)
		}
	}
}

func TestAudit(t *testing.T) {
	s, _ := openTest(t)
	ctx := context.Background()
	if err := s.AppendAudit(ctx, AuditEntry{Actor: "x"}); err == nil {
		t.Fatal("audit without action accepted")
	}
	for i := range 5 {
		if err := s.AppendAudit(ctx, AuditEntry{At: t0.Add(time.Duration(i) * time.Second), Actor: "alice",
			Action: fmt.Sprintf("a%d", i), Detail: "d", Remote: "127.0.0.1:1"}); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct{ limit, want int }{{3, 3}, {0, 5}, {-1, 5}, {100, 5}} {
		t.Run(fmt.Sprint(tc.limit), func(t *testing.T) {
			es, err := s.ListAudit(ctx, tc.limit)
			if err != nil || len(es) != tc.want {
				t.Fatalf("ListAudit(%d) = %d entries, %v", tc.limit, len(es), err)
			}
			if es[0].Action != "a4" || !es[0].At.Equal(t0.Add(4*time.Second)) || es[0].Remote != "127.0.0.1:1" {
				t.Fatalf("newest first: %+v", es[0])
			}
		})
	}
}

func cert(tag string) StoredCert {
	return StoredCert{CertPEM: []byte("cert-" + tag), KeyPEM: []byte("key-" + tag), Source: "uploaded", ActivatedAt: t0}
}

func TestCertSlots(t *testing.T) {
	s, _ := openTest(t)
	ctx := context.Background()
	if _, err := s.CertSlot(ctx, SlotActive); !errors.Is(err, ErrNotFound) {
		t.Fatalf("empty active: %v", err)
	}
	if err := s.RollbackCert(ctx); !errors.Is(err, ErrNotFound) {
		t.Fatalf("rollback without previous: %v", err)
	}
	if err := s.ActivateCert(ctx, StoredCert{}); err == nil {
		t.Fatal("empty certificate activated")
	}
	if err := s.ActivateCert(ctx, cert("A")); err != nil {
		t.Fatal(err)
	}
	if _, err := s.CertSlot(ctx, SlotPrevious); !errors.Is(err, ErrNotFound) {
		t.Fatalf("previous after first activation: %v", err)
	}
	if err := s.ActivateCert(ctx, cert("B")); err != nil {
		t.Fatal(err)
	}
	if err := s.ActivateCert(ctx, cert("C")); err != nil {
		t.Fatal(err)
	}
	check := func(slot, want string) {
		t.Helper()
		c, err := s.CertSlot(ctx, slot)
		if err != nil || string(c.CertPEM) != "cert-"+want || string(c.KeyPEM) != "key-"+want || c.Slot != slot {
			t.Fatalf("%s = %q/%q (%v), want %s", slot, c.CertPEM, c.KeyPEM, err, want)
		}
	}
	check(SlotActive, "C")
	check(SlotPrevious, "B")
	if err := s.RollbackCert(ctx); err != nil {
		t.Fatal(err)
	}
	check(SlotActive, "B")
	check(SlotPrevious, "C")
	if err := s.RollbackCert(ctx); err != nil {
		t.Fatal(err)
	}
	check(SlotActive, "C")

	st := cert("S")
	st.Slot = "staged"
	if err := s.PutCertSlot(ctx, st); err != nil {
		t.Fatal(err)
	}
	st.CertPEM = []byte("cert-T")
	st.KeyPEM = []byte("key-T")
	if err := s.PutCertSlot(ctx, st); err != nil {
		t.Fatal(err)
	}
	check("staged", "T")
	if err := s.PutCertSlot(ctx, StoredCert{CertPEM: []byte("x"), KeyPEM: []byte("y")}); err == nil {
		t.Fatal("empty slot accepted")
	}
	if err := s.DeleteCertSlot(ctx, "staged"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.CertSlot(ctx, "staged"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("deleted slot: %v", err)
	}
	check(SlotActive, "C")
}

func TestPendingKeyAndSettings(t *testing.T) {
	s, _ := openTest(t)
	ctx := context.Background()
	if _, err := s.PendingKey(ctx); !errors.Is(err, ErrNotFound) {
		t.Fatalf("empty pending key: %v", err)
	}
	if err := s.PutPendingKey(ctx, PendingKey{}); err == nil {
		t.Fatal("empty key accepted")
	}
	if err := s.PutPendingKey(ctx, PendingKey{KeyPEM: []byte("k1"), Algorithm: "rsa2048", CreatedAt: t0}); err != nil {
		t.Fatal(err)
	}
	if err := s.PutPendingKey(ctx, PendingKey{KeyPEM: []byte("k2"), Algorithm: "ecdsa-p256", CSRPEM: []byte("csr"), CreatedAt: t0}); err != nil {
		t.Fatal(err)
	}
	k, err := s.PendingKey(ctx)
	if err != nil || string(k.KeyPEM) != "k2" || k.Algorithm != "ecdsa-p256" || string(k.CSRPEM) != "csr" || !k.CreatedAt.Equal(t0) {
		t.Fatalf("PendingKey = %+v, %v", k, err)
	}
	if err := s.DeletePendingKey(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := s.PendingKey(ctx); !errors.Is(err, ErrNotFound) {
		t.Fatalf("deleted pending key: %v", err)
	}

	if _, err := s.Setting(ctx, "acme"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("missing setting: %v", err)
	}
	for _, v := range []string{`{"a":1}`, `{"a":2}`} {
		if err := s.PutSetting(ctx, "acme", []byte(v)); err != nil {
			t.Fatal(err)
		}
		got, err := s.Setting(ctx, "acme")
		if err != nil || string(got) != v {
			t.Fatalf("Setting = %q, %v, want %q", got, err, v)
		}
	}
	if err := s.PutSetting(ctx, "", []byte("x")); err == nil {
		t.Fatal("empty key accepted")
	}
}

func TestJoinTokens(t *testing.T) {
	s, _ := openTest(t)
	ctx := context.Background()
	tok := JoinToken{Hash: "h1", Kind: "router", FQDN: "r1.example", CreatedBy: "admin", ExpiresAt: t0.Add(time.Hour)}
	if err := s.CreateJoinToken(ctx, tok); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateJoinToken(ctx, tok); !errors.Is(err, ErrConflict) {
		t.Fatalf("duplicate token: %v", err)
	}
	if err := s.CreateJoinToken(ctx, JoinToken{Hash: "h2"}); err == nil {
		t.Fatal("token without kind/expiry accepted")
	}
	if err := s.CreateJoinToken(ctx, JoinToken{Hash: "old", Kind: "proxy", ExpiresAt: t0}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		hash string
		now  time.Time
		ok   bool
	}{
		{"unknown", "zzz", t0, false},
		{"expired", "old", t0, false},
		{"valid", "h1", t0, true},
		{"reused", "h1", t0, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := s.ConsumeJoinToken(ctx, tc.hash, tc.now)
			if tc.ok {
				if err != nil || got.Kind != "router" || got.FQDN != "r1.example" || !got.UsedAt.Equal(t0) || !got.ExpiresAt.Equal(tok.ExpiresAt) {
					t.Fatalf("ConsumeJoinToken = %+v, %v", got, err)
				}
				return
			}
			if !errors.Is(err, ErrNotFound) {
				t.Fatalf("err = %v, want ErrNotFound", err)
			}
		})
	}
}

func TestConsumeJoinTokenRace(t *testing.T) {
	s, _ := openTest(t)
	ctx := context.Background()
	if err := s.CreateJoinToken(ctx, JoinToken{Hash: "race", Kind: "manager", ExpiresAt: t0.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	wins := 0
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := s.ConsumeJoinToken(ctx, "race", t0); err == nil {
				mu.Lock()
				wins++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if wins != 1 {
		t.Fatalf("%d joins consumed one token, want 1", wins)
	}
}

func TestComponents(t *testing.T) {
	s, _ := openTest(t)
	ctx := context.Background()
	c := Component{ID: "c1", Kind: "router", FQDN: "host.example", Address: "127.0.0.1:1", Version: "1",
		CertPEM: []byte("pem"), CertNotAfter: t0.Add(48 * time.Hour), JoinedAt: t0}
	if err := s.UpsertComponent(ctx, c); err != nil {
		t.Fatal(err)
	}
	// Same host, different kind: allowed (all-in-one install).
	if err := s.UpsertComponent(ctx, Component{ID: "c2", Kind: "proxy", FQDN: "host.example"}); err != nil {
		t.Fatal(err)
	}
	if err := s.UpsertComponent(ctx, Component{ID: "c3", Kind: "router", FQDN: "host.example"}); !errors.Is(err, ErrConflict) {
		t.Fatalf("second router on one FQDN: %v", err)
	}
	if err := s.UpsertComponent(ctx, Component{ID: "c4"}); err == nil {
		t.Fatal("component without kind accepted")
	}
	c.Version = "2"
	c.JoinedAt = t0.Add(time.Hour)
	if err := s.UpsertComponent(ctx, c); err != nil {
		t.Fatal(err)
	}
	got, err := s.ComponentByID(ctx, "c1")
	if err != nil || got.Version != "2" || !got.JoinedAt.Equal(t0) || !bytes.Equal(got.CertPEM, []byte("pem")) || !got.CertNotAfter.Equal(c.CertNotAfter) {
		t.Fatalf("ComponentByID = %+v, %v", got, err)
	}
	if _, err := s.ComponentByID(ctx, "none"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("unknown component: %v", err)
	}
	hb := t0.Add(time.Minute)
	if err := s.Heartbeat(ctx, "c1", "127.0.0.1:2", "3", hb); err != nil {
		t.Fatal(err)
	}
	if err := s.Heartbeat(ctx, "none", "", "", hb); !errors.Is(err, ErrNotFound) {
		t.Fatalf("heartbeat unknown: %v", err)
	}
	cs, err := s.ListComponents(ctx)
	if err != nil || len(cs) != 2 || cs[0].Kind != "proxy" || cs[1].ID != "c1" {
		t.Fatalf("ListComponents = %+v, %v", cs, err)
	}
	if cs[1].Address != "127.0.0.1:2" || cs[1].Version != "3" || !cs[1].LastHeartbeat.Equal(hb) {
		t.Fatalf("after heartbeat: %+v", cs[1])
	}
}

// TestConcurrentUse drives readers and writers together (run under -race) and checks that every
// write landed: SQLITE_BUSY must never reach a caller.
func TestConcurrentUse(t *testing.T) {
	s, path := openTest(t)
	ctx := context.Background()
	// A second handle on the same file, as a second process would have.
	s2, err := OpenSQLite(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	u, err := s.CreateUser(ctx, User{Name: "alice", Role: RoleUser, PasswordHash: "h"})
	if err != nil {
		t.Fatal(err)
	}
	const workers, each = 6, 25
	var wg sync.WaitGroup
	errc := make(chan error, workers*each*3)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			db := s
			if w%2 == 1 {
				db = s2
			}
			for i := range each {
				id := fmt.Sprintf("s-%d-%d", w, i)
				if err := db.CreateSession(ctx, Session{ID: id, UserID: u.ID, CSRFToken: "t"}); err != nil {
					errc <- err
				}
				if err := db.AppendAudit(ctx, AuditEntry{Actor: "alice", Action: "test"}); err != nil {
					errc <- err
				}
				if _, err := db.SessionByID(ctx, id); err != nil {
					errc <- err
				}
				if err := db.ActivateCert(ctx, cert(id)); err != nil {
					errc <- err
				}
			}
		}()
	}
	wg.Wait()
	close(errc)
	for err := range errc {
		t.Error(err)
	}
	es, err := s.ListAudit(ctx, MaxAuditLimit)
	if err != nil || len(es) != workers*each {
		t.Fatalf("audit rows = %d (%v), want %d", len(es), err, workers*each)
	}
	if _, err := s.CertSlot(ctx, SlotPrevious); err != nil {
		t.Fatalf("previous slot after concurrent activations: %v", err)
	}
}
