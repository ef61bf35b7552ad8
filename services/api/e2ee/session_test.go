package e2ee_test

import (
	"bytes"
	"errors"
	"testing"

	"github.com/stoa-rooms/stoa/services/api/e2ee"
)

var (
	vp8Key   = append([]byte{0x50, 0x42, 0x00, 0x9d, 0x01, 0x2a, 0x80, 0x02, 0xe0, 0x01}, bytes.Repeat([]byte("keyframe-data"), 50)...)
	vp8Delta = append([]byte{0x31, 0x10, 0x00}, bytes.Repeat([]byte("delta"), 40)...)
	h264AU   = []byte{0, 0, 0, 1, 0x67, 0x42, 0xc0, 0x1f, 0, 0, 1, 0x68, 0xce, 0x3c, 0x80, 0, 0, 0, 1, 0x65, 0x88, 0x84, 0, 0, 3, 0x01, 0xff}
	opus     = []byte{0x78, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b}
)

func TestFrameRoundTrip(t *testing.T) {
	mt := newMeeting(t)
	a, b := mt.join("alice"), mt.join("bob")
	for _, c := range []struct {
		name   string
		codec  e2ee.Codec
		frame  []byte
		clear  int // leading bytes readable to the router
		header []byte
	}{
		{"vp8 key frame", e2ee.CodecVP8, vp8Key, 10, vp8Key[:10]},
		{"vp8 delta frame", e2ee.CodecVP8, vp8Delta, 3, vp8Delta[:3]},
		{"h264 access unit", e2ee.CodecH264, h264AU, 5, []byte{0, 0, 0, 1, 0x67}},
		{"opus", e2ee.CodecOpus, opus, 0, nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			enc, err := a.s.EncryptFrame(c.codec, c.frame)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.HasPrefix(enc, c.header) {
				t.Fatalf("encrypted frame %x does not keep the readable prefix %x", enc[:16], c.header)
			}
			if bytes.Contains(enc, c.frame[len(c.frame)-8:]) {
				t.Fatal("encrypted frame still holds plaintext media")
			}
			got, err := b.s.DecryptFrame("alice", c.codec, enc)
			if err != nil {
				t.Fatal(err)
			}
			want := c.frame
			if c.codec == e2ee.CodecH264 {
				want = []byte{0, 0, 0, 1, 0x67, 0x42, 0xc0, 0x1f, 0, 0, 0, 1, 0x68, 0xce, 0x3c, 0x80, 0, 0, 0, 1, 0x65, 0x88, 0x84, 0, 0, 3, 0x01, 0xff} // 4-byte start codes
			}
			if !bytes.Equal(got, want) {
				t.Fatalf("decrypted %x, want %x", got, want)
			}
		})
	}
	t.Run("h264 NAL types stay readable", func(t *testing.T) {
		enc, err := a.s.EncryptFrame(e2ee.CodecH264, h264AU)
		if err != nil {
			t.Fatal(err)
		}
		var types []byte
		for i := 0; i+4 < len(enc); i++ {
			if enc[i] == 0 && enc[i+1] == 0 && enc[i+2] == 1 {
				types = append(types, enc[i+3]&0x1f)
			}
		}
		if !bytes.Equal(types, []byte{7, 8, 5}) {
			t.Fatalf("NAL types seen by the router %v, want [7 8 5]", types)
		}
	})
}

