package rooms

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stoa-rooms/stoa/services/api"
)

func TestPanelBook(t *testing.T) {
	var b panelBook
	now := time.Now().UTC()
	ps := []api.RoomPanel{{ID: "a1", Name: "Table", PairedAt: now}, {ID: "b2", Name: "Wall", PairedAt: now}}
	if b.add("room", "a1") {
		t.Fatal("revoked a panel the room never reported")
	}
	b.record("room", ps)
	if !b.add("room", "a1") || b.add("room", "zz") || b.add("other", "a1") {
		t.Fatal("add accepted or refused the wrong panels")
	}
	if got := b.pending("room"); !slices.Equal(got, []string{"a1"}) {
		t.Fatalf("pending %v", got)
	}
	if got := b.list("room"); len(got) != 1 || got[0].ID != "b2" {
		t.Fatalf("a panel being revoked is still listed: %+v", got)
	}
	b.record("room", ps) // the room has not carried it out yet: still pending
	if len(b.pending("room")) != 1 {
		t.Fatal("the revocation was dropped before the room carried it out")
	}
	b.record("room", ps[1:]) // carried out
	if len(b.pending("room")) != 0 || len(b.list("room")) != 1 {
		t.Fatalf("after the room dropped the panel: pending %v list %v", b.pending("room"), b.list("room"))
	}
}

func TestDecodeRoomStatusPanels(t *testing.T) {
	tests := []struct {
		name, body, err string
	}{
		{"ok", `{"panels":[{"id":"0a1b","name":"Table","paired_at":"2026-01-01T00:00:00Z","last_seen":"2026-01-01T00:00:00Z"}]}`, ""},
		{"bad id", `{"panels":[{"id":"../x","name":"T"}]}`, "panel id"},
		{"repeated id", `{"panels":[{"id":"a"},{"id":"a"}]}`, "repeats"},
		{"control character in name", `{"panels":[{"id":"a","name":"x\u0007"}]}`, "printable"},
		{"too many", `{"panels":[` + strings.Repeat(`{"id":"a"},`, api.MaxRoomPanels) + `{"id":"b"}]}`, "more than"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := DecodeRoomStatus([]byte(tc.body))
			if tc.err == "" && err != nil || tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)) {
				t.Fatalf("got %v, want %q", err, tc.err)
			}
		})
	}
}
