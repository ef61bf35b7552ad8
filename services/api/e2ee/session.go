package e2ee

import (
	"crypto/ecdh"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"sort"
	"sync"

	"github.com/cloudflare/circl/kem"
)

// Config sets up one participant's e2ee session in one meeting.
type Config struct {
	// Meeting is the meeting ID every key claim and key message must name.
	Meeting string
	// Self is this participant's ID (the token's subject).
	Self string
	// Private is the X25519 key whose public half is in this participant's join token.
	Private *ecdh.PrivateKey
	// PortalKey verifies the other participants' tokens (api.MeetingJoinResponse.TokenKey).
	PortalKey ed25519.PublicKey
}

// Outgoing is a key message for one recipient, to send as api.SigE2EEKey{To, Key}.
type Outgoing struct {
	To  string
	Key []byte
}

// Errors of the key exchange.
var (
	ErrUnknownPeer = errors.New("no portal-verified key for this participant")
	ErrKeyChanged  = errors.New("participant presented a different key than before (key substitution refused)")
)

// Session is one participant's SFrame state: its own sending key and the verified keys of the
// others. It is safe for concurrent use (audio and video tracks encrypt at once).
type Session struct {
	cfg  Config
	skS  kem.PrivateKey
	self *ecdh.PublicKey

	mu    sync.Mutex
	base  []byte // our current base key (encrypt only: never in a ring)
	kid   uint64 // our current epoch
	key   *Key
	ctr   uint64
	peers map[string]*peer
	// pending holds key messages that arrived before their sender's token (signaling order
	// is not guaranteed across participants); AddPeer opens them once the key is verified.
	pending map[string][][]byte
}

// maxPending bounds key messages held for senders not yet verified.
const maxPending = 64

type peer struct {
	pub  *ecdh.PublicKey
	pkS  kem.PublicKey
	ring ring
}

// NewSession starts a session with a fresh random sending key at KID 0.
func NewSession(cfg Config) (*Session, error) {
	switch {
	case cfg.Meeting == "" || cfg.Self == "":
		return nil, errors.New("e2ee session: meeting and participant are required")
	case cfg.Private == nil || cfg.Private.Curve() != ecdh.X25519():
		return nil, errors.New("e2ee session: an X25519 private key is required")
	case len(cfg.PortalKey) != ed25519.PublicKeySize:
		return nil, errors.New("e2ee session: the portal's token key is required to verify participants' keys")
	}
	skS, err := kemPrivate(cfg.Private.Bytes())
	if err != nil {
		return nil, fmt.Errorf("e2ee session: %w", err)
	}
	s := &Session{cfg: cfg, skS: skS, self: cfg.Private.PublicKey(), peers: map[string]*peer{}, pending: map[string][][]byte{}}
	if err := s.rotateLocked(0); err != nil {
		return nil, err
	}
	return s, nil
}

// Self is this participant's ID.
func (s *Session) Self() string { return s.cfg.Self }

// PublicKey is the claim form of this participant's public key, for the join request.
func (s *Session) PublicKey() string { return EncodePublicKey(s.self) }

// Epoch is the KID this participant currently sends with.
func (s *Session) Epoch() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.kid
}

// rotateLocked draws a fresh base key for kid.
func (s *Session) rotateLocked(kid uint64) error {
	base := make([]byte, BaseKeySize)
	if _, err := rand.Read(base); err != nil {
		return fmt.Errorf("e2ee rotate: %w", err)
	}
	return s.useLocked(kid, base)
}

func (s *Session) useLocked(kid uint64, base []byte) error {
	k, err := NewKey(kid, base)
	if err != nil {
		return err
	}
	s.base, s.kid, s.key, s.ctr = base, kid, k, 0
	return nil
}

