package pairing

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
	"unicode"
	"unicode/utf8"

	"github.com/stoa-rooms/stoa/provisioning/pake"
)

// MaxMessageSize bounds every pairing message and sealed payload on the wire.
const MaxMessageSize = 64 << 10

const (
	confirmSize   = 64 // HMAC-SHA512
	maxInfoLen    = 256
	minSealedSize = nonceSize + tagSize
)

// RoomInfo describes the room hardware; it is shown to the admin and stored with the room.
type RoomInfo struct {
	Model    string `json:"model"`
	Firmware string `json:"firmware"`
	Serial   string `json:"serial"`
	Hostname string `json:"hostname"`
}

// Hello is the room's first message: its CPace share, sent in clear with the locator.
type Hello struct {
	PairingID string   `json:"pairing_id"`
	Locator   string   `json:"locator"`
	Share     []byte   `json:"share"`
	Room      RoomInfo `json:"room"`
}

// Challenge is the portal's answer: its CPace share and its key confirmation.
type Challenge struct {
	Share   []byte `json:"share"`
	Confirm []byte `json:"confirm"`
}

// Confirm is the room's key confirmation and its sealed Enrollment. An empty Confirm tells the
// portal that the room found the portal's confirmation wrong (a wrong code).
type Confirm struct {
	Confirm []byte `json:"confirm"`
	Sealed  []byte `json:"sealed"`
}

// Result carries the sealed Grant from the portal to the room.
type Result struct {
	Sealed []byte `json:"sealed"`
}

// Enrollment is what the room asks for: a certificate for its identity key.
type Enrollment struct {
	CSRPEM string   `json:"csr_pem"`
	Room   RoomInfo `json:"room"`
}

// Grant is what the portal gives a paired room.
type Grant struct {
	RoomID      string `json:"room_id"`
	Name        string `json:"name"`
	CertPEM     string `json:"cert_pem"`
	DeviceCAPEM string `json:"device_ca_pem"`
	Bundle      []byte `json:"bundle"`     // signed bundle envelope (provisioning/bundle)
	BundleKey   []byte `json:"bundle_key"` // ed25519 public key that signs bundles
	MgmtURL     string `json:"mgmt_url"`
}

// ErrMalformed is wrapped by every decoder error.
var ErrMalformed = errors.New("malformed pairing message")

