package e2ee

import (
	"bytes"
	"encoding/hex"
	"errors"
	"strings"
	"testing"
)

func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestHeaderVectors checks encoding and decoding against RFC 9605 Appendix C.1.
func TestHeaderVectors(t *testing.T) {
	for _, v := range []struct {
		kid, ctr uint64
		hex      string
	}{
		{0, 0, "00"},
		{0x0000000000010000, 0x0000000100000000, "ac0100000100000000"},
		{0x0000000000010000, 0xffffffffffffffff, "af010000ffffffffffffffff"},
		{0x0000000000ffffff, 0x0000000000000001, "a1ffffff"},
		{0x0000000000ffffff, 0x00000000000000ff, "a8ffffffff"},
		{0x0000000001000000, 0x0000000000000100, "b9010000000100"},
		{0x00000000ffffffff, 0x0000000000000000, "b0ffffffff"},
		{0x0000000100000000, 0x00000000000000ff, "c80100000000ff"},
		{0x0000ffffffffffff, 0x0000000000010000, "daffffffffffff010000"},
		{0x0100000000000000, 0x0100000000000000, "ff01000000000000000100000000000000"},
		{0xffffffffffffffff, 0xffffffffffffffff, "ffffffffffffffffffffffffffffffffff"},
		{0x0000000000000123, 0x0000000000004567, "9901234567"},
	} {
		t.Run(v.hex, func(t *testing.T) {
			want := unhex(t, v.hex)
			h := Header{KID: v.kid, CTR: v.ctr}
			if got := h.Append(nil); !bytes.Equal(got, want) || h.Len() != len(want) {
				t.Fatalf("encode %+v = %x (len %d), want %x", h, got, h.Len(), want)
			}
			got, n, err := ParseHeader(append(want, 0xee))
			if err != nil || got != h || n != len(want) {
				t.Fatalf("parse %x = %+v, %d, %v", want, got, n, err)
			}
		})
	}
}

func TestHeaderRefusesBadEncodings(t *testing.T) {
	for name, in := range map[string]string{
		"empty":                 "",
		"kid truncated":         "9901",
		"ctr truncated":         "0b0102",
		"kid 5 in one byte":     "8005",
		"ctr with leading zero": "09000f",
	} {
		t.Run(name, func(t *testing.T) {
			if _, _, err := ParseHeader(unhex(t, in)); !errors.Is(err, ErrHeader) {
				t.Fatalf("ParseHeader(%s) = %v, want ErrHeader", in, err)
			}
		})
	}
}

// TestSFrameVector is RFC 9605 Appendix C.3 for AES_128_GCM_SHA256_128 (0x0004), the final
// RFC whose labels carry the KID and the cipher suite.
func TestSFrameVector(t *testing.T) {
	base := unhex(t, "000102030405060708090a0b0c0d0e0f")
	const kid, ctr = 0x123, 0x4567
	if got, want := []byte(label("SFrame 1.0 Secret key ", kid)), unhex(t, "534672616d6520312e3020536563726574206b65792000000000000001230004"); !bytes.Equal(got, want) {
		t.Fatalf("key label %x, want %x", got, want)
	}
	key, salt, err := deriveKeySalt(kid, base)
	if err != nil {
		t.Fatal(err)
	}
	if want := unhex(t, "d34f547f4ca4f9a7447006fe7fcbf768"); !bytes.Equal(key, want) {
		t.Fatalf("sframe_key %x, want %x", key, want)
	}
	if want := unhex(t, "75234edefe07819026751816"); !bytes.Equal(salt, want) {
		t.Fatalf("sframe_salt %x, want %x", salt, want)
	}
	k, err := NewKey(kid, base)
	if err != nil {
		t.Fatal(err)
	}
	if want := unhex(t, "75234edefe07819026755d71"); !bytes.Equal(k.nonce(ctr), want) {
		t.Fatalf("nonce %x, want %x", k.nonce(ctr), want)
	}
	metadata := unhex(t, "4945544620534672616d65205747")
	pt := unhex(t, "64726166742d696574662d736672616d652d656e63")
	want := unhex(t, "9901234567b7412c2513a1b66dbb48841bbaf17f598751176ad847681a69c6d0b091c07018ce4adb34eb")
	if ct := k.Seal(nil, ctr, metadata, pt); !bytes.Equal(ct, want) {
		t.Fatalf("ct %x, want %x", ct, want)
	}
	got, err := k.Open(nil, metadata, want)
	if err != nil || !bytes.Equal(got, pt) {
		t.Fatalf("decrypt = %x, %v", got, err)
	}
	bad := append([]byte(nil), want...)
	bad[len(bad)-1] ^= 1
	if _, err := k.Open(nil, metadata, bad); !errors.Is(err, ErrAuth) {
		t.Fatalf("tampered tag: %v", err)
	}
	if _, err := k.Open(nil, metadata[1:], want); !errors.Is(err, ErrAuth) {
		t.Fatalf("other metadata: %v", err)
	}
}

func TestReplayWindow(t *testing.T) {
	var w window
	steps := []struct {
		ctr uint64
		ok  bool
	}{{5, true}, {5, false}, {3, true}, {3, false}, {100, true}, {37, true}, {36, false}, {99, true}, {5, false}, {164, true}, {100, false}}
	for i, s := range steps {
		err := w.check(s.ctr)
		if (err == nil) != s.ok {
			t.Fatalf("step %d: check(%d) = %v, want ok=%v", i, s.ctr, err, s.ok)
		}
		if err != nil && !errors.Is(err, ErrReplay) {
			t.Fatalf("step %d: %v is not ErrReplay", i, err)
		}
		if err == nil {
			w.commit(s.ctr)
		}
	}
}

func TestEscapeRoundTrip(t *testing.T) {
	for _, in := range [][]byte{{}, {0, 0, 0}, {0, 0, 1, 0, 0, 2, 0, 0, 3}, {1, 0, 0}, {0, 0, 3, 0, 0}} {
		esc := appendEscaped(nil, in)
		if bytes.Contains(esc, []byte{0, 0, 0}) || bytes.Contains(esc, []byte{0, 0, 1}) || bytes.Contains(esc, []byte{0, 0, 2}) {
			t.Fatalf("escaped %x = %x still holds a start code prefix", in, esc)
		}
		if got := unescape(esc); !bytes.Equal(got, in) {
			t.Fatalf("unescape(escape(%x)) = %x", in, got)
		}
	}
}
