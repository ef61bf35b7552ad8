package update

import (
	"archive/tar"
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"strings"
	"testing"
)

// retar rebuilds a bundle's tar with change applied to its members (name → content), for
// bundles that are well-formed tars but wrong bundles.
func retar(t *testing.T, b []byte, change func(names []string, data map[string][]byte) []string) []byte {
	t.Helper()
	tr := tar.NewReader(bytes.NewReader(b))
	var names []string
	data := map[string][]byte{}
	for {
		h, err := tr.Next()
		if err != nil {
			break
		}
		var buf bytes.Buffer
		buf.ReadFrom(tr)
		names = append(names, h.Name)
		data[h.Name] = buf.Bytes()
	}
	names = change(names, data)
	var out bytes.Buffer
	tw := tar.NewWriter(&out)
	for _, n := range names {
		tw.WriteHeader(&tar.Header{Name: n, Mode: 0o644, Size: int64(len(data[n])), Format: tar.FormatPAX})
		tw.Write(data[n])
	}
	tw.Close()
	return out.Bytes()
}

// TestInspectBundle: a good bundle comes back with its manifest and signature (which verify
// with the signer's key); each kind of defect is refused with an error naming it.
func TestInspectBundle(t *testing.T) {
	_, key, _ := ed25519.GenerateKey(rand.Reader)
	good := makeBundle(t, key, "qemu-x86_64", "u2", bytes.Repeat([]byte("root image of u2 "), 4096))

	t.Run("good", func(t *testing.T) {
		in, err := InspectBundle(bytes.NewReader(good))
		if err != nil {
			t.Fatal(err)
		}
		if in.Manifest.Board != "qemu-x86_64" || in.Manifest.Version != "u2" || len(in.Manifest.Files) != 3 {
			t.Fatalf("manifest %+v", in.Manifest)
		}
		if _, err := VerifyManifest(key.Public().(ed25519.PublicKey), in.Raw, in.Signature); err != nil {
			t.Fatalf("returned manifest and signature do not verify: %v", err)
		}
		padded := append(append([]byte{}, good...), make([]byte, 10240)...)
		if _, err := InspectBundle(bytes.NewReader(padded)); err != nil {
			t.Fatalf("bundle padded with zeros: %v", err)
		}
	})

	tests := []struct {
		name string
		b    []byte
		want string
	}{
		{"empty", nil, "manifest.json: truncated"},
		{"garbled tar", bytes.Repeat([]byte("not a tar "), 200), "manifest.json"},
		{"truncated", good[:len(good)/2], "root.img: truncated"},
		{"bad manifest", retar(t, good, func(n []string, d map[string][]byte) []string {
			d[MemberManifest] = []byte(`{"format":1}`)
			return n
		}), "manifest:"},
		{"digest mismatch", retar(t, good, func(n []string, d map[string][]byte) []string {
			r := d[MemberRoot]
			r[0] ^= 1
			return n
		}), "root.img: payload does not match"},
		{"extra member", retar(t, good, func(n []string, d map[string][]byte) []string {
			d["evil.sh"] = []byte("#!/bin/sh\n")
			return append(n, "evil.sh")
		}), `extra member "evil.sh"`},
		{"missing member", retar(t, good, func(n []string, d map[string][]byte) []string {
			return n[:len(n)-1]
		}), "initrd.img: truncated"},
		{"wrong order", retar(t, good, func(n []string, d map[string][]byte) []string {
			n[2], n[3] = n[3], n[2]
			return n
		}), `member "vmlinuz"`},
		{"short signature", retar(t, good, func(n []string, d map[string][]byte) []string {
			d[MemberSignature] = []byte("sig")
			return n
		}), "manifest.sig is 3 bytes"},
		{"trailing data", append(append([]byte{}, good...), []byte("trailing")...), "data after the end"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := InspectBundle(bytes.NewReader(tc.b))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one containing %q", err, tc.want)
			}
		})
	}
	t.Run("digest error is ErrDigest", func(t *testing.T) {
		_, err := InspectBundle(bytes.NewReader(tests[4].b))
		if !errors.Is(err, ErrDigest) {
			t.Fatalf("%v is not ErrDigest", err)
		}
	})
}
