package rooms

import (
	"cmp"
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"sync"
	"time"

	"github.com/stoa-rooms/stoa/rootfs/update"
	"github.com/stoa-rooms/stoa/services/api"
	"github.com/stoa-rooms/stoa/services/portal/auth"
	"github.com/stoa-rooms/stoa/services/portal/store"
	"github.com/stoa-rooms/stoa/services/portal/updates"
)

// UpdatePathPrefix is where a room fetches the bundle it is offered (management listener).
const UpdatePathPrefix = "/api/v1/room/update/"

// offerRepeat spaces the poll answers that return at once only to hand out an offer, so a
// room that takes no notice of offers cannot turn its long-poll into a busy loop.
const offerRepeat = 5 * time.Second

// offerBook remembers when each room last got an offer in an immediate answer (memory only).
type offerBook struct {
	mu   sync.Mutex
	last map[string]time.Time
}

// due reports whether room id may get an immediate answer now, and notes it.
func (b *offerBook) due(id string, now time.Time) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.last == nil {
		b.last = map[string]time.Time{}
	}
	if t, ok := b.last[id]; ok && now.Sub(t) < offerRepeat && now.After(t) {
		return false
	}
	b.last[id] = now
	return true
}

// ParseUpdateKey reads a room's reported update key: hex (what roomd reports) or the image's
// base64 form of the Ed25519 public key.
func ParseUpdateKey(s string) (ed25519.PublicKey, error) {
	if b, err := hex.DecodeString(s); err == nil && len(b) == ed25519.PublicKeySize {
		return b, nil
	}
	if b, err := base64.StdEncoding.DecodeString(s); err == nil && len(b) == ed25519.PublicKeySize {
		return b, nil
	}
	return nil, errors.New("not an Ed25519 public key in hex")
}

// pollUpdate records what a poll says about the room's system and its update, moves the
// room's update along, and returns the offer that stands (nil: none) and whether the poll
// should be answered at once to hand it over.
func (s *Service) pollUpdate(r *http.Request, room store.Room, st api.RoomStatus) (*api.UpdateOffer, bool, error) {
	ctx := r.Context()
	now := s.o.Now().UTC()
	var sys *store.RoomSystem
	if st.System != nil {
		sys = &store.RoomSystem{Board: st.System.Board, Slot: st.System.Slot, Version: st.System.Version,
			OnTrial: st.System.OnTrial, UpdateKey: st.System.UpdateKey, At: now}
	}
	if err := s.o.Store.SetRoomSystem(ctx, room.ID, sys); err != nil {
		return nil, false, err
	}
	u, err := s.o.Store.RoomUpdate(ctx, room.ID)
	if errors.Is(err, store.ErrNotFound) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	if next, changed := advance(u, st); changed {
		next.ChangedAt = now
		if err := s.o.Store.PutRoomUpdate(ctx, next); err != nil {
			return nil, false, err
		}
		if next.State != u.State {
			s.o.Log.Info("room update", "room", room.ID, "version", next.Version, "state", next.State, "error", next.Error)
			if next.State == api.UpdateDone || next.State == api.UpdateFailed {
				s.auditAs(r, "room:"+room.ID, "room.update."+next.State, fmt.Sprintf("room=%s version=%s error=%q", room.ID, next.Version, next.Error))
			}
		}
		u = next
	}
	offer, err := s.offerFor(ctx, u)
	if err != nil || offer == nil {
		return nil, false, err
	}
	// Answer at once only while the room shows no sign of having the offer (it reports
	// nothing about this version yet), and not more often than offerRepeat.
	now2 := s.o.Now()
	immediate := st.System != nil && (st.Update == nil || st.Update.Version != u.Version) && s.updates.due(room.ID, now2)
	return offer, immediate, nil
}

// advance applies a room's report to its update: done once it runs the version, the room's
// progress while the offer stands, failed when the room says so (also after "done": a trial
// boot that did not become healthy rolls back).
func advance(u store.RoomUpdate, st api.RoomStatus) (store.RoomUpdate, bool) {
	next := u
	rep := st.Update
	mine := rep != nil && rep.Version == u.Version
	switch {
	case mine && rep.State == api.UpdateFailed && (u.Active() || u.State == api.UpdateDone):
		next.State, next.Error = api.UpdateFailed, rep.Error
		if next.Error == "" {
			next.Error = "the room reported the update failed without a reason"
		}
	case !u.Active():
	case st.System != nil && st.System.Version == u.Version:
		next.State, next.Error = api.UpdateDone, ""
		if next.Total > 0 {
			next.Bytes = next.Total
		}
	case mine && rep.State == api.UpdateDownloading:
		next.State, next.Bytes, next.Total = api.UpdateDownloading, rep.Bytes, rep.Total
	case mine && rep.State == api.UpdateRebooting:
		next.State = api.UpdateRebooting
		if next.Total > 0 {
			next.Bytes = next.Total
		}
	}
	changed := next.State != u.State || next.Bytes != u.Bytes || next.Total != u.Total || next.Error != u.Error
	return next, changed
}

