// Package pake implements CPace, the balanced password-authenticated key exchange of
// draft-irtf-cfrg-cpace (https://datatracker.ietf.org/doc/draft-irtf-cfrg-cpace/), with the
// cipher suite CPACE-RISTR255-SHA512 (section 8.3) in the initiator-responder setting.
//
// A (initiator) calls Start and sends the returned message Ya with its associated data ADa; B
// (responder) calls Respond, gets its message Yb and the intermediate session key ISK, and
// sends Yb with ADb; A calls Finish to get the same ISK. Both ISKs match only if PRS, CI, sid,
// ADa and ADb match on both sides. CPace gives implicit authentication only: callers add key
// confirmation (draft section 10.4) and derive working keys from ISK with a KDF (section 10.3).
package pake

import (
	"crypto/sha512"
	"errors"
	"fmt"
	"io"

	"github.com/gtank/ristretto255"
)

// Suite constants of G_Ristretto255 with H = SHA-512 (draft sections 6.2 and 8.3).
const (
	dsi            = "CPaceRistretto255"
	hashBlockBytes = 128 // H.s_in_bytes of SHA-512
	groupSizeBits  = 252 // G_Ristretto255.group_size_bits

	// MessageSize is the length of a CPace message (an encoded ristretto255 element).
	MessageSize = 32
	// ISKSize is the length of the intermediate session key (a SHA-512 output).
	ISKSize = sha512.Size
)

// Errors a peer's message can cause. Both mean the exchange must be aborted.
var (
	// ErrInvalidMessage: the peer's message is not a canonical ristretto255 encoding.
	ErrInvalidMessage = errors.New("pake: peer message is not a valid ristretto255 element")
	// ErrIdentity: the peer's message (or the shared point) is the neutral element, which an
	// attacker would send to force a known key (draft section 9).
	ErrIdentity = errors.New("pake: peer message is the identity element")
)

// State is the initiator's state between Start and Finish. It is single use.
type State struct {
	y    *ristretto255.Scalar
	ya   []byte
	adA  []byte
	sid  []byte
	done bool
}

// Start begins an exchange as the initiator A: it returns the state to keep and the message Ya
// to send (together with ad, which travels in clear and is authenticated by the ISK).
func Start(prs, ci, sid, ad []byte, rand io.Reader) (*State, []byte, error) {
	y, err := sampleScalar(rand)
	if err != nil {
		return nil, nil, fmt.Errorf("pake start: %w", err)
	}
	st, msg := startWithScalar(prs, ci, sid, ad, y)
	return st, msg, nil
}

// startWithScalar is Start with a fixed scalar, so tests can reproduce the draft's vectors.
func startWithScalar(prs, ci, sid, ad []byte, y *ristretto255.Scalar) (*State, []byte) {
	g := calculateGenerator(prs, ci, sid)
	ya := scalarMult(y, g)
	return &State{y: y, ya: ya, adA: clone(ad), sid: clone(sid)}, ya
}

// Finish completes the exchange for the initiator with B's message and associated data and
// returns the ISK. It aborts (error) on an invalid or identity message.
func (s *State) Finish(msgB, adB []byte) ([]byte, error) {
	if s == nil || s.done {
		return nil, errors.New("pake finish: state already used")
	}
	s.done = true
	k, err := scalarMultVfy(s.y, msgB)
	if err != nil {
		return nil, fmt.Errorf("pake finish: %w", err)
	}
	return deriveISK(s.sid, k, transcriptIR(s.ya, s.adA, msgB, adB)), nil
}

// Respond runs the responder B's side: from A's message and associated data it returns B's
// message Yb (to send with adB) and the ISK. It aborts on an invalid or identity message.
func Respond(prs, ci, sid, adA, msgA, adB []byte, rand io.Reader) (msgB, isk []byte, err error) {
	y, err := sampleScalar(rand)
	if err != nil {
		return nil, nil, fmt.Errorf("pake respond: %w", err)
	}
	return respondWithScalar(prs, ci, sid, adA, msgA, adB, y)
}

