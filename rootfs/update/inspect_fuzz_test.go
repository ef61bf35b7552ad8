package update

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"os"
	"path/filepath"
	"testing"
)

// FuzzInspectBundle feeds arbitrary bytes (seeded with a real bundle and its damaged forms):
// whatever is accepted has a valid manifest, a signature-sized signature member, and reads
// the same way a second time.
func FuzzInspectBundle(f *testing.F) {
	_, key, _ := ed25519.GenerateKey(rand.Reader)
	d := f.TempDir()
	paths := map[string]string{}
	for _, name := range payload {
		paths[name] = filepath.Join(d, name)
		if err := os.WriteFile(paths[name], []byte("content of "+name), 0o644); err != nil {
			f.Fatal(err)
		}
	}
	var buf bytes.Buffer
	if _, err := WriteBundle(&buf, key, "pc", "1.0", "ro", paths); err != nil {
		f.Fatal(err)
	}
	good := buf.Bytes()
	f.Add(good)
	f.Add(good[:len(good)/2])
	f.Add(append(append([]byte{}, good...), 1))
	f.Add([]byte("not a tar"))
	f.Add(make([]byte, 1024))
	f.Fuzz(func(t *testing.T, b []byte) {
		in, err := InspectBundle(bytes.NewReader(b))
		if err != nil {
			return
		}
		if err := in.Manifest.Validate(); err != nil {
			t.Fatalf("accepted a bundle whose manifest does not validate: %v", err)
		}
		if len(in.Signature) != ed25519.SignatureSize {
			t.Fatalf("accepted a %d-byte signature", len(in.Signature))
		}
		again, err := InspectBundle(bytes.NewReader(b))
		if err != nil || !bytes.Equal(again.Raw, in.Raw) {
			t.Fatalf("second read differs: %v", err)
		}
	})
}
