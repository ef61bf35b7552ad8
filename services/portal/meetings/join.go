package meetings

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/stoa-rooms/stoa/services/api"
	"github.com/stoa-rooms/stoa/services/password"
	"github.com/stoa-rooms/stoa/services/portal/store"
	"github.com/stoa-rooms/stoa/services/token"
)

// HandleJoin is POST /api/v1/meetings/{id}/join: checks the PIN, asks the manager for a seat
// and a router, and answers a join token and the portal's signaling URL for that router.
func (s *Service) HandleJoin(w http.ResponseWriter, r *http.Request) {
	s.init()
	u, err := user(r)
	if err != nil {
		s.writeErr(w, r, err)
		return
	}
	if !s.joins.allow(u.ID, s.now()) {
		s.log().Warn("join rate limit hit", "user", u.Name)
		w.Header().Set("Retry-After", "1")
		s.writeErr(w, r, errorf(http.StatusTooManyRequests, "meeting.join_rate", "too many join attempts; try again in a moment"))
		return
	}
	m, err := s.meeting(r)
	if err != nil {
		s.writeErr(w, r, err)
		return
	}
	b, err := readBody(r.Body)
	if err != nil {
		s.writeErr(w, r, errorf(http.StatusBadRequest, "request.invalid", "%v", err))
		return
	}
	req, err := DecodeJoin(b)
	if err != nil {
		s.writeErr(w, r, errorf(http.StatusBadRequest, "request.invalid", "%v", err))
		return
	}
	if err := s.checkPIN(r, m, u, req.PIN); err != nil {
		s.writeErr(w, r, err)
		return
	}
	name := req.Name
	if name == "" {
		name = u.Name
	}
	resp, err := s.JoinE2EE(r.Context(), m.ID, name, token.KindUser, req.E2EEKey)
	if err != nil {
		var ae *apiError
		if errors.As(err, &ae) {
			s.audit(r, "meeting.join.refused", FormatID(m.ID)+" "+ae.Code)
		}
		s.writeErr(w, r, err)
		return
	}
	s.audit(r, "meeting.join", fmt.Sprintf("%s participant %s router %s", FormatID(m.ID), resp.ParticipantID, resp.RouterID))
	writeJSON(w, http.StatusOK, resp)
}

// checkPIN verifies the PIN of a meeting that has one; the owner needs none. Wrong PINs are
// counted per meeting: after pinMaxFailures within pinWindow joins with a PIN are refused for
// a while, so a 4-digit PIN cannot be guessed at argon2id speed.
func (s *Service) checkPIN(r *http.Request, m store.Meeting, u store.User, pin string) error {
	if m.PINHash == "" || u.ID == m.OwnerID {
		return nil
	}
	now := s.now()
	if s.pinLocked(m.ID, now) {
		return errorf(http.StatusTooManyRequests, "meeting.pin_locked", "too many wrong PINs for this meeting; try again in a minute")
	}
	ok, err := password.Verify(pin, m.PINHash)
	if err != nil {
		return fmt.Errorf("verify meeting PIN: %w", err)
	}
	if !ok {
		s.pinFailed(m.ID, now)
		s.audit(r, "meeting.join.pin", FormatID(m.ID))
		return errorf(http.StatusForbidden, "meeting.pin", "wrong meeting PIN")
	}
	return nil
}

// Join admits a participant called name of kind into meeting (already authorised by the
// caller) and returns what it needs to connect. Refusals are *apiError values carrying
// licence.full, router.unavailable or manager.error.
func (s *Service) Join(ctx context.Context, meeting, name, kind string) (api.MeetingJoinResponse, error) {
	return s.JoinE2EE(ctx, meeting, name, kind, "")
}

