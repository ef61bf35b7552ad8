package router

import (
	"errors"
	"fmt"

	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"

	"github.com/stoa-rooms/stoa/services/api"
	"github.com/stoa-rooms/stoa/services/token"
)

// End-to-end encryption support (issue 8, the Secured option). The router never holds media
// keys: it relays each e2ee participant's portal-signed token (SigParticipant.Token) so the
// others can verify its key, and relays "e2ee_key" messages to the recipient they name.

// MediaView is one media packet as the router forwards it (Options.OnMedia).
type MediaView struct {
	Meeting, Participant, Track, RID, Mime string
	Packet                                 *rtp.Packet
}

// securedMediaFailed tells a client of a secured meeting why its media connection failed.
const securedMediaFailed = "secured option: the media connection failed; this meeting requires DTLS-SRTP with AEAD_AES_128_GCM (RFC 7714) and refuses other SRTP profiles"

// errSecured marks a join the Secured option refuses.
var errSecured = errors.New("secured option")

// secured: the join's token says the portal admitted it under the Secured option, or the
// router's own view of the option (from the portal's heartbeat answers) says the meeting is.
func (s *SFU) secured(c token.Claims) bool {
	return c.Secured || (s.opts.Secured != nil && s.opts.Secured(c.Meeting))
}

// checkE2EE applies the e2ee rules to a join: a declared e2ee client needs a key in its token,
// and a meeting under the Secured option takes nothing else.
func (s *SFU) checkE2EE(c token.Claims, join api.SigJoin) error {
	if s.secured(c) && (!join.E2EE || c.E2EEKey == "") {
		return fmt.Errorf("%w: this meeting requires end-to-end encryption (SFrame) and AES-128-GCM SRTP; this client did not declare e2ee support, so it cannot join", errSecured)
	}
	if join.E2EE && c.E2EEKey == "" {
		return errors.New("join declares e2ee but its token carries no e2ee key; ask the portal for a token with your key")
	}
	return nil
}

// refuseFailedDTLS tells a secured participant why its media connection failed when DTLS does
// (pion then closes the PeerConnection rather than report it failed): under the Secured option
// the likeliest cause is a peer without an AES-128-GCM SRTP profile.
func (p *participant) refuseFailedDTLS() {
	p.pc.SCTP().Transport().OnStateChange(func(st webrtc.DTLSTransportState) {
		if st != webrtc.DTLSTransportStateFailed {
			return
		}
		p.log.Warn("secured participant's DTLS failed; refusing it", "reason", "no AES-128-GCM SRTP")
		p.send(api.SigTypeError, api.Error{Code: codeSecured, Message: securedMediaFailed})
		go p.close("secured option: DTLS-SRTP failed", false)
	})
}

// relayKey forwards a key message to the participant it names, stamped with the sender's ID.
// A recipient that left meanwhile is not an error: its keys are being rotated away anyway.
func (p *participant) relayKey(k api.SigE2EEKey) error {
	if p.e2eeToken == "" {
		return errors.New("e2ee_key from a participant that did not join with e2ee")
	}
	if k.To == p.id {
		return errors.New("e2ee_key addressed to its sender")
	}
	p.room.mu.Lock()
	to := p.room.parts[k.To]
	p.room.mu.Unlock()
	if to == nil {
		p.log.Debug("e2ee key for a participant no longer here", "to", truncate(k.To, 64))
		return nil
	}
	if to.e2eeToken == "" {
		return fmt.Errorf("e2ee_key for participant %q, which did not join with e2ee", truncate(k.To, 64))
	}
	to.send(api.SigTypeE2EEKey, api.SigE2EEKey{From: p.id, Key: k.Key})
	return nil
}
