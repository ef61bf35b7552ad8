package rooms

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strings"

	"github.com/stoa-rooms/stoa/provisioning/pairing"
	"github.com/stoa-rooms/stoa/services/api"
	"github.com/stoa-rooms/stoa/services/portal/store"
)

// The pairing endpoints are public (the room has no credential yet) and exempt from CSRF:
// nothing ambient authenticates them, the PAKE does. See the design of issue 3.

// HandleHello is POST /api/v1/pairing/hello: a room announces its pairing ID, locator and
// CPace share.
func (s *Service) HandleHello(w http.ResponseWriter, r *http.Request) {
	b, err := readBody(w, r)
	if err != nil {
		s.writeErr(w, r, err)
		return
	}
	h, err := pairing.DecodeHello(b)
	if err != nil {
		s.writeErr(w, r, errorf(http.StatusBadRequest, "request.invalid", "%v", err))
		return
	}
	if err := s.addHello(r, h); err != nil {
		s.writeErr(w, r, err)
		return
	}
	writeJSON(w, http.StatusAccepted, struct{}{})
}

// HandleWait is POST /api/v1/pairing/{id}/wait: the room's long-poll for the portal's
// challenge. 204 when nothing came in time; 410 when the room must make a new code.
func (s *Service) HandleWait(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if err := pairing.CheckPairingID(id); err != nil {
		s.writeErr(w, r, errorf(http.StatusBadRequest, "request.invalid", "pairing id: %v", err))
		return
	}
	fire, stop := timer(s.o.WaitTimeout)
	defer stop()
	for {
		s.pmu.Lock()
		p := s.pending[id]
		switch {
		case p == nil:
			s.pmu.Unlock()
			s.writeErr(w, r, errorf(http.StatusGone, "pairing.unknown", "no pairing with this id; send a hello with a new code"))
			return
		case p.burned:
			s.pmu.Unlock()
			s.writeErr(w, r, errorf(http.StatusGone, "pairing.burned", "this code was burned after %d failed attempts; show a new code", pairing.MaxFailedAttempts))
			return
		case !p.busy && s.expired(p):
			s.pmu.Unlock()
			s.writeErr(w, r, errorf(http.StatusGone, "pairing.expired", "this code expired; show a new code"))
			return
		case p.challenge != nil && !p.delivered:
			p.delivered = true
			ch := *p.challenge
			s.pmu.Unlock()
			writeJSON(w, http.StatusOK, ch)
			return
		}
		changed := p.changed
		s.pmu.Unlock()
		select {
		case <-changed:
		case <-fire:
			w.WriteHeader(http.StatusNoContent)
			return
		case <-r.Context().Done():
			return
		case <-s.done:
			w.WriteHeader(http.StatusNoContent)
			return
		}
	}
}

// HandleConfirm is POST /api/v1/pairing/{id}/confirm: the room's answer to the challenge,
// handed to the admin's exchange, which answers with the sealed Grant or a refusal.
func (s *Service) HandleConfirm(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if err := pairing.CheckPairingID(id); err != nil {
		s.writeErr(w, r, errorf(http.StatusBadRequest, "request.invalid", "pairing id: %v", err))
		return
	}
	b, err := readBody(w, r)
	if err != nil {
		s.writeErr(w, r, err)
		return
	}
	c, err := pairing.DecodeConfirm(b)
	if err != nil {
		s.writeErr(w, r, errorf(http.StatusBadRequest, "request.invalid", "%v", err))
		return
	}
	req := confirmReq{msg: c, reply: make(chan confirmReply, 1)}
	s.pmu.Lock()
	p := s.pending[id]
	if p == nil || p.confirms == nil || !p.delivered {
		s.pmu.Unlock()
		s.writeErr(w, r, errorf(http.StatusConflict, "pairing.not_waiting", "no challenge is waiting for a confirm"))
		return
	}
	select {
	case p.confirms <- req: // sent under pmu, so the exchange either receives or drains it
	default:
		s.pmu.Unlock()
		s.writeErr(w, r, errorf(http.StatusConflict, "pairing.busy", "a confirm for this challenge is already being handled"))
		return
	}
	s.pmu.Unlock()
	select {
	case rep := <-req.reply:
		writeJSON(w, rep.status, rep.body)
	case <-r.Context().Done():
	case <-s.done:
		s.writeErr(w, r, errorf(http.StatusServiceUnavailable, "pairing.shutdown", "the portal is shutting down"))
	}
}

