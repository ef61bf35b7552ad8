package store

import (
	"context"
	"database/sql"
	"errors"
)

const meetingCols = `m.id, m.name, m.pin_hash, m.owner_id, u.name, m.created_at`
const meetingFrom = ` FROM meetings m JOIN users u ON u.id = m.owner_id`

func scanMeeting(row interface{ Scan(...any) error }) (Meeting, error) {
	var m Meeting
	var created sql.NullInt64
	if err := row.Scan(&m.ID, &m.Name, &m.PINHash, &m.OwnerID, &m.OwnerName, &created); err != nil {
		return Meeting{}, err
	}
	m.CreatedAt = fromNanos(created)
	return m, nil
}

// CreateMeeting stores a new meeting; ErrConflict when the ID is taken.
func (s *SQLite) CreateMeeting(ctx context.Context, m Meeting) error {
	if m.ID == "" || m.Name == "" || m.OwnerID == 0 || m.CreatedAt.IsZero() {
		return errors.New("create meeting: ID, name, owner and creation time are required")
	}
	_, err := s.w.ExecContext(ctx, `INSERT INTO meetings (id, name, pin_hash, owner_id, created_at) VALUES (?, ?, ?, ?, ?)`,
		m.ID, m.Name, m.PINHash, m.OwnerID, nanos(m.CreatedAt))
	return mapErr("create meeting "+m.ID, err)
}

// MeetingByID returns the meeting, or ErrNotFound.
func (s *SQLite) MeetingByID(ctx context.Context, id string) (Meeting, error) {
	m, err := scanMeeting(s.r.QueryRowContext(ctx, `SELECT `+meetingCols+meetingFrom+` WHERE m.id = ?`, id))
	return m, mapErr("look up meeting", err)
}

// ListMeetings returns ownerID's meetings (every meeting for 0), by name then ID.
func (s *SQLite) ListMeetings(ctx context.Context, ownerID int64) ([]Meeting, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT `+meetingCols+meetingFrom+` WHERE ? = 0 OR m.owner_id = ? ORDER BY m.name, m.id`, ownerID, ownerID)
	if err != nil {
		return nil, mapErr("list meetings", err)
	}
	defer rows.Close()
	var ms []Meeting
	for rows.Next() {
		m, err := scanMeeting(rows)
		if err != nil {
			return nil, mapErr("list meetings", err)
		}
		ms = append(ms, m)
	}
	return ms, mapErr("list meetings", rows.Err())
}

// UpdateMeeting sets a meeting's name and PIN hash; ErrNotFound for an unknown meeting.
func (s *SQLite) UpdateMeeting(ctx context.Context, id, name, pinHash string) error {
	if name == "" {
		return errors.New("update meeting: name is required")
	}
	res, err := s.w.ExecContext(ctx, `UPDATE meetings SET name = ?, pin_hash = ? WHERE id = ?`, name, pinHash, id)
	return affectedOne("update meeting "+id, res, err)
}

// DeleteMeeting deletes a meeting; rooms using it as default lose it (ON DELETE SET NULL).
func (s *SQLite) DeleteMeeting(ctx context.Context, id string) error {
	res, err := s.w.ExecContext(ctx, `DELETE FROM meetings WHERE id = ?`, id)
	return affectedOne("delete meeting "+id, res, err)
}

// SetRoomMeeting sets or clears ("") a room's default meeting. ErrNotFound when the room or
// the meeting does not exist.
func (s *SQLite) SetRoomMeeting(ctx context.Context, roomID, meetingID string) error {
	var v any
	if meetingID != "" {
		v = meetingID
		if _, err := s.MeetingByID(ctx, meetingID); err != nil {
			return err
		}
	}
	res, err := s.w.ExecContext(ctx, `UPDATE rooms SET default_meeting = ? WHERE id = ?`, v, roomID)
	return affectedOne("set default meeting of room "+roomID, res, err)
}

// RoomMeeting returns a room's default meeting ID ("" when none), or ErrNotFound.
func (s *SQLite) RoomMeeting(ctx context.Context, roomID string) (string, error) {
	var id sql.NullString
	err := s.r.QueryRowContext(ctx, `SELECT default_meeting FROM rooms WHERE id = ?`, roomID).Scan(&id)
	return id.String, mapErr("look up default meeting of room "+roomID, err)
}

// affectedOne maps an UPDATE/DELETE that touched no row to ErrNotFound.
func affectedOne(action string, res sql.Result, err error) error {
	if err != nil {
		return mapErr(action, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return mapErr(action, err)
	}
	if n == 0 {
		return mapErr(action, sql.ErrNoRows)
	}
	return nil
}
