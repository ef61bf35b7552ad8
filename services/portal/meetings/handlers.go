package meetings

import (
	"errors"
	"net/http"

	"github.com/stoa-rooms/stoa/services/api"
	"github.com/stoa-rooms/stoa/services/password"
	"github.com/stoa-rooms/stoa/services/portal/auth"
	"github.com/stoa-rooms/stoa/services/portal/store"
)

func toAPI(m store.Meeting) api.Meeting {
	return api.Meeting{ID: m.ID, Name: m.Name, HasPIN: m.PINHash != "", Owner: m.OwnerName, CreatedAt: m.CreatedAt}
}

// user returns the signed-in user; the routes are behind auth.Require, so it is always there.
func user(r *http.Request) (store.User, error) {
	u, ok := auth.UserFrom(r.Context())
	if !ok {
		return store.User{}, errorf(http.StatusUnauthorized, "auth.required", "sign in first")
	}
	return u, nil
}

// meeting loads the meeting named by the {id} path value.
func (s *Service) meeting(r *http.Request) (store.Meeting, error) {
	id, err := NormalizeID(r.PathValue("id"))
	if err != nil {
		return store.Meeting{}, errorf(http.StatusBadRequest, "meeting.bad_id", "%v", err)
	}
	return s.Store.MeetingByID(r.Context(), id)
}

// mayEdit: the owner, or an admin.
func mayEdit(u store.User, m store.Meeting) bool {
	return u.ID == m.OwnerID || auth.HasRole(u, store.RoleAdmin)
}

// HandleList is GET /api/v1/meetings: the user's own meetings; admins see all.
func (s *Service) HandleList(w http.ResponseWriter, r *http.Request) {
	u, err := user(r)
	if err != nil {
		s.writeErr(w, r, err)
		return
	}
	owner := u.ID
	if auth.HasRole(u, store.RoleAdmin) {
		owner = 0
	}
	ms, err := s.Store.ListMeetings(r.Context(), owner)
	if err != nil {
		s.writeErr(w, r, err)
		return
	}
	out := make([]api.Meeting, len(ms))
	for i, m := range ms {
		out[i] = toAPI(m)
	}
	writeJSON(w, http.StatusOK, out)
}

// HandleCreate is POST /api/v1/meetings.
func (s *Service) HandleCreate(w http.ResponseWriter, r *http.Request) {
	u, err := user(r)
	if err != nil {
		s.writeErr(w, r, err)
		return
	}
	nm, err := s.decodeNewMeeting(r)
	if err != nil {
		s.writeErr(w, r, err)
		return
	}
	m := store.Meeting{Name: nm.Name, OwnerID: u.ID, OwnerName: u.Name, CreatedAt: s.now().UTC()}
	if m.PINHash, err = s.hashPIN(nm.PIN); err != nil {
		s.writeErr(w, r, err)
		return
	}
	// Ten random digits collide rarely; a few draws make a conflict practically impossible.
	for range 5 {
		if m.ID, err = newMeetingID(); err != nil {
			s.writeErr(w, r, err)
			return
		}
		if err = s.Store.CreateMeeting(r.Context(), m); !errors.Is(err, store.ErrConflict) {
			break
		}
	}
	if err != nil {
		s.writeErr(w, r, err)
		return
	}
	s.audit(r, "meeting.create", FormatID(m.ID)+" "+m.Name)
	writeJSON(w, http.StatusCreated, toAPI(m))
}

// HandleGet is GET /api/v1/meetings/{id}: whoever knows the ID may see its name (to join it).
func (s *Service) HandleGet(w http.ResponseWriter, r *http.Request) {
	m, err := s.meeting(r)
	if err != nil {
		s.writeErr(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, toAPI(m))
}

// HandleUpdate is PUT /api/v1/meetings/{id} (owner or admin): new name and PIN ("" removes it).
func (s *Service) HandleUpdate(w http.ResponseWriter, r *http.Request) {
	_, m, err := s.editable(r)
	if err != nil {
		s.writeErr(w, r, err)
		return
	}
	nm, err := s.decodeNewMeeting(r)
	if err != nil {
		s.writeErr(w, r, err)
		return
	}
	hash, err := s.hashPIN(nm.PIN)
	if err != nil {
		s.writeErr(w, r, err)
		return
	}
	if err := s.Store.UpdateMeeting(r.Context(), m.ID, nm.Name, hash); err != nil {
		s.writeErr(w, r, err)
		return
	}
	m.Name, m.PINHash = nm.Name, hash
	s.audit(r, "meeting.update", FormatID(m.ID)+" "+m.Name)
	writeJSON(w, http.StatusOK, toAPI(m))
}

// HandleDelete is DELETE /api/v1/meetings/{id} (owner or admin).
func (s *Service) HandleDelete(w http.ResponseWriter, r *http.Request) {
	_, m, err := s.editable(r)
	if err != nil {
		s.writeErr(w, r, err)
		return
	}
	if err := s.Store.DeleteMeeting(r.Context(), m.ID); err != nil {
		s.writeErr(w, r, err)
		return
	}
	s.audit(r, "meeting.delete", FormatID(m.ID)+" "+m.Name)
	w.WriteHeader(http.StatusNoContent)
}

// HandleRoomMeeting is PUT /api/v1/rooms/{id}/meeting (admin): the room's default meeting.
func (s *Service) HandleRoomMeeting(w http.ResponseWriter, r *http.Request) {
	b, err := readBody(r.Body)
	if err != nil {
		s.writeErr(w, r, errorf(http.StatusBadRequest, "request.invalid", "%v", err))
		return
	}
	rm, err := DecodeRoomMeeting(b)
	if err != nil {
		s.writeErr(w, r, errorf(http.StatusBadRequest, "request.invalid", "%v", err))
		return
	}
	roomID := r.PathValue("id")
	if err := s.Store.SetRoomMeeting(r.Context(), roomID, rm.MeetingID); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			err = errorf(http.StatusNotFound, "not_found", "no such room or meeting")
		}
		s.writeErr(w, r, err)
		return
	}
	s.audit(r, "room.meeting", roomID+" "+FormatID(rm.MeetingID))
	writeJSON(w, http.StatusOK, rm)
}

// editable loads the {id} meeting and checks the user may change it.
func (s *Service) editable(r *http.Request) (store.User, store.Meeting, error) {
	u, err := user(r)
	if err != nil {
		return store.User{}, store.Meeting{}, err
	}
	m, err := s.meeting(r)
	if err != nil {
		return store.User{}, store.Meeting{}, err
	}
	if !mayEdit(u, m) {
		return store.User{}, store.Meeting{}, errorf(http.StatusForbidden, "auth.forbidden", "only the meeting's owner or an admin may change it")
	}
	return u, m, nil
}

func (s *Service) decodeNewMeeting(r *http.Request) (api.NewMeeting, error) {
	b, err := readBody(r.Body)
	if err != nil {
		return api.NewMeeting{}, errorf(http.StatusBadRequest, "request.invalid", "%v", err)
	}
	nm, err := DecodeNewMeeting(b)
	if err != nil {
		return api.NewMeeting{}, errorf(http.StatusBadRequest, "request.invalid", "%v", err)
	}
	return nm, nil
}

func (s *Service) hashPIN(pin string) (string, error) {
	if pin == "" {
		return "", nil
	}
	return password.HashWith(pin, s.pinParams())
}
