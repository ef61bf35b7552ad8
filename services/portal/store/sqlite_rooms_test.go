package store

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestRooms(t *testing.T) {
	s, _ := openTest(t)
	ctx := context.Background()
	now := time.Unix(1700000000, 0).UTC()
	r := Room{ID: "r1", Name: "Boardroom", CertSerial: "aa", CertNotAfter: now.Add(90 * 24 * time.Hour), Model: "sim", CreatedAt: now}

	t.Run("create and read back", func(t *testing.T) {
		if err := s.CreateRoom(ctx, r); err != nil {
			t.Fatal(err)
		}
		if err := s.CreateRoom(ctx, r); !errors.Is(err, ErrConflict) {
			t.Fatalf("duplicate room: %v, want ErrConflict", err)
		}
		if err := s.CreateRoom(ctx, Room{ID: "x"}); err == nil {
			t.Fatal("room without name and serial stored")
		}
		got, err := s.RoomByID(ctx, "r1")
		if err != nil || got.Name != "Boardroom" || got.CertSerial != "aa" || !got.CertNotAfter.Equal(r.CertNotAfter) || got.Model != "sim" {
			t.Fatalf("read back %+v, %v", got, err)
		}
		if _, err := s.RoomByID(ctx, "nope"); !errors.Is(err, ErrNotFound) {
			t.Fatalf("unknown room: %v", err)
		}
	})
	t.Run("rename", func(t *testing.T) {
		if err := s.RenameRoom(ctx, "r1", "Lobby"); err != nil {
			t.Fatal(err)
		}
		if err := s.RenameRoom(ctx, "nope", "x"); !errors.Is(err, ErrNotFound) {
			t.Fatalf("rename unknown: %v", err)
		}
		if got, _ := s.RoomByID(ctx, "r1"); got.Name != "Lobby" {
			t.Fatalf("name %q", got.Name)
		}
	})
	t.Run("renew keeps the old serial until the new one is presented", func(t *testing.T) {
		if err := s.SetRoomCert(ctx, "r1", "aa", "bb", now.Add(100*24*time.Hour)); err != nil {
			t.Fatal(err)
		}
		got, _ := s.RoomByID(ctx, "r1")
		if got.CertSerial != "bb" || got.PrevSerial != "aa" {
			t.Fatalf("after renew %+v", got)
		}
		st := RoomStatus{At: now, Firmware: "1.2", BundleVersion: 3, PortalHTTPSTrusted: true, PresentedSerial: "aa"}
		if err := s.RecordRoomStatus(ctx, "r1", st); err != nil {
			t.Fatal(err)
		}
		if got, _ := s.RoomByID(ctx, "r1"); got.PrevSerial != "aa" || got.BundleVersion != 3 || !got.LastSeen.Equal(now) || !got.PortalHTTPSTrusted {
			t.Fatalf("old cert presented: %+v", got)
		}
		st.PresentedSerial = "bb"
		if err := s.RecordRoomStatus(ctx, "r1", st); err != nil {
			t.Fatal(err)
		}
		if got, _ := s.RoomByID(ctx, "r1"); got.PrevSerial != "" {
			t.Fatalf("new cert presented, previous still accepted: %+v", got)
		}
	})
	t.Run("a lost renewal answer keeps the presented certificate", func(t *testing.T) {
		// The room holds "bb" (current), renews: "x1" is issued but never reaches it; it renews
		// again with "bb": "bb" must stay accepted beside the newest certificate.
		if err := s.SetRoomCert(ctx, "r1", "bb", "x1", now); err != nil {
			t.Fatal(err)
		}
		if err := s.SetRoomCert(ctx, "r1", "bb", "x2", now); err != nil {
			t.Fatal(err)
		}
		if got, _ := s.RoomByID(ctx, "r1"); got.CertSerial != "x2" || got.PrevSerial != "bb" {
			t.Fatalf("after two renewals with the same certificate: %+v", got)
		}
		if err := s.SetRoomCert(ctx, "r1", "bb", "", now); err == nil {
			t.Fatal("empty serial accepted")
		}
	})
	t.Run("delete revokes", func(t *testing.T) {
		if err := s.SetRoomCert(ctx, "r1", "bb", "cc", now); err != nil {
			t.Fatal(err)
		}
		if err := s.DeleteRoom(ctx, "r1", now); err != nil {
			t.Fatal(err)
		}
		for _, serial := range []string{"bb", "cc"} {
			if rev, err := s.SerialRevoked(ctx, serial); err != nil || !rev {
				t.Fatalf("serial %s revoked=%v %v", serial, rev, err)
			}
		}
		if rev, _ := s.SerialRevoked(ctx, "zz"); rev {
			t.Fatal("unknown serial reported revoked")
		}
		if err := s.DeleteRoom(ctx, "r1", now); !errors.Is(err, ErrNotFound) {
			t.Fatalf("delete twice: %v", err)
		}
		if rs, err := s.ListRooms(ctx); err != nil || len(rs) != 0 {
			t.Fatalf("rooms after delete: %v %v", rs, err)
		}
	})
}
