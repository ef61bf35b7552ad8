package e2ee

import (
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/cloudflare/circl/hpke"
	"github.com/cloudflare/circl/kem"
)

// Key message wire form (the "key" of an api.SigE2EEKey), fixed length:
//
//	version (1) = 1 | KID (8, big-endian) | HPKE enc (32) | sealed base key (16 + 16 tag)
//
// The first 9 bytes are the AAD of the HPKE seal.
const (
	keyMsgVersion = 1
	encSize       = 32
	KeyMessageLen = 1 + 8 + encSize + BaseKeySize + TagSize
)

// ErrKeyMessage marks a key message that is malformed or does not open: tampered, sealed to
// someone else, or not made by the sender it claims.
var ErrKeyMessage = errors.New("bad e2ee key message")

// KeyMessage is a decoded key message: a sender's base key for KID, sealed to one recipient.
type KeyMessage struct {
	KID    uint64
	Enc    []byte
	Sealed []byte
}

// suite is HPKE DHKEM(X25519, HKDF-SHA256), HKDF-SHA256, AES-128-GCM (RFC 9180 section 7).
var suite = hpke.NewSuite(hpke.KEM_X25519_HKDF_SHA256, hpke.KDF_HKDF_SHA256, hpke.AEAD_AES128GCM)

// Encode is the wire form.
func (m KeyMessage) Encode() []byte {
	b := make([]byte, 0, KeyMessageLen)
	b = append(b, keyMsgVersion)
	b = binary.BigEndian.AppendUint64(b, m.KID)
	b = append(b, m.Enc...)
	return append(b, m.Sealed...)
}

// DecodeKeyMessage parses the wire form; it does not open it.
func DecodeKeyMessage(b []byte) (KeyMessage, error) {
	if len(b) != KeyMessageLen {
		return KeyMessage{}, fmt.Errorf("decode key message: %w: %d bytes, want %d", ErrKeyMessage, len(b), KeyMessageLen)
	}
	if b[0] != keyMsgVersion {
		return KeyMessage{}, fmt.Errorf("decode key message: %w: version %d, want %d", ErrKeyMessage, b[0], keyMsgVersion)
	}
	return KeyMessage{
		KID:    binary.BigEndian.Uint64(b[1:9]),
		Enc:    append([]byte(nil), b[9:9+encSize]...),
		Sealed: append([]byte(nil), b[9+encSize:]...),
	}, nil
}

// keyInfo binds a key message to its meeting, sender, recipient and epoch (KID).
func keyInfo(meeting, from, to string, kid uint64) []byte {
	b := []byte("stoa e2ee key v1")
	for _, s := range []string{meeting, from, to} {
		b = binary.BigEndian.AppendUint16(b, uint16(len(s)))
		b = append(b, s...)
	}
	return binary.BigEndian.AppendUint64(b, kid)
}

func kemPublic(b []byte) (kem.PublicKey, error) {
	return hpke.KEM_X25519_HKDF_SHA256.Scheme().UnmarshalBinaryPublicKey(b)
}

func kemPrivate(b []byte) (kem.PrivateKey, error) {
	return hpke.KEM_X25519_HKDF_SHA256.Scheme().UnmarshalBinaryPrivateKey(b)
}

// sealKey seals base for recipient (Auth mode: authenticated by the sender's static key).
func sealKey(skS kem.PrivateKey, pkR kem.PublicKey, info []byte, kid uint64, base []byte) ([]byte, error) {
	snd, err := suite.NewSender(pkR, info)
	if err != nil {
		return nil, fmt.Errorf("seal key: %w", err)
	}
	enc, sealer, err := snd.SetupAuth(rand.Reader, skS)
	if err != nil {
		return nil, fmt.Errorf("seal key: %w", err)
	}
	m := KeyMessage{KID: kid, Enc: enc}
	aad := m.Encode()[:9]
	if m.Sealed, err = sealer.Seal(base, aad); err != nil {
		return nil, fmt.Errorf("seal key: %w", err)
	}
	return m.Encode(), nil
}

// openKey opens a decoded key message from pkS.
func openKey(skR kem.PrivateKey, pkS kem.PublicKey, info []byte, m KeyMessage) ([]byte, error) {
	rcv, err := suite.NewReceiver(skR, info)
	if err != nil {
		return nil, fmt.Errorf("open key: %w", err)
	}
	opener, err := rcv.SetupAuth(m.Enc, pkS)
	if err != nil {
		return nil, fmt.Errorf("open key: %w: %v", ErrKeyMessage, err)
	}
	base, err := opener.Open(m.Sealed, m.Encode()[:9])
	if err != nil {
		return nil, fmt.Errorf("open key: %w: does not authenticate", ErrKeyMessage)
	}
	return base, nil
}