func TestDecryptFailures(t *testing.T) {
	mt := newMeeting(t)
	a, b := mt.join("alice"), mt.join("bob")
	enc, err := a.s.EncryptFrame(e2ee.CodecVP8, vp8Key)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.s.DecryptFrame("alice", e2ee.CodecVP8, enc); err != nil {
		t.Fatal(err)
	}
	fresh, err := a.s.EncryptFrame(e2ee.CodecVP8, vp8Key) // not yet received: only tampering fails it
	if err != nil {
		t.Fatal(err)
	}
	flip := func(i int) []byte {
		c := append([]byte(nil), fresh...)
		c[i] ^= 0x01
		return c
	}
	other := mt.newMember("mallory")
	if _, err := other.s.AddPeer("bob", b.tok, true); err != nil { // ratchets to alice's KID 1
		t.Fatal(err)
	}
	for range 5 { // past the counters alice used, so the replay check passes
		_, _ = other.s.EncryptFrame(e2ee.CodecVP8, vp8Key)
	}
	forged, err := other.s.EncryptFrame(e2ee.CodecVP8, vp8Key)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name  string
		from  string
		frame []byte
		want  error
	}{
		{"replayed", "alice", enc, e2ee.ErrReplay},
		{"tampered ciphertext", "alice", flip(len(fresh) - 20), e2ee.ErrAuth},
		{"tampered clear VP8 header", "alice", flip(4), e2ee.ErrAuth},
		{"tampered tag", "alice", flip(len(fresh) - 1), e2ee.ErrAuth},
		{"wrong key (someone else's)", "alice", forged, e2ee.ErrAuth},
		{"unknown sender", "mallory", forged, e2ee.ErrUnknownPeer},
		{"truncated", "alice", fresh[:12], e2ee.ErrFrame},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := b.s.DecryptFrame(c.from, e2ee.CodecVP8, c.frame)
			if !errors.Is(err, c.want) {
				t.Fatalf("got %v, want %v", err, c.want)
			}
			t.Logf("error: %v", err)
		})
	}
	t.Run("reordered within the window", func(t *testing.T) {
		f1, _ := a.s.EncryptFrame(e2ee.CodecOpus, opus)
		f2, _ := a.s.EncryptFrame(e2ee.CodecOpus, opus)
		for _, f := range [][]byte{f2, f1} {
			if _, err := b.s.DecryptFrame("alice", e2ee.CodecOpus, f); err != nil {
				t.Fatal(err)
			}
		}
	})
}

// TestRotationOnLeave: after carol leaves, alice's new key is one carol never gets; with
// everything she held, she cannot decrypt alice's next frames, while bob can.
func TestRotationOnLeave(t *testing.T) {
	mt := newMeeting(t)
	a, b, c := mt.join("alice"), mt.join("bob"), mt.join("carol")
	before, _ := a.s.EncryptFrame(e2ee.CodecVP8, vp8Key)
	if _, err := c.s.DecryptFrame("alice", e2ee.CodecVP8, before); err != nil {
		t.Fatalf("carol before leaving: %v", err)
	}
	epoch := a.s.Epoch()
	mt.leave("carol")
	if a.s.Epoch() != epoch+1 {
		t.Fatalf("alice's epoch %d after a leave, want %d", a.s.Epoch(), epoch+1)
	}
	after, _ := a.s.EncryptFrame(e2ee.CodecVP8, vp8Key)
	if _, err := c.s.DecryptFrame("alice", e2ee.CodecVP8, after); !errors.Is(err, e2ee.ErrNoKey) {
		t.Fatalf("carol decrypting after leaving: %v, want ErrNoKey", err)
	}
	if got, err := b.s.DecryptFrame("alice", e2ee.CodecVP8, after); err != nil || !bytes.Equal(got, vp8Key) {
		t.Fatalf("bob after the rotation: %v", err)
	}
}