// offerFor is the offer of u while it stands.
func (s *Service) offerFor(ctx context.Context, u store.RoomUpdate) (*api.UpdateOffer, error) {
	if !u.Active() {
		return nil, nil
	}
	b, err := s.o.Store.UpdateBundleByID(ctx, u.Board, u.Version)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil // the store refuses to delete an offered bundle; be safe anyway
	}
	if err != nil {
		return nil, err
	}
	return &api.UpdateOffer{Version: b.Version, Board: b.Board, Size: b.Size, SHA256: b.SHA256,
		Path: UpdatePathPrefix + url.PathEscape(b.Version)}, nil
}

// currentOffer is room id's standing offer, read afresh (for answers after a wait).
func (s *Service) currentOffer(ctx context.Context, id string) (*api.UpdateOffer, error) {
	u, err := s.o.Store.RoomUpdate(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return s.offerFor(ctx, u)
}

// HandleStartUpdate is POST /api/v1/rooms/{id}/update (admin): offer the room the bundle of
// that version for its board, or with version "" withdraw the offer. Refused, with nothing
// stored, when the room is not on the image, the bundle is for another board or missing, the
// version already runs, the room is already installing another version, or the bundle is not
// signed by the key the room trusts.
func (s *Service) HandleStartUpdate(w http.ResponseWriter, r *http.Request) {
	room, err := s.roomParam(r)
	if err != nil {
		s.writeErr(w, r, err)
		return
	}
	req, err := decodeRequest(w, r, DecodeStartUpdate)
	if err != nil {
		s.writeErr(w, r, err)
		return
	}
	ctx := r.Context()
	if req.Version == "" {
		if err := s.cancelUpdate(r, room); err != nil {
			s.writeErr(w, r, err)
			return
		}
	} else if err := s.startUpdate(r, room, req.Version); err != nil {
		s.writeErr(w, r, err)
		return
	}
	s.wakeNews(room.ID)
	out := []api.Room{s.apiRoom(room)}
	if err := s.fillUpdates(ctx, out); err != nil {
		s.writeErr(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, out[0])
}

func (s *Service) startUpdate(r *http.Request, room store.Room, version string) error {
	ctx := r.Context()
	sys, err := s.o.Store.RoomSystem(ctx, room.ID)
	if errors.Is(err, store.ErrNotFound) {
		return errorf(http.StatusConflict, "room.no_system", "room %s reports no appliance image system (board, slot, version): it does not run the Stoa image and cannot be updated", room.Name)
	}
	if err != nil {
		return err
	}
	if sys.Version == version {
		return errorf(http.StatusConflict, "update.running", "room %s already runs version %s", room.Name, version)
	}
	b, err := s.o.Store.UpdateBundleByID(ctx, sys.Board, version)
	if errors.Is(err, store.ErrNotFound) {
		if others, lerr := s.boardsWith(ctx, version); lerr == nil && len(others) > 0 {
			return errorf(http.StatusConflict, "update.board", "the bundle of version %s is for board %v, but room %s runs board %s", version, others, room.Name, sys.Board)
		}
		return errorf(http.StatusNotFound, "update.unknown", "no bundle of version %s for board %s is stored", version, sys.Board)
	}
	if err != nil {
		return err
	}
	pub, err := ParseUpdateKey(sys.UpdateKey)
	if err != nil {
		return errorf(http.StatusConflict, "update.key", "room %s reports no usable update key (%v)", room.Name, err)
	}
	if _, err := update.VerifyManifest(pub, b.Manifest, b.Signature); err != nil {
		return errorf(http.StatusConflict, "update.key", "bundle %s for %s is not signed by the update key this room trusts", version, sys.Board)
	}
	cur, err := s.o.Store.RoomUpdate(ctx, room.ID)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return err
	}
	if err == nil && cur.Version != version && (cur.State == api.UpdateDownloading || cur.State == api.UpdateRebooting) {
		return errorf(http.StatusConflict, "update.busy", "room %s is installing version %s (%s); wait for it or cancel it first", room.Name, cur.Version, cur.State)
	}
	now := s.o.Now().UTC()
	u := store.RoomUpdate{RoomID: room.ID, Board: b.Board, Version: b.Version, State: api.UpdateOffered,
		StartedBy: cmp.Or(auth.UserName(r), "unknown"), StartedAt: now, ChangedAt: now}
	if err := s.o.Store.PutRoomUpdate(ctx, u); errors.Is(err, store.ErrNotFound) {
		return errorf(http.StatusNotFound, "room.unknown", "no room with id %s", room.ID)
	} else if err != nil {
		return err
	}
	s.audit(r, "room.update.start", fmt.Sprintf("room=%s board=%s version=%s from=%s", room.ID, b.Board, b.Version, sys.Version))
	return nil
}

// cancelUpdate withdraws the room's offer; an install already written (rebooting) cannot be.
func (s *Service) cancelUpdate(r *http.Request, room store.Room) error {
	ctx := r.Context()
	cur, err := s.o.Store.RoomUpdate(ctx, room.ID)
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	if cur.State == api.UpdateRebooting {
		return errorf(http.StatusConflict, "update.busy", "room %s has installed version %s and is rebooting into it; it can no longer be cancelled", room.Name, cur.Version)
	}
	if err := s.o.Store.DeleteRoomUpdate(ctx, room.ID); err != nil {
		return err
	}
	s.audit(r, "room.update.cancel", fmt.Sprintf("room=%s version=%s state=%s", room.ID, cur.Version, cur.State))
	return nil
}

// boardsWith lists the boards that have a bundle of version.
func (s *Service) boardsWith(ctx context.Context, version string) ([]string, error) {
	bs, err := s.o.Store.ListUpdateBundles(ctx)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, b := range bs {
		if b.Version == version {
			out = append(out, b.Board)
		}
	}
	return out, nil
}

// fillUpdates adds each room's reported system and update to rs.
func (s *Service) fillUpdates(ctx context.Context, rs []api.Room) error {
	systems, err := s.o.Store.ListRoomSystems(ctx)
	if err != nil {
		return err
	}
	ups, err := s.o.Store.ListRoomUpdates(ctx)
	if err != nil {
		return err
	}
	for i := range rs {
		if sys, ok := systems[rs[i].ID]; ok {
			rs[i].System = &api.RoomSystem{Board: sys.Board, Slot: sys.Slot, Version: sys.Version, OnTrial: sys.OnTrial, UpdateKey: sys.UpdateKey}
		}
		if u, ok := ups[rs[i].ID]; ok {
			rs[i].Update = &api.RoomUpdate{Version: u.Version, State: u.State, Bytes: u.Bytes, Total: u.Total, Error: u.Error}
		}
	}
	return nil
}

// handleUpdateDownload is GET /api/v1/room/update/{version} on the management listener: the
// bundle file, only to the room whose standing offer it is (Range requests resume).
func (s *Service) handleUpdateDownload(w http.ResponseWriter, r *http.Request) {
	room, _, err := s.authenticate(r)
	if err != nil {
		s.writeErr(w, r, err)
		return
	}
	version := r.PathValue("version")
	noUpdate := errorf(http.StatusNotFound, "room.no_update", "no update of version %q is offered to this room", version)
	u, err := s.o.Store.RoomUpdate(r.Context(), room.ID)
	if errors.Is(err, store.ErrNotFound) || (err == nil && (u.Version != version || !u.Active())) {
		s.writeErr(w, r, noUpdate)
		return
	}
	if err != nil {
		s.writeErr(w, r, err)
		return
	}
	f, err := os.Open(updates.Path(s.o.DataDir, u.Board, u.Version))
	if err != nil {
		s.o.Log.Error("open offered update bundle", "room", room.ID, "version", version, "err", err)
		s.writeErr(w, r, noUpdate)
		return
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		s.writeErr(w, r, err)
		return
	}
	// The listener's write timeout is sized for API calls, not for half a gigabyte.
	if err := http.NewResponseController(w).SetWriteDeadline(time.Now().Add(updates.TransferDeadline(st.Size()))); err != nil && !errors.Is(err, http.ErrNotSupported) {
		s.o.Log.Warn("extend update download write deadline", "err", err)
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Cache-Control", "no-store")
	s.o.Log.Info("room fetches update bundle", "room", room.ID, "version", version, "range", r.Header.Get("Range"))
	http.ServeContent(w, r, "", st.ModTime(), f)
}
