package auth

import (
	"errors"
	"net/http"
	"regexp"
	"strconv"
	"unicode/utf8"

	"github.com/stoa-rooms/stoa/services/api"
	"github.com/stoa-rooms/stoa/services/password"
	"github.com/stoa-rooms/stoa/services/portal/store"
)

// MinPasswordLen is the password policy: length is what makes a password strong (NIST SP
// 800-63B favours length over composition rules).
const MinPasswordLen = 12

// validName keeps account names to plain identifiers, so they display and log unambiguously.
var validName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$`)

// HandleMe serves GET /api/v1/me: who is signed in and the session's CSRF token.
func (m *Manager) HandleMe(w http.ResponseWriter, r *http.Request) {
	u, ok := UserFrom(r.Context())
	s, _ := SessionFrom(r.Context())
	if !ok {
		writeError(w, http.StatusUnauthorized, "auth.required", "sign in first")
		return
	}
	writeJSON(w, http.StatusOK, api.Me{Name: u.Name, Role: string(u.Role), CSRFToken: s.CSRFToken})
}

// HandleAudit serves GET /api/v1/audit?limit=N (admins), newest first.
func (m *Manager) HandleAudit(w http.ResponseWriter, r *http.Request) {
	if !m.allowed(w, r, store.RoleAdmin) {
		return
	}
	limit := 100
	if v := r.URL.Query().Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > store.MaxAuditLimit {
			writeError(w, http.StatusBadRequest, "bad_request", "limit must be a number from 1 to "+strconv.Itoa(store.MaxAuditLimit))
			return
		}
		limit = n
	}
	es, err := m.st.ListAudit(r.Context(), limit)
	if err != nil {
		m.log.Error("list audit", "err", err)
		writeError(w, http.StatusInternalServerError, "internal", "audit log unavailable")
		return
	}
	out := make([]api.AuditEntry, 0, len(es))
	for _, e := range es {
		out = append(out, api.AuditEntry{At: e.At, Actor: e.Actor, Action: e.Action, Detail: e.Detail, Remote: e.Remote})
	}
	writeJSON(w, http.StatusOK, out)
}

// HandleUsers serves GET /api/v1/users (list) and POST /api/v1/users (create), for admins. An
// admin may create users and admins; only a super admin may create another super admin.
func (m *Manager) HandleUsers(w http.ResponseWriter, r *http.Request) {
	if !m.allowed(w, r, store.RoleAdmin) {
		return
	}
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		us, err := m.st.ListUsers(r.Context())
		if err != nil {
			m.log.Error("list users", "err", err)
			writeError(w, http.StatusInternalServerError, "internal", "account store unavailable")
			return
		}
		out := make([]api.User, 0, len(us))
		for _, u := range us {
			out = append(out, api.User{Name: u.Name, Role: string(u.Role)})
		}
		writeJSON(w, http.StatusOK, out)
	case http.MethodPost:
		m.createUser(w, r)
	default:
		w.Header().Set("Allow", "GET, POST")
		writeError(w, http.StatusMethodNotAllowed, "method", "use GET or POST")
	}
}

// DecodeNewUser parses and checks a POST /api/v1/users body.
func DecodeNewUser(body []byte) (api.NewUser, error) {
	var nu api.NewUser
	if err := decodeStrict(body, &nu); err != nil {
		return api.NewUser{}, errors.New("decode new user: " + err.Error())
	}
	switch {
	case !validName.MatchString(nu.Name):
		return api.NewUser{}, errors.New("name must be 1-64 letters, digits, '.', '_', '@' or '-', starting with a letter or digit")
	case !store.ValidRole(store.Role(nu.Role)):
		return api.NewUser{}, errors.New("role must be user, admin or superadmin")
	case utf8.RuneCountInString(nu.Password) < MinPasswordLen:
		return api.NewUser{}, errors.New("password must be at least " + strconv.Itoa(MinPasswordLen) + " characters")
	case len(nu.Password) > maxPasswordLen:
		return api.NewUser{}, errors.New("password must be at most " + strconv.Itoa(maxPasswordLen) + " bytes")
	}
	return nu, nil
}

func (m *Manager) createUser(w http.ResponseWriter, r *http.Request) {
	me, _ := UserFrom(r.Context())
	body, err := readBody(w, r, MaxLoginBody)
	if err != nil {
		writeError(w, http.StatusRequestEntityTooLarge, "bad_request", "request too large")
		return
	}
	nu, err := DecodeNewUser(body)
	if err != nil {
		writeError(w, http.StatusBadRequest, "user.invalid", err.Error())
		return
	}
	if rank(store.Role(nu.Role)) > rank(me.Role) {
		m.Audit(r, "auth.forbidden", "create "+nu.Role+" "+nu.Name)
		writeError(w, http.StatusForbidden, "auth.forbidden", "you may not create an account above your own role")
		return
	}
	hash, err := password.Hash(nu.Password)
	if err != nil {
		m.log.Error("hash password", "err", err)
		writeError(w, http.StatusInternalServerError, "internal", "could not hash the password")
		return
	}
	u, err := m.st.CreateUser(r.Context(), store.User{Name: nu.Name, Role: store.Role(nu.Role), PasswordHash: hash, CreatedAt: m.cfg.Now().UTC()})
	if errors.Is(err, store.ErrConflict) {
		writeError(w, http.StatusConflict, "user.exists", "an account with this name exists")
		return
	}
	if err != nil {
		m.log.Error("create user", "err", err)
		writeError(w, http.StatusInternalServerError, "internal", "account store unavailable")
		return
	}
	m.Audit(r, "user.create", "created "+string(u.Role)+" "+u.Name)
	writeJSON(w, http.StatusCreated, api.User{Name: u.Name, Role: string(u.Role)})
}