func respondWithScalar(prs, ci, sid, adA, msgA, adB []byte, y *ristretto255.Scalar) (msgB, isk []byte, err error) {
	// Validate A's message before any work that depends on the password.
	if _, err := decodeElement(msgA); err != nil {
		return nil, nil, fmt.Errorf("pake respond: %w", err)
	}
	g := calculateGenerator(prs, ci, sid)
	yb := scalarMult(y, g)
	k, err := scalarMultVfy(y, msgA)
	if err != nil {
		return nil, nil, fmt.Errorf("pake respond: %w", err)
	}
	return yb, deriveISK(sid, k, transcriptIR(msgA, adA, yb, adB)), nil
}

// ValidateMessage reports whether msg is acceptable as a peer's CPace message: a canonical
// ristretto255 encoding of an element other than the identity.
func ValidateMessage(msg []byte) error {
	_, err := decodeElement(msg)
	return err
}

// calculateGenerator is G.calculate_generator (section 8.3): hash the generator string to
// 2*32 bytes and map them with the ristretto255 element derivation (RFC 9496 section 4.3.4).
func calculateGenerator(prs, ci, sid []byte) *ristretto255.Element {
	h := sha512.Sum512(generatorString([]byte(dsi), prs, ci, sid, hashBlockBytes))
	return ristretto255.NewElement().FromUniformBytes(h[:])
}

// sampleScalar is the recommended G.sample_scalar (section 8.3): 32 random bytes with the bits
// above group_size_bits cleared, read as a little-endian integer (always below the group
// order, so the canonical decoding cannot fail). A zero scalar is redrawn.
func sampleScalar(rand io.Reader) (*ristretto255.Scalar, error) {
	for range 8 {
		var b [32]byte
		if _, err := io.ReadFull(rand, b[:]); err != nil {
			return nil, fmt.Errorf("sample scalar: %w", err)
		}
		b[31] &= 0xff >> (256 - groupSizeBits) // keep bits 0..251
		s := ristretto255.NewScalar()
		if err := s.Decode(b[:]); err != nil {
			return nil, fmt.Errorf("sample scalar: %w", err)
		}
		if s.Equal(ristretto255.NewScalar()) == 0 {
			return s, nil
		}
	}
	return nil, errors.New("sample scalar: random source returns zeros")
}

// scalarMult is G.scalar_mult(y, g): encode(y * g).
func scalarMult(y *ristretto255.Scalar, g *ristretto255.Element) []byte {
	return ristretto255.NewElement().ScalarMult(y, g).Encode(nil)
}

// scalarMultVfy is G.scalar_mult_vfy(y, X) with the abort built in: decoding failures and an
// identity result (G.I) are errors, so a caller cannot forget the K = G.I check of section 7.2.
func scalarMultVfy(y *ristretto255.Scalar, x []byte) ([]byte, error) {
	p, err := decodeElement(x)
	if err != nil {
		return nil, err
	}
	k := ristretto255.NewElement().ScalarMult(y, p)
	if k.Equal(ristretto255.NewElement()) == 1 {
		return nil, ErrIdentity
	}
	return k.Encode(nil), nil
}

func decodeElement(x []byte) (*ristretto255.Element, error) {
	if len(x) != MessageSize {
		return nil, fmt.Errorf("%w: %d bytes, want %d", ErrInvalidMessage, len(x), MessageSize)
	}
	p := ristretto255.NewElement()
	if err := p.Decode(x); err != nil {
		return nil, ErrInvalidMessage
	}
	if p.Equal(ristretto255.NewElement()) == 1 {
		return nil, ErrIdentity
	}
	return p, nil
}

// deriveISK is ISK = H.hash(lv_cat(G.DSI || "_ISK", sid, K) || transcript) (section 7.2).
func deriveISK(sid, k, transcript []byte) []byte {
	h := sha512.New()
	h.Write(lvCat([]byte(dsi+"_ISK"), sid, k))
	h.Write(transcript)
	return h.Sum(nil)
}

func clone(b []byte) []byte { return append([]byte(nil), b...) }
