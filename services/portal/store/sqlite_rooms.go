package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

const roomCols = `id, name, cert_serial, prev_serial, cert_not_after, model, hw_serial, hostname, firmware,
	bundle_version, last_seen, portal_https_trusted, portal_https_error, created_at`

func scanRoom(row interface{ Scan(...any) error }) (Room, error) {
	var r Room
	var notAfter, seen, created sql.NullInt64
	var version int64
	if err := row.Scan(&r.ID, &r.Name, &r.CertSerial, &r.PrevSerial, &notAfter, &r.Model, &r.HWSerial, &r.Hostname,
		&r.Firmware, &version, &seen, &r.PortalHTTPSTrusted, &r.PortalHTTPSError, &created); err != nil {
		return Room{}, err
	}
	r.BundleVersion = uint64(version)
	r.CertNotAfter, r.LastSeen, r.CreatedAt = fromNanos(notAfter), fromNanos(seen), fromNanos(created)
	return r, nil
}

// CreateRoom stores a newly paired room; ErrConflict when the ID exists.
func (s *SQLite) CreateRoom(ctx context.Context, r Room) error {
	if r.ID == "" || r.Name == "" || r.CertSerial == "" || r.CreatedAt.IsZero() {
		return errors.New("create room: ID, name, certificate serial and creation time are required")
	}
	_, err := s.w.ExecContext(ctx, `INSERT INTO rooms (`+roomCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		r.ID, r.Name, r.CertSerial, r.PrevSerial, nanos(r.CertNotAfter), r.Model, r.HWSerial, r.Hostname, r.Firmware,
		int64(r.BundleVersion), nanos(r.LastSeen), r.PortalHTTPSTrusted, r.PortalHTTPSError, nanos(r.CreatedAt))
	return mapErr("create room "+r.ID, err)
}

// RoomByID returns the room, or ErrNotFound.
func (s *SQLite) RoomByID(ctx context.Context, id string) (Room, error) {
	r, err := scanRoom(s.r.QueryRowContext(ctx, `SELECT `+roomCols+` FROM rooms WHERE id = ?`, id))
	return r, mapErr("look up room", err)
}

// ListRooms returns every room ordered by name, then ID.
func (s *SQLite) ListRooms(ctx context.Context) ([]Room, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT `+roomCols+` FROM rooms ORDER BY name, id`)
	if err != nil {
		return nil, mapErr("list rooms", err)
	}
	defer rows.Close()
	var rs []Room
	for rows.Next() {
		r, err := scanRoom(rows)
		if err != nil {
			return nil, mapErr("list rooms", err)
		}
		rs = append(rs, r)
	}
	return rs, mapErr("list rooms", rows.Err())
}

// RenameRoom sets a room's name; ErrNotFound for an unknown room.
func (s *SQLite) RenameRoom(ctx context.Context, id, name string) error {
	if name == "" {
		return errors.New("rename room: name is empty")
	}
	res, err := s.w.ExecContext(ctx, `UPDATE rooms SET name = ? WHERE id = ?`, name, id)
	return oneRow("rename room "+id, res, err)
}

// RecordRoomStatus stores what a room reported at a poll. Presenting the current certificate
// ends the grace of the one it replaced.
func (s *SQLite) RecordRoomStatus(ctx context.Context, id string, st RoomStatus) error {
	res, err := s.w.ExecContext(ctx, `UPDATE rooms SET firmware = ?, bundle_version = ?, last_seen = ?,
		portal_https_trusted = ?, portal_https_error = ?,
		prev_serial = CASE WHEN cert_serial = ? THEN '' ELSE prev_serial END WHERE id = ?`,
		st.Firmware, int64(st.BundleVersion), nanos(st.At), st.PortalHTTPSTrusted, st.PortalHTTPSError, st.PresentedSerial, id)
	return oneRow("record room status "+id, res, err)
}

// SetRoomCert makes serial the room's current certificate after a renewal. The certificate the
// room authenticated the renewal with (presented) stays accepted as prev_serial until the room
// presents the new one: if the answer is lost and the room renews again with the same
// certificate, that certificate keeps working instead of the never-used one in between.
func (s *SQLite) SetRoomCert(ctx context.Context, id, presented, serial string, notAfter time.Time) error {
	if serial == "" || presented == "" {
		return errors.New("set room certificate: serial is empty")
	}
	res, err := s.w.ExecContext(ctx, `UPDATE rooms SET prev_serial = ?, cert_serial = ?, cert_not_after = ? WHERE id = ?`,
		presented, serial, nanos(notAfter), id)
	return oneRow("set room certificate "+id, res, err)
}

// DeleteRoom revokes every certificate serial of the room and deletes it, in one transaction;
// ErrNotFound for an unknown room.
func (s *SQLite) DeleteRoom(ctx context.Context, id string, at time.Time) error {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return mapErr("delete room", err)
	}
	defer tx.Rollback()
	var cur, prev string
	if err := tx.QueryRowContext(ctx, `SELECT cert_serial, prev_serial FROM rooms WHERE id = ?`, id).Scan(&cur, &prev); err != nil {
		return mapErr("delete room "+id, err)
	}
	for _, serial := range []string{cur, prev} {
		if serial == "" {
			continue
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO revoked_serials (serial, room_id, revoked_at) VALUES (?, ?, ?)
			ON CONFLICT (serial) DO NOTHING`, serial, id, nanos(at)); err != nil {
			return mapErr("delete room "+id+": revoke", err)
		}
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM rooms WHERE id = ?`, id); err != nil {
		return mapErr("delete room "+id, err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("delete room %s: commit: %w", id, err)
	}
	return nil
}

// SerialRevoked reports whether a device certificate serial (hex) was revoked.
func (s *SQLite) SerialRevoked(ctx context.Context, serial string) (bool, error) {
	var n int
	if err := s.r.QueryRowContext(ctx, `SELECT COUNT(*) FROM revoked_serials WHERE serial = ?`, serial).Scan(&n); err != nil {
		return false, mapErr("check revoked serial", err)
	}
	return n > 0, nil
}
