package e2ee

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/binary"
	"errors"
	"fmt"
)

// SuiteAES128GCMSHA256 is the SFrame cipher suite Stoa uses (RFC 9605 section 8.1).
const SuiteAES128GCMSHA256 uint16 = 0x0004

// Sizes of suite 0x0004.
const (
	keySize   = 16 // AEAD.Nk
	nonceSize = 12 // AEAD.Nn
	TagSize   = 16 // AEAD.Nt
	// BaseKeySize is the size of the base keys Stoa senders draw and ratchet.
	BaseKeySize = 16
)

// ErrAuth marks a ciphertext that does not authenticate under the key its KID names: tampered,
// or sealed with another key.
var ErrAuth = errors.New("sframe ciphertext does not authenticate")

// Key is the SFrame key and salt derived from one base key for one KID.
type Key struct {
	kid  uint64
	aead cipher.AEAD
	salt [nonceSize]byte
}

// NewKey derives the SFrame key and salt for kid from baseKey (RFC 9605 section 4.4.2).
func NewKey(kid uint64, baseKey []byte) (*Key, error) {
	key, salt, err := deriveKeySalt(kid, baseKey)
	if err != nil {
		return nil, err
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("sframe key: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("sframe key: %w", err)
	}
	k := &Key{kid: kid, aead: aead}
	copy(k.salt[:], salt)
	return k, nil
}

// KID is the key ID the key seals under.
func (k *Key) KID() uint64 { return k.kid }

func deriveKeySalt(kid uint64, baseKey []byte) (key, salt []byte, err error) {
	if len(baseKey) == 0 {
		return nil, nil, errors.New("sframe key: empty base key")
	}
	secret, err := hkdf.Extract(sha256.New, baseKey, nil)
	if err != nil {
		return nil, nil, fmt.Errorf("sframe key: %w", err)
	}
	if key, err = hkdf.Expand(sha256.New, secret, label("SFrame 1.0 Secret key ", kid), keySize); err != nil {
		return nil, nil, fmt.Errorf("sframe key: %w", err)
	}
	if salt, err = hkdf.Expand(sha256.New, secret, label("SFrame 1.0 Secret salt ", kid), nonceSize); err != nil {
		return nil, nil, fmt.Errorf("sframe salt: %w", err)
	}
	return key, salt, nil
}

// label is prefix + KID (8 bytes big-endian) + cipher suite (2 bytes big-endian), as in the
// final RFC (drafts before it had neither).
func label(prefix string, kid uint64) string {
	b := make([]byte, 0, len(prefix)+10)
	b = append(b, prefix...)
	b = binary.BigEndian.AppendUint64(b, kid)
	b = binary.BigEndian.AppendUint16(b, SuiteAES128GCMSHA256)
	return string(b)
}

func (k *Key) nonce(ctr uint64) []byte {
	var n [nonceSize]byte
	binary.BigEndian.PutUint64(n[nonceSize-8:], ctr)
	subtle.XORBytes(n[:], n[:], k.salt[:])
	return n[:]
}

// Seal appends header(KID, ctr) || AEAD(plaintext) to dst, authenticating header || metadata.
func (k *Key) Seal(dst []byte, ctr uint64, metadata, plaintext []byte) []byte {
	start := len(dst)
	dst = Header{KID: k.kid, CTR: ctr}.Append(dst)
	hdr := dst[start:]
	aad := make([]byte, 0, len(hdr)+len(metadata))
	aad = append(append(aad, hdr...), metadata...)
	return k.aead.Seal(dst, k.nonce(ctr), plaintext, aad)
}

// open decrypts the ciphertext that follows header hdr (already parsed as h).
func (k *Key) open(dst []byte, h Header, hdr, metadata, ct []byte) ([]byte, error) {
	aad := make([]byte, 0, len(hdr)+len(metadata))
	aad = append(append(aad, hdr...), metadata...)
	out, err := k.aead.Open(dst, k.nonce(h.CTR), ct, aad)
	if err != nil {
		return nil, fmt.Errorf("sframe decrypt KID %d CTR %d: %w", h.KID, h.CTR, ErrAuth)
	}
	return out, nil
}

// Open decrypts one SFrame ciphertext (header included) sealed with k.
func (k *Key) Open(dst, metadata, sframe []byte) ([]byte, error) {
	h, n, err := ParseHeader(sframe)
	if err != nil {
		return nil, err
	}
	if h.KID != k.kid {
		return nil, fmt.Errorf("sframe decrypt: KID %d, key is for KID %d", h.KID, k.kid)
	}
	return k.open(dst, h, sframe[:n], metadata, sframe[n:])
}

// ratchet derives the next base key from base: one-way, so holders of the new key cannot
// compute the old one.
func ratchet(base []byte) ([]byte, error) {
	secret, err := hkdf.Extract(sha256.New, base, nil)
	if err != nil {
		return nil, fmt.Errorf("ratchet: %w", err)
	}
	next, err := hkdf.Expand(sha256.New, secret, "stoa e2ee ratchet", BaseKeySize)
	if err != nil {
		return nil, fmt.Errorf("ratchet: %w", err)
	}
	return next, nil
}
