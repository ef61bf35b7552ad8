package call

import (
	"bytes"
	"crypto/ecdh"
	"errors"
	"fmt"

	"github.com/stoa-rooms/stoa/services/api/e2ee"
)

// End-to-end encryption (the Secured option, issue 8): when the portal's join answer says the
// meeting is secured, the room seals every encoded frame with SFrame (services/api/e2ee) before
// packetization and opens every received frame before decoding, so the router forwards media it
// cannot read. The VP8 payload header stays readable (e2ee's codec-aware sealing), so the
// router's keyframe detection and simulcast layer switching keep working.

// newSession makes the call's e2ee session from the join answer and the key whose public half
// the room sent with its join request (nil session when the meeting is not secured).
func newSession(o Options) (*e2ee.Session, error) {
	if !o.Join.Secured {
		return nil, nil
	}
	if o.E2EEKey == nil {
		return nil, errors.New("the meeting is end-to-end encrypted (Secured option) but the room joined without an e2ee key")
	}
	if len(o.Join.TokenKey) == 0 {
		return nil, errors.New("the meeting is end-to-end encrypted but the portal sent no token key to verify participants' keys")
	}
	// Our own token must bind our key: a portal (or a proxy) that signed another key would make
	// every peer encrypt to someone else.
	claim, err := e2ee.VerifyKeyClaim(o.Join.Token, o.Join.TokenKey)
	if err != nil {
		return nil, fmt.Errorf("e2ee: own join token: %w", err)
	}
	if !bytes.Equal(claim.Public.Bytes(), o.E2EEKey.PublicKey().Bytes()) || claim.Participant != o.Join.ParticipantID {
		return nil, fmt.Errorf("e2ee: own join token: %w", e2ee.ErrUntrustedKey)
	}
	s, err := e2ee.NewSession(e2ee.Config{Meeting: claim.Meeting, Self: o.Join.ParticipantID, Private: o.E2EEKey, PortalKey: o.Join.TokenKey})
	if err != nil {
		return nil, fmt.Errorf("e2ee: %w", err)
	}
	return s, nil
}

// GenerateE2EEKey makes the X25519 key a room declares in its join request (api.RoomJoinRequest
// .E2EEKey is e2ee.EncodePublicKey of its public half) and passes to Start as Options.E2EEKey.
// One key per call: nothing outlives the meeting.
func GenerateE2EEKey() (*ecdh.PrivateKey, error) { return e2ee.GenerateKey() }

// open decrypts one received frame of participant; without e2ee it is the frame itself.
func (c *Call) open(participant string, codec e2ee.Codec, frame []byte) ([]byte, error) {
	if c.sess == nil {
		return frame, nil
	}
	out, err := c.sess.DecryptFrame(participant, codec, frame)
	if err != nil {
		c.undecrypted.Add(1)
		return nil, err
	}
	return out, nil
}

// Undecrypted counts received frames that did not decrypt (no key yet, tampered, replayed).
func (c *Call) Undecrypted() int64 { return c.undecrypted.Load() }

// E2EE is the call's end-to-end encryption session (nil when the meeting is not secured).
func (c *Call) E2EE() *e2ee.Session { return c.sess }
