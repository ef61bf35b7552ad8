package rooms

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/stoa-rooms/stoa/services/api"
	"github.com/stoa-rooms/stoa/services/api/e2ee"
	"github.com/stoa-rooms/stoa/services/password"
	"github.com/stoa-rooms/stoa/services/portal/meetings"
	"github.com/stoa-rooms/stoa/services/portal/store"
	"github.com/stoa-rooms/stoa/services/token"
)

// JoinFunc admits a participant called name of kind into meeting, which the caller has already
// authorised, and returns what it needs to connect ((*meetings.Service).JoinE2EE). e2eeKey is
// the room's end-to-end encryption public key for the signed token ("" for none). A refusal
// may carry its HTTP status and stable code (HTTPStatus, ErrorCode methods).
type JoinFunc func(ctx context.Context, meeting, name, kind, e2eeKey string) (api.MeetingJoinResponse, error)

// Join policy of the management channel.
const (
	maxJoinPIN = 12 // digits, as the meetings API allows
	// A room that guesses PINs of other meetings is stopped after joinPINFailures wrong PINs
	// for one meeting within joinWindow (the meetings API's own policy for people).
	joinPINFailures = 5
	// A room joins a handful of times per call; joinMax per joinWindow stops a broken or
	// hostile room from filling the licence with admitted seats.
	joinMax    = 10
	joinWindow = time.Minute
)

// DecodeRoomJoin strictly decodes POST /api/v1/room/join. An empty body is an empty request
// (the room's default meeting); a meeting ID may be grouped ("123 456 7890") and is returned as
// its ten digits; a PIN is digits only.
func DecodeRoomJoin(b []byte) (api.RoomJoinRequest, error) {
	var req api.RoomJoinRequest
	if len(bytes.TrimSpace(b)) == 0 {
		return req, nil
	}
	if err := decodeStrict(b, &req); err != nil {
		return api.RoomJoinRequest{}, err
	}
	if req.MeetingID != "" {
		id, err := meetings.NormalizeID(req.MeetingID)
		if err != nil {
			return api.RoomJoinRequest{}, fmt.Errorf("meeting_id: %w", err)
		}
		req.MeetingID = id
	}
	if len(req.PIN) > maxJoinPIN {
		return api.RoomJoinRequest{}, fmt.Errorf("pin is longer than %d digits", maxJoinPIN)
	}
	for i := 0; i < len(req.PIN); i++ {
		if req.PIN[i] < '0' || req.PIN[i] > '9' {
			return api.RoomJoinRequest{}, errors.New("pin must be digits only")
		}
	}
	if req.E2EEKey != "" {
		// The key goes into the portal-signed token: only a well-formed X25519 key is signed.
		if _, err := e2ee.ParsePublicKey(req.E2EEKey); err != nil {
			return api.RoomJoinRequest{}, fmt.Errorf("e2ee_key: %w", err)
		}
	}
	return req, nil
}

// handleJoin is POST /api/v1/room/join: a paired room, authenticated by its device certificate
// exactly as for a poll, joins its default meeting (no PIN: an admin chose it for the room) or
// another meeting (its PIN, when it has one), as kind "room" under the room's name.
func (s *Service) handleJoin(w http.ResponseWriter, r *http.Request) {
	room, _, err := s.authenticate(r)
	if err != nil {
		s.writeErr(w, r, err)
		return
	}
	req, err := decodeRequest(w, r, DecodeRoomJoin)
	if err != nil {
		s.writeErr(w, r, err)
		return
	}
	if s.o.Join == nil {
		s.writeErr(w, r, errorf(http.StatusServiceUnavailable, "router.unavailable", "meetings are not available on this portal"))
		return
	}
	actor := "room:" + room.ID
	now := s.o.Now()
	if !s.joinAllowed(room.ID, now) {
		s.o.Log.Warn("room join rate limit hit", "room", room.ID)
		w.Header().Set("Retry-After", "10")
		s.writeErr(w, r, errorf(http.StatusTooManyRequests, "room.join_rate", "too many joins from this room; try again shortly"))
		return
	}
	ctx := r.Context()
	def, err := s.o.Store.RoomMeeting(ctx, room.ID)
	if errors.Is(err, store.ErrNotFound) {
		s.writeErr(w, r, unpaired("this room was unpaired"))
		return
	} else if err != nil {
		s.writeErr(w, r, fmt.Errorf("room default meeting: %w", err))
		return
	}
	m, err := s.joinTarget(ctx, def, req)
	if err != nil {
		s.writeErr(w, r, err)
		return
	}
	if err := s.checkJoinPIN(r, room.ID, def, m, req); err != nil {
		s.writeErr(w, r, err)
		return
	}
	resp, err := s.o.Join(ctx, m.ID, room.Name, token.KindRoom, req.E2EEKey)
	if err != nil {
		// The meetings service refuses with the same *apierr.Error type: pass it through.
		var ce *apiError
		if errors.As(err, &ce) {
			s.auditAs(r, actor, "room.join.refused", fmt.Sprintf("room=%s meeting=%s code=%s", room.ID, meetings.FormatID(m.ID), ce.Code))
			s.writeErr(w, r, ce)
			return
		}
		s.writeErr(w, r, fmt.Errorf("room join: %w", err))
		return
	}
	s.auditAs(r, actor, "room.join", fmt.Sprintf("room=%s name=%q meeting=%s participant=%s router=%s",
		room.ID, room.Name, meetings.FormatID(m.ID), resp.ParticipantID, resp.RouterID))
	writeJSON(w, http.StatusOK, resp)
}

