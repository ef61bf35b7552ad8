// Package update installs signed A/B update bundles on a room: it verifies the bundle's
// Ed25519 signature, writes the inactive root slot and its kernel, and adds a Boot Loader
// Specification entry with a tries counter so systemd-boot boots it on trial; systemd-bless-boot
// marks it good once boot-complete.target is reached (stoa-healthy.service: roomd READY and,
// when paired, the management channel up), otherwise systemd-boot falls back to the old slot.
package update

import (
	"bytes"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
)

// ManifestFormat is the only manifest format this installer reads.
const ManifestFormat = 1

// Bundle member names, in the order they appear in the bundle.
const (
	MemberManifest  = "manifest.json"
	MemberSignature = "manifest.sig"
	MemberRoot      = "root.img"
	MemberKernel    = "vmlinuz"
	MemberInitrd    = "initrd.img"
)

// payload is the order of the payload members after the manifest and its signature.
var payload = []string{MemberRoot, MemberKernel, MemberInitrd}

// File is one payload member of a bundle: its size and SHA-256.
type File struct {
	Name   string `json:"name"`
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"` // lower-case hex
}

// Manifest describes a bundle; its exact bytes are what the signature covers.
type Manifest struct {
	Format  int    `json:"format"`
	Board   string `json:"board"`
	Version string `json:"version"`
	// Cmdline is the board's kernel command line without root= and stoa.slot=, which the
	// installer adds for the slot it writes.
	Cmdline string `json:"cmdline"`
	Files   []File `json:"files"`
}

var (
	reVersion = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._+~-]{0,63}$`)
	reSHA256  = regexp.MustCompile(`^[0-9a-f]{64}$`)
	reCmdline = regexp.MustCompile(`^[ -~]*$`)
)

// File returns the manifest's entry for name.
func (m Manifest) File(name string) (File, bool) {
	for _, f := range m.Files {
		if f.Name == name {
			return f, true
		}
	}
	return File{}, false
}

// Validate checks every field: a manifest that passes names exactly the payload members,
// each once, with plausible sizes and hex digests.
func (m Manifest) Validate() error {
	if m.Format != ManifestFormat {
		return fmt.Errorf("manifest: format %d, this installer reads %d", m.Format, ManifestFormat)
	}
	if !reVersion.MatchString(m.Version) {
		return fmt.Errorf("manifest: version %q is not a plain version string", m.Version)
	}
	if !reVersion.MatchString(m.Board) {
		return fmt.Errorf("manifest: board %q is not a board name", m.Board)
	}
	if len(m.Cmdline) > 1024 || !reCmdline.MatchString(m.Cmdline) || bytes.Contains([]byte(" "+m.Cmdline), []byte(" root=")) {
		return fmt.Errorf("manifest: cmdline %q must be printable ASCII without root=", m.Cmdline)
	}
	if len(m.Files) != len(payload) {
		return fmt.Errorf("manifest: %d files, want %v", len(m.Files), payload)
	}
	for i, f := range m.Files {
		if f.Name != payload[i] {
			return fmt.Errorf("manifest: file %d is %q, want %q", i, f.Name, payload[i])
		}
		if f.Size <= 0 || f.Size > 64<<30 {
			return fmt.Errorf("manifest: %s: size %d out of range", f.Name, f.Size)
		}
		if !reSHA256.MatchString(f.SHA256) {
			return fmt.Errorf("manifest: %s: sha256 %q is not 64 lower-case hex digits", f.Name, f.SHA256)
		}
	}
	return nil
}

// ParseManifest decodes and validates manifest bytes (strict: unknown fields are refused).
func ParseManifest(b []byte) (Manifest, error) {
	var m Manifest
	d := json.NewDecoder(bytes.NewReader(b))
	d.DisallowUnknownFields()
	if err := d.Decode(&m); err != nil {
		return Manifest{}, fmt.Errorf("manifest: %w", err)
	}
	if d.More() {
		return Manifest{}, errors.New("manifest: trailing data after the JSON object")
	}
	if err := m.Validate(); err != nil {
		return Manifest{}, err
	}
	return m, nil
}

// VerifyManifest checks sig over raw with pub, then parses it: nothing in an unsigned
// manifest is believed.
func VerifyManifest(pub ed25519.PublicKey, raw, sig []byte) (Manifest, error) {
	if len(pub) != ed25519.PublicKeySize {
		return Manifest{}, fmt.Errorf("verify manifest: public key has %d bytes, want %d", len(pub), ed25519.PublicKeySize)
	}
	if len(sig) != ed25519.SignatureSize || !ed25519.Verify(pub, raw, sig) {
		return Manifest{}, errors.New("verify manifest: bad signature (not signed by this room's update key)")
	}
	return ParseManifest(raw)
}
