package rooms

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/stoa-rooms/stoa/services/api"
	"github.com/stoa-rooms/stoa/services/portal/store"
)

// conn is a room's management presence, guarded by Service.cmu.
type conn struct {
	inflight int
	lastEnd  time.Time
	wake     chan struct{} // closed and replaced to end the room's in-flight poll
	// pushes counts wake-ups that must deliver the bundle (a push, a new bundle, an unpair),
	// as opposed to those that only carry news (an update offer, a panel revocation).
	pushes uint64
}

func (s *Service) connLocked(id string) *conn {
	c := s.conns[id]
	if c == nil {
		c = &conn{wake: make(chan struct{})}
		s.conns[id] = c
	}
	return c
}

// wake ends the in-flight poll of room id ("" for every room) so it receives the current bundle.
func (s *Service) wake(id string) { s.wakeFor(id, true) }

// wakeNews ends the in-flight poll of room id so it receives news that is not a bundle (an
// update offer, a panel revocation): the answer carries the bundle only if the room is behind.
func (s *Service) wakeNews(id string) { s.wakeFor(id, false) }

func (s *Service) wakeFor(id string, bundle bool) {
	s.cmu.Lock()
	defer s.cmu.Unlock()
	for rid, c := range s.conns {
		if id == "" || rid == id {
			if bundle {
				c.pushes++
			}
			close(c.wake)
			c.wake = make(chan struct{})
		}
	}
}

// noteAck wakes everyone waiting for acknowledgements.
func (s *Service) noteAck() {
	s.cmu.Lock()
	defer s.cmu.Unlock()
	close(s.acked)
	s.acked = make(chan struct{})
}

func (s *Service) online(r store.Room) bool {
	s.cmu.Lock()
	defer s.cmu.Unlock()
	now := s.o.Now()
	if c := s.conns[r.ID]; c != nil {
		if c.inflight > 0 || now.Sub(c.lastEnd) < OnlineWindow {
			return true
		}
	}
	return !r.LastSeen.IsZero() && now.Sub(r.LastSeen) < OnlineWindow
}

func (s *Service) apiRoom(r store.Room) api.Room {
	return api.Room{
		ID: r.ID, Name: r.Name, Online: s.online(r), LastSeen: r.LastSeen, Firmware: r.Firmware,
		BundleVersion: r.BundleVersion, CertNotAfter: r.CertNotAfter, PortalHTTPSTrusted: r.PortalHTTPSTrusted,
		PortalHTTPSError: r.PortalHTTPSError, Model: r.Model, Serial: r.HWSerial, Hostname: r.Hostname, CreatedAt: r.CreatedAt,
		Panels: s.panels.list(r.ID),
	}
}

// Rooms lists every paired room.
func (s *Service) Rooms(ctx context.Context) ([]api.Room, error) {
	rs, err := s.o.Store.ListRooms(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]api.Room, 0, len(rs))
	for _, r := range rs {
		out = append(out, s.apiRoom(r))
	}
	if err := s.fillUpdates(ctx, out); err != nil {
		return nil, err
	}
	return out, nil
}

// waitAcks waits until every room in ids (all rooms when ids is nil) has acknowledged version,
// or until d passed, and returns the rooms that have not.
func (s *Service) waitAcks(ctx context.Context, version uint64, ids map[string]bool, d time.Duration) ([]store.Room, error) {
	fire, stop := timer(d)
	defer stop()
	for {
		s.cmu.Lock()
		acked := s.acked
		s.cmu.Unlock()
		rs, err := s.o.Store.ListRooms(ctx)
		if err != nil {
			return nil, err
		}
		var behind []store.Room
		for _, r := range rs {
			if (ids == nil || ids[r.ID]) && r.BundleVersion < version {
				behind = append(behind, r)
			}
		}
		if len(behind) == 0 {
			return nil, nil
		}
		select {
		case <-acked:
		case <-fire:
			return behind, nil
		case <-ctx.Done():
			return behind, ctx.Err()
		case <-s.done:
			return behind, nil
		}
	}
}

