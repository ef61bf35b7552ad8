package e2ee

import (
	"crypto/ecdh"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// tokenDomain and maxToken mirror services/token's wire form (base64url(claims) "."
// base64url(Ed25519 signature over domain || claims)); this package cannot import it (the
// published contract stands alone), and services/token tests that both agree.
const (
	tokenDomain = "stoa-token-v1\n"
	maxToken    = 4 << 10
)

// ErrUntrustedKey marks a participant key that the portal did not sign for that participant
// of this meeting: what a router substituting keys would produce.
var ErrUntrustedKey = errors.New("participant key is not signed by the portal for this meeting (key substitution refused)")

// KeyClaim is the part of a portal-signed join token that binds a participant's key.
type KeyClaim struct {
	Meeting     string
	Participant string
	Public      *ecdh.PublicKey
}

// VerifyKeyClaim checks tok's portal signature and returns the e2ee key it binds. The token's
// validity window is not checked: it bounded the join, while the key stays bound for the
// participant's whole session.
func VerifyKeyClaim(tok string, portal ed25519.PublicKey) (KeyClaim, error) {
	if len(portal) != ed25519.PublicKeySize {
		return KeyClaim{}, errors.New("verify key claim: no portal token key")
	}
	if len(tok) > maxToken {
		return KeyClaim{}, fmt.Errorf("verify key claim: token of %d bytes exceeds %d", len(tok), maxToken)
	}
	p64, s64, ok := strings.Cut(tok, ".")
	if !ok {
		return KeyClaim{}, errors.New("verify key claim: token is not payload.signature")
	}
	payload, err := base64.RawURLEncoding.DecodeString(p64)
	if err != nil {
		return KeyClaim{}, fmt.Errorf("verify key claim: payload: %w", err)
	}
	sig, err := base64.RawURLEncoding.DecodeString(s64)
	if err != nil || len(sig) != ed25519.SignatureSize {
		return KeyClaim{}, errors.New("verify key claim: bad signature encoding")
	}
	if !ed25519.Verify(portal, append([]byte(tokenDomain), payload...), sig) {
		return KeyClaim{}, fmt.Errorf("verify key claim: %w", ErrUntrustedKey)
	}
	var c struct {
		Meeting     string `json:"mtg"`
		Participant string `json:"sub"`
		Key         string `json:"e2ee"`
	}
	if err := json.Unmarshal(payload, &c); err != nil {
		return KeyClaim{}, fmt.Errorf("verify key claim: claims: %w", err)
	}
	if c.Key == "" {
		return KeyClaim{}, fmt.Errorf("verify key claim: participant %q declared no e2ee key", c.Participant)
	}
	pub, err := ParsePublicKey(c.Key)
	if err != nil {
		return KeyClaim{}, fmt.Errorf("verify key claim: %w", err)
	}
	return KeyClaim{Meeting: c.Meeting, Participant: c.Participant, Public: pub}, nil
}

// EncodePublicKey is the token claim form of an X25519 public key: unpadded base64url.
func EncodePublicKey(pub *ecdh.PublicKey) string {
	return base64.RawURLEncoding.EncodeToString(pub.Bytes())
}

// ParsePublicKey decodes the token claim form of an X25519 public key.
func ParsePublicKey(s string) (*ecdh.PublicKey, error) {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("e2ee public key: %w", err)
	}
	pub, err := ecdh.X25519().NewPublicKey(b)
	if err != nil {
		return nil, fmt.Errorf("e2ee public key: %w", err)
	}
	return pub, nil
}

// GenerateKey makes a participant's X25519 key pair for one meeting session.
func GenerateKey() (*ecdh.PrivateKey, error) {
	k, err := ecdh.X25519().GenerateKey(nil)
	if err != nil {
		return nil, fmt.Errorf("e2ee generate key: %w", err)
	}
	return k, nil
}
