package pairing

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/sha512"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/stoa-rooms/stoa/provisioning/pake"
)

// ErrWrongCode means the peer's key confirmation did not match: the two sides used different
// codes (or a man in the middle took part). It is the only outcome of a wrong guess.
var ErrWrongCode = errors.New("pairing: wrong code")

// CPace inputs (draft-irtf-cfrg-cpace section 4.1). The room is the initiator A. The roles go
// into ADa/ADb so a room's message can never be reflected back as a portal's.
const (
	channelID = "stoa-pairing-v1"
	adRoom    = "room"
	adPortal  = "portal"

	labelConfirmRoom   = "stoa pairing v1 confirm room"
	labelConfirmPortal = "stoa pairing v1 confirm portal"
	labelSealRoom      = "stoa pairing v1 seal room"
	labelSealPortal    = "stoa pairing v1 seal portal"

	pairingIDSize = 16
	nonceSize     = 12
	tagSize       = 16
)

// NewPairingID returns 16 random bytes from r, base64url without padding: the CPace sid.
func NewPairingID(r io.Reader) (string, error) {
	var b [pairingIDSize]byte
	if _, err := io.ReadFull(r, b[:]); err != nil {
		return "", fmt.Errorf("new pairing id: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b[:]), nil
}

// CheckPairingID reports whether s is a well-formed pairing ID.
func CheckPairingID(s string) error {
	_, err := parsePairingID(s)
	return err
}

func parsePairingID(s string) ([]byte, error) {
	b, err := base64.RawURLEncoding.Strict().DecodeString(s)
	if err != nil || len(b) != pairingIDSize {
		return nil, fmt.Errorf("pairing id must be %d bytes in unpadded base64url", pairingIDSize)
	}
	return b, nil
}

// keys are the four working keys derived from the ISK, one per purpose and direction.
type keys struct {
	confirmRoom, confirmPortal []byte
	sealRoom, sealPortal       cipher.AEAD
}

// deriveKeys expands the CPace ISK with HKDF-SHA512 (RFC 5869,
// https://www.rfc-editor.org/rfc/rfc5869) into 32-byte keys, as draft section 10.3 recommends.
func deriveKeys(isk []byte) (keys, error) {
	expand := func(label string) ([]byte, error) {
		return hkdf.Key(sha512.New, isk, nil, label, 32)
	}
	var k keys
	var err error
	if k.confirmRoom, err = expand(labelConfirmRoom); err != nil {
		return k, err
	}
	if k.confirmPortal, err = expand(labelConfirmPortal); err != nil {
		return k, err
	}
	for _, p := range []struct {
		label string
		aead  *cipher.AEAD
	}{{labelSealRoom, &k.sealRoom}, {labelSealPortal, &k.sealPortal}} {
		key, err := expand(p.label)
		if err != nil {
			return k, err
		}
		block, err := aes.NewCipher(key)
		if err != nil {
			return k, err
		}
		if *p.aead, err = cipher.NewGCM(block); err != nil {
			return k, err
		}
	}
	return k, nil
}

// confirmTag is HMAC-SHA512(key, share_a || share_b || pairing_id); the shares have a fixed
// size, so the concatenation is unambiguous.
func confirmTag(key, shareA, shareB, sid []byte) []byte {
	m := hmac.New(sha512.New, key)
	m.Write(shareA)
	m.Write(shareB)
	m.Write(sid)
	return m.Sum(nil)
}

// seal encrypts the JSON of v with AES-256-GCM; the random nonce is prepended and the pairing
// ID is the associated data, so a payload cannot be moved to another pairing.
func seal(aead cipher.AEAD, rand io.Reader, sid []byte, v any) ([]byte, error) {
	plain, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	if len(plain)+minSealedSize > MaxMessageSize {
		return nil, fmt.Errorf("payload of %d bytes exceeds the %d byte limit", len(plain), MaxMessageSize)
	}
	nonce := make([]byte, nonceSize, nonceSize+len(plain)+tagSize)
	if _, err := io.ReadFull(rand, nonce); err != nil {
		return nil, fmt.Errorf("read nonce: %w", err)
	}
	return aead.Seal(nonce, nonce, plain, sid), nil
}

// open decrypts and strictly decodes into v. Enrollment and Grant go through their checking
// decoders.
func open(aead cipher.AEAD, sid, sealed []byte, v any) error {
	if len(sealed) < minSealedSize || len(sealed) > MaxMessageSize {
		return fmt.Errorf("sealed payload of %d bytes: %w", len(sealed), ErrMalformed)
	}
	plain, err := aead.Open(nil, sealed[:nonceSize], sealed[nonceSize:], sid)
	if err != nil {
		return errors.New("sealed payload does not authenticate")
	}
	switch p := v.(type) {
	case *Enrollment:
		*p, err = DecodeEnrollment(plain)
	case *Grant:
		*p, err = DecodeGrant(plain)
	default:
		err = decodeInto(plain, v)
	}
	return err
}

func decodeInto(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return fmt.Errorf("%w: data after the JSON value", ErrMalformed)
	}
	return nil
}

// RoomSession is the room's side of one pairing attempt (the CPace initiator).
type RoomSession struct {
	mu       sync.Mutex
	rand     io.Reader
	sid      []byte
	share    []byte
	st       *pake.State
	k        keys
	verified bool
	used     bool
}

// NewRoomSession starts CPace with the code as password; share goes into Hello.Share.
func NewRoomSession(code Code, pairingID string, rand io.Reader) (*RoomSession, []byte, error) {
	if err := code.valid(); err != nil {
		return nil, nil, fmt.Errorf("new room session: %w", err)
	}
	sid, err := parsePairingID(pairingID)
	if err != nil {
		return nil, nil, fmt.Errorf("new room session: %w", err)
	}
	st, share, err := pake.Start([]byte(code), []byte(channelID), sid, []byte(adRoom), rand)
	if err != nil {
		return nil, nil, fmt.Errorf("new room session: %w", err)
	}
	rs := &RoomSession{rand: rand, sid: sid, share: share, st: st}
	return rs, append([]byte(nil), share...), nil
}

// Respond completes CPace with the portal's share, checks the portal's confirmation (in
// constant time) and returns the room's confirmation. A mismatch returns ErrWrongCode and
// leaves the session unusable. A portal share that is not a valid group element gives an error
// wrapping pake.ErrInvalidMessage or pake.ErrIdentity; callers treat it like a wrong code.
// Respond works once.
func (rs *RoomSession) Respond(ch Challenge) ([]byte, error) {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	if rs.used {
		return nil, errors.New("room respond: session already used")
	}
	rs.used = true
	isk, err := rs.st.Finish(ch.Share, []byte(adPortal))
	if err != nil {
		return nil, fmt.Errorf("room respond: %w", err)
	}
	k, err := deriveKeys(isk)
	if err != nil {
		return nil, fmt.Errorf("room respond: derive keys: %w", err)
	}
	want := confirmTag(k.confirmPortal, rs.share, ch.Share, rs.sid)
	if !hmac.Equal(want, ch.Confirm) {
		return nil, ErrWrongCode
	}
	rs.k, rs.verified = k, true
	return confirmTag(k.confirmRoom, rs.share, ch.Share, rs.sid), nil
}

// Seal encrypts v (JSON) for the portal. Only after a successful Respond.
func (rs *RoomSession) Seal(v any) ([]byte, error) {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	if !rs.verified {
		return nil, errors.New("room seal: key not confirmed")
	}
	out, err := seal(rs.k.sealRoom, rs.rand, rs.sid, v)
	if err != nil {
		return nil, fmt.Errorf("room seal: %w", err)
	}
	return out, nil
}

// Open decrypts a payload sealed by the portal into v. Only after a successful Respond.
func (rs *RoomSession) Open(sealed []byte, v any) error {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	if !rs.verified {
		return errors.New("room open: key not confirmed")
	}
	if err := open(rs.k.sealPortal, rs.sid, sealed, v); err != nil {
		return fmt.Errorf("room open: %w", err)
	}
	return nil
}

// PortalSession is the portal's side of one pairing attempt (the CPace responder).
type PortalSession struct {
	mu                     sync.Mutex
	rand                   io.Reader
	sid                    []byte
	shareRoom, sharePortal []byte
	k                      keys
	verified, failed       bool
}

// NewPortalSession answers a room's Hello with the code the admin typed. It fails (not
// ErrWrongCode: that is only known after the room's confirmation) when the Hello is malformed,
// its share is invalid, or the code's locator does not match the Hello's.
func NewPortalSession(code Code, h Hello, rand io.Reader) (*PortalSession, Challenge, error) {
	if err := code.valid(); err != nil {
		return nil, Challenge{}, fmt.Errorf("new portal session: %w", err)
	}
	if err := h.check(); err != nil {
		return nil, Challenge{}, fmt.Errorf("new portal session: %w", err)
	}
	if code.Locator() != h.Locator {
		return nil, Challenge{}, errors.New("new portal session: code does not match the room's locator")
	}
	sid, _ := parsePairingID(h.PairingID) // checked by h.check
	share, isk, err := pake.Respond([]byte(code), []byte(channelID), sid, []byte(adRoom), h.Share, []byte(adPortal), rand)
	if err != nil {
		return nil, Challenge{}, fmt.Errorf("new portal session: %w", err)
	}
	k, err := deriveKeys(isk)
	if err != nil {
		return nil, Challenge{}, fmt.Errorf("new portal session: derive keys: %w", err)
	}
	ps := &PortalSession{rand: rand, sid: sid, shareRoom: append([]byte(nil), h.Share...), sharePortal: share, k: k}
	ch := Challenge{Share: append([]byte(nil), share...), Confirm: confirmTag(k.confirmPortal, h.Share, share, sid)}
	return ps, ch, nil
}

// Verify checks the room's confirmation in constant time. A mismatch (or an empty confirm,
// the room's own wrong-code signal) returns ErrWrongCode and the session stays unusable.
func (ps *PortalSession) Verify(confirm []byte) error {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	if ps.failed {
		return ErrWrongCode
	}
	want := confirmTag(ps.k.confirmRoom, ps.shareRoom, ps.sharePortal, ps.sid)
	if !hmac.Equal(want, confirm) {
		ps.failed, ps.verified = true, false
		return ErrWrongCode
	}
	ps.verified = true
	return nil
}

// Open decrypts a payload sealed by the room into v. Only after a successful Verify.
func (ps *PortalSession) Open(sealed []byte, v any) error {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	if !ps.verified {
		return errors.New("portal open: key not confirmed")
	}
	if err := open(ps.k.sealRoom, ps.sid, sealed, v); err != nil {
		return fmt.Errorf("portal open: %w", err)
	}
	return nil
}

// Seal encrypts v (JSON) for the room. Only after a successful Verify.
func (ps *PortalSession) Seal(v any) ([]byte, error) {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	if !ps.verified {
		return nil, errors.New("portal seal: key not confirmed")
	}
	out, err := seal(ps.k.sealPortal, ps.rand, ps.sid, v)
	if err != nil {
		return nil, fmt.Errorf("portal seal: %w", err)
	}
	return out, nil
}
