// Package token signs and verifies meeting join tokens: the portal signs them with its
// Ed25519 key (RFC 8032); routers verify them with the public key they learn from the
// portal's heartbeat response.
//
// Wire form: base64url(JSON claims) "." base64url(signature), unpadded (RFC 4648 §5). The
// signature covers "stoa-token-v1\n" followed by the claims bytes exactly as sent, so a
// token cannot be confused with any other Ed25519-signed message.
package token

import (
	"bytes"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"
)

// Limits of a token.
const (
	MaxSize     = 4 << 10         // bytes of the whole token
	MaxLifetime = 2 * time.Minute // exp - iat
	Skew        = 30 * time.Second
)

// Participant kinds and permissions.
const (
	KindUser  = "user"
	KindRoom  = "room"
	KindGuest = "guest"

	PermPublish   = "publish"
	PermSubscribe = "subscribe"
)

const domain = "stoa-token-v1\n"

// Claims is what a join token asserts.
type Claims struct {
	Meeting     string   `json:"mtg"`
	Participant string   `json:"sub"`
	Name        string   `json:"name"`
	Kind        string   `json:"kind"`  // "user", "room", "guest"
	Perms       []string `json:"perms"` // "publish", "subscribe"
	Router      string   `json:"rtr"`   // router component ID the meeting is placed on
	IssuedAt    int64    `json:"iat"`   // unix seconds
	Expires     int64    `json:"exp"`   // unix seconds
	Nonce       string   `json:"jti"`
	// E2EEKey is the participant's X25519 public key for end-to-end media encryption
	// (services/api/e2ee, unpadded base64url), when it joins with the Secured option. The
	// router relays the signed token to the other participants, who trust the key only
	// under the portal's signature. Optional: tokens without it stay valid.
	E2EEKey string `json:"e2ee,omitempty"`
	// Secured: the portal admitted this participant under the Secured option. The router
	// enforces it for this join whatever its own view of the option (which follows the portal's
	// heartbeat answers, up to one heartbeat late), so the option holds from the first join
	// after it is turned on. Optional: tokens without it stay valid.
	Secured bool `json:"sec,omitempty"`
}

// Errors callers may test for with errors.Is.
var (
	ErrMalformed = errors.New("malformed token")
	ErrSignature = errors.New("bad token signature")
	ErrExpired   = errors.New("token expired")
	ErrNotYet    = errors.New("token not yet valid")
)

// Has reports whether the claims grant perm.
func (c Claims) Has(perm string) bool {
	for _, p := range c.Perms {
		if p == perm {
			return true
		}
	}
	return false
}

// check validates the claims' shape (not their time window).
func (c Claims) check() error {
	switch {
	case c.Meeting == "":
		return errors.New("missing meeting")
	case c.Participant == "":
		return errors.New("missing participant")
	case c.Router == "":
		return errors.New("missing router")
	case c.Nonce == "":
		return errors.New("missing nonce")
	case c.Kind != KindUser && c.Kind != KindRoom && c.Kind != KindGuest:
		return fmt.Errorf("unknown kind %q", c.Kind)
	case c.Expires <= c.IssuedAt:
		return errors.New("expiry not after issue time")
	case c.Expires-c.IssuedAt > int64(MaxLifetime/time.Second):
		return fmt.Errorf("lifetime %ds exceeds %s", c.Expires-c.IssuedAt, MaxLifetime)
	}
	for _, p := range c.Perms {
		if p != PermPublish && p != PermSubscribe {
			return fmt.Errorf("unknown permission %q", p)
		}
	}
	if c.E2EEKey != "" {
		if k, err := base64.RawURLEncoding.DecodeString(c.E2EEKey); err != nil || len(k) != 32 {
			return errors.New("e2ee key is not a base64url X25519 public key")
		}
	}
	return nil
}

// Sign encodes and signs c with key.
func Sign(c Claims, key ed25519.PrivateKey) (string, error) {
	if len(key) != ed25519.PrivateKeySize {
		return "", errors.New("sign token: invalid private key")
	}
	if err := c.check(); err != nil {
		return "", fmt.Errorf("sign token: %w", err)
	}
	payload, err := json.Marshal(c)
	if err != nil {
		return "", fmt.Errorf("sign token: %w", err)
	}
	sig := ed25519.Sign(key, signed(payload))
	tok := base64.RawURLEncoding.EncodeToString(payload) + "." + base64.RawURLEncoding.EncodeToString(sig)
	if len(tok) > MaxSize {
		return "", fmt.Errorf("sign token: %d bytes exceeds %d", len(tok), MaxSize)
	}
	return tok, nil
}

// Verify checks tok's signature with pub and its validity at now (allowing Skew either way)
// and returns its claims. The signature is checked before the claims are parsed.
func Verify(tok string, pub ed25519.PublicKey, now time.Time) (Claims, error) {
	if len(pub) != ed25519.PublicKeySize {
		return Claims{}, errors.New("verify token: no valid public key")
	}
	if len(tok) > MaxSize {
		return Claims{}, fmt.Errorf("verify token: %w: %d bytes exceeds %d", ErrMalformed, len(tok), MaxSize)
	}
	p64, s64, ok := strings.Cut(tok, ".")
	if !ok || strings.Contains(s64, ".") {
		return Claims{}, fmt.Errorf("verify token: %w: want payload.signature", ErrMalformed)
	}
	payload, err := base64.RawURLEncoding.DecodeString(p64)
	if err != nil {
		return Claims{}, fmt.Errorf("verify token: %w: payload: %v", ErrMalformed, err)
	}
	sig, err := base64.RawURLEncoding.DecodeString(s64)
	if err != nil || len(sig) != ed25519.SignatureSize {
		return Claims{}, fmt.Errorf("verify token: %w: signature encoding", ErrMalformed)
	}
	if !ed25519.Verify(pub, signed(payload), sig) {
		return Claims{}, fmt.Errorf("verify token: %w", ErrSignature)
	}
	var c Claims
	dec := json.NewDecoder(bytes.NewReader(payload))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		return Claims{}, fmt.Errorf("verify token: %w: claims: %v", ErrMalformed, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return Claims{}, fmt.Errorf("verify token: %w: trailing data after claims", ErrMalformed)
	}
	if err := c.check(); err != nil {
		return Claims{}, fmt.Errorf("verify token: %w: %v", ErrMalformed, err)
	}
	n := now.Unix()
	skew := int64(Skew / time.Second)
	if n >= c.Expires+skew {
		return Claims{}, fmt.Errorf("verify token: %w at %s", ErrExpired, time.Unix(c.Expires, 0).UTC().Format(time.RFC3339))
	}
	if n < c.IssuedAt-skew {
		return Claims{}, fmt.Errorf("verify token: %w until %s", ErrNotYet, time.Unix(c.IssuedAt, 0).UTC().Format(time.RFC3339))
	}
	return c, nil
}

func signed(payload []byte) []byte {
	return append([]byte(domain), payload...)
}
