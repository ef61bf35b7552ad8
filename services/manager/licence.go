package manager

import (
	"bytes"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"slices"
	"strings"
	"time"
)

// LicenceFile is the licence's name inside the manager's data directory.
const LicenceFile = "licence.json"

// DefaultSeats is the number of concurrent seats without a valid licence file.
const DefaultSeats = 10

// maxLicenceSize bounds what DecodeLicence reads: a real licence is a few hundred bytes.
const maxLicenceSize = 16 << 10

// licenceContext separates licence signatures from every other Ed25519 signature made with the
// same kind of key (the join tokens use "stoa-token-v1\n").
const licenceContext = "stoa-licence-v1\n"

// Options a licence may grant.
var licenceOptions = []string{"secured"}

// Licence is what the manager enforces: how many participants may be in meetings at once and
// which options are on.
type Licence struct {
	Licensee string    `json:"licensee"`
	Seats    int       `json:"seats"`
	Options  []string  `json:"options"`
	NotAfter time.Time `json:"not_after"`
}

// DefaultLicence applies without a valid licence file: 10 concurrent seats, no options, no
// expiry.
func DefaultLicence() Licence {
	return Licence{Licensee: "unlicensed (default)", Seats: DefaultSeats}
}

// Has reports whether the licence grants option opt.
func (l Licence) Has(opt string) bool { return slices.Contains(l.Options, opt) }

// licenceFile is the on-disk form: the signed payload and its signature, both base64.
type licenceFile struct {
	Payload   string `json:"payload"`
	Signature string `json:"signature"`
}

// SignLicence makes a licence file for l with the vendor's private key.
func SignLicence(l Licence, key ed25519.PrivateKey) ([]byte, error) {
	if err := l.check(); err != nil {
		return nil, fmt.Errorf("sign licence: %w", err)
	}
	payload, err := json.Marshal(l)
	if err != nil {
		return nil, fmt.Errorf("sign licence: %w", err)
	}
	sig := ed25519.Sign(key, append([]byte(licenceContext), payload...))
	return json.MarshalIndent(licenceFile{
		Payload:   base64.StdEncoding.EncodeToString(payload),
		Signature: base64.StdEncoding.EncodeToString(sig),
	}, "", "  ")
}

// DecodeLicence verifies a licence file against the licence public key and returns what it
// grants. An expired licence is an error: the caller falls back to the default.
func DecodeLicence(b []byte, pub ed25519.PublicKey, now time.Time) (Licence, error) {
	if len(pub) != ed25519.PublicKeySize {
		return Licence{}, errors.New("licence: no licence public key is configured (manager.licence_key)")
	}
	if len(b) > maxLicenceSize {
		return Licence{}, fmt.Errorf("licence: file is %d bytes, more than %d", len(b), maxLicenceSize)
	}
	var f licenceFile
	if err := strictJSON(b, &f); err != nil {
		return Licence{}, fmt.Errorf("licence: file: %w", err)
	}
	payload, err := base64.StdEncoding.DecodeString(f.Payload)
	if err != nil {
		return Licence{}, fmt.Errorf("licence: payload is not base64: %w", err)
	}
	sig, err := base64.StdEncoding.DecodeString(f.Signature)
	if err != nil {
		return Licence{}, fmt.Errorf("licence: signature is not base64: %w", err)
	}
	if len(sig) != ed25519.SignatureSize || !ed25519.Verify(pub, append([]byte(licenceContext), payload...), sig) {
		return Licence{}, errors.New("licence: signature does not verify with the configured licence key")
	}
	var l Licence
	if err := strictJSON(payload, &l); err != nil {
		return Licence{}, fmt.Errorf("licence: payload: %w", err)
	}
	if err := l.check(); err != nil {
		return Licence{}, fmt.Errorf("licence: %w", err)
	}
	if !now.Before(l.NotAfter) {
		return Licence{}, fmt.Errorf("licence: expired on %s", l.NotAfter.UTC().Format(time.RFC3339))
	}
	return l, nil
}

// check validates the fields of a licence.
func (l Licence) check() error {
	if strings.TrimSpace(l.Licensee) == "" {
		return errors.New("licensee is empty")
	}
	if l.Seats < 1 || l.Seats > 1_000_000 {
		return fmt.Errorf("seats %d is not between 1 and 1000000", l.Seats)
	}
	for _, o := range l.Options {
		if !slices.Contains(licenceOptions, o) {
			return fmt.Errorf("unknown option %q (known: %s)", o, strings.Join(licenceOptions, ", "))
		}
	}
	if l.NotAfter.IsZero() {
		return errors.New("not_after is missing")
	}
	return nil
}

// LoadLicence reads path and returns the licence it grants, or the default with the reason
// logged when there is no file, no key, or the file does not verify.
func LoadLicence(path string, pub ed25519.PublicKey, now time.Time, log *slog.Logger) Licence {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		log.Info("no licence file; the default applies", "path", path, "seats", DefaultSeats)
		return DefaultLicence()
	}
	if err != nil {
		log.Error("cannot read the licence file; the default applies", "path", path, "err", err, "seats", DefaultSeats)
		return DefaultLicence()
	}
	l, err := DecodeLicence(b, pub, now)
	if err != nil {
		log.Error("licence file refused; the default applies", "path", path, "err", err, "seats", DefaultSeats)
		return DefaultLicence()
	}
	log.Info("licence installed", "licensee", l.Licensee, "seats", l.Seats, "options", l.Options, "not_after", l.NotAfter)
	return l
}

// ParseLicenceKey decodes manager.licence_key (standard base64 of a raw Ed25519 public key).
// Empty means none: no licence file is accepted.
func ParseLicenceKey(s string) (ed25519.PublicKey, error) {
	if s == "" {
		return nil, nil
	}
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("licence key: not base64: %w", err)
	}
	if len(b) != ed25519.PublicKeySize {
		return nil, fmt.Errorf("licence key: %d bytes, an Ed25519 public key has %d", len(b), ed25519.PublicKeySize)
	}
	return ed25519.PublicKey(b), nil
}

// strictJSON decodes exactly one JSON object with no unknown fields and nothing after it.
func strictJSON(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return errors.New("trailing data after the JSON object")
	}
	return nil
}
