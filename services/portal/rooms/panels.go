package rooms

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"

	"github.com/stoa-rooms/stoa/services/api"
)

// panelBook keeps, per room, the touch panels its latest poll reported and the revocations
// not yet carried out. The room is the authority on its panels (it holds their token hashes),
// so this is memory only: a restarted portal learns the list again from the next poll, and a
// revocation is repeated in every poll answer until the room stops reporting the panel.
type panelBook struct {
	mu       sync.Mutex
	reported map[string][]api.RoomPanel // room ID → panels
	revoke   map[string]map[string]bool // room ID → panel IDs to revoke
}

// record stores what room id reported and drops revocations the room has carried out.
func (b *panelBook) record(id string, ps []api.RoomPanel) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.reported == nil {
		b.reported, b.revoke = map[string][]api.RoomPanel{}, map[string]map[string]bool{}
	}
	b.reported[id] = slices.Clone(ps)
	for pid := range b.revoke[id] {
		if !slices.ContainsFunc(ps, func(p api.RoomPanel) bool { return p.ID == pid }) {
			delete(b.revoke[id], pid)
		}
	}
	if len(b.revoke[id]) == 0 {
		delete(b.revoke, id)
	}
}

// list is room id's panels, hiding those being revoked.
func (b *panelBook) list(id string) []api.RoomPanel {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []api.RoomPanel
	for _, p := range b.reported[id] {
		if !b.revoke[id][p.ID] {
			out = append(out, p)
		}
	}
	return out
}

// pending is the revocations room id has yet to carry out, sorted.
func (b *panelBook) pending(id string) []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []string
	for pid := range b.revoke[id] {
		out = append(out, pid)
	}
	slices.Sort(out)
	return out
}

// add queues the revocation of panel pid of room id; false when the room never reported it.
func (b *panelBook) add(id, pid string) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if !slices.ContainsFunc(b.reported[id], func(p api.RoomPanel) bool { return p.ID == pid }) {
		return false
	}
	if b.revoke[id] == nil {
		b.revoke[id] = map[string]bool{}
	}
	b.revoke[id][pid] = true
	return true
}

// command is a poll answer carrying the bundle envelope env (nil: none) and room id's pending
// revocations.
func (s *Service) command(id string, env []byte) api.RoomCommand {
	return api.RoomCommand{Bundle: env, RevokePanels: s.panels.pending(id)}
}

// checkPanels validates the panels a room reports: bounded, short printable names and IDs.
func checkPanels(ps []api.RoomPanel) error {
	if len(ps) > api.MaxRoomPanels {
		return fmt.Errorf("more than %d panels", api.MaxRoomPanels)
	}
	seen := map[string]bool{}
	for _, p := range ps {
		if !validPanelID(p.ID) || seen[p.ID] {
			return fmt.Errorf("panel id %q is not 1-64 letters, digits or dashes, or repeats", p.ID)
		}
		seen[p.ID] = true
		if len(p.Name) > 256 || !utf8.ValidString(p.Name) || strings.IndexFunc(p.Name, unicode.IsControl) >= 0 {
			return fmt.Errorf("panel %s: name is not short printable UTF-8", p.ID)
		}
	}
	return nil
}

func validPanelID(id string) bool {
	if id == "" || len(id) > 64 {
		return false
	}
	for _, r := range id {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-') {
			return false
		}
	}
	return true
}

// HandleRevokePanel is POST /api/v1/rooms/{id}/panels/{panel}/revoke: the room refuses that
// panel's token from its next poll answer on (the in-flight poll ends at once) and closes the
// panel's open connection.
func (s *Service) HandleRevokePanel(w http.ResponseWriter, r *http.Request) {
	room, err := s.roomParam(r)
	if err != nil {
		s.writeErr(w, r, err)
		return
	}
	pid := r.PathValue("panel")
	if !validPanelID(pid) || !s.panels.add(room.ID, pid) {
		s.writeErr(w, r, errorf(http.StatusNotFound, "panel.unknown", "room %s reports no panel %q", room.Name, pid))
		return
	}
	s.wakeNews(room.ID)
	s.audit(r, "room.panel.revoke", fmt.Sprintf("room=%s panel=%s", room.ID, pid))
	w.WriteHeader(http.StatusNoContent)
}
