package store

import (
	"context"
	"time"
)

// UpdateBundle is an uploaded A/B update bundle (the file lives in the data directory).
type UpdateBundle struct {
	Board      string
	Version    string
	Size       int64
	SHA256     string // of the bundle file
	Manifest   []byte // manifest.json's exact bytes
	Signature  []byte // manifest.sig
	UploadedAt time.Time
	UploadedBy string
}

// RoomSystem is the image system a room reported at its latest poll.
type RoomSystem struct {
	Board, Slot, Version string
	OnTrial              bool
	UpdateKey            string
	At                   time.Time
}

// RoomUpdate is a room's update target and its progress.
type RoomUpdate struct {
	RoomID, Board, Version string
	State                  string // api.Update* states
	Bytes, Total           int64
	Error                  string
	StartedBy              string
	StartedAt, ChangedAt   time.Time
}

// Active reports whether the offer stands (the room has neither finished nor failed it).
func (u RoomUpdate) Active() bool {
	return u.State == "offered" || u.State == "downloading" || u.State == "rebooting"
}

// UpdateStore keeps update bundles, rooms' systems and rooms' update targets.
type UpdateStore interface {
	// CreateUpdateBundle stores a bundle's row; ErrConflict when board+version exists.
	CreateUpdateBundle(ctx context.Context, b UpdateBundle) error
	UpdateBundleByID(ctx context.Context, board, version string) (UpdateBundle, error)
	// ListUpdateBundles returns every bundle by board, then upload time (newest first).
	ListUpdateBundles(ctx context.Context) ([]UpdateBundle, error)
	// DeleteUpdateBundle deletes a bundle's row: ErrNotFound when none, ErrConflict while an
	// active update of some room targets it.
	DeleteUpdateBundle(ctx context.Context, board, version string) error

	// SetRoomSystem records a room's system; nil forgets it (the room is off the image).
	SetRoomSystem(ctx context.Context, roomID string, sys *RoomSystem) error
	// RoomSystem returns a room's system, or ErrNotFound when it reports none.
	RoomSystem(ctx context.Context, roomID string) (RoomSystem, error)
	ListRoomSystems(ctx context.Context) (map[string]RoomSystem, error)

	// PutRoomUpdate sets a room's update target and progress (ErrNotFound for an unknown room).
	PutRoomUpdate(ctx context.Context, u RoomUpdate) error
	// RoomUpdate returns a room's latest update, or ErrNotFound.
	RoomUpdate(ctx context.Context, roomID string) (RoomUpdate, error)
	ListRoomUpdates(ctx context.Context) (map[string]RoomUpdate, error)
	// DeleteRoomUpdate forgets a room's update (cancel); no row is no error.
	DeleteRoomUpdate(ctx context.Context, roomID string) error
}
