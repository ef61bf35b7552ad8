package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// ValidRole reports whether r is one of the known roles.
func ValidRole(r Role) bool {
	return r == RoleSuperAdmin || r == RoleAdmin || r == RoleUser
}

const userCols = `id, name, role, password_hash, failed_logins, locked_until, created_at`

func scanUser(row interface{ Scan(...any) error }) (User, error) {
	var u User
	var locked, created sql.NullInt64
	if err := row.Scan(&u.ID, &u.Name, &u.Role, &u.PasswordHash, &u.FailedLogins, &locked, &created); err != nil {
		return User{}, err
	}
	u.LockedUntil, u.CreatedAt = fromNanos(locked), fromNanos(created)
	return u, nil
}

// CreateUser inserts u (ID is assigned) and returns it; ErrConflict when the name is taken.
func (s *SQLite) CreateUser(ctx context.Context, u User) (User, error) {
	switch {
	case u.Name == "":
		return User{}, errors.New("create user: empty name")
	case !ValidRole(u.Role):
		return User{}, fmt.Errorf("create user: unknown role %q", u.Role)
	case u.PasswordHash == "":
		return User{}, errors.New("create user: empty password hash")
	}
	if u.CreatedAt.IsZero() {
		u.CreatedAt = time.Now()
	}
	u.CreatedAt = u.CreatedAt.UTC()
	if !u.LockedUntil.IsZero() {
		u.LockedUntil = u.LockedUntil.UTC()
	}
	res, err := s.w.ExecContext(ctx, `INSERT INTO users (name, role, password_hash, failed_logins, locked_until, created_at)
		VALUES (?, ?, ?, ?, ?, ?)`, u.Name, string(u.Role), u.PasswordHash, u.FailedLogins, nanos(u.LockedUntil), nanos(u.CreatedAt))
	if err != nil {
		return User{}, mapErr("create user "+u.Name, err)
	}
	if u.ID, err = res.LastInsertId(); err != nil {
		return User{}, fmt.Errorf("create user %s: %w", u.Name, err)
	}
	return u, nil
}

// UserByName returns the user called name, or ErrNotFound.
func (s *SQLite) UserByName(ctx context.Context, name string) (User, error) {
	u, err := scanUser(s.r.QueryRowContext(ctx, `SELECT `+userCols+` FROM users WHERE name = ?`, name))
	return u, mapErr("look up user", err)
}

// UserByID returns the user with id, or ErrNotFound.
func (s *SQLite) UserByID(ctx context.Context, id int64) (User, error) {
	u, err := scanUser(s.r.QueryRowContext(ctx, `SELECT `+userCols+` FROM users WHERE id = ?`, id))
	return u, mapErr("look up user", err)
}

