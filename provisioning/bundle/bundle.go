// Package bundle is the signed, versioned trust bundle a paired room holds: which roots it trusts
// for the portal's public HTTPS certificate and for the management channel. The portal signs it
// with its ed25519 bundle key; the room verifies every bundle against the key it learned during
// pairing and stores accepted ones atomically (see Store).
package bundle

import (
	"bytes"
	"crypto/ed25519"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net/url"
	"time"
)

// Limits on what Verify accepts: a bundle holds a handful of certificates, so anything larger is
// not a bundle and is refused before any work is spent on it.
const (
	MaxEnvelopeSize = 256 << 10
	MaxRoots        = 16
	maxURLLen       = 2048
)

// signContext is prefixed to the payload before signing so a bundle signature can never be
// confused with an ed25519 signature the same key might make over other data.
const signContext = "stoa-bundle-v1\n"

var (
	// ErrBadSignature: the envelope is well formed but not signed by the expected key.
	ErrBadSignature = errors.New("bundle: bad signature")
	// ErrMalformed: the envelope or the bundle inside it does not parse or is incomplete.
	ErrMalformed = errors.New("bundle: malformed")
	// ErrOlderVersion: the bundle's version is below the one already stored.
	ErrOlderVersion = errors.New("bundle: older version")
)

// Bundle is the trust a room holds. JSON field names are the wire contract.
type Bundle struct {
	Version     uint64    `json:"version"`
	IssuedAt    time.Time `json:"issued_at"`
	PortalURL   string    `json:"portal_url"`   // public HTTPS
	MgmtURL     string    `json:"mgmt_url"`     // portal internal mTLS listener, https://fqdn:port
	PortalRoots []string  `json:"portal_roots"` // PEM: anchors for the portal's PUBLIC certificate (old + new during rotation)
	ComponentCA string    `json:"component_ca"` // PEM: the internal CA; it signs the mgmt listener's certificate
}

type envelope struct {
	Payload   []byte `json:"payload"`
	Signature []byte `json:"signature"`
}

// Sign checks b and returns the signed envelope JSON.
func Sign(b Bundle, key ed25519.PrivateKey) ([]byte, error) {
	if len(key) != ed25519.PrivateKeySize {
		return nil, fmt.Errorf("bundle: sign: private key has %d bytes, want %d", len(key), ed25519.PrivateKeySize)
	}
	if err := b.validate(); err != nil {
		return nil, fmt.Errorf("bundle: sign: %w", err)
	}
	b.IssuedAt = b.IssuedAt.UTC()
	payload, err := json.Marshal(b)
	if err != nil {
		return nil, fmt.Errorf("bundle: sign: %w", err)
	}
	env := envelope{Payload: payload, Signature: ed25519.Sign(key, signedMessage(payload))}
	out, err := json.Marshal(env)
	if err != nil {
		return nil, fmt.Errorf("bundle: sign: %w", err)
	}
	if len(out) > MaxEnvelopeSize {
		return nil, fmt.Errorf("bundle: sign: envelope is %d bytes, limit %d", len(out), MaxEnvelopeSize)
	}
	return out, nil
}

// Verify checks the envelope's signature against pub and returns the bundle inside. It is strict:
// unknown fields, trailing data, missing fields, non-https URLs and PEM that does not parse are
// all refused with ErrMalformed; a wrong signature with ErrBadSignature.
func Verify(env []byte, pub ed25519.PublicKey) (Bundle, error) {
	b, _, err := verify(env, pub)
	return b, err
}

