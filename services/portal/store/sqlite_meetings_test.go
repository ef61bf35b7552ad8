package store

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestMeetings(t *testing.T) {
	s, _ := openTest(t)
	ctx := context.Background()
	now := time.Unix(1700000000, 0).UTC()
	alice, err := s.CreateUser(ctx, User{Name: "alice", Role: RoleUser, PasswordHash: "h"})
	if err != nil {
		t.Fatal(err)
	}
	bob, err := s.CreateUser(ctx, User{Name: "bob", Role: RoleUser, PasswordHash: "h"})
	if err != nil {
		t.Fatal(err)
	}
	m1 := Meeting{ID: "1234567890", Name: "Standup", PINHash: "$argon2id$x", OwnerID: alice.ID, CreatedAt: now}
	m2 := Meeting{ID: "2222222222", Name: "Review", OwnerID: bob.ID, CreatedAt: now}

	t.Run("create and read back", func(t *testing.T) {
		for _, m := range []Meeting{m1, m2} {
			if err := s.CreateMeeting(ctx, m); err != nil {
				t.Fatal(err)
			}
		}
		if err := s.CreateMeeting(ctx, m1); !errors.Is(err, ErrConflict) {
			t.Fatalf("duplicate: %v, want ErrConflict", err)
		}
		if err := s.CreateMeeting(ctx, Meeting{ID: "3", Name: "x", OwnerID: 999, CreatedAt: now}); err == nil {
			t.Fatal("meeting of an unknown owner stored")
		}
		if err := s.CreateMeeting(ctx, Meeting{ID: "4"}); err == nil {
			t.Fatal("meeting without name stored")
		}
		got, err := s.MeetingByID(ctx, m1.ID)
		if err != nil || got.Name != "Standup" || got.PINHash != m1.PINHash || got.OwnerName != "alice" || !got.CreatedAt.Equal(now) {
			t.Fatalf("read back %+v, %v", got, err)
		}
		if _, err := s.MeetingByID(ctx, "0000000000"); !errors.Is(err, ErrNotFound) {
			t.Fatalf("unknown meeting: %v", err)
		}
	})
	t.Run("list own and all", func(t *testing.T) {
		for _, tc := range []struct {
			name  string
			owner int64
			want  []string
		}{{"alice", alice.ID, []string{m1.ID}}, {"bob", bob.ID, []string{m2.ID}}, {"all", 0, []string{m2.ID, m1.ID}}} {
			t.Run(tc.name, func(t *testing.T) {
				ms, err := s.ListMeetings(ctx, tc.owner)
				if err != nil || len(ms) != len(tc.want) {
					t.Fatalf("list = %+v, %v", ms, err)
				}
				for i := range ms {
					if ms[i].ID != tc.want[i] {
						t.Fatalf("list[%d] = %s, want %s", i, ms[i].ID, tc.want[i])
					}
				}
			})
		}
	})
	t.Run("update", func(t *testing.T) {
		if err := s.UpdateMeeting(ctx, m1.ID, "Daily", ""); err != nil {
			t.Fatal(err)
		}
		got, _ := s.MeetingByID(ctx, m1.ID)
		if got.Name != "Daily" || got.PINHash != "" {
			t.Fatalf("after update %+v", got)
		}
		if err := s.UpdateMeeting(ctx, "0000000000", "x", ""); !errors.Is(err, ErrNotFound) {
			t.Fatalf("update unknown: %v", err)
		}
		if err := s.UpdateMeeting(ctx, m1.ID, "", ""); err == nil {
			t.Fatal("empty name accepted")
		}
	})
	t.Run("room default meeting is cleared with the meeting", func(t *testing.T) {
		if err := s.CreateRoom(ctx, Room{ID: "r1", Name: "Boardroom", CertSerial: "aa", CreatedAt: now}); err != nil {
			t.Fatal(err)
		}
		if id, err := s.RoomMeeting(ctx, "r1"); err != nil || id != "" {
			t.Fatalf("fresh room meeting %q, %v", id, err)
		}
		if err := s.SetRoomMeeting(ctx, "r1", "0000000000"); !errors.Is(err, ErrNotFound) {
			t.Fatalf("unknown meeting: %v", err)
		}
		if err := s.SetRoomMeeting(ctx, "nope", m2.ID); !errors.Is(err, ErrNotFound) {
			t.Fatalf("unknown room: %v", err)
		}
		if err := s.SetRoomMeeting(ctx, "r1", m2.ID); err != nil {
			t.Fatal(err)
		}
		if id, err := s.RoomMeeting(ctx, "r1"); err != nil || id != m2.ID {
			t.Fatalf("room meeting %q, %v", id, err)
		}
		if err := s.DeleteMeeting(ctx, m2.ID); err != nil {
			t.Fatal(err)
		}
		if err := s.DeleteMeeting(ctx, m2.ID); !errors.Is(err, ErrNotFound) {
			t.Fatalf("second delete: %v", err)
		}
		if id, err := s.RoomMeeting(ctx, "r1"); err != nil || id != "" {
			t.Fatalf("after delete room meeting %q, %v", id, err)
		}
	})
}
