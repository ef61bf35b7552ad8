package e2ee

import (
	"bytes"
	"testing"
)

// FuzzParseHeader: the parser never panics, and what it accepts re-encodes to the same bytes.
func FuzzParseHeader(f *testing.F) {
	for _, s := range []string{"00", "9901234567", "ffffffffffffffffffffffffffffffffff", "8005", "0b01", ""} {
		f.Add(unhex(f, s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		h, n, err := ParseHeader(b)
		if err != nil {
			return
		}
		if enc := h.Append(nil); !bytes.Equal(enc, b[:n]) {
			t.Fatalf("parsed %x as %+v, which encodes as %x", b[:n], h, enc)
		}
	})
}

// FuzzDecodeKeyMessage: the decoder never panics, and what it accepts encodes back unchanged.
func FuzzDecodeKeyMessage(f *testing.F) {
	f.Add(make([]byte, KeyMessageLen))
	ok := make([]byte, KeyMessageLen)
	ok[0] = keyMsgVersion
	f.Add(ok)
	f.Add([]byte{1, 2, 3})
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := DecodeKeyMessage(b)
		if err != nil {
			return
		}
		if !bytes.Equal(m.Encode(), b) {
			t.Fatalf("round trip changed %x", b)
		}
	})
}

// FuzzOpenFrame: hostile frames from the network never panic any codec's layout.
func FuzzOpenFrame(f *testing.F) {
	k, err := NewKey(3, []byte("0123456789abcdef"))
	if err != nil {
		f.Fatal(err)
	}
	var r ring
	if err := r.set(3, []byte("0123456789abcdef")); err != nil {
		f.Fatal(err)
	}
	seal := func(dst, md, pt []byte) []byte { return k.Seal(dst, 1, md, pt) }
	for c := CodecOpus; c <= CodecH264; c++ {
		frame, err := sealFrame(c, []byte{0, 0, 0, 1, 0x65, 0x10, 0x00, 0x9d, 0x01, 0x2a, 1, 2, 3}, seal)
		if err == nil {
			f.Add(uint8(c), frame)
		}
	}
	f.Fuzz(func(t *testing.T, c uint8, frame []byte) {
		_, _ = openFrame(Codec(c%4), frame, r.open)
	})
}
