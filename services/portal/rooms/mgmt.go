package rooms

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"

	"github.com/stoa-rooms/stoa/services/api"
	"github.com/stoa-rooms/stoa/services/portal/store"
)

// MgmtHandler serves the room endpoints of the portal's internal mutual-TLS listener. Every
// request must present a current client certificate from the device CA.
func (s *Service) MgmtHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /api/v1/room/poll", s.handlePoll)
	mux.HandleFunc("POST /api/v1/room/renew", s.handleRenew)
	mux.HandleFunc("POST /api/v1/room/unpair", s.handleRoomUnpair)
	mux.HandleFunc("POST /api/v1/room/join", s.handleJoin)
	mux.HandleFunc("GET "+UpdatePathPrefix+"{version}", s.handleUpdateDownload)
	return mux
}

func unpaired(format string, args ...any) *apiError {
	return errorf(http.StatusForbidden, "room.unpaired", format, args...)
}

// authenticate returns the room presenting r's client certificate: it must chain to the device
// CA (not merely to any CA the listener accepts), name a room, not be revoked, and be the
// room's current certificate or the one its latest renewal replaced.
func (s *Service) authenticate(r *http.Request) (store.Room, *x509.Certificate, error) {
	if r.TLS == nil || len(r.TLS.PeerCertificates) == 0 {
		return store.Room{}, nil, unpaired("a room client certificate is required")
	}
	leaf := r.TLS.PeerCertificates[0]
	inter := x509.NewCertPool()
	for _, c := range r.TLS.PeerCertificates[1:] {
		inter.AddCert(c)
	}
	if _, err := leaf.Verify(x509.VerifyOptions{
		Roots: s.deviceCA.Pool(), Intermediates: inter, CurrentTime: s.o.Now(),
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}); err != nil {
		return store.Room{}, nil, unpaired("the client certificate is not a room certificate of this portal")
	}
	id, ok := RoomIDFromCert(leaf)
	if !ok {
		return store.Room{}, nil, unpaired("the client certificate names no room")
	}
	serial := leaf.SerialNumber.Text(16)
	revoked, err := s.o.Store.SerialRevoked(r.Context(), serial)
	if err != nil {
		return store.Room{}, nil, err
	}
	if revoked {
		return store.Room{}, nil, unpaired("this room was unpaired; its certificate is revoked")
	}
	room, err := s.o.Store.RoomByID(r.Context(), id)
	if errors.Is(err, store.ErrNotFound) {
		return store.Room{}, nil, unpaired("this room is not paired with the portal")
	}
	if err != nil {
		return store.Room{}, nil, err
	}
	if serial != room.CertSerial && serial != room.PrevSerial {
		return store.Room{}, nil, unpaired("this certificate of the room was replaced")
	}
	return room, leaf, nil
}

