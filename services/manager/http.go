package manager

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/stoa-rooms/stoa/provisioning/ca"
	"github.com/stoa-rooms/stoa/services/api"
	"github.com/stoa-rooms/stoa/services/component"
)

// Routes adds the manager's API to mux. Every route needs a certificate from the portal's
// internal CA (mutual TLS); seats are taken and freed only by the portal, which checked the
// user, the meeting and its PIN.
func (s *Service) Routes(mux *http.ServeMux) {
	guard := func(h http.HandlerFunc) http.Handler { return component.RequireComponentClient(h) }
	portal := func(h http.HandlerFunc) http.Handler { return guard(component.RequirePortalClient(h).ServeHTTP) }
	mux.Handle("POST /api/v1/manager/routers/heartbeat", guard(s.handleRouterHeartbeat))
	mux.Handle("POST /api/v1/manager/proxies/heartbeat", guard(s.handleProxyHeartbeat))
	mux.Handle("POST /api/v1/manager/admit", portal(s.handleAdmit))
	mux.Handle("POST /api/v1/manager/leave", portal(s.handleLeave))
	mux.Handle("GET /api/v1/manager/presence", guard(s.handlePresence))
	mux.Handle("GET /api/v1/manager/licence", portal(s.handleLicence))
}

// Handler serves only the manager's API (for tests and embedding).
func (s *Service) Handler() http.Handler {
	mux := http.NewServeMux()
	s.Routes(mux)
	return mux
}

func (s *Service) handleRouterHeartbeat(w http.ResponseWriter, r *http.Request) {
	b, ok := readBody(w, r)
	if !ok {
		return
	}
	hb, err := DecodeRouterHeartbeat(b)
	if err != nil {
		writeError(w, http.StatusBadRequest, "request.invalid", err.Error())
		return
	}
	if !callerIs(r, hb.RouterID) {
		writeError(w, http.StatusForbidden, "component.mismatch", "router_id is not the component ID of the client certificate")
		return
	}
	s.RouterHeartbeat(hb, r.RemoteAddr)
	writeJSON(w, http.StatusOK, api.RouterHeartbeatResponse{})
}

func (s *Service) handleProxyHeartbeat(w http.ResponseWriter, r *http.Request) {
	b, ok := readBody(w, r)
	if !ok {
		return
	}
	hb, err := DecodeProxyHeartbeat(b)
	if err != nil {
		writeError(w, http.StatusBadRequest, "request.invalid", err.Error())
		return
	}
	if !callerIs(r, hb.ProxyID) {
		writeError(w, http.StatusForbidden, "component.mismatch", "proxy_id is not the component ID of the client certificate")
		return
	}
	writeJSON(w, http.StatusOK, s.ProxyHeartbeat(hb))
}

func (s *Service) handleAdmit(w http.ResponseWriter, r *http.Request) {
	b, ok := readBody(w, r)
	if !ok {
		return
	}
	req, err := DecodeAdmit(b)
	if err != nil {
		writeError(w, http.StatusBadRequest, "request.invalid", err.Error())
		return
	}
	resp, err := s.Admit(req)
	switch {
	case errors.Is(err, ErrLicenceFull):
		s.opts.Log.Warn("admission refused: licence full", "meeting", req.Meeting, "participant", req.Participant)
		writeError(w, http.StatusForbidden, "licence.full", reason(err))
	case errors.Is(err, ErrRouterUnavailable):
		s.opts.Log.Warn("admission refused: no router", "meeting", req.Meeting, "participant", req.Participant)
		writeError(w, http.StatusServiceUnavailable, "router.unavailable", reason(err))
	case err != nil:
		writeError(w, http.StatusInternalServerError, "internal", "admission failed")
	default:
		s.opts.Log.Info("admitted", "meeting", req.Meeting, "participant", req.Participant, "kind", req.Kind, "router", resp.RouterID)
		writeJSON(w, http.StatusOK, resp)
	}
}

func (s *Service) handleLeave(w http.ResponseWriter, r *http.Request) {
	b, ok := readBody(w, r)
	if !ok {
		return
	}
	req, err := DecodeLeave(b)
	if err != nil {
		writeError(w, http.StatusBadRequest, "request.invalid", err.Error())
		return
	}
	s.Leave(req)
	w.WriteHeader(http.StatusNoContent)
}

func (s *Service) handlePresence(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, s.Presence())
}

// reason is the people-facing part of an Admit error ("licence.full: All 10 ..." → "All 10 ...").
func reason(err error) string {
	msg := err.Error()
	if _, after, ok := strings.Cut(msg, ": "); ok {
		return after
	}
	return msg
}

// callerIs reports whether the verified client certificate names component id.
func callerIs(r *http.Request, id string) bool {
	got, ok := ca.ComponentID(r.TLS.VerifiedChains[0][0]) // RequireComponentClient checked the chain
	return ok && got == id
}

func readBody(w http.ResponseWriter, r *http.Request) ([]byte, bool) {
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			writeError(w, http.StatusRequestEntityTooLarge, "request.too_large", fmt.Sprintf("request body is larger than %d bytes", maxBody))
		} else {
			writeError(w, http.StatusBadRequest, "request.invalid", "read request body: "+err.Error())
		}
		return nil, false
	}
	return b, true
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, status int, code, msg string) {
	writeJSON(w, status, api.Error{Code: code, Message: msg})
}