// decodeStrict decodes exactly one JSON object of type T: size-limited, no unknown fields, no
// trailing data.
func decodeStrict[T any](what string, data []byte) (T, error) {
	var v T
	if len(data) > MaxMessageSize {
		return v, fmt.Errorf("decode %s: %w: %d bytes, limit %d", what, ErrMalformed, len(data), MaxMessageSize)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&v); err != nil {
		return v, fmt.Errorf("decode %s: %w: %v", what, ErrMalformed, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return v, fmt.Errorf("decode %s: %w: data after the JSON object", what, ErrMalformed)
	}
	return v, nil
}

func malformed(what, format string, args ...any) error {
	return fmt.Errorf("decode %s: %w: %s", what, ErrMalformed, fmt.Sprintf(format, args...))
}

// DecodeHello decodes and checks a Hello.
func DecodeHello(data []byte) (Hello, error) {
	h, err := decodeStrict[Hello]("hello", data)
	if err != nil {
		return Hello{}, err
	}
	if err := h.check(); err != nil {
		return Hello{}, err
	}
	return h, nil
}

func (h Hello) check() error {
	if _, err := parsePairingID(h.PairingID); err != nil {
		return malformed("hello", "pairing_id: %v", err)
	}
	if len(h.Locator) != locatorDigits || !allDigits(h.Locator) {
		return malformed("hello", "locator must be %d digits", locatorDigits)
	}
	if len(h.Share) != pake.MessageSize {
		return malformed("hello", "share is %d bytes, want %d", len(h.Share), pake.MessageSize)
	}
	return checkRoomInfo("hello", h.Room)
}

// DecodeChallenge decodes and checks a Challenge.
func DecodeChallenge(data []byte) (Challenge, error) {
	c, err := decodeStrict[Challenge]("challenge", data)
	if err != nil {
		return Challenge{}, err
	}
	if len(c.Share) != pake.MessageSize {
		return Challenge{}, malformed("challenge", "share is %d bytes, want %d", len(c.Share), pake.MessageSize)
	}
	if len(c.Confirm) != confirmSize {
		return Challenge{}, malformed("challenge", "confirm is %d bytes, want %d", len(c.Confirm), confirmSize)
	}
	return c, nil
}

// DecodeConfirm decodes and checks a Confirm. A 64-byte confirm must come with a sealed
// enrollment; an empty confirm (the room's wrong-code signal) may come without one.
func DecodeConfirm(data []byte) (Confirm, error) {
	c, err := decodeStrict[Confirm]("confirm", data)
	if err != nil {
		return Confirm{}, err
	}
	switch len(c.Confirm) {
	case 0:
	case confirmSize:
		if len(c.Sealed) < minSealedSize {
			return Confirm{}, malformed("confirm", "sealed is %d bytes, want at least %d", len(c.Sealed), minSealedSize)
		}
	default:
		return Confirm{}, malformed("confirm", "confirm is %d bytes, want 0 or %d", len(c.Confirm), confirmSize)
	}
	return c, nil
}

// DecodeResult decodes and checks a Result.
func DecodeResult(data []byte) (Result, error) {
	r, err := decodeStrict[Result]("result", data)
	if err != nil {
		return Result{}, err
	}
	if len(r.Sealed) < minSealedSize {
		return Result{}, malformed("result", "sealed is %d bytes, want at least %d", len(r.Sealed), minSealedSize)
	}
	return r, nil
}

// DecodeEnrollment decodes and checks an Enrollment: the CSR must parse and carry a valid
// self-signature (what it asks for is ignored by the portal, which names the room itself).
func DecodeEnrollment(data []byte) (Enrollment, error) {
	e, err := decodeStrict[Enrollment]("enrollment", data)
	if err != nil {
		return Enrollment{}, err
	}
	if err := e.check(); err != nil {
		return Enrollment{}, err
	}
	return e, nil
}

func (e Enrollment) check() error {
	der, err := singlePEM(e.CSRPEM, "CERTIFICATE REQUEST")
	if err != nil {
		return malformed("enrollment", "csr_pem: %v", err)
	}
	csr, err := x509.ParseCertificateRequest(der)
	if err != nil {
		return malformed("enrollment", "csr_pem: %v", err)
	}
	if err := csr.CheckSignature(); err != nil {
		return malformed("enrollment", "csr_pem signature: %v", err)
	}
	return checkRoomInfo("enrollment", e.Room)
}

// DecodeGrant decodes and checks a Grant. The bundle itself is verified by provisioning/bundle
// with BundleKey; here it only has to be present.
func DecodeGrant(data []byte) (Grant, error) {
	g, err := decodeStrict[Grant]("grant", data)
	if err != nil {
		return Grant{}, err
	}
	if err := g.check(); err != nil {
		return Grant{}, err
	}
	return g, nil
}

func (g Grant) check() error {
	if err := checkText(g.RoomID); err != nil || g.RoomID == "" {
		return malformed("grant", "room_id missing or invalid")
	}
	if err := checkText(g.Name); err != nil || g.Name == "" {
		return malformed("grant", "name missing or invalid")
	}
	for _, f := range []struct{ name, pem string }{{"cert_pem", g.CertPEM}, {"device_ca_pem", g.DeviceCAPEM}} {
		der, err := singlePEM(f.pem, "CERTIFICATE")
		if err != nil {
			return malformed("grant", "%s: %v", f.name, err)
		}
		if _, err := x509.ParseCertificate(der); err != nil {
			return malformed("grant", "%s: %v", f.name, err)
		}
	}
	if len(g.Bundle) == 0 {
		return malformed("grant", "bundle missing")
	}
	if len(g.BundleKey) != ed25519.PublicKeySize {
		return malformed("grant", "bundle_key is %d bytes, want %d", len(g.BundleKey), ed25519.PublicKeySize)
	}
	u, err := url.Parse(g.MgmtURL)
	if err != nil || u.Scheme != "https" || u.Host == "" || u.User != nil {
		return malformed("grant", "mgmt_url must be an https URL with a host")
	}
	return nil
}

// singlePEM returns the DER of the one PEM block of the given type in s.
func singlePEM(s, typ string) ([]byte, error) {
	block, rest := pem.Decode([]byte(s))
	if block == nil {
		return nil, fmt.Errorf("no PEM block")
	}
	if block.Type != typ {
		return nil, fmt.Errorf("PEM block is %q, want %q", block.Type, typ)
	}
	if len(bytes.TrimSpace(rest)) != 0 {
		return nil, fmt.Errorf("data after the PEM block")
	}
	return block.Bytes, nil
}

func checkRoomInfo(what string, r RoomInfo) error {
	for _, f := range []struct{ name, v string }{
		{"model", r.Model}, {"firmware", r.Firmware}, {"serial", r.Serial}, {"hostname", r.Hostname},
	} {
		if err := checkText(f.v); err != nil {
			return malformed(what, "room %s: %v", f.name, err)
		}
	}
	return nil
}

// checkText limits free text that is shown to admins: bounded, valid UTF-8, no control chars.
func checkText(s string) error {
	if len(s) > maxInfoLen {
		return fmt.Errorf("longer than %d bytes", maxInfoLen)
	}
	if !utf8.ValidString(s) {
		return errors.New("not valid UTF-8")
	}
	for _, r := range s {
		if unicode.IsControl(r) {
			return errors.New("contains control characters")
		}
	}
	return nil
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
