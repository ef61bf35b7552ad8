package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// CreateJoinToken stores t; ErrConflict when the hash exists.
func (s *SQLite) CreateJoinToken(ctx context.Context, t JoinToken) error {
	if t.Hash == "" || t.Kind == "" || t.ExpiresAt.IsZero() {
		return errors.New("create join token: hash, kind and expiry are required")
	}
	_, err := s.w.ExecContext(ctx, `INSERT INTO join_tokens (hash, kind, fqdn, created_by, expires_at, used_at) VALUES (?, ?, ?, ?, ?, ?)`,
		t.Hash, t.Kind, t.FQDN, t.CreatedBy, nanos(t.ExpiresAt), nanos(t.UsedAt))
	return mapErr("create join token", err)
}

// ConsumeJoinToken marks an unused, unexpired token used at now and returns it, in one UPDATE
// so two joins racing with the same token cannot both succeed. Unknown, used and expired tokens
// all give ErrNotFound, so a caller learns nothing about which.
func (s *SQLite) ConsumeJoinToken(ctx context.Context, hash string, now time.Time) (JoinToken, error) {
	var t JoinToken
	var exp, used sql.NullInt64
	err := s.w.QueryRowContext(ctx, `UPDATE join_tokens SET used_at = ?1
		WHERE hash = ?2 AND used_at IS NULL AND expires_at > ?1
		RETURNING hash, kind, fqdn, created_by, expires_at, used_at`, now.UnixNano(), hash).
		Scan(&t.Hash, &t.Kind, &t.FQDN, &t.CreatedBy, &exp, &used)
	if err != nil {
		return JoinToken{}, mapErr("consume join token", err)
	}
	t.ExpiresAt, t.UsedAt = fromNanos(exp), fromNanos(used)
	return t, nil
}

const componentCols = `id, kind, fqdn, address, version, cert_pem, cert_not_after, last_heartbeat, joined_at`

func scanComponent(row interface{ Scan(...any) error }) (Component, error) {
	var c Component
	var notAfter, hb, joined sql.NullInt64
	if err := row.Scan(&c.ID, &c.Kind, &c.FQDN, &c.Address, &c.Version, &c.CertPEM, &notAfter, &hb, &joined); err != nil {
		return Component{}, err
	}
	c.CertNotAfter, c.LastHeartbeat, c.JoinedAt = fromNanos(notAfter), fromNanos(hb), fromNanos(joined)
	return c, nil
}

// UpsertComponent inserts c or replaces the component with the same ID, keeping its original
// JoinedAt. ErrConflict when another component of the same kind has the FQDN.
func (s *SQLite) UpsertComponent(ctx context.Context, c Component) error {
	if c.ID == "" || c.Kind == "" || c.FQDN == "" {
		return errors.New("store component: ID, kind and FQDN are required")
	}
	if c.JoinedAt.IsZero() {
		c.JoinedAt = time.Now()
	}
	_, err := s.w.ExecContext(ctx, `INSERT INTO components (`+componentCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (id) DO UPDATE SET kind = excluded.kind, fqdn = excluded.fqdn, address = excluded.address,
		version = excluded.version, cert_pem = excluded.cert_pem, cert_not_after = excluded.cert_not_after,
		last_heartbeat = excluded.last_heartbeat`,
		c.ID, c.Kind, c.FQDN, c.Address, c.Version, c.CertPEM, nanos(c.CertNotAfter), nanos(c.LastHeartbeat), nanos(c.JoinedAt))
	return mapErr(fmt.Sprintf("store component %s", c.ID), err)
}

// ComponentByID returns the component, or ErrNotFound.
func (s *SQLite) ComponentByID(ctx context.Context, id string) (Component, error) {
	c, err := scanComponent(s.r.QueryRowContext(ctx, `SELECT `+componentCols+` FROM components WHERE id = ?`, id))
	return c, mapErr("look up component", err)
}

// ListComponents returns every component ordered by kind, then FQDN.
func (s *SQLite) ListComponents(ctx context.Context) ([]Component, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT `+componentCols+` FROM components ORDER BY kind, fqdn, id`)
	if err != nil {
		return nil, mapErr("list components", err)
	}
	defer rows.Close()
	var cs []Component
	for rows.Next() {
		c, err := scanComponent(rows)
		if err != nil {
			return nil, mapErr("list components", err)
		}
		cs = append(cs, c)
	}
	return cs, mapErr("list components", rows.Err())
}

// Heartbeat records that component id is alive at address, running version.
func (s *SQLite) Heartbeat(ctx context.Context, id, address, version string, at time.Time) error {
	res, err := s.w.ExecContext(ctx, `UPDATE components SET address = ?, version = ?, last_heartbeat = ? WHERE id = ?`,
		address, version, nanos(at), id)
	return oneRow("heartbeat "+id, res, err)
}