// TestRatchetOnJoin: carol cannot decrypt what alice sent before she joined; bob follows
// alice's ratchet without a key message.
func TestRatchetOnJoin(t *testing.T) {
	mt := newMeeting(t)
	a, b := mt.join("alice"), mt.join("bob")
	before, _ := a.s.EncryptFrame(e2ee.CodecVP8, vp8Key)
	c := mt.newMember("carol")
	out, err := a.s.AddPeer("carol", c.tok, true)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.s.AddPeer("alice", a.tok, false); err != nil {
		t.Fatal(err)
	}
	deliver(t, "alice", c, out)
	if _, err := c.s.DecryptFrame("alice", e2ee.CodecVP8, before); !errors.Is(err, e2ee.ErrNoKey) {
		t.Fatalf("carol decrypting media from before she joined: %v, want ErrNoKey", err)
	}
	after, _ := a.s.EncryptFrame(e2ee.CodecVP8, vp8Key)
	for _, m := range []*member{b, c} {
		if got, err := m.s.DecryptFrame("alice", e2ee.CodecVP8, after); err != nil || !bytes.Equal(got, vp8Key) {
			t.Fatalf("%s after the ratchet: %v", m.id, err)
		}
	}
}

// TestKeySubstitution plays a router that tries to get its own key used.
func TestKeySubstitution(t *testing.T) {
	mt := newMeeting(t)
	a := mt.join("alice")
	b := mt.newMember("bob")
	routerKey, err := e2ee.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	routerPortal := newMeeting(t) // a router has no portal key: it can only sign with its own
	for _, c := range []struct {
		name string
		id   string
		tok  string
	}{
		{"token re-signed by the router", "bob", signToken(t, routerPortal.portal, map[string]any{"mtg": mt.id, "sub": "bob", "e2ee": e2ee.EncodePublicKey(routerKey.PublicKey())})},
		{"claims edited, portal signature kept", "bob", swapPayload(t, b.tok, map[string]any{"mtg": mt.id, "sub": "bob", "e2ee": e2ee.EncodePublicKey(routerKey.PublicKey())})},
		{"another participant's token", "bob", a.tok},
		{"token of another meeting", "bob", signToken(t, mt.portal, map[string]any{"mtg": "999", "sub": "bob", "e2ee": b.s.PublicKey()})},
	} {
		t.Run(c.name, func(t *testing.T) {
			if _, err := a.s.AddPeer(c.id, c.tok, true); !errors.Is(err, e2ee.ErrUntrustedKey) {
				t.Fatalf("AddPeer = %v, want ErrUntrustedKey", err)
			}
		})
	}
	// Bob's real token is accepted; a key message the router seals to alice with its own key
	// in bob's name does not open.
	if _, err := a.s.AddPeer("bob", b.tok, true); err != nil {
		t.Fatal(err)
	}
	fake := mt.newMember("bob") // same ID, the router's key pair
	fakeTokAlice := a
	out, err := fake.s.AddPeer("alice", fakeTokAlice.tok, false)
	if err != nil {
		t.Fatal(err)
	}
	if err := a.s.HandleKey("bob", out.Key); !errors.Is(err, e2ee.ErrKeyMessage) {
		t.Fatalf("forged key message: %v, want ErrKeyMessage", err)
	}
	if _, err := a.s.AddPeer("bob", fake.tok, false); !errors.Is(err, e2ee.ErrKeyChanged) {
		t.Fatalf("second key for bob: %v, want ErrKeyChanged", err)
	}
	// A genuine key message redirected to someone else does not open either.
	real, err := b.s.AddPeer("alice", a.tok, false)
	if err != nil {
		t.Fatal(err)
	}
	carol := mt.join("carol")
	if _, err := carol.s.AddPeer("bob", b.tok, false); err != nil {
		t.Fatal(err)
	}
	if err := carol.s.HandleKey("bob", real.Key); !errors.Is(err, e2ee.ErrKeyMessage) {
		t.Fatalf("key message for alice opened by carol: %v", err)
	}
}

func swapPayload(t *testing.T, tok string, claims map[string]any) string {
	t.Helper()
	other := signToken(t, make([]byte, 64), claims)
	p, _, _ := cut(other)
	_, sig, _ := cut(tok)
	return p + "." + sig
}

func cut(s string) (string, string, bool) {
	for i := range s {
		if s[i] == '.' {
			return s[:i], s[i+1:], true
		}
	}
	return s, "", false
}