// ListUsers returns every user ordered by name.
func (s *SQLite) ListUsers(ctx context.Context) ([]User, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT `+userCols+` FROM users ORDER BY name`)
	if err != nil {
		return nil, mapErr("list users", err)
	}
	defer rows.Close()
	var us []User
	for rows.Next() {
		u, err := scanUser(rows)
		if err != nil {
			return nil, mapErr("list users", err)
		}
		us = append(us, u)
	}
	return us, mapErr("list users", rows.Err())
}

// SetLoginState records the failed-login count and lockout end (zero: not locked).
func (s *SQLite) SetLoginState(ctx context.Context, id int64, failed int, lockedUntil time.Time) error {
	res, err := s.w.ExecContext(ctx, `UPDATE users SET failed_logins = ?, locked_until = ? WHERE id = ?`,
		failed, nanos(lockedUntil), id)
	return oneRow("set login state", res, err)
}

// SetPassword replaces a user's password hash.
func (s *SQLite) SetPassword(ctx context.Context, id int64, hash string) error {
	if hash == "" {
		return errors.New("set password: empty hash")
	}
	res, err := s.w.ExecContext(ctx, `UPDATE users SET password_hash = ? WHERE id = ?`, hash, id)
	return oneRow("set password", res, err)
}

// CreateSession stores s; ErrNotFound when the user does not exist, ErrConflict on a reused ID.
func (s *SQLite) CreateSession(ctx context.Context, sess Session) error {
	if sess.ID == "" || sess.CSRFToken == "" {
		return errors.New("create session: empty ID or CSRF token")
	}
	if sess.CreatedAt.IsZero() {
		sess.CreatedAt = time.Now()
	}
	if sess.LastSeen.IsZero() {
		sess.LastSeen = sess.CreatedAt
	}
	_, err := s.w.ExecContext(ctx, `INSERT INTO sessions (id, user_id, csrf_token, created_at, last_seen) VALUES (?, ?, ?, ?, ?)`,
		sess.ID, sess.UserID, sess.CSRFToken, nanos(sess.CreatedAt), nanos(sess.LastSeen))
	return mapErr("create session", err)
}

// SessionByID returns the session, or ErrNotFound.
func (s *SQLite) SessionByID(ctx context.Context, id string) (Session, error) {
	var sess Session
	var created, seen sql.NullInt64
	err := s.r.QueryRowContext(ctx, `SELECT id, user_id, csrf_token, created_at, last_seen FROM sessions WHERE id = ?`, id).
		Scan(&sess.ID, &sess.UserID, &sess.CSRFToken, &created, &seen)
	if err != nil {
		return Session{}, mapErr("look up session", err)
	}
	sess.CreatedAt, sess.LastSeen = fromNanos(created), fromNanos(seen)
	return sess, nil
}

// TouchSession sets the session's LastSeen; ErrNotFound when it is gone.
func (s *SQLite) TouchSession(ctx context.Context, id string, at time.Time) error {
	res, err := s.w.ExecContext(ctx, `UPDATE sessions SET last_seen = ? WHERE id = ?`, nanos(at), id)
	return oneRow("touch session", res, err)
}

// DeleteSession removes a session. Deleting a missing session is not an error (logout twice).
func (s *SQLite) DeleteSession(ctx context.Context, id string) error {
	_, err := s.w.ExecContext(ctx, `DELETE FROM sessions WHERE id = ?`, id)
	return mapErr("delete session", err)
}

// DeleteUserSessions removes every session of a user (password change, lockout by an admin).
func (s *SQLite) DeleteUserSessions(ctx context.Context, userID int64) error {
	_, err := s.w.ExecContext(ctx, `DELETE FROM sessions WHERE user_id = ?`, userID)
	return mapErr("delete user sessions", err)
}

// AppendAudit appends e; a zero At means now.
func (s *SQLite) AppendAudit(ctx context.Context, e AuditEntry) error {
	if e.Action == "" {
		return errors.New("append audit: empty action")
	}
	if e.At.IsZero() {
		e.At = time.Now()
	}
	_, err := s.w.ExecContext(ctx, `INSERT INTO audit (at, actor, action, detail, remote) VALUES (?, ?, ?, ?, ?)`,
		nanos(e.At), e.Actor, e.Action, e.Detail, e.Remote)
	return mapErr("append audit", err)
}

// MaxAuditLimit caps one ListAudit page.
const MaxAuditLimit = 1000

// ListAudit returns up to limit entries, newest first (limit <= 0 means 100, capped at
// MaxAuditLimit).
func (s *SQLite) ListAudit(ctx context.Context, limit int) ([]AuditEntry, error) {
	if limit <= 0 {
		limit = 100
	}
	limit = min(limit, MaxAuditLimit)
	rows, err := s.r.QueryContext(ctx, `SELECT id, at, actor, action, detail, remote FROM audit ORDER BY id DESC LIMIT ?`, limit)
	if err != nil {
		return nil, mapErr("list audit", err)
	}
	defer rows.Close()
	var es []AuditEntry
	for rows.Next() {
		var e AuditEntry
		var at sql.NullInt64
		if err := rows.Scan(&e.ID, &at, &e.Actor, &e.Action, &e.Detail, &e.Remote); err != nil {
			return nil, mapErr("list audit", err)
		}
		e.At = fromNanos(at)
		es = append(es, e)
	}
	return es, mapErr("list audit", rows.Err())
}
