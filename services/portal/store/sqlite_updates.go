package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
)

// CreateUpdateBundle implements UpdateStore.
func (s *SQLite) CreateUpdateBundle(ctx context.Context, b UpdateBundle) error {
	if b.Board == "" || b.Version == "" || b.SHA256 == "" || len(b.Manifest) == 0 || b.UploadedAt.IsZero() {
		return errors.New("create update bundle: board, version, digest, manifest and upload time are required")
	}
	_, err := s.w.ExecContext(ctx, `INSERT INTO update_bundles (board, version, size, sha256, manifest, signature, uploaded_at, uploaded_by)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)`, b.Board, b.Version, b.Size, b.SHA256, b.Manifest, b.Signature, nanos(b.UploadedAt), b.UploadedBy)
	return mapErr("create update bundle "+b.Board+"/"+b.Version, err)
}

const bundleCols = `board, version, size, sha256, manifest, signature, uploaded_at, uploaded_by`

func scanBundle(row interface{ Scan(...any) error }) (UpdateBundle, error) {
	var b UpdateBundle
	var at sql.NullInt64
	if err := row.Scan(&b.Board, &b.Version, &b.Size, &b.SHA256, &b.Manifest, &b.Signature, &at, &b.UploadedBy); err != nil {
		return UpdateBundle{}, err
	}
	b.UploadedAt = fromNanos(at)
	return b, nil
}

// UpdateBundleByID implements UpdateStore.
func (s *SQLite) UpdateBundleByID(ctx context.Context, board, version string) (UpdateBundle, error) {
	b, err := scanBundle(s.r.QueryRowContext(ctx, `SELECT `+bundleCols+` FROM update_bundles WHERE board = ? AND version = ?`, board, version))
	return b, mapErr("look up update bundle", err)
}

// ListUpdateBundles implements UpdateStore.
func (s *SQLite) ListUpdateBundles(ctx context.Context) ([]UpdateBundle, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT `+bundleCols+` FROM update_bundles ORDER BY board, uploaded_at DESC, version`)
	if err != nil {
		return nil, mapErr("list update bundles", err)
	}
	defer rows.Close()
	var out []UpdateBundle
	for rows.Next() {
		b, err := scanBundle(rows)
		if err != nil {
			return nil, mapErr("list update bundles", err)
		}
		out = append(out, b)
	}
	return out, mapErr("list update bundles", rows.Err())
}

// DeleteUpdateBundle implements UpdateStore.
func (s *SQLite) DeleteUpdateBundle(ctx context.Context, board, version string) error {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return mapErr("delete update bundle", err)
	}
	defer tx.Rollback()
	var n int
	if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM room_updates WHERE board = ? AND version = ?
		AND state IN ('offered', 'downloading', 'rebooting')`, board, version).Scan(&n); err != nil {
		return mapErr("delete update bundle", err)
	}
	if n > 0 {
		return fmt.Errorf("delete update bundle %s/%s: offered to %d room(s): %w", board, version, n, ErrConflict)
	}
	res, err := tx.ExecContext(ctx, `DELETE FROM update_bundles WHERE board = ? AND version = ?`, board, version)
	if err := oneRow("delete update bundle "+board+"/"+version, res, err); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("delete update bundle: commit: %w", err)
	}
	return nil
}

// SetRoomSystem implements UpdateStore.
func (s *SQLite) SetRoomSystem(ctx context.Context, roomID string, sys *RoomSystem) error {
	if sys == nil {
		_, err := s.w.ExecContext(ctx, `DELETE FROM room_systems WHERE room_id = ?`, roomID)
		return mapErr("forget room system", err)
	}
	_, err := s.w.ExecContext(ctx, `INSERT INTO room_systems (room_id, board, slot, version, on_trial, update_key, reported_at)
		VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (room_id) DO UPDATE SET board = excluded.board, slot = excluded.slot,
		version = excluded.version, on_trial = excluded.on_trial, update_key = excluded.update_key, reported_at = excluded.reported_at`,
		roomID, sys.Board, sys.Slot, sys.Version, sys.OnTrial, sys.UpdateKey, nanos(sys.At))
	return mapErr("record room system", err)
}

const systemCols = `room_id, board, slot, version, on_trial, update_key, reported_at`

