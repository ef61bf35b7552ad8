package update

import (
	"archive/tar"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
)

// Inspected is a bundle read whole by InspectBundle: its parsed manifest, the manifest's exact
// bytes and the signature member, which whoever knows the room's key verifies later
// (VerifyManifest(pub, Raw, Signature)).
type Inspected struct {
	Manifest  Manifest
	Raw       []byte
	Signature []byte
}

// InspectBundle reads a whole bundle from r and checks everything but the signature: the
// member order and types, the manifest, each payload's size and SHA-256 against the manifest,
// no member after the last payload and nothing but tar padding after the archive's end. The
// portal uses it on upload: it does not know the rooms' key, so it checks the signature only
// when it offers the bundle to a room. Every error names the defect.
func InspectBundle(r io.Reader) (Inspected, error) {
	tr := tar.NewReader(r)
	var small [2][]byte
	for i, name := range []string{MemberManifest, MemberSignature} {
		h, err := tr.Next()
		if err != nil {
			return Inspected{}, fmt.Errorf("inspect bundle: %s: %w", name, tarErr(err))
		}
		if h.Name != name || h.Typeflag != tar.TypeReg {
			return Inspected{}, fmt.Errorf("inspect bundle: member %d is %q, want the regular file %s", i, h.Name, name)
		}
		if h.Size > maxSmall {
			return Inspected{}, fmt.Errorf("inspect bundle: %s is %d bytes, too large", name, h.Size)
		}
		if small[i], err = io.ReadAll(tr); err != nil {
			return Inspected{}, fmt.Errorf("inspect bundle: %s: %w", name, tarErr(err))
		}
	}
	if len(small[1]) != ed25519.SignatureSize {
		return Inspected{}, fmt.Errorf("inspect bundle: %s is %d bytes, want an Ed25519 signature of %d", MemberSignature, len(small[1]), ed25519.SignatureSize)
	}
	m, err := ParseManifest(small[0])
	if err != nil {
		return Inspected{}, fmt.Errorf("inspect bundle: %w", err)
	}
	for _, f := range m.Files {
		h, err := tr.Next()
		if err != nil {
			return Inspected{}, fmt.Errorf("inspect bundle: %s: %w", f.Name, tarErr(err))
		}
		if h.Name != f.Name || h.Typeflag != tar.TypeReg || h.Size != f.Size {
			return Inspected{}, fmt.Errorf("inspect bundle: member %q (%d bytes), want %s (%d bytes) as the manifest says", h.Name, h.Size, f.Name, f.Size)
		}
		d := sha256.New()
		if _, err := io.Copy(d, tr); err != nil {
			return Inspected{}, fmt.Errorf("inspect bundle: %s: %w", f.Name, tarErr(err))
		}
		if got := hex.EncodeToString(d.Sum(nil)); got != f.SHA256 {
			return Inspected{}, fmt.Errorf("inspect bundle: %s: %w (sha256 %s, manifest %s)", f.Name, ErrDigest, got, f.SHA256)
		}
	}
	h, err := tr.Next()
	switch {
	case err == nil:
		return Inspected{}, fmt.Errorf("inspect bundle: extra member %q after %s", h.Name, MemberInitrd)
	case !errors.Is(err, io.EOF):
		return Inspected{}, fmt.Errorf("inspect bundle: after %s: %w", MemberInitrd, tarErr(err))
	}
	// The archive's end is two zero blocks; writers may pad the record with more zeros.
	// Anything else is data a room's installer would never read: refuse it.
	buf := make([]byte, 32<<10)
	for {
		n, err := r.Read(buf)
		for _, b := range buf[:n] {
			if b != 0 {
				return Inspected{}, errors.New("inspect bundle: data after the end of the tar archive")
			}
		}
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return Inspected{}, fmt.Errorf("inspect bundle: after the archive: %w", err)
		}
	}
	return Inspected{Manifest: m, Raw: small[0], Signature: small[1]}, nil
}

// tarErr names a short archive as truncated.
func tarErr(err error) error {
	if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
		return fmt.Errorf("truncated: %w", err)
	}
	return err
}
