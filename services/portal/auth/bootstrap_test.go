package auth

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/stoa-rooms/stoa/services/portal/store"
)

func TestEnsureSuperAdmin(t *testing.T) {
	e := newEnv(t, Config{})
	ctx := context.Background()
	creds := filepath.Join(t.TempDir(), "secrets", "portal-admin.txt")
	created, err := e.m.EnsureSuperAdmin(ctx, creds)
	if err != nil || !created {
		t.Fatalf("first start: created=%v err=%v", created, err)
	}
	for _, tc := range []struct {
		path string
		mode os.FileMode
	}{{creds, 0o600}, {filepath.Dir(creds), 0o700}} {
		fi, err := os.Stat(tc.path)
		if err != nil || fi.Mode().Perm() != tc.mode {
			t.Fatalf("%s: mode %v (%v), want %o", tc.path, fi.Mode().Perm(), err, tc.mode)
		}
	}
	b, err := os.ReadFile(creds)
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`^portal super admin\nuser: admin\npassword: ([A-Za-z0-9]{20})\n$`).FindSubmatch(b)
	if m == nil {
		t.Fatalf("credentials file = %q", b)
	}
	pw := string(m[1])
	u, err := e.st.UserByName(ctx, "admin")
	if err != nil || u.Role != store.RoleSuperAdmin {
		t.Fatalf("admin account: %+v, %v", u, err)
	}
	me := e.login(e.client(), "admin", pw)
	if me.Role != "superadmin" {
		t.Fatalf("bootstrap login: %+v", me)
	}

	created, err = e.m.EnsureSuperAdmin(ctx, creds)
	if err != nil || created {
		t.Fatalf("second start: created=%v err=%v", created, err)
	}
	if b2, _ := os.ReadFile(creds); string(b2) != string(b) {
		t.Fatal("second start rewrote the credentials")
	}
	if entries, _ := os.ReadDir(filepath.Dir(creds)); len(entries) != 1 {
		t.Fatalf("leftover files: %v", entries)
	}
	var boots int
	for _, a := range e.auditActions() {
		if a.Action == "account.bootstrap" {
			boots++
			if regexp.MustCompile(regexp.QuoteMeta(pw)).MatchString(a.Detail) {
				t.Fatal("bootstrap audit holds the password")
			}
		}
	}
	if boots != 1 {
		t.Fatalf("%d account.bootstrap rows, want 1", boots)
	}
}

func TestEnsureSuperAdminSkipsWhenUsersExist(t *testing.T) {
	e := newEnv(t, Config{})
	e.addUser("alice", store.RoleUser, userPW)
	creds := filepath.Join(t.TempDir(), "creds")
	created, err := e.m.EnsureSuperAdmin(context.Background(), creds)
	if err != nil || created {
		t.Fatalf("created=%v err=%v", created, err)
	}
	if _, err := os.Stat(creds); !os.IsNotExist(err) {
		t.Fatalf("credentials written although users exist: %v", err)
	}
}

func TestCleanAuditText(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"plain", "plain"},
		{"two\nlines\r\nforged", "two lines  forged"},
		{"nul\x00esc\x1b[31m", "nulesc[31m"},
		{"bidi\u202egnp.exe", "bidignp.exe"},
		{"sep\u2028x", "sepx"},
		{"bad\xffutf8", "bad\uFFFDutf8"},
		{"<script>", "<script>"}, // escaped where it is shown, not here
	} {
		t.Run(tc.in, func(t *testing.T) {
			if got := CleanAuditText(tc.in); got != tc.want {
				t.Fatalf("CleanAuditText(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}

func TestAuditRecordsActorAndStripsNewlines(t *testing.T) {
	e := newEnv(t, Config{})
	req, _ := http.NewRequest(http.MethodPost, "/x", nil)
	req.RemoteAddr = "127.0.0.1:4444"
	e.m.Audit(req, "cert.activate", "serial 1\nlogin.ok admin")
	es := e.auditActions()
	if len(es) != 1 || es[0].Actor != "anonymous" || es[0].Detail != "serial 1 login.ok admin" || es[0].Remote != "127.0.0.1:4444" {
		t.Fatalf("audit = %+v", es)
	}
}
