package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// Certificate slots with a meaning of their own.
const (
	SlotActive   = "active"
	SlotPrevious = "previous"
)

// CertSlot returns the certificate in slot, or ErrNotFound.
func (s *SQLite) CertSlot(ctx context.Context, slot string) (StoredCert, error) {
	return certSlot(ctx, s.r, slot)
}

type querier interface {
	QueryRowContext(ctx context.Context, q string, args ...any) *sql.Row
}

func certSlot(ctx context.Context, q querier, slot string) (StoredCert, error) {
	var c StoredCert
	var at sql.NullInt64
	err := q.QueryRowContext(ctx, `SELECT slot, cert_pem, key_pem, source, activated_at FROM certs WHERE slot = ?`, slot).
		Scan(&c.Slot, &c.CertPEM, &c.KeyPEM, &c.Source, &at)
	if err != nil {
		return StoredCert{}, mapErr("read certificate slot "+slot, err)
	}
	c.ActivatedAt = fromNanos(at)
	return c, nil
}

func validCert(c StoredCert) error {
	if len(c.CertPEM) == 0 || len(c.KeyPEM) == 0 {
		return errors.New("certificate or key PEM is empty")
	}
	return nil
}

// ActivateCert makes c the active certificate and moves the current active one to "previous"
// (dropping the old previous), in one transaction. c.Slot is ignored; a zero ActivatedAt means
// now.
func (s *SQLite) ActivateCert(ctx context.Context, c StoredCert) error {
	if err := validCert(c); err != nil {
		return fmt.Errorf("activate certificate: %w", err)
	}
	if c.ActivatedAt.IsZero() {
		c.ActivatedAt = time.Now()
	}
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("activate certificate: begin: %w", err)
	}
	defer tx.Rollback()
	var hasActive int
	if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM certs WHERE slot = ?`, SlotActive).Scan(&hasActive); err != nil {
		return mapErr("activate certificate", err)
	}
	if hasActive > 0 {
		if _, err := tx.ExecContext(ctx, `DELETE FROM certs WHERE slot = ?`, SlotPrevious); err != nil {
			return mapErr("activate certificate: drop previous", err)
		}
		if _, err := tx.ExecContext(ctx, `UPDATE certs SET slot = ? WHERE slot = ?`, SlotPrevious, SlotActive); err != nil {
			return mapErr("activate certificate: keep previous", err)
		}
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO certs (slot, cert_pem, key_pem, source, activated_at) VALUES (?, ?, ?, ?, ?)`,
		SlotActive, c.CertPEM, c.KeyPEM, c.Source, nanos(c.ActivatedAt)); err != nil {
		return mapErr("activate certificate", err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("activate certificate: commit: %w", err)
	}
	return nil
}

// RollbackCert swaps "active" and "previous" in one transaction; ErrNotFound without previous.
func (s *SQLite) RollbackCert(ctx context.Context) error {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("roll back certificate: begin: %w", err)
	}
	defer tx.Rollback()
	if _, err := certSlot(ctx, tx, SlotPrevious); err != nil {
		return fmt.Errorf("roll back certificate: no previous certificate: %w", err)
	}
	// Three renames through a name no caller can use, since slot is the primary key.
	const swap = "\x00swap"
	for _, mv := range [][2]string{{SlotActive, swap}, {SlotPrevious, SlotActive}, {swap, SlotPrevious}} {
		if _, err := tx.ExecContext(ctx, `UPDATE certs SET slot = ? WHERE slot = ?`, mv[1], mv[0]); err != nil {
			return mapErr("roll back certificate", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("roll back certificate: commit: %w", err)
	}
	return nil
}

// PutCertSlot stores c in c.Slot, replacing what was there.
func (s *SQLite) PutCertSlot(ctx context.Context, c StoredCert) error {
	if c.Slot == "" {
		return errors.New("store certificate: empty slot")
	}
	if err := validCert(c); err != nil {
		return fmt.Errorf("store certificate in %s: %w", c.Slot, err)
	}
	_, err := s.w.ExecContext(ctx, `INSERT INTO certs (slot, cert_pem, key_pem, source, activated_at) VALUES (?, ?, ?, ?, ?)
		ON CONFLICT (slot) DO UPDATE SET cert_pem = excluded.cert_pem, key_pem = excluded.key_pem,
		source = excluded.source, activated_at = excluded.activated_at`,
		c.Slot, c.CertPEM, c.KeyPEM, c.Source, nanos(c.ActivatedAt))
	return mapErr("store certificate in "+c.Slot, err)
}

// DeleteCertSlot removes a slot (e.g. "staged" after activation). Missing is not an error.
func (s *SQLite) DeleteCertSlot(ctx context.Context, slot string) error {
	_, err := s.w.ExecContext(ctx, `DELETE FROM certs WHERE slot = ?`, slot)
	return mapErr("delete certificate slot "+slot, err)
}

// PendingKey returns the key waiting for its certificate, or ErrNotFound.
func (s *SQLite) PendingKey(ctx context.Context) (PendingKey, error) {
	var k PendingKey
	var at sql.NullInt64
	err := s.r.QueryRowContext(ctx, `SELECT key_pem, algorithm, csr_pem, created_at FROM pending_key WHERE id = 1`).
		Scan(&k.KeyPEM, &k.Algorithm, &k.CSRPEM, &at)
	if err != nil {
		return PendingKey{}, mapErr("read pending key", err)
	}
	k.CreatedAt = fromNanos(at)
	return k, nil
}

// PutPendingKey replaces the pending key; a zero CreatedAt means now.
func (s *SQLite) PutPendingKey(ctx context.Context, k PendingKey) error {
	if len(k.KeyPEM) == 0 || k.Algorithm == "" {
		return errors.New("store pending key: empty key or algorithm")
	}
	if k.CreatedAt.IsZero() {
		k.CreatedAt = time.Now()
	}
	_, err := s.w.ExecContext(ctx, `INSERT INTO pending_key (id, key_pem, algorithm, csr_pem, created_at) VALUES (1, ?, ?, ?, ?)
		ON CONFLICT (id) DO UPDATE SET key_pem = excluded.key_pem, algorithm = excluded.algorithm,
		csr_pem = excluded.csr_pem, created_at = excluded.created_at`,
		k.KeyPEM, k.Algorithm, k.CSRPEM, nanos(k.CreatedAt))
	return mapErr("store pending key", err)
}

// DeletePendingKey removes the pending key. Missing is not an error.
func (s *SQLite) DeletePendingKey(ctx context.Context) error {
	_, err := s.w.ExecContext(ctx, `DELETE FROM pending_key`)
	return mapErr("delete pending key", err)
}

// Setting returns the value stored under key, or ErrNotFound.
func (s *SQLite) Setting(ctx context.Context, key string) ([]byte, error) {
	var v []byte
	err := s.r.QueryRowContext(ctx, `SELECT value FROM settings WHERE key = ?`, key).Scan(&v)
	if err != nil {
		return nil, mapErr("read setting "+key, err)
	}
	return v, nil
}

// PutSetting stores value under key, replacing what was there.
func (s *SQLite) PutSetting(ctx context.Context, key string, value []byte) error {
	if key == "" {
		return errors.New("store setting: empty key")
	}
	if value == nil {
		value = []byte{}
	}
	_, err := s.w.ExecContext(ctx, `INSERT INTO settings (key, value) VALUES (?, ?)
		ON CONFLICT (key) DO UPDATE SET value = excluded.value`, key, value)
	return mapErr("store setting "+key, err)
}
