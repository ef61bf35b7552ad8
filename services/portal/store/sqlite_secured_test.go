package store

import (
	"context"
	"testing"
	"time"
)

func TestSecuredOption(t *testing.T) {
	s, path := openTest(t)
	ctx := context.Background()
	got, err := s.SecuredOption(ctx)
	if err != nil || got != (SecuredOption{}) {
		t.Fatalf("never changed: %+v %v, want off", got, err)
	}
	if err := s.SetSecuredOption(ctx, SecuredOption{Enabled: true}); err == nil {
		t.Fatal("a change without who and when was stored")
	}
	steps := []SecuredOption{
		{Enabled: true, ChangedBy: "root", ChangedAt: t0},
		{Enabled: false, ChangedBy: "alice", ChangedAt: t0.Add(time.Minute)},
		{Enabled: true, ChangedBy: "bob", ChangedAt: t0.Add(2 * time.Minute)},
	}
	for _, want := range steps {
		t.Run(want.ChangedBy, func(t *testing.T) {
			if err := s.SetSecuredOption(ctx, want); err != nil {
				t.Fatal(err)
			}
			got, err := s.SecuredOption(ctx)
			if err != nil || got.Enabled != want.Enabled || got.ChangedBy != want.ChangedBy || !got.ChangedAt.Equal(want.ChangedAt) {
				t.Fatalf("got %+v %v, want %+v", got, err, want)
			}
		})
	}
	// Reopened: the last change is still there.
	s.Close()
	s2, err := OpenSQLite(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	if got, err := s2.SecuredOption(ctx); err != nil || !got.Enabled || got.ChangedBy != "bob" {
		t.Fatalf("after reopening: %+v %v", got, err)
	}
}
