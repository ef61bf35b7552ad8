package update

import (
	"archive/tar"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
)

// A bundle is an uncompressed tar: manifest.json, manifest.sig (64-byte Ed25519 signature of
// the manifest's bytes), then root.img, vmlinuz and initrd.img in that order. The order lets
// the installer verify the signature before reading any payload and stream the root image
// straight into the slot while hashing it.

// WriteBundle writes a bundle to w from the payload files (member name → path), signed with key.
func WriteBundle(w io.Writer, key ed25519.PrivateKey, board, version, cmdline string, paths map[string]string) (Manifest, error) {
	m := Manifest{Format: ManifestFormat, Board: board, Version: version, Cmdline: cmdline}
	for _, name := range payload {
		p, ok := paths[name]
		if !ok {
			return Manifest{}, fmt.Errorf("write bundle: no %s given", name)
		}
		sum, n, err := hashFile(p)
		if err != nil {
			return Manifest{}, fmt.Errorf("write bundle: %w", err)
		}
		m.Files = append(m.Files, File{Name: name, Size: n, SHA256: sum})
	}
	if err := m.Validate(); err != nil {
		return Manifest{}, fmt.Errorf("write bundle: %w", err)
	}
	raw, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return Manifest{}, fmt.Errorf("write bundle: %w", err)
	}
	tw := tar.NewWriter(w)
	for _, mem := range []struct {
		name string
		data []byte
	}{{MemberManifest, raw}, {MemberSignature, ed25519.Sign(key, raw)}} {
		if err := tw.WriteHeader(&tar.Header{Name: mem.name, Mode: 0o644, Size: int64(len(mem.data)), Format: tar.FormatPAX}); err != nil {
			return Manifest{}, fmt.Errorf("write bundle: %w", err)
		}
		if _, err := tw.Write(mem.data); err != nil {
			return Manifest{}, fmt.Errorf("write bundle: %w", err)
		}
	}
	for _, f := range m.Files {
		if err := copyMember(tw, f, paths[f.Name]); err != nil {
			return Manifest{}, fmt.Errorf("write bundle: %w", err)
		}
	}
	if err := tw.Close(); err != nil {
		return Manifest{}, fmt.Errorf("write bundle: %w", err)
	}
	return m, nil
}

func copyMember(tw *tar.Writer, f File, path string) error {
	src, err := os.Open(path)
	if err != nil {
		return err
	}
	defer src.Close()
	if err := tw.WriteHeader(&tar.Header{Name: f.Name, Mode: 0o644, Size: f.Size, Format: tar.FormatPAX}); err != nil {
		return err
	}
	// The file must not change between hashing and copying: exactly Size bytes, same digest.
	h := sha256.New()
	if _, err := io.CopyN(io.MultiWriter(tw, h), src, f.Size); err != nil {
		return fmt.Errorf("copy %s: %w", f.Name, err)
	}
	if hex.EncodeToString(h.Sum(nil)) != f.SHA256 {
		return fmt.Errorf("%s changed while it was bundled", path)
	}
	return nil
}

func hashFile(path string) (string, int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", 0, err
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return "", 0, fmt.Errorf("hash %s: %w", path, err)
	}
	return hex.EncodeToString(h.Sum(nil)), n, nil
}

// Reader reads a bundle: Open verifies the signed manifest, then Next yields each payload
// member with a reader that fails at its end when the bytes do not match the manifest.
type Reader struct {
	tr       *tar.Reader
	Manifest Manifest
	next     int
}

// maxSmall bounds the manifest and signature members read into memory.
const maxSmall = 64 << 10

// OpenBundle reads the manifest and signature from r and verifies them with pub.
func OpenBundle(r io.Reader, pub ed25519.PublicKey) (*Reader, error) {
	tr := tar.NewReader(r)
	var small [2][]byte
	for i, name := range []string{MemberManifest, MemberSignature} {
		h, err := tr.Next()
		if err != nil {
			return nil, fmt.Errorf("open bundle: %s: %w", name, err)
		}
		if h.Name != name || h.Typeflag != tar.TypeReg {
			return nil, fmt.Errorf("open bundle: member %d is %q, want the regular file %s", i, h.Name, name)
		}
		if h.Size > maxSmall {
			return nil, fmt.Errorf("open bundle: %s is %d bytes, too large", name, h.Size)
		}
		if small[i], err = io.ReadAll(tr); err != nil {
			return nil, fmt.Errorf("open bundle: %s: %w", name, err)
		}
	}
	m, err := VerifyManifest(pub, small[0], small[1])
	if err != nil {
		return nil, fmt.Errorf("open bundle: %w", err)
	}
	return &Reader{tr: tr, Manifest: m}, nil
}

// ErrDigest is returned at the end of a payload member whose bytes differ from the manifest.
var ErrDigest = errors.New("payload does not match the signed manifest")

// Next returns the next payload member in manifest order. Its reader returns ErrDigest
// instead of io.EOF when the content's SHA-256 is not the manifest's.
func (b *Reader) Next() (File, io.Reader, error) {
	if b.next >= len(b.Manifest.Files) {
		return File{}, nil, io.EOF
	}
	f := b.Manifest.Files[b.next]
	b.next++
	h, err := b.tr.Next()
	if err != nil {
		return File{}, nil, fmt.Errorf("read bundle: %s: %w", f.Name, err)
	}
	if h.Name != f.Name || h.Typeflag != tar.TypeReg || h.Size != f.Size {
		return File{}, nil, fmt.Errorf("read bundle: member %q (%d bytes), want %s (%d bytes)", h.Name, h.Size, f.Name, f.Size)
	}
	return f, &digestReader{r: b.tr, h: sha256.New(), want: f.SHA256}, nil
}

type digestReader struct {
	r io.Reader
	h interface {
		Write([]byte) (int, error)
		Sum([]byte) []byte
	}
	want string
}

func (d *digestReader) Read(p []byte) (int, error) {
	n, err := d.r.Read(p)
	d.h.Write(p[:n])
	if err == io.EOF && hex.EncodeToString(d.h.Sum(nil)) != d.want {
		return n, ErrDigest
	}
	return n, err
}
