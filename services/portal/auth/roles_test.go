package auth

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/stoa-rooms/stoa/services/api"
	"github.com/stoa-rooms/stoa/services/portal/store"
)

func TestRoleEnforcement(t *testing.T) {
	e := newEnv(t, Config{})
	e.addUser("uma", store.RoleUser, userPW)
	e.addUser("adam", store.RoleAdmin, adminPW)
	e.addUser("sue", store.RoleSuperAdmin, superPW)
	clients := map[string]*http.Client{"anonymous": e.client()}
	for _, u := range []struct{ name, pw string }{{"uma", userPW}, {"adam", adminPW}, {"sue", superPW}} {
		clients[u.name] = e.client()
		e.login(clients[u.name], u.name, u.pw)
	}
	for _, tc := range []struct {
		who, path string
		want      int
		code      string
	}{
		{"anonymous", "/api/v1/echo", 401, "auth.required"},
		{"anonymous", "/api/v1/me", 401, "auth.required"},
		{"anonymous", "/api/v1/audit", 401, "auth.required"},
		{"uma", "/api/v1/echo", 200, ""},
		{"uma", "/api/v1/admin", 403, "auth.forbidden"},
		{"uma", "/api/v1/audit", 403, "auth.forbidden"},
		{"uma", "/api/v1/users", 403, "auth.forbidden"},
		{"adam", "/api/v1/admin", 200, ""},
		{"adam", "/api/v1/super", 403, "auth.forbidden"},
		{"adam", "/api/v1/audit", 200, ""},
		{"sue", "/api/v1/super", 200, ""},
		{"sue", "/api/v1/admin", 200, ""},
		{"sue", "/api/v1/echo", 200, ""},
	} {
		t.Run(tc.who+tc.path, func(t *testing.T) {
			r := e.do(clients[tc.who], http.MethodGet, tc.path, nil, nil)
			if r.status != tc.want {
				t.Fatalf("%d %s, want %d", r.status, r.body, tc.want)
			}
			if tc.code != "" && r.apiError(t).Code != tc.code {
				t.Fatalf("code %q, want %q", r.apiError(t).Code, tc.code)
			}
		})
	}
}

func TestUsersAndAuditHandlers(t *testing.T) {
	e := newEnv(t, Config{})
	e.addUser("adam", store.RoleAdmin, adminPW)
	e.addUser("sue", store.RoleSuperAdmin, superPW)
	admin, super := e.client(), e.client()
	am, sm := e.login(admin, "adam", adminPW), e.login(super, "sue", superPW)
	post := func(c *http.Client, me api.Me, nu api.NewUser) reply {
		b, _ := json.Marshal(nu)
		return e.do(c, http.MethodPost, "/api/v1/users", b, map[string]string{CSRFHeader: me.CSRFToken})
	}
	for _, tc := range []struct {
		name string
		c    *http.Client
		me   api.Me
		nu   api.NewUser
		want int
		code string
	}{
		{"admin creates user", admin, am, api.NewUser{Name: "bob", Role: "user", Password: "twelve-chars"}, 201, ""},
		{"admin creates admin", admin, am, api.NewUser{Name: "ann", Role: "admin", Password: "long enough pw"}, 201, ""},
		{"duplicate", admin, am, api.NewUser{Name: "bob", Role: "user", Password: "twelve-chars"}, 409, "user.exists"},
		{"short password", admin, am, api.NewUser{Name: "carl", Role: "user", Password: "eleven-char"}, 400, "user.invalid"},
		{"bad role", admin, am, api.NewUser{Name: "carl", Role: "root", Password: "twelve-chars"}, 400, "user.invalid"},
		{"bad name", admin, am, api.NewUser{Name: "carl\nroot", Role: "user", Password: "twelve-chars"}, 400, "user.invalid"},
		{"admin may not create superadmin", admin, am, api.NewUser{Name: "eve", Role: "superadmin", Password: "twelve-chars"}, 403, "auth.forbidden"},
		{"superadmin creates superadmin", super, sm, api.NewUser{Name: "sam", Role: "superadmin", Password: "twelve-chars"}, 201, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := post(tc.c, tc.me, tc.nu)
			if r.status != tc.want {
				t.Fatalf("%d %s, want %d", r.status, r.body, tc.want)
			}
			if tc.code != "" && r.apiError(t).Code != tc.code {
				t.Fatalf("code %q, want %q", r.apiError(t).Code, tc.code)
			}
		})
	}
	r := e.do(admin, http.MethodPost, "/api/v1/users", []byte(`{"name":"x","role":"user","password":"twelve-chars","extra":1}`),
		map[string]string{CSRFHeader: am.CSRFToken})
	if r.status != 400 {
		t.Fatalf("unknown field accepted: %d", r.status)
	}
	var users []api.User
	if err := json.Unmarshal(e.do(admin, http.MethodGet, "/api/v1/users", nil, nil).body, &users); err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, u := range users {
		names = append(names, u.Name+":"+u.Role)
	}
	if got := strings.Join(names, ","); got != "adam:admin,ann:admin,bob:user,sam:superadmin,sue:superadmin" {
		t.Fatalf("users = %s", got)
	}
	e.login(e.client(), "bob", "twelve-chars") // the new account works

	for _, tc := range []struct {
		query string
		want  int
		n     int
	}{{"?limit=2", 200, 2}, {"", 200, -1}, {"?limit=abc", 400, 0}, {"?limit=0", 400, 0}, {"?limit=100000", 400, 0}} {
		t.Run("audit"+tc.query, func(t *testing.T) {
			r := e.do(admin, http.MethodGet, "/api/v1/audit"+tc.query, nil, nil)
			if r.status != tc.want {
				t.Fatalf("%d %s", r.status, r.body)
			}
			if r.status != 200 {
				return
			}
			var es []api.AuditEntry
			if err := json.Unmarshal(r.body, &es); err != nil {
				t.Fatal(err)
			}
			if tc.n >= 0 && len(es) != tc.n {
				t.Fatalf("%d entries, want %d", len(es), tc.n)
			}
			if es[0].Action != "login.ok" || es[0].Actor != "bob" {
				t.Fatalf("newest entry %+v, want bob's login", es[0])
			}
		})
	}
	if r := e.do(admin, http.MethodGet, "/api/v1/audit", nil, nil); !strings.Contains(string(r.body), `"user.create"`) {
		t.Fatalf("user creation not audited: %s", r.body)
	}
}