func (s *Service) handlePoll(w http.ResponseWriter, r *http.Request) {
	room, leaf, err := s.authenticate(r)
	if err != nil {
		s.writeErr(w, r, err)
		return
	}
	st, err := decodeRequest(w, r, DecodeRoomStatus)
	if err != nil {
		s.writeErr(w, r, err)
		return
	}
	ctx := r.Context()
	// Register before recording anything or looking at the bundle: an unpair or a version
	// published from here on wakes us (an unpair before it makes RecordRoomStatus fail).
	s.cmu.Lock()
	c := s.connLocked(room.ID)
	c.inflight++
	wake, pushes := c.wake, c.pushes
	s.cmu.Unlock()
	defer func() {
		s.cmu.Lock()
		c.inflight--
		c.lastEnd = s.o.Now()
		s.cmu.Unlock()
	}()
	if err := s.o.Store.RecordRoomStatus(ctx, room.ID, store.RoomStatus{
		At: s.o.Now().UTC(), Firmware: st.Firmware, BundleVersion: st.BundleVersion,
		PortalHTTPSTrusted: st.PortalHTTPSTrusted, PortalHTTPSError: st.PortalHTTPSError,
		PresentedSerial: leaf.SerialNumber.Text(16),
	}); errors.Is(err, store.ErrNotFound) {
		s.writeErr(w, r, unpaired("this room was unpaired")) // between authentication and now
		return
	} else if err != nil {
		s.writeErr(w, r, err)
		return
	}
	s.panels.record(room.ID, st.Panels)
	offer, offerNow, err := s.pollUpdate(r, room, st)
	if err != nil {
		if _, _, aerr := s.authenticate(r); aerr != nil {
			err = aerr // unpaired meanwhile: say so, not a storage error
		}
		s.writeErr(w, r, err)
		return
	}
	if st.BundleVersion > room.BundleVersion {
		s.o.Log.Info("room acknowledged bundle", "room", room.ID, "version", st.BundleVersion)
	}
	s.noteAck()

	bs, err := s.current(ctx)
	if err != nil {
		s.writeErr(w, r, err)
		return
	}
	// answer is a poll answer with the room's standing update offer, read afresh after a wait
	// (the admin may have started or cancelled one meanwhile).
	answer := func(env []byte, fresh bool) {
		cmd := s.command(room.ID, env)
		cmd.Update = offer
		if fresh {
			o, err := s.currentOffer(context.WithoutCancel(ctx), room.ID)
			if err != nil {
				s.writeErr(w, r, err)
				return
			}
			cmd.Update = o
		}
		writeJSON(w, http.StatusOK, cmd)
	}
	if st.BundleVersion < bs.Bundle.Version {
		answer(bs.Envelope, false)
		return
	}
	if revoke := s.panels.pending(room.ID); len(revoke) > 0 || offerNow {
		answer(nil, false)
		return
	}
	fire, stop := timer(s.o.PollTimeout)
	defer stop()
	select {
	case <-wake:
		// Pushed (or unpaired): answer with the current bundle, or refuse a revoked room.
		if _, _, err := s.authenticate(r); err != nil {
			s.writeErr(w, r, err)
			return
		}
		bs, err := s.current(ctx)
		if err != nil {
			s.writeErr(w, r, err)
			return
		}
		// A push re-sends the bundle; news (an update offer, a panel revocation) carries it
		// only to a room that is behind.
		s.cmu.Lock()
		pushed := c.pushes != pushes
		s.cmu.Unlock()
		var env []byte
		if pushed || st.BundleVersion < bs.Bundle.Version {
			env = bs.Envelope
		}
		answer(env, true)
	case <-fire:
		answer(nil, true)
	case <-ctx.Done():
	case <-s.done:
		answer(nil, false)
	}
}

func (s *Service) handleRenew(w http.ResponseWriter, r *http.Request) {
	room, leaf, err := s.authenticate(r)
	if err != nil {
		s.writeErr(w, r, err)
		return
	}
	req, err := decodeRequest(w, r, DecodeRenewRequest)
	if err != nil {
		s.writeErr(w, r, err)
		return
	}
	csr, err := parseCSR(req.CSRPEM)
	if err != nil {
		s.writeErr(w, r, errorf(http.StatusBadRequest, "request.invalid", "%v", err))
		return
	}
	cert, err := s.deviceCA.IssueClient(csr.PublicKey, "room-"+room.ID, CertValidity, RoomURI(room.ID))
	if err != nil {
		s.writeErr(w, r, errorf(http.StatusBadRequest, "request.invalid", "renewal refused: %v", err))
		return
	}
	if err := s.o.Store.SetRoomCert(r.Context(), room.ID, leaf.SerialNumber.Text(16), cert.SerialNumber.Text(16), cert.NotAfter); errors.Is(err, store.ErrNotFound) {
		s.writeErr(w, r, unpaired("this room was unpaired"))
		return
	} else if err != nil {
		s.writeErr(w, r, err)
		return
	}
	s.auditAs(r, "room:"+room.ID, "room.renew", fmt.Sprintf("room=%s serial=%s not_after=%s", room.ID, cert.SerialNumber.Text(16), cert.NotAfter.Format("2006-01-02")))
	writeJSON(w, http.StatusOK, api.RenewResponse{CertPEM: certPEM(cert)})
}

func (s *Service) handleRoomUnpair(w http.ResponseWriter, r *http.Request) {
	room, _, err := s.authenticate(r)
	if err != nil {
		s.writeErr(w, r, err)
		return
	}
	if err := s.unpair(r.Context(), room.ID); err != nil {
		s.writeErr(w, r, err)
		return
	}
	s.auditAs(r, "room:"+room.ID, "room.unpair", fmt.Sprintf("room=%s name=%q by the room", room.ID, room.Name))
	w.WriteHeader(http.StatusNoContent)
}