// joinTarget is the meeting req names, or the room's default meeting def when it names none.
func (s *Service) joinTarget(ctx context.Context, def string, req api.RoomJoinRequest) (store.Meeting, error) {
	id := req.MeetingID
	if id == "" {
		if def == "" {
			return store.Meeting{}, errorf(http.StatusConflict, "room.no_meeting", "this room has no default meeting; an admin sets one under Rooms, or name a meeting")
		}
		id = def
	}
	m, err := s.o.Store.MeetingByID(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return store.Meeting{}, errorf(http.StatusNotFound, "meeting.not_found", "no such meeting")
	}
	if err != nil {
		return store.Meeting{}, fmt.Errorf("look up meeting: %w", err)
	}
	return m, nil
}

// checkJoinPIN lets a room into its own default meeting without a PIN; any other meeting with
// a PIN needs it. Wrong PINs are counted per meeting so they cannot be guessed.
func (s *Service) checkJoinPIN(r *http.Request, roomID, def string, m store.Meeting, req api.RoomJoinRequest) error {
	if m.PINHash == "" || m.ID == def {
		return nil
	}
	now := s.o.Now()
	if s.pinLocked(m.ID, now) {
		return errorf(http.StatusTooManyRequests, "meeting.pin_locked", "too many wrong PINs for this meeting; try again in a minute")
	}
	ok, err := password.Verify(req.PIN, m.PINHash)
	if err != nil {
		return fmt.Errorf("verify meeting PIN: %w", err)
	}
	if !ok {
		s.countWindow(&s.joinPINs, m.ID, now)
		s.auditAs(r, "room:"+roomID, "room.join.pin", fmt.Sprintf("room=%s meeting=%s", roomID, meetings.FormatID(m.ID)))
		return errorf(http.StatusForbidden, "meeting.pin", "wrong meeting PIN")
	}
	return nil
}

// joinAllowed counts a join of room id and reports whether it is within joinMax per joinWindow.
func (s *Service) joinAllowed(id string, now time.Time) bool {
	if s.inWindow(&s.joinTimes, id, now) >= joinMax {
		return false
	}
	s.countWindow(&s.joinTimes, id, now)
	return true
}

func (s *Service) pinLocked(meeting string, now time.Time) bool {
	return s.inWindow(&s.joinPINs, meeting, now) >= joinPINFailures
}

// inWindow drops key's events older than joinWindow and returns how many remain.
func (s *Service) inWindow(m *map[string][]time.Time, key string, now time.Time) int {
	s.jmu.Lock()
	defer s.jmu.Unlock()
	if *m == nil {
		*m = map[string][]time.Time{}
	}
	recent := (*m)[key][:0]
	for _, t := range (*m)[key] {
		if now.Sub(t) < joinWindow {
			recent = append(recent, t)
		}
	}
	if len(recent) == 0 {
		delete(*m, key)
	} else {
		(*m)[key] = recent
	}
	return len(recent)
}

func (s *Service) countWindow(m *map[string][]time.Time, key string, now time.Time) {
	s.jmu.Lock()
	defer s.jmu.Unlock()
	if *m == nil {
		*m = map[string][]time.Time{}
	}
	(*m)[key] = append((*m)[key], now)
}