// HandleList is GET /api/v1/rooms.
func (s *Service) HandleList(w http.ResponseWriter, r *http.Request) {
	rs, err := s.Rooms(r.Context())
	if err != nil {
		s.writeErr(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, rs)
}

func (s *Service) roomParam(r *http.Request) (store.Room, error) {
	id := r.PathValue("id")
	if !validID(id) {
		return store.Room{}, errorf(http.StatusNotFound, "room.unknown", "no room with id %q", id)
	}
	room, err := s.o.Store.RoomByID(r.Context(), id)
	if errors.Is(err, store.ErrNotFound) {
		return store.Room{}, errorf(http.StatusNotFound, "room.unknown", "no room with id %s", id)
	}
	return room, err
}

// HandleRename is PUT /api/v1/rooms/{id}.
func (s *Service) HandleRename(w http.ResponseWriter, r *http.Request) {
	room, err := s.roomParam(r)
	if err != nil {
		s.writeErr(w, r, err)
		return
	}
	req, err := decodeRequest(w, r, DecodeRename)
	if err != nil {
		s.writeErr(w, r, err)
		return
	}
	if err := s.o.Store.RenameRoom(r.Context(), room.ID, req.Name); err != nil {
		s.writeErr(w, r, err)
		return
	}
	s.audit(r, "room.rename", fmt.Sprintf("room=%s from=%q to=%q", room.ID, room.Name, req.Name))
	room.Name = req.Name
	writeJSON(w, http.StatusOK, s.apiRoom(room))
}

// HandleDelete is DELETE /api/v1/rooms/{id}: unpair. The room's certificates are revoked
// and its in-flight poll ends, so its next one is refused and it returns to unpaired.
func (s *Service) HandleDelete(w http.ResponseWriter, r *http.Request) {
	room, err := s.roomParam(r)
	if err != nil {
		s.writeErr(w, r, err)
		return
	}
	if err := s.unpair(r.Context(), room.ID); err != nil {
		s.writeErr(w, r, err)
		return
	}
	s.audit(r, "room.unpair", fmt.Sprintf("room=%s name=%q serial=%s", room.ID, room.Name, room.CertSerial))
	w.WriteHeader(http.StatusNoContent)
}

func (s *Service) unpair(ctx context.Context, id string) error {
	if err := s.o.Store.DeleteRoom(ctx, id, s.o.Now().UTC()); errors.Is(err, store.ErrNotFound) {
		return errorf(http.StatusNotFound, "room.unknown", "no room with id %s", id)
	} else if err != nil {
		return err
	}
	s.wake(id)
	s.o.Log.Info("room unpaired", "room", id)
	return nil
}

// HandlePush is POST /api/v1/rooms/push: re-push the current bundle to one room or all, wait a
// little for acknowledgements and report per room.
func (s *Service) HandlePush(w http.ResponseWriter, r *http.Request) {
	req, err := decodeRequest(w, r, DecodePushRequest)
	if err != nil {
		s.writeErr(w, r, err)
		return
	}
	var ids map[string]bool
	if req.RoomID != "" {
		if _, err := s.o.Store.RoomByID(r.Context(), req.RoomID); errors.Is(err, store.ErrNotFound) {
			s.writeErr(w, r, errorf(http.StatusNotFound, "room.unknown", "no room with id %s", req.RoomID))
			return
		}
		ids = map[string]bool{req.RoomID: true}
	}
	bs, err := s.current(r.Context())
	if err != nil {
		s.writeErr(w, r, err)
		return
	}
	s.wake(req.RoomID)
	res, err := s.pushResult(r.Context(), bs.Bundle.Version, ids, s.o.PushWait)
	if err != nil {
		s.writeErr(w, r, err)
		return
	}
	target := req.RoomID
	if target == "" {
		target = "all"
	}
	s.audit(r, "room.push", fmt.Sprintf("version=%d rooms=%s pending=%s", res.Version, target, pendingIDs(res)))
	writeJSON(w, http.StatusOK, res)
}

func (s *Service) pushResult(ctx context.Context, version uint64, ids map[string]bool, d time.Duration) (api.PushResult, error) {
	behind, err := s.waitAcks(ctx, version, ids, d)
	if err != nil {
		return api.PushResult{}, err
	}
	late := map[string]bool{}
	for _, r := range behind {
		late[r.ID] = true
	}
	rs, err := s.o.Store.ListRooms(ctx)
	if err != nil {
		return api.PushResult{}, err
	}
	res := api.PushResult{Version: version, Rooms: []api.PushedRoom{}}
	for _, r := range rs {
		if ids == nil || ids[r.ID] {
			res.Rooms = append(res.Rooms, api.PushedRoom{ID: r.ID, Acked: !late[r.ID]})
		}
	}
	return res, nil
}

func pendingIDs(res api.PushResult) string {
	var ids []string
	for _, r := range res.Rooms {
		if !r.Acked {
			ids = append(ids, r.ID)
		}
	}
	return "[" + strings.Join(ids, ",") + "]"
}

// HandlePruneRoots is POST /api/v1/rooms/prune-roots: a new bundle version trusting only the
// served certificate's anchor (after a rotation, once every room holds the new root).
func (s *Service) HandlePruneRoots(w http.ResponseWriter, r *http.Request) {
	v, err := s.pruneRoots(r.Context())
	if err != nil {
		s.writeErr(w, r, err)
		return
	}
	res, err := s.pushResult(r.Context(), v, nil, s.o.PushWait)
	if err != nil {
		s.writeErr(w, r, err)
		return
	}
	s.audit(r, "room.prune_roots", fmt.Sprintf("version=%d pending=%s", v, pendingIDs(res)))
	writeJSON(w, http.StatusOK, res)
}

// CertificateChanged ends every room's in-flight poll after the portal's public certificate
// changed, so each room checks the portal's HTTPS against its bundle again and reports the
// result at once instead of at the end of its long-poll.
func (s *Service) CertificateChanged() { s.wake("") }