// AddPeer verifies participant id's portal-signed token and returns our key sealed to it.
// newcomer says id joined after us: we ratchet first, so it cannot read what we sent before.
func (s *Session) AddPeer(id, tok string, newcomer bool) (Outgoing, error) {
	if id == s.cfg.Self {
		return Outgoing{}, errors.New("e2ee add peer: that is us")
	}
	c, err := VerifyKeyClaim(tok, s.cfg.PortalKey)
	if err != nil {
		return Outgoing{}, fmt.Errorf("e2ee add peer %q: %w", id, err)
	}
	if c.Meeting != s.cfg.Meeting || c.Participant != id {
		return Outgoing{}, fmt.Errorf("e2ee add peer %q: token is for participant %q of meeting %q: %w", id, c.Participant, c.Meeting, ErrUntrustedKey)
	}
	pkS, err := kemPublic(c.Public.Bytes())
	if err != nil {
		return Outgoing{}, fmt.Errorf("e2ee add peer %q: %w", id, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if p := s.peers[id]; p != nil {
		if !p.pub.Equal(c.Public) {
			return Outgoing{}, fmt.Errorf("e2ee add peer %q: %w", id, ErrKeyChanged)
		}
	} else {
		s.peers[id] = &peer{pub: c.Public, pkS: pkS}
		held := s.pending[id]
		delete(s.pending, id)
		for _, b := range held {
			if err := s.handleKeyLocked(id, b); err != nil {
				return Outgoing{}, fmt.Errorf("e2ee add peer %q: held %w", id, err)
			}
		}
		if newcomer {
			next, err := ratchet(s.base)
			if err != nil {
				return Outgoing{}, err
			}
			if err := s.useLocked(s.kid+1, next); err != nil {
				return Outgoing{}, err
			}
		}
	}
	return s.sealLocked(id)
}

func (s *Session) sealLocked(to string) (Outgoing, error) {
	p := s.peers[to]
	if p == nil {
		return Outgoing{}, fmt.Errorf("e2ee seal key for %q: %w", to, ErrUnknownPeer)
	}
	b, err := sealKey(s.skS, p.pkS, keyInfo(s.cfg.Meeting, s.cfg.Self, to, s.kid), s.kid, s.base)
	if err != nil {
		return Outgoing{}, fmt.Errorf("e2ee seal key for %q: %w", to, err)
	}
	return Outgoing{To: to, Key: b}, nil
}

// RemovePeer forgets id's keys and rotates our key to a fresh random one, returned sealed to
// every remaining participant: the leaver cannot read what we send next.
func (s *Session) RemovePeer(id string) ([]Outgoing, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.pending, id)
	if _, ok := s.peers[id]; !ok {
		return nil, nil
	}
	delete(s.peers, id)
	if err := s.rotateLocked(s.kid + 1); err != nil {
		return nil, err
	}
	ids := make([]string, 0, len(s.peers))
	for pid := range s.peers {
		ids = append(ids, pid)
	}
	sort.Strings(ids)
	out := make([]Outgoing, 0, len(ids))
	for _, pid := range ids {
		o, err := s.sealLocked(pid)
		if err != nil {
			return nil, err
		}
		out = append(out, o)
	}
	return out, nil
}

// Peers are the participants whose keys are verified, sorted.
func (s *Session) Peers() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	ids := make([]string, 0, len(s.peers))
	for id := range s.peers {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	return ids
}

// HandleKey opens a key message the router relayed from participant from and installs the key.
// A message from a participant whose token has not arrived yet is held (bounded) until
// AddPeer verifies it.
func (s *Session) HandleKey(from string, b []byte) error {
	if _, err := DecodeKeyMessage(b); err != nil {
		return fmt.Errorf("e2ee key from %q: %w", from, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.peers[from] == nil {
		n := 0
		for _, h := range s.pending {
			n += len(h)
		}
		if n >= maxPending {
			return fmt.Errorf("e2ee key from %q: %w (and %d key messages already held)", from, ErrUnknownPeer, n)
		}
		s.pending[from] = append(s.pending[from], append([]byte(nil), b...))
		return nil
	}
	return s.handleKeyLocked(from, b)
}

func (s *Session) handleKeyLocked(from string, b []byte) error {
	p := s.peers[from]
	m, err := DecodeKeyMessage(b)
	if err != nil {
		return fmt.Errorf("e2ee key from %q: %w", from, err)
	}
	base, err := openKey(s.skS, p.pkS, keyInfo(s.cfg.Meeting, from, s.cfg.Self, m.KID), m)
	if err != nil {
		return fmt.Errorf("e2ee key from %q KID %d: %w", from, m.KID, err)
	}
	if err := p.ring.set(m.KID, base); err != nil {
		return fmt.Errorf("e2ee key from %q: %w", from, err)
	}
	return nil
}

// EncryptFrame seals one encoded frame of codec c with our current key.
func (s *Session) EncryptFrame(c Codec, frame []byte) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out, err := sealFrame(c, frame, func(dst, metadata, pt []byte) []byte {
		ctr := s.ctr
		s.ctr++
		return s.key.Seal(dst, ctr, metadata, pt)
	})
	if err != nil {
		return nil, fmt.Errorf("e2ee: %w", err)
	}
	return out, nil
}

// DecryptFrame opens one frame of codec c that participant from sent.
func (s *Session) DecryptFrame(from string, c Codec, frame []byte) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.peers[from]
	if p == nil {
		return nil, fmt.Errorf("e2ee decrypt from %q: %w", from, ErrUnknownPeer)
	}
	out, err := openFrame(c, frame, p.ring.open)
	if err != nil {
		return nil, fmt.Errorf("e2ee decrypt from %q: %w", from, err)
	}
	return out, nil
}
