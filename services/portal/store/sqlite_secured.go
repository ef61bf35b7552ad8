package store

import (
	"context"
	"errors"
	"time"
)

// SecuredOption implements SecuredStore.
func (s *SQLite) SecuredOption(ctx context.Context) (SecuredOption, error) {
	var (
		o  SecuredOption
		at int64
	)
	err := s.r.QueryRowContext(ctx, `SELECT enabled, changed_by, changed_at FROM secured_option WHERE id = 1`).
		Scan(&o.Enabled, &o.ChangedBy, &at)
	if err != nil {
		if err = mapErr("read secured option", err); errors.Is(err, ErrNotFound) {
			return SecuredOption{}, nil
		}
		return SecuredOption{}, err
	}
	o.ChangedAt = time.Unix(0, at).UTC()
	return o, nil
}

// SetSecuredOption implements SecuredStore.
func (s *SQLite) SetSecuredOption(ctx context.Context, o SecuredOption) error {
	if o.ChangedBy == "" || o.ChangedAt.IsZero() {
		return errors.New("store secured option: who and when are required")
	}
	_, err := s.w.ExecContext(ctx, `INSERT INTO secured_option (id, enabled, changed_by, changed_at) VALUES (1, ?, ?, ?)
		ON CONFLICT (id) DO UPDATE SET enabled = excluded.enabled, changed_by = excluded.changed_by, changed_at = excluded.changed_at`,
		o.Enabled, o.ChangedBy, o.ChangedAt.UnixNano())
	return mapErr("store secured option", err)
}
