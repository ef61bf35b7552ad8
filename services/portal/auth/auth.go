// Package auth holds the portal's accounts and web security: password login with lockout and
// per-IP rate limiting, server-side sessions in a __Host- cookie, CSRF tokens plus cross-origin
// rejection, role checks and the audit trail.
package auth

import (
	"context"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/stoa-rooms/stoa/services/password"
	"github.com/stoa-rooms/stoa/services/portal/store"
)

// Config tunes sessions, lockout and rate limits. Zero fields take the defaults noted.
type Config struct {
	Idle               time.Duration    // session idle timeout; default 30 min
	Max                time.Duration    // session absolute lifetime; default 12 h
	MaxFailures        int              // consecutive wrong passwords before lockout; default 5
	Lockout            time.Duration    // how long a locked account stays locked; default 15 min
	Now                func() time.Time // clock; default time.Now
	LoginRatePerMinute int              // login attempts per remote IP and minute; default 30
}

func (c Config) withDefaults() Config {
	if c.Idle <= 0 {
		c.Idle = 30 * time.Minute
	}
	if c.Max <= 0 {
		c.Max = 12 * time.Hour
	}
	if c.MaxFailures <= 0 {
		c.MaxFailures = 5
	}
	if c.Lockout <= 0 {
		c.Lockout = 15 * time.Minute
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.LoginRatePerMinute <= 0 {
		c.LoginRatePerMinute = 30
	}
	return c
}

// Manager serves the account endpoints and guards the others.
type Manager struct {
	st      store.Store
	cfg     Config
	log     *slog.Logger
	limiter *rateLimiter
	origin  *http.CrossOriginProtection
	// dummyHash is verified against when the user does not exist, so that unknown and known
	// names cost the same argon2 work and timing does not reveal which accounts exist.
	dummyHash string
	// loginMu serialises the read-modify-write of a user's failure count (not the argon2 work).
	loginMu sync.Mutex
}

// New returns a Manager over st. log may be nil.
func New(st store.Store, cfg Config, log *slog.Logger) *Manager {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	cfg = cfg.withDefaults()
	m := &Manager{
		st:      st,
		cfg:     cfg,
		log:     log,
		limiter: newRateLimiter(cfg.LoginRatePerMinute, time.Minute),
		origin:  http.NewCrossOriginProtection(),
	}
	h, err := password.Hash("stoa-dummy-password-for-unknown-users")
	if err != nil {
		// crypto/rand does not fail on supported platforms; keep a valid fixed hash regardless.
		log.Error("hash dummy password", "err", err)
		h = fallbackDummyHash
	}
	m.dummyHash = h
	return m
}

// fallbackDummyHash has password.Default's cost, so verifying against it takes as long.
const fallbackDummyHash = "$argon2id$v=19$m=19456,t=2,p=1$c3RvYWR1bW15c2FsdDAwMA$8lN3l6c4v6mB8g0p1gmL5x0m8Lb8dS8m6m2bH2x8a9c"

type ctxKey struct{}

type authInfo struct {
	user    store.User
	session store.Session
}

// UserFrom returns the signed-in user that Middleware put in ctx.
func UserFrom(ctx context.Context) (store.User, bool) {
	a, ok := ctx.Value(ctxKey{}).(authInfo)
	return a.user, ok
}

// UserName names the signed-in user of r for audit and "started by" fields ("" when none).
func UserName(r *http.Request) string {
	u, _ := UserFrom(r.Context())
	return u.Name
}

// SessionFrom returns the session that Middleware put in ctx.
func SessionFrom(ctx context.Context) (store.Session, bool) {
	a, ok := ctx.Value(ctxKey{}).(authInfo)
	return a.session, ok
}

func withAuth(ctx context.Context, u store.User, s store.Session) context.Context {
	return context.WithValue(ctx, ctxKey{}, authInfo{user: u, session: s})
}

// rank orders roles: superadmin > admin > user; unknown roles rank below everything.
func rank(r store.Role) int {
	switch r {
	case store.RoleSuperAdmin:
		return 3
	case store.RoleAdmin:
		return 2
	case store.RoleUser:
		return 1
	}
	return 0
}

// HasRole reports whether u's role is at least min.
func HasRole(u store.User, min store.Role) bool { return rank(u.Role) >= rank(min) && rank(min) > 0 }

// Require serves next only to a signed-in user whose role is at least role: 401 auth.required
// without a valid session, 403 auth.forbidden when the role is too low.
func (m *Manager) Require(role store.Role, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !m.allowed(w, r, role) {
			return
		}
		next.ServeHTTP(w, r)
	})
}

// allowed writes the 401/403 and returns false when the request's user lacks role.
func (m *Manager) allowed(w http.ResponseWriter, r *http.Request, role store.Role) bool {
	u, ok := UserFrom(r.Context())
	if !ok {
		writeError(w, http.StatusUnauthorized, "auth.required", "sign in first")
		return false
	}
	if !HasRole(u, role) {
		m.Audit(r, "auth.forbidden", r.Method+" "+r.URL.Path)
		writeError(w, http.StatusForbidden, "auth.forbidden", "your role may not do this")
		return false
	}
	return true
}
