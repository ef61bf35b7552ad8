package e2ee_test

import (
	"crypto/ecdh"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"testing"

	"github.com/stoa-rooms/stoa/services/api/e2ee"
)

// signToken signs claims the way services/token does (its own tests check that
// e2ee.VerifyKeyClaim accepts tokens from token.Sign); this package may not import it.
func signToken(t testing.TB, priv ed25519.PrivateKey, claims map[string]any) string {
	t.Helper()
	payload, err := json.Marshal(claims)
	if err != nil {
		t.Fatal(err)
	}
	sig := ed25519.Sign(priv, append([]byte("stoa-token-v1\n"), payload...))
	return base64.RawURLEncoding.EncodeToString(payload) + "." + base64.RawURLEncoding.EncodeToString(sig)
}

// member is one participant of a test meeting.
type member struct {
	id   string
	priv *ecdh.PrivateKey
	tok  string
	s    *e2ee.Session
}

type meeting struct {
	t      testing.TB
	id     string
	portal ed25519.PrivateKey
	pub    ed25519.PublicKey
	m      map[string]*member
}

func newMeeting(t testing.TB) *meeting {
	pub, priv, err := ed25519.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &meeting{t: t, id: "1234567890", portal: priv, pub: pub, m: map[string]*member{}}
}

func (mt *meeting) newMember(id string) *member {
	t := mt.t
	t.Helper()
	priv, err := e2ee.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	s, err := e2ee.NewSession(e2ee.Config{Meeting: mt.id, Self: id, Private: priv, PortalKey: mt.pub})
	if err != nil {
		t.Fatal(err)
	}
	tok := signToken(t, mt.portal, map[string]any{"mtg": mt.id, "sub": id, "kind": "user", "e2ee": s.PublicKey()})
	return &member{id: id, priv: priv, tok: tok, s: s}
}

// join adds a member and runs the key exchange the router would relay: the newcomer sends its
// key to everyone, everyone ratchets and sends theirs to the newcomer.
func (mt *meeting) join(id string) *member {
	t := mt.t
	t.Helper()
	n := mt.newMember(id)
	for _, o := range mt.m {
		toNew, err := o.s.AddPeer(n.id, n.tok, true)
		if err != nil {
			t.Fatal(err)
		}
		toOld, err := n.s.AddPeer(o.id, o.tok, false)
		if err != nil {
			t.Fatal(err)
		}
		deliver(t, o.id, n, toNew)
		deliver(t, n.id, o, toOld)
	}
	mt.m[id] = n
	return n
}

func (mt *meeting) leave(id string) {
	t := mt.t
	t.Helper()
	delete(mt.m, id)
	for _, o := range mt.m {
		outs, err := o.s.RemovePeer(id)
		if err != nil {
			t.Fatal(err)
		}
		for _, out := range outs {
			deliver(t, o.id, mt.m[out.To], out)
		}
	}
}

func deliver(t testing.TB, from string, to *member, out e2ee.Outgoing) {
	t.Helper()
	if out.To != to.id {
		t.Fatalf("key message for %q delivered to %q", out.To, to.id)
	}
	if err := to.s.HandleKey(from, out.Key); err != nil {
		t.Fatal(err)
	}
}