// JoinE2EE is Join for a participant that declares an e2ee public key (services/api/e2ee,
// "" for none): the key goes into the signed token, and the answer carries the portal's token
// key so the participant can verify the others' keys without trusting the router.
func (s *Service) JoinE2EE(ctx context.Context, meeting, name, kind, e2eeKey string) (api.MeetingJoinResponse, error) {
	s.init()
	pid, err := randomHex(16)
	if err != nil {
		return api.MeetingJoinResponse{}, err
	}
	adm, err := s.admit(ctx, api.AdmitRequest{Meeting: meeting, Participant: pid, Name: name, Kind: kind})
	if err != nil {
		return api.MeetingJoinResponse{}, err
	}
	nonce, err := randomHex(16)
	if err != nil {
		return api.MeetingJoinResponse{}, err
	}
	now := s.now()
	secured := s.Secured != nil && s.Secured()
	tok, err := token.Sign(token.Claims{
		Meeting: meeting, Participant: pid, Name: name, Kind: kind,
		Perms:  []string{token.PermPublish, token.PermSubscribe},
		Router: adm.RouterID, IssuedAt: now.Unix(), Expires: now.Add(TokenLifetime).Unix(), Nonce: nonce,
		E2EEKey: e2eeKey, Secured: secured,
	}, s.TokenKey)
	if err != nil {
		return api.MeetingJoinResponse{}, fmt.Errorf("join: %w", err)
	}
	signal, err := SignalURL(s.PublicURL, adm.RouterID)
	if err != nil {
		return api.MeetingJoinResponse{}, fmt.Errorf("join: %w", err)
	}
	ice := adm.ICEServers
	if ice == nil {
		ice = []api.ICEServer{}
	}
	s.log().Info("participant admitted", "meeting", meeting, "participant", pid, "kind", kind, "router", adm.RouterID)
	resp := api.MeetingJoinResponse{Token: tok, SignalURL: signal, ParticipantID: pid, RouterID: adm.RouterID, ICEServers: ice, Secured: secured}
	if e2eeKey != "" {
		resp.TokenKey = s.TokenKey.Public().(ed25519.PublicKey)
	}
	return resp, nil
}

// SignalURL is the portal's wss:// URL proxying to router routerID's signaling.
func SignalURL(publicURL, routerID string) (string, error) {
	u, err := url.Parse(publicURL)
	if err != nil || u.Scheme != "https" || u.Host == "" {
		return "", fmt.Errorf("portal public URL %q is not https://host[:port]", publicURL)
	}
	return "wss://" + u.Host + RTCPathPrefix + url.PathEscape(routerID), nil
}

// admit asks the manager (mutual TLS) for a seat and a router.
func (s *Service) admit(ctx context.Context, req api.AdmitRequest) (api.AdmitResponse, error) {
	if s.ManagerURL == nil {
		return api.AdmitResponse{}, errorf(http.StatusServiceUnavailable, "router.unavailable", "no manager is configured")
	}
	base, err := s.ManagerURL(ctx)
	if err != nil {
		return api.AdmitResponse{}, fmt.Errorf("find manager: %w", err)
	}
	if base == "" {
		return api.AdmitResponse{}, errorf(http.StatusServiceUnavailable, "router.unavailable", "no manager is online; meetings cannot start")
	}
	body, _ := json.Marshal(req)
	hreq, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimRight(base, "/")+"/api/v1/manager/admit", bytes.NewReader(body))
	if err != nil {
		return api.AdmitResponse{}, fmt.Errorf("admit: %w", err)
	}
	hreq.Header.Set("Content-Type", "application/json")
	res, err := s.client.Do(hreq)
	if err != nil {
		s.log().Warn("manager unreachable", "url", base, "err", err)
		return api.AdmitResponse{}, errorf(http.StatusServiceUnavailable, "router.unavailable", "the manager is unreachable; try again shortly")
	}
	defer res.Body.Close()
	rb, err := io.ReadAll(io.LimitReader(res.Body, 64<<10))
	if err != nil {
		return api.AdmitResponse{}, errorf(http.StatusBadGateway, "manager.error", "reading the manager's answer failed")
	}
	if res.StatusCode != http.StatusOK {
		var ae api.Error
		_ = json.Unmarshal(rb, &ae)
		switch {
		case res.StatusCode == http.StatusForbidden && ae.Code == "licence.full":
			return api.AdmitResponse{}, errorf(http.StatusForbidden, "licence.full", "%s", ae.Message)
		case res.StatusCode == http.StatusServiceUnavailable:
			msg := ae.Message
			if msg == "" {
				msg = "no router is available"
			}
			return api.AdmitResponse{}, errorf(http.StatusServiceUnavailable, "router.unavailable", "%s", msg)
		default:
			s.log().Error("manager refused admission", "status", res.StatusCode, "code", ae.Code, "msg", ae.Message)
			return api.AdmitResponse{}, errorf(http.StatusBadGateway, "manager.error", "the manager refused the admission (HTTP %d %s)", res.StatusCode, ae.Code)
		}
	}
	var adm api.AdmitResponse
	if err := json.Unmarshal(rb, &adm); err != nil || adm.RouterID == "" {
		s.log().Error("manager answered an unusable admission", "err", err)
		return api.AdmitResponse{}, errorf(http.StatusBadGateway, "manager.error", "the manager's answer names no router")
	}
	return adm, nil
}