// HandlePair is POST /api/v1/rooms/pair (admin): run the exchange with the room waiting with
// this code and register it.
func (s *Service) HandlePair(w http.ResponseWriter, r *http.Request) {
	b, err := readBody(w, r)
	if err != nil {
		s.writeErr(w, r, err)
		return
	}
	req, code, err := DecodePairRequest(b)
	if err != nil {
		s.writeErr(w, r, errorf(http.StatusBadRequest, "request.invalid", "%v", err))
		return
	}
	room, err := s.pair(r, code, req.Name)
	if err != nil {
		s.writeErr(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, room)
}

func (s *Service) pair(r *http.Request, code pairing.Code, name string) (api.Room, error) {
	loc := code.Locator()
	s.pmu.Lock()
	var live []*pending
	sawExpired := false
	for _, p := range s.byLoc[loc] {
		if p.busy {
			s.pmu.Unlock()
			s.audit(r, "room.pair_failed", "locator="+loc+" busy")
			return api.Room{}, errorf(http.StatusConflict, "pairing.busy", "a pairing with this room is already in progress")
		}
		if s.expired(p) {
			sawExpired = true
			continue
		}
		live = append(live, p)
	}
	if len(live) == 0 {
		s.pmu.Unlock()
		s.audit(r, "room.pair_failed", "locator="+loc+" no room")
		if sawExpired {
			return api.Room{}, errorf(http.StatusGone, "pairing.expired", "this code expired; the room shows a new one")
		}
		return api.Room{}, errorf(http.StatusNotFound, "pairing.no_room", "no room is waiting with this code")
	}
	// Newest first: a locator collision is rare, and the room just switched on is the likely one.
	sort.Slice(live, func(i, j int) bool { return live[i].firstSeen.After(live[j].firstSeen) })
	for _, p := range live {
		p.busy = true
	}
	s.pmu.Unlock()

	var lastErr error
	for i, p := range live {
		room, err := s.exchange(r, p, code, name)
		if err == nil {
			s.release(live[i+1:])
			return room, nil
		}
		lastErr = err
		var ae *apiError
		if !errors.As(err, &ae) || ae.Code != "pairing.wrong_code" {
			s.release(live[i+1:])
			break
		}
	}
	return api.Room{}, lastErr
}

func (s *Service) release(ps []*pending) {
	s.pmu.Lock()
	defer s.pmu.Unlock()
	for _, p := range ps {
		p.busy = false
		p.signal()
	}
}

// exchange runs one CPace exchange with p (already marked busy). Once the room has fetched the
// challenge, any end but success counts as a failed attempt: that room-side party has had its
// one guess.
func (s *Service) exchange(r *http.Request, p *pending, code pairing.Code, name string) (room api.Room, err error) {
	if err := s.awaitFresh(r, p); err != nil {
		s.release([]*pending{p})
		return api.Room{}, err
	}
	s.pmu.Lock()
	loc := p.locator // read under the lock: a fresh Hello may rewrite p
	ps, ch, err := pairing.NewPortalSession(code, p.hello, s.o.Rand)
	if err != nil {
		p.busy = false
		s.pmu.Unlock()
		return api.Room{}, fmt.Errorf("pairing: start session: %w", err)
	}
	confirms := make(chan confirmReq, 1)
	p.challenge, p.delivered, p.confirms = &ch, false, confirms
	p.signal()
	s.pmu.Unlock()

	var req *confirmReq
	success := false
	defer func() {
		s.pmu.Lock()
		burned := false
		if p.confirms == confirms { // not yet ended by a refusal
			if !success && p.delivered {
				burned = s.failLocked(p)
			}
			s.endLocked(p, confirms)
		}
		if success {
			s.removeLocked(p)
		}
		s.pmu.Unlock()
		if burned {
			s.audit(r, "room.pair_burned", "locator="+loc+" pairing="+p.id)
		}
	}()

	fire, stop := timer(s.o.ExchangeTimeout)
	defer stop()
	select {
	case got := <-confirms:
		req = &got
	case <-fire:
		s.audit(r, "room.pair_failed", "locator="+loc+" timeout")
		return api.Room{}, errorf(http.StatusGatewayTimeout, "pairing.timeout", "the room did not answer in time; check that it still shows this code")
	case <-r.Context().Done():
		return api.Room{}, r.Context().Err()
	case <-s.done:
		return api.Room{}, errorf(http.StatusServiceUnavailable, "pairing.shutdown", "the portal is shutting down")
	}

	refuse := func(detail string) (api.Room, error) {
		// The failure is counted and the exchange ended before the room hears of it, so its
		// next Hello (a fresh share) is not refused as busy.
		s.pmu.Lock()
		burned := s.failLocked(p)
		failures := p.failures
		s.endLocked(p, confirms)
		s.pmu.Unlock()
		if burned {
			s.audit(r, "room.pair_burned", "locator="+loc+" pairing="+p.id)
		}
		req.reply <- confirmReply{http.StatusForbidden, api.Error{Code: "pairing.wrong_code", Message: "the pairing code does not match"}}
		s.audit(r, "room.pair_failed", fmt.Sprintf("locator=%s pairing=%s %s failures=%d", loc, p.id, detail, failures))
		if burned {
			return api.Room{}, errorf(http.StatusUnprocessableEntity, "pairing.wrong_code", "wrong code; after %d failed attempts the room makes a new one", pairing.MaxFailedAttempts)
		}
		return api.Room{}, errorf(http.StatusUnprocessableEntity, "pairing.wrong_code", "the code does not match the room's; check it and try again")
	}
	if len(req.msg.Confirm) == 0 {
		return refuse("room refused the portal's confirm")
	}
	if err := ps.Verify(req.msg.Confirm); err != nil {
		return refuse("wrong code")
	}
	var enr pairing.Enrollment
	if err := ps.Open(req.msg.Sealed, &enr); err != nil {
		return refuse("enrollment does not open: " + err.Error())
	}
	result, room, err := s.enroll(r.Context(), ps, enr, name)
	if err != nil {
		req.reply <- confirmReply{http.StatusInternalServerError, api.Error{Code: "internal", Message: "the portal could not register the room"}}
		return api.Room{}, err
	}
	success = true
	req.reply <- confirmReply{http.StatusOK, result}
	s.audit(r, "room.pair_ok", fmt.Sprintf("room=%s name=%q model=%q serial=%q", room.ID, room.Name, room.Model, room.Serial))
	s.o.Log.Info("room paired", "room", room.ID, "name", room.Name)
	return room, nil
}

// awaitFresh waits until the room has sent a fresh Hello after a failed attempt spent its
// previous share.
func (s *Service) awaitFresh(r *http.Request, p *pending) error {
	fire, stop := timer(s.o.ExchangeTimeout)
	defer stop()
	for {
		s.pmu.Lock()
		stale, burned, changed := p.stale, p.burned, p.changed
		s.pmu.Unlock()
		switch {
		case burned:
			return errorf(http.StatusNotFound, "pairing.no_room", "no room is waiting with this code")
		case !stale:
			return nil
		}
		select {
		case <-changed:
		case <-fire:
			return errorf(http.StatusGatewayTimeout, "pairing.timeout", "the room did not answer in time; check that it still shows this code")
		case <-r.Context().Done():
			return r.Context().Err()
		case <-s.done:
			return errorf(http.StatusServiceUnavailable, "pairing.shutdown", "the portal is shutting down")
		}
	}
}

// endLocked ends p's exchange: a confirm that arrived too late gets an answer, not silence.
func (s *Service) endLocked(p *pending, confirms chan confirmReq) {
	p.busy, p.challenge, p.confirms = false, nil, nil
	select {
	case late := <-confirms:
		late.reply <- confirmReply{http.StatusGone, api.Error{Code: "pairing.timeout", Message: "the pairing attempt ended before the confirm arrived"}}
	default:
	}
	p.signal()
}

// enroll certifies the room's key from the device CA, builds the Grant and stores the room.
// The store write comes last, so a failure before it leaves nothing behind.
func (s *Service) enroll(ctx context.Context, ps *pairing.PortalSession, enr pairing.Enrollment, name string) (pairing.Result, api.Room, error) {
	csr, err := parseCSR(enr.CSRPEM)
	if err != nil {
		return pairing.Result{}, api.Room{}, fmt.Errorf("enroll: %w", err)
	}
	id, err := s.newID()
	if err != nil {
		return pairing.Result{}, api.Room{}, err
	}
	if name == "" {
		name = strings.TrimSpace(enr.Room.Hostname)
	}
	if name == "" {
		name = "Room " + id[:6]
	}
	bs, err := s.current(ctx)
	if err != nil {
		return pairing.Result{}, api.Room{}, fmt.Errorf("enroll: %w", err)
	}
	// The subject and SANs come from here, never from the CSR.
	cert, err := s.deviceCA.IssueClient(csr.PublicKey, "room-"+id, CertValidity, RoomURI(id))
	if err != nil {
		return pairing.Result{}, api.Room{}, fmt.Errorf("enroll: %w", err)
	}
	_, mgmtURL := s.urls()
	g := pairing.Grant{
		RoomID: id, Name: name, CertPEM: certPEM(cert), DeviceCAPEM: string(s.deviceCA.RootPEM()),
		Bundle: bs.Envelope, BundleKey: s.BundleKey(), MgmtURL: mgmtURL,
	}
	sealed, err := ps.Seal(g)
	if err != nil {
		return pairing.Result{}, api.Room{}, fmt.Errorf("enroll: %w", err)
	}
	row := store.Room{
		ID: id, Name: name, CertSerial: cert.SerialNumber.Text(16), CertNotAfter: cert.NotAfter,
		Model: enr.Room.Model, HWSerial: enr.Room.Serial, Hostname: enr.Room.Hostname, Firmware: enr.Room.Firmware,
		CreatedAt: s.o.Now().UTC(),
	}
	if err := s.o.Store.CreateRoom(ctx, row); err != nil {
		return pairing.Result{}, api.Room{}, fmt.Errorf("enroll: %w", err)
	}
	return pairing.Result{Sealed: sealed}, s.apiRoom(row), nil
}