// verify also returns the signed payload bytes, which Store compares for idempotent re-pushes.
func verify(env []byte, pub ed25519.PublicKey) (Bundle, []byte, error) {
	if len(pub) != ed25519.PublicKeySize {
		return Bundle{}, nil, fmt.Errorf("bundle: verify: public key has %d bytes, want %d", len(pub), ed25519.PublicKeySize)
	}
	if len(env) > MaxEnvelopeSize {
		return Bundle{}, nil, fmt.Errorf("%w: envelope is %d bytes, limit %d", ErrMalformed, len(env), MaxEnvelopeSize)
	}
	var e envelope
	if err := decodeStrict(env, &e); err != nil {
		return Bundle{}, nil, fmt.Errorf("%w: envelope: %v", ErrMalformed, err)
	}
	if len(e.Payload) == 0 {
		return Bundle{}, nil, fmt.Errorf("%w: envelope: payload missing", ErrMalformed)
	}
	if len(e.Signature) != ed25519.SignatureSize {
		return Bundle{}, nil, fmt.Errorf("%w: envelope: signature has %d bytes, want %d", ErrMalformed, len(e.Signature), ed25519.SignatureSize)
	}
	if !ed25519.Verify(pub, signedMessage(e.Payload), e.Signature) {
		return Bundle{}, nil, ErrBadSignature
	}
	var b Bundle
	if err := decodeStrict(e.Payload, &b); err != nil {
		return Bundle{}, nil, fmt.Errorf("%w: payload: %v", ErrMalformed, err)
	}
	if err := b.validate(); err != nil {
		return Bundle{}, nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	return b, e.Payload, nil
}

func signedMessage(payload []byte) []byte {
	return append([]byte(signContext), payload...)
}

// decodeStrict decodes exactly one JSON value with no unknown fields and nothing after it.
func decodeStrict(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if _, err := dec.Token(); err != io.EOF {
		return errors.New("trailing data after the JSON value")
	}
	return nil
}

func (b Bundle) validate() error {
	if b.Version == 0 {
		return errors.New("version missing (must be at least 1)")
	}
	if b.IssuedAt.IsZero() {
		return errors.New("issued_at missing")
	}
	if err := checkHTTPSURL(b.PortalURL); err != nil {
		return fmt.Errorf("portal_url: %w", err)
	}
	if err := checkHTTPSURL(b.MgmtURL); err != nil {
		return fmt.Errorf("mgmt_url: %w", err)
	}
	if len(b.PortalRoots) == 0 {
		return errors.New("portal_roots empty")
	}
	if len(b.PortalRoots) > MaxRoots {
		return fmt.Errorf("portal_roots has %d entries, limit %d", len(b.PortalRoots), MaxRoots)
	}
	for i, p := range b.PortalRoots {
		if _, err := parseCerts(p); err != nil {
			return fmt.Errorf("portal_roots[%d]: %w", i, err)
		}
	}
	if _, err := parseCerts(b.ComponentCA); err != nil {
		return fmt.Errorf("component_ca: %w", err)
	}
	return nil
}

func checkHTTPSURL(s string) error {
	if s == "" {
		return errors.New("missing")
	}
	if len(s) > maxURLLen {
		return fmt.Errorf("longer than %d bytes", maxURLLen)
	}
	u, err := url.Parse(s)
	if err != nil {
		return err
	}
	if u.Scheme != "https" {
		return fmt.Errorf("scheme %q, want https", u.Scheme)
	}
	if u.Hostname() == "" {
		return errors.New("no host")
	}
	if u.User != nil {
		return errors.New("must not carry user info")
	}
	return nil
}

// parseCerts parses one or more PEM CERTIFICATE blocks and refuses anything else in the text.
func parseCerts(s string) ([]*x509.Certificate, error) {
	rest := []byte(s)
	var certs []*x509.Certificate
	for {
		var blk *pem.Block
		blk, rest = pem.Decode(rest)
		if blk == nil {
			break
		}
		if blk.Type != "CERTIFICATE" {
			return nil, fmt.Errorf("PEM block %q, want CERTIFICATE", blk.Type)
		}
		c, err := x509.ParseCertificate(blk.Bytes)
		if err != nil {
			return nil, fmt.Errorf("certificate %d: %w", len(certs)+1, err)
		}
		certs = append(certs, c)
	}
	if len(bytes.TrimSpace(rest)) != 0 {
		return nil, errors.New("data that is not a PEM certificate")
	}
	if len(certs) == 0 {
		return nil, errors.New("no PEM certificate")
	}
	return certs, nil
}

// PortalPool is the pool for verifying the portal's public HTTPS certificate: PortalRoots only.
func (b Bundle) PortalPool() (*x509.CertPool, error) {
	pool := x509.NewCertPool()
	for i, p := range b.PortalRoots {
		certs, err := parseCerts(p)
		if err != nil {
			return nil, fmt.Errorf("bundle: portal pool: portal_roots[%d]: %w", i, err)
		}
		for _, c := range certs {
			pool.AddCert(c)
		}
	}
	if len(b.PortalRoots) == 0 {
		return nil, errors.New("bundle: portal pool: no portal roots")
	}
	return pool, nil
}

// MgmtPool is the pool for verifying the management listener: the component CA, plus the portal
// roots so a portal that serves its public certificate there is still trusted.
func (b Bundle) MgmtPool() (*x509.CertPool, error) {
	pool, err := b.PortalPool()
	if err != nil {
		return nil, fmt.Errorf("bundle: mgmt pool: %w", err)
	}
	certs, err := parseCerts(b.ComponentCA)
	if err != nil {
		return nil, fmt.Errorf("bundle: mgmt pool: component_ca: %w", err)
	}
	for _, c := range certs {
		pool.AddCert(c)
	}
	return pool, nil
}
