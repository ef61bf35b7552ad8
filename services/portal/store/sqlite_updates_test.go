package store

import (
	"context"
	"errors"
	"testing"
	"time"
)

// TestUpdates: bundles (unique per board+version, not deletable while offered), room systems
// and room update targets (gone with the room).
func TestUpdates(t *testing.T) {
	s, _ := openTest(t)
	ctx := context.Background()
	now := time.Unix(1700000000, 0).UTC()
	if err := s.CreateRoom(ctx, Room{ID: "r1", Name: "Boardroom", CertSerial: "aa", CreatedAt: now}); err != nil {
		t.Fatal(err)
	}
	b := UpdateBundle{Board: "pc", Version: "u2", Size: 10, SHA256: "ab", Manifest: []byte("{}"), Signature: []byte("sig"), UploadedAt: now, UploadedBy: "admin"}

	t.Run("bundles", func(t *testing.T) {
		if err := s.CreateUpdateBundle(ctx, b); err != nil {
			t.Fatal(err)
		}
		if err := s.CreateUpdateBundle(ctx, b); !errors.Is(err, ErrConflict) {
			t.Fatalf("duplicate: %v, want ErrConflict", err)
		}
		if err := s.CreateUpdateBundle(ctx, UpdateBundle{Board: "pc"}); err == nil {
			t.Fatal("incomplete bundle stored")
		}
		got, err := s.UpdateBundleByID(ctx, "pc", "u2")
		if err != nil || got.Size != 10 || string(got.Signature) != "sig" || !got.UploadedAt.Equal(now) {
			t.Fatalf("read back %+v %v", got, err)
		}
		if _, err := s.UpdateBundleByID(ctx, "rpi4", "u2"); !errors.Is(err, ErrNotFound) {
			t.Fatalf("other board: %v", err)
		}
		if l, err := s.ListUpdateBundles(ctx); err != nil || len(l) != 1 {
			t.Fatalf("list %v %v", l, err)
		}
	})
	t.Run("system", func(t *testing.T) {
		if _, err := s.RoomSystem(ctx, "r1"); !errors.Is(err, ErrNotFound) {
			t.Fatalf("no system yet: %v", err)
		}
		sys := RoomSystem{Board: "pc", Slot: "a", Version: "u1", UpdateKey: "k", At: now}
		if err := s.SetRoomSystem(ctx, "r1", &sys); err != nil {
			t.Fatal(err)
		}
		sys.Slot = "b"
		if err := s.SetRoomSystem(ctx, "r1", &sys); err != nil {
			t.Fatal(err)
		}
		if got, err := s.RoomSystem(ctx, "r1"); err != nil || got.Slot != "b" {
			t.Fatalf("read back %+v %v", got, err)
		}
		if err := s.SetRoomSystem(ctx, "nope", &sys); !errors.Is(err, ErrNotFound) {
			t.Fatalf("unknown room: %v", err)
		}
	})
	t.Run("update target holds the bundle", func(t *testing.T) {
		u := RoomUpdate{RoomID: "r1", Board: "pc", Version: "u2", State: "offered", StartedBy: "admin", StartedAt: now, ChangedAt: now}
		if err := s.PutRoomUpdate(ctx, u); err != nil {
			t.Fatal(err)
		}
		if err := s.PutRoomUpdate(ctx, RoomUpdate{RoomID: "r1", Version: "u2", State: "bogus", StartedAt: now, ChangedAt: now}); err == nil {
			t.Fatal("unknown state stored")
		}
		if err := s.DeleteUpdateBundle(ctx, "pc", "u2"); !errors.Is(err, ErrConflict) {
			t.Fatalf("delete offered bundle: %v, want ErrConflict", err)
		}
		u.State, u.Error = "failed", "no"
		if err := s.PutRoomUpdate(ctx, u); err != nil {
			t.Fatal(err)
		}
		if got, err := s.RoomUpdate(ctx, "r1"); err != nil || got.State != "failed" || got.Error != "no" {
			t.Fatalf("read back %+v %v", got, err)
		}
		if err := s.DeleteUpdateBundle(ctx, "pc", "u2"); err != nil {
			t.Fatalf("delete bundle no longer offered: %v", err)
		}
		if err := s.DeleteUpdateBundle(ctx, "pc", "u2"); !errors.Is(err, ErrNotFound) {
			t.Fatalf("delete twice: %v", err)
		}
	})
	t.Run("deleting the room deletes its system and update", func(t *testing.T) {
		if err := s.DeleteRoom(ctx, "r1", now); err != nil {
			t.Fatal(err)
		}
		sys, _ := s.ListRoomSystems(ctx)
		ups, _ := s.ListRoomUpdates(ctx)
		if len(sys) != 0 || len(ups) != 0 {
			t.Fatalf("left behind: %v %v", sys, ups)
		}
	})
}