func scanSystem(row interface{ Scan(...any) error }) (string, RoomSystem, error) {
	var id string
	var sys RoomSystem
	var at sql.NullInt64
	if err := row.Scan(&id, &sys.Board, &sys.Slot, &sys.Version, &sys.OnTrial, &sys.UpdateKey, &at); err != nil {
		return "", RoomSystem{}, err
	}
	sys.At = fromNanos(at)
	return id, sys, nil
}

// RoomSystem implements UpdateStore.
func (s *SQLite) RoomSystem(ctx context.Context, roomID string) (RoomSystem, error) {
	_, sys, err := scanSystem(s.r.QueryRowContext(ctx, `SELECT `+systemCols+` FROM room_systems WHERE room_id = ?`, roomID))
	return sys, mapErr("look up room system", err)
}

// ListRoomSystems implements UpdateStore.
func (s *SQLite) ListRoomSystems(ctx context.Context) (map[string]RoomSystem, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT `+systemCols+` FROM room_systems`)
	if err != nil {
		return nil, mapErr("list room systems", err)
	}
	defer rows.Close()
	out := map[string]RoomSystem{}
	for rows.Next() {
		id, sys, err := scanSystem(rows)
		if err != nil {
			return nil, mapErr("list room systems", err)
		}
		out[id] = sys
	}
	return out, mapErr("list room systems", rows.Err())
}

// PutRoomUpdate implements UpdateStore.
func (s *SQLite) PutRoomUpdate(ctx context.Context, u RoomUpdate) error {
	if u.RoomID == "" || u.Version == "" || u.State == "" || u.StartedAt.IsZero() || u.ChangedAt.IsZero() {
		return errors.New("store room update: room, version, state and times are required")
	}
	_, err := s.w.ExecContext(ctx, `INSERT INTO room_updates (room_id, board, version, state, bytes, total, error, started_by, started_at, changed_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (room_id) DO UPDATE SET board = excluded.board, version = excluded.version,
		state = excluded.state, bytes = excluded.bytes, total = excluded.total, error = excluded.error,
		started_by = excluded.started_by, started_at = excluded.started_at, changed_at = excluded.changed_at`,
		u.RoomID, u.Board, u.Version, u.State, u.Bytes, u.Total, u.Error, u.StartedBy, nanos(u.StartedAt), nanos(u.ChangedAt))
	return mapErr("store room update "+u.RoomID, err)
}

const roomUpdateCols = `room_id, board, version, state, bytes, total, error, started_by, started_at, changed_at`

func scanRoomUpdate(row interface{ Scan(...any) error }) (RoomUpdate, error) {
	var u RoomUpdate
	var started, changed sql.NullInt64
	if err := row.Scan(&u.RoomID, &u.Board, &u.Version, &u.State, &u.Bytes, &u.Total, &u.Error, &u.StartedBy, &started, &changed); err != nil {
		return RoomUpdate{}, err
	}
	u.StartedAt, u.ChangedAt = fromNanos(started), fromNanos(changed)
	return u, nil
}

// RoomUpdate implements UpdateStore.
func (s *SQLite) RoomUpdate(ctx context.Context, roomID string) (RoomUpdate, error) {
	u, err := scanRoomUpdate(s.r.QueryRowContext(ctx, `SELECT `+roomUpdateCols+` FROM room_updates WHERE room_id = ?`, roomID))
	return u, mapErr("look up room update", err)
}

// ListRoomUpdates implements UpdateStore.
func (s *SQLite) ListRoomUpdates(ctx context.Context) (map[string]RoomUpdate, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT `+roomUpdateCols+` FROM room_updates`)
	if err != nil {
		return nil, mapErr("list room updates", err)
	}
	defer rows.Close()
	out := map[string]RoomUpdate{}
	for rows.Next() {
		u, err := scanRoomUpdate(rows)
		if err != nil {
			return nil, mapErr("list room updates", err)
		}
		out[u.RoomID] = u
	}
	return out, mapErr("list room updates", rows.Err())
}

// DeleteRoomUpdate implements UpdateStore.
func (s *SQLite) DeleteRoomUpdate(ctx context.Context, roomID string) error {
	_, err := s.w.ExecContext(ctx, `DELETE FROM room_updates WHERE room_id = ?`, roomID)
	return mapErr("delete room update", err)
}
