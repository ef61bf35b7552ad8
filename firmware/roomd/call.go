//go:build cgo

package roomd

import (
	"context"
	"crypto/ed25519"
	"crypto/tls"
	"errors"
	"fmt"
	"net/http"

	"github.com/stoa-rooms/stoa/firmware/call"
	"github.com/stoa-rooms/stoa/services/api"
	"github.com/stoa-rooms/stoa/services/api/e2ee"
)

// JoinMeeting asks the portal, over the paired room's management channel (mutual TLS), to join
// meetingID ("" = the room's default meeting) with pin, and starts the call with the answer:
// o.Join and o.TLS (the bundle's portal roots, which verify the signaling WebSocket) are filled
// in. It fails with ErrNotPaired while the room is not paired and with the portal's refusal
// (code and message) otherwise. (Built with cgo only: the call's codecs are cgo.)
func (a *Agent) JoinMeeting(ctx context.Context, meetingID, pin string, o call.Options) (*call.Call, error) {
	ch := a.mgmt.get()
	if ch == nil {
		return nil, fmt.Errorf("join meeting: %w", ErrNotPaired)
	}
	pool, err := ch.bundle.PortalPool()
	if err != nil {
		return nil, fmt.Errorf("join meeting: %w", err)
	}
	// A fresh end-to-end encryption key per call, always declared: the portal binds it into
	// the room's signed token, and the call uses it when the answer says the meeting is
	// secured (the Secured option). Its private half never leaves this process.
	if o.E2EEKey == nil {
		if o.E2EEKey, err = call.GenerateE2EEKey(); err != nil {
			return nil, fmt.Errorf("join meeting: %w", err)
		}
	}
	req := api.RoomJoinRequest{MeetingID: meetingID, PIN: pin, E2EEKey: e2ee.EncodePublicKey(o.E2EEKey.PublicKey())}
	ans, err := postJSON(ctx, ch.client, ch.base+"/api/v1/room/join", req)
	if err != nil {
		return nil, fmt.Errorf("join meeting: %w", err)
	}
	if ans.Status != http.StatusOK {
		return nil, fmt.Errorf("join meeting: %w", &JoinRefusedError{Status: ans.Status, Code: ans.Err.Code, Message: ans.Err.Message})
	}
	jr, err := DecodeJoinAnswer(ans.Body)
	if err != nil {
		return nil, fmt.Errorf("join meeting: %w", err)
	}
	o.Join = jr
	o.TLS = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	if o.Meeting == "" {
		o.Meeting = meetingID
	}
	if o.Log == nil {
		o.Log = a.o.Log
	}
	return call.Start(ctx, o)
}

// JoinRefusedError is the portal's refusal of a join (wrong PIN, no such meeting, licence full).
type JoinRefusedError struct {
	Status        int
	Code, Message string
}

func (e *JoinRefusedError) Error() string {
	return fmt.Sprintf("the portal refused (%d %s): %s", e.Status, e.Code, e.Message)
}

// DecodeJoinAnswer strictly decodes the portal's answer to POST /api/v1/room/join: a token
// and a wss:// (or, in tests, ws://) signal URL are required.
func DecodeJoinAnswer(b []byte) (api.MeetingJoinResponse, error) {
	var jr api.MeetingJoinResponse
	if err := api.DecodeStrict(b, &jr); err != nil {
		return api.MeetingJoinResponse{}, fmt.Errorf("decode join answer: %w", err)
	}
	switch {
	case jr.Token == "":
		return api.MeetingJoinResponse{}, errors.New("decode join answer: no token")
	case !hasScheme(jr.SignalURL, "wss://") && !hasScheme(jr.SignalURL, "ws://"):
		return api.MeetingJoinResponse{}, fmt.Errorf("decode join answer: signal_url %q is not a ws(s):// URL", truncate(jr.SignalURL, 80))
	case len(jr.TokenKey) != 0 && len(jr.TokenKey) != ed25519.PublicKeySize:
		return api.MeetingJoinResponse{}, fmt.Errorf("decode join answer: token_key of %d bytes is not an Ed25519 public key", len(jr.TokenKey))
	}
	return jr, nil
}

func hasScheme(u, scheme string) bool { return len(u) > len(scheme) && u[:len(scheme)] == scheme }

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
