package update

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"io"
	"testing"
)

func FuzzParseManifest(f *testing.F) {
	f.Add([]byte(`{"format":1,"board":"pc","version":"1.2","cmdline":"ro","files":[{"name":"root.img","size":1,"sha256":"` + string(bytes.Repeat([]byte("a"), 64)) + `"}]}`))
	f.Add([]byte(`{}`))
	f.Add([]byte(`{"format":1,"cmdline":"root=x"}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := ParseManifest(b)
		if err == nil {
			if err := m.Validate(); err != nil {
				t.Fatalf("parsed manifest does not validate: %v", err)
			}
		}
	})
}

func FuzzParseEntryName(f *testing.F) {
	for _, s := range []string{"stoa-a.conf", "stoa-b+3.conf", "stoa-a+0-1.conf", "x", "stoa-b+99999.conf"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		e, err := ParseEntryName(s)
		if err == nil && e.String() != s {
			t.Fatalf("%q parsed as %+v, prints %q", s, e, e)
		}
	})
}

func FuzzParseRoomdStatus(f *testing.F) {
	f.Add([]byte(`{"state":"paired","online":true}`))
	f.Add([]byte(`{"state":""}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		if st, _, err := ParseRoomdStatus(b); err == nil && st == "" {
			t.Fatal("empty state accepted")
		}
	})
}

// FuzzOpenBundle feeds arbitrary bytes as a bundle: nothing unsigned gets through.
func FuzzOpenBundle(f *testing.F) {
	_, key, _ := ed25519.GenerateKey(rand.Reader)
	pub := key.Public().(ed25519.PublicKey)
	f.Add([]byte("not a tar"))
	f.Add(make([]byte, 1024))
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := OpenBundle(bytes.NewReader(b), pub)
		if err == nil {
			t.Fatalf("unsigned bytes opened as a bundle: %+v", r.Manifest)
		}
		_ = io.Discard
	})
}
