package router

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/coder/websocket"

	"github.com/stoa-rooms/stoa/services/api"
	"github.com/stoa-rooms/stoa/services/token"
)

// serveRTC upgrades to a WebSocket, admits the participant named by the join token and runs
// its session until it leaves.
func (s *SFU) serveRTC(w http.ResponseWriter, r *http.Request) {
	if !s.joins.allow(clientIP(r), s.now()) {
		w.Header().Set("Retry-After", "1")
		http.Error(w, "too many join attempts", http.StatusTooManyRequests)
		return
	}
	if s.isClosed() {
		http.Error(w, "router shutting down", http.StatusServiceUnavailable)
		return
	}
	ws, err := websocket.Accept(w, r, &websocket.AcceptOptions{
		// Authentication is the join token inside the socket, never a cookie, so a
		// cross-origin page gains nothing; and the portal's proxy changes the Host.
		InsecureSkipVerify: true,
		CompressionMode:    websocket.CompressionDisabled,
	})
	if err != nil {
		s.log.Debug("websocket accept", "err", err)
		return
	}
	// Bound every message before it is read into memory (api.MaxSigMessage).
	ws.SetReadLimit(api.MaxSigMessage)
	sig := newSigConn(ws, s.opts.MessageRate, s.opts.MessageBurst, s.now)
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	go func() { _ = sig.writeLoop(ctx) }()

	claims, join, err := s.awaitJoin(ctx, sig)
	if err == nil {
		err = s.checkE2EE(claims, join)
	}
	if err != nil {
		s.log.Info("join refused", "remote", clientIP(r), "err", err)
		code := codeToken
		switch {
		case errors.Is(err, errRateLimited):
			code = codeRateLimited
		case errors.Is(err, errSecured):
			code = codeSecured
		}
		sig.send(api.SigTypeError, api.Error{Code: code, Message: err.Error()})
		sig.close(websocket.StatusPolicyViolation, err.Error())
		return
	}
	p, err := s.newParticipant(claims, sig, join)
	if err != nil {
		s.log.Error("create participant", "participant", claims.Participant, "err", err)
		sig.send(api.SigTypeError, api.Error{Code: codeInternal, Message: "cannot create the media session"})
		sig.close(websocket.StatusInternalError, "internal error")
		return
	}
	p.run(ctx)
}

// awaitJoin reads the first message, which must be a join with a token this router accepts.
func (s *SFU) awaitJoin(ctx context.Context, sig *sigConn) (token.Claims, api.SigJoin, error) {
	jctx, cancel := context.WithTimeout(ctx, s.opts.JoinTimeout)
	defer cancel()
	m, err := sig.read(jctx)
	if err != nil {
		return token.Claims{}, api.SigJoin{}, fmt.Errorf("await join: %w", err)
	}
	if m.Type != api.SigTypeJoin {
		return token.Claims{}, api.SigJoin{}, fmt.Errorf("await join: first message is %q, not join", m.Type)
	}
	key := s.opts.TokenKey()
	if len(key) == 0 {
		return token.Claims{}, api.SigJoin{}, errors.New("await join: the portal's token key is not known yet")
	}
	c, err := token.Verify(m.Join.Token, key, s.now())
	if err != nil {
		return token.Claims{}, api.SigJoin{}, fmt.Errorf("await join: %w", err)
	}
	if c.Router != s.opts.ID {
		return token.Claims{}, api.SigJoin{}, fmt.Errorf("await join: token is for router %q, this is %q", truncate(c.Router, 64), s.opts.ID)
	}
	// Checked last, so a token for another router or a bad one does not burn a nonce.
	if !s.used.use(c, s.now()) {
		return token.Claims{}, api.SigJoin{}, errors.New("await join: token already used; join the meeting again")
	}
	return c, m.Join, nil
}
