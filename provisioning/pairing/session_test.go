package pairing

import (
	"bytes"
	"crypto/rand"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/stoa-rooms/stoa/provisioning/pake"
)

const goodCode Code = "482190375562"

// newHello starts a room session and builds its Hello.
func newHello(t *testing.T, code Code) (*RoomSession, Hello) {
	t.Helper()
	id, err := NewPairingID(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	rs, share, err := NewRoomSession(code, id, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	h := Hello{PairingID: id, Locator: code.Locator(), Share: share, Room: RoomInfo{Model: "sim", Firmware: "0.1.0"}}
	// The Hello must survive the wire unchanged.
	h2, err := DecodeHello(mustJSON(t, h))
	if err != nil || !reflect.DeepEqual(h, h2) {
		t.Fatalf("Hello wire round trip: %v", err)
	}
	return rs, h
}

// pairedSessions runs a complete, successful exchange.
func pairedSessions(t *testing.T) (*RoomSession, *PortalSession) {
	t.Helper()
	rs, h := newHello(t, goodCode)
	ps, ch, err := NewPortalSession(goodCode, h, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	confirm, err := rs.Respond(ch)
	if err != nil {
		t.Fatalf("room Respond: %v", err)
	}
	if err := ps.Verify(confirm); err != nil {
		t.Fatalf("portal Verify: %v", err)
	}
	return rs, ps
}

func TestSessionRoundTrip(t *testing.T) {
	rs, h := newHello(t, goodCode)
	ps, ch, err := NewPortalSession(goodCode, h, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	ch, err = DecodeChallenge(mustJSON(t, ch))
	if err != nil {
		t.Fatalf("challenge wire: %v", err)
	}
	confirm, err := rs.Respond(ch)
	if err != nil {
		t.Fatalf("room Respond: %v", err)
	}
	enr := testEnrollment(t)
	sealed, err := rs.Seal(enr)
	if err != nil {
		t.Fatal(err)
	}
	cf, err := DecodeConfirm(mustJSON(t, Confirm{Confirm: confirm, Sealed: sealed}))
	if err != nil {
		t.Fatalf("confirm wire: %v", err)
	}
	if err := ps.Verify(cf.Confirm); err != nil {
		t.Fatalf("portal Verify: %v", err)
	}
	var gotEnr Enrollment
	if err := ps.Open(cf.Sealed, &gotEnr); err != nil {
		t.Fatalf("portal Open: %v", err)
	}
	if !reflect.DeepEqual(gotEnr, enr) {
		t.Errorf("enrollment changed in transit: %+v", gotEnr)
	}
	grant := testGrant(t)
	sealedGrant, err := ps.Seal(grant)
	if err != nil {
		t.Fatal(err)
	}
	res, err := DecodeResult(mustJSON(t, Result{Sealed: sealedGrant}))
	if err != nil {
		t.Fatalf("result wire: %v", err)
	}
	var gotGrant Grant
	if err := rs.Open(res.Sealed, &gotGrant); err != nil {
		t.Fatalf("room Open: %v", err)
	}
	if !reflect.DeepEqual(gotGrant, grant) {
		t.Errorf("grant changed in transit: %+v", gotGrant)
	}
	// Directions have their own keys: a side cannot open what it sealed itself.
	if err := rs.Open(sealed, &gotEnr); err == nil {
		t.Error("room opened its own sealed payload")
	}
	if err := ps.Open(sealedGrant, &gotGrant); err == nil {
		t.Error("portal opened its own sealed payload")
	}
}

func TestWrongCode(t *testing.T) {
	tests := []struct {
		name       string
		portalCode Code
	}{
		{"last digit", "482190375563"},
		{"secret part", "482100000001"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rs, h := newHello(t, goodCode)
			ps, ch, err := NewPortalSession(tc.portalCode, h, rand.Reader)
			if err != nil {
				t.Fatal(err)
			}
			confirm, err := rs.Respond(ch)
			if !errors.Is(err, ErrWrongCode) || confirm != nil {
				t.Fatalf("room Respond = %x, %v; want ErrWrongCode", confirm, err)
			}
			// The room posts an empty confirm so the admin hears at once.
			if err := ps.Verify(nil); !errors.Is(err, ErrWrongCode) {
				t.Fatalf("portal Verify(empty) = %v", err)
			}
			// A confirm the room might have made from its own key cannot be made; any
			// guess fails, and the session stays failed.
			if err := ps.Verify(bytes.Repeat([]byte{1}, confirmSize)); !errors.Is(err, ErrWrongCode) {
				t.Fatalf("portal Verify(guess) = %v", err)
			}
			assertSealedShut(t, rs, ps)
		})
	}
}

// assertSealedShut checks that neither side seals or opens anything.
func assertSealedShut(t *testing.T, rs *RoomSession, ps *PortalSession) {
	t.Helper()
	junk := make([]byte, 200)
	if _, err := rs.Seal(testEnrollment(t)); err == nil {
		t.Error("room Seal succeeded without a confirmed key")
	}
	if _, err := ps.Seal(testGrant(t)); err == nil {
		t.Error("portal Seal succeeded without a confirmed key")
	}
	var g Grant
	if err := rs.Open(junk, &g); err == nil {
		t.Error("room Open succeeded without a confirmed key")
	}
	var e Enrollment
	if err := ps.Open(junk, &e); err == nil {
		t.Error("portal Open succeeded without a confirmed key")
	}
}

func TestLocatorMismatch(t *testing.T) {
	_, h := newHello(t, goodCode)
	if _, _, err := NewPortalSession("111190375562", h, rand.Reader); err == nil || !strings.Contains(err.Error(), "locator") {
		t.Fatalf("err = %v, want locator mismatch", err)
	}
}

func TestBadSessionInputs(t *testing.T) {
	id, _ := NewPairingID(rand.Reader)
	tests := []struct {
		name string
		code Code
		id   string
	}{
		{"code with spaces", "4821 9037 5562", id},
		{"short code", "4821", id},
		{"bad pairing id", goodCode, "not-an-id"},
		{"padded pairing id", goodCode, id + "=="},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, _, err := NewRoomSession(tc.code, tc.id, rand.Reader); err == nil {
				t.Error("NewRoomSession accepted bad input")
			}
		})
	}
	_, h := newHello(t, goodCode)
	h.Share = make([]byte, 32) // identity element
	if _, _, err := NewPortalSession(goodCode, h, rand.Reader); err == nil {
		t.Error("NewPortalSession accepted the identity as share")
	}
}

func flip(b []byte, i int) []byte {
	c := append([]byte(nil), b...)
	c[i%len(c)] ^= 0x01
	return c
}

func TestTampering(t *testing.T) {
	t.Run("hello share", func(t *testing.T) {
		rs, h := newHello(t, goodCode)
		h.Share = flip(h.Share, 5)
		ps, ch, err := NewPortalSession(goodCode, h, rand.Reader)
		if err != nil {
			// A flipped share that no longer decodes is refused at once.
			if !errors.Is(err, pake.ErrInvalidMessage) && !errors.Is(err, pake.ErrIdentity) {
				t.Fatalf("NewPortalSession = %v, want an invalid share error", err)
			}
			return
		}
		if _, err := rs.Respond(ch); !errors.Is(err, ErrWrongCode) {
			t.Fatalf("room Respond = %v, want ErrWrongCode", err)
		}
		assertSealedShut(t, rs, ps)
	})
	t.Run("challenge share", func(t *testing.T) {
		rs, h := newHello(t, goodCode)
		_, ch, err := NewPortalSession(goodCode, h, rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		ch.Share = flip(ch.Share, 7)
		if _, err := rs.Respond(ch); err == nil {
			t.Fatal("room accepted a tampered portal share")
		}
	})
	t.Run("challenge confirm", func(t *testing.T) {
		rs, h := newHello(t, goodCode)
		_, ch, err := NewPortalSession(goodCode, h, rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		ch.Confirm = flip(ch.Confirm, 63)
		if _, err := rs.Respond(ch); !errors.Is(err, ErrWrongCode) {
			t.Fatalf("room Respond = %v, want ErrWrongCode", err)
		}
	})
	t.Run("room confirm", func(t *testing.T) {
		rs, h := newHello(t, goodCode)
		ps, ch, err := NewPortalSession(goodCode, h, rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		confirm, err := rs.Respond(ch)
		if err != nil {
			t.Fatal(err)
		}
		if err := ps.Verify(flip(confirm, 0)); !errors.Is(err, ErrWrongCode) {
			t.Fatalf("portal Verify = %v, want ErrWrongCode", err)
		}
		// Once failed, even the right confirm is refused: one guess per session.
		if err := ps.Verify(confirm); !errors.Is(err, ErrWrongCode) {
			t.Fatalf("portal Verify after failure = %v, want ErrWrongCode", err)
		}
	})
	for _, pos := range []int{0, nonceSize + 1, -1} {
		t.Run(fmt.Sprintf("sealed enrollment byte %d", pos), func(t *testing.T) {
			rs, ps := pairedSessions(t)
			sealed, err := rs.Seal(testEnrollment(t))
			if err != nil {
				t.Fatal(err)
			}
			var e Enrollment
			if err := ps.Open(flip(sealed, (pos+len(sealed))%len(sealed)), &e); err == nil {
				t.Fatal("portal opened a tampered enrollment")
			}
			if !reflect.DeepEqual(e, Enrollment{}) {
				t.Error("failed Open wrote into v")
			}
		})
		t.Run(fmt.Sprintf("sealed grant byte %d", pos), func(t *testing.T) {
			rs, ps := pairedSessions(t)
			sealed, err := ps.Seal(testGrant(t))
			if err != nil {
				t.Fatal(err)
			}
			var g Grant
			if err := rs.Open(flip(sealed, (pos+len(sealed))%len(sealed)), &g); err == nil {
				t.Fatal("room opened a tampered grant")
			}
		})
	}
	t.Run("sealed truncated", func(t *testing.T) {
		rs, ps := pairedSessions(t)
		sealed, err := ps.Seal(testGrant(t))
		if err != nil {
			t.Fatal(err)
		}
		var g Grant
		for _, n := range []int{0, nonceSize, minSealedSize - 1, len(sealed) - 1} {
			if err := rs.Open(sealed[:n], &g); err == nil {
				t.Errorf("room opened a payload truncated to %d bytes", n)
			}
		}
	})
}

// A man in the middle who does not know the code runs its own sessions with a guessed code
// towards both sides. Both sides detect it, and neither opens anything.
func TestManInTheMiddle(t *testing.T) {
	const guess Code = "482111111112"
	room, hello := newHello(t, goodCode)

	// Towards the room, Mallory plays portal with her guess.
	mPortal, mChallenge, err := NewPortalSession(guess, hello, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := room.Respond(mChallenge); !errors.Is(err, ErrWrongCode) {
		t.Fatalf("room Respond to Mallory = %v, want ErrWrongCode", err)
	}

	// Towards the portal, Mallory plays room with her guess and the same pairing ID.
	mRoom, mShare, err := NewRoomSession(guess, hello.PairingID, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	mHello := hello
	mHello.Share = mShare
	portal, ch, err := NewPortalSession(goodCode, mHello, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := mRoom.Respond(ch); !errors.Is(err, ErrWrongCode) {
		t.Fatalf("Mallory's room Respond = %v, want ErrWrongCode", err)
	}
	// Without a confirmed key Mallory can only send garbage or her own portal-side tag.
	for _, forged := range [][]byte{nil, bytes.Repeat([]byte{0x42}, confirmSize), mChallenge.Confirm} {
		if err := portal.Verify(forged); !errors.Is(err, ErrWrongCode) {
			t.Fatalf("portal Verify(forged) = %v, want ErrWrongCode", err)
		}
	}
	assertSealedShut(t, room, portal)

	// A pure relay that swaps in its own share but forwards the real confirm also fails.
	room2, hello2 := newHello(t, goodCode)
	_, realCh, err := NewPortalSession(goodCode, hello2, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	_, swapped, err := NewPortalSession(guess, hello2, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := room2.Respond(Challenge{Share: swapped.Share, Confirm: realCh.Confirm}); !errors.Is(err, ErrWrongCode) {
		t.Fatalf("room Respond to swapped share = %v, want ErrWrongCode", err)
	}
	assertSealedShut(t, room, mPortal)
}

func TestSealedBoundToSession(t *testing.T) {
	roomA, portalA := pairedSessions(t)
	roomB, portalB := pairedSessions(t)
	enr, err := roomA.Seal(testEnrollment(t))
	if err != nil {
		t.Fatal(err)
	}
	grant, err := portalA.Seal(testGrant(t))
	if err != nil {
		t.Fatal(err)
	}
	var e Enrollment
	if err := portalB.Open(enr, &e); err == nil {
		t.Error("enrollment from session A opened in session B")
	}
	var g Grant
	if err := roomB.Open(grant, &g); err == nil {
		t.Error("grant from session A opened in session B")
	}
	// And the right session still opens them.
	if err := portalA.Open(enr, &e); err != nil {
		t.Errorf("portal A Open: %v", err)
	}
	if err := roomA.Open(grant, &g); err != nil {
		t.Errorf("room A Open: %v", err)
	}
}

func TestSessionSingleUse(t *testing.T) {
	rs, h := newHello(t, goodCode)
	_, ch, err := NewPortalSession(goodCode, h, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := rs.Respond(ch); err != nil {
		t.Fatal(err)
	}
	if _, err := rs.Respond(ch); err == nil {
		t.Error("second Respond succeeded")
	}
}

func TestOpenStrictPayloads(t *testing.T) {
	rs, ps := pairedSessions(t)
	type status struct {
		Note string `json:"note"`
	}
	tests := []struct {
		name    string
		payload any
		into    func() any
		wantErr bool
	}{
		{"generic ok", status{Note: "hi"}, func() any { return &status{} }, false},
		{"unknown field", map[string]string{"note": "hi", "extra": "x"}, func() any { return &status{} }, true},
		{"enrollment checked", Enrollment{CSRPEM: "not a csr"}, func() any { return &Enrollment{} }, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			sealed, err := rs.Seal(tc.payload)
			if err != nil {
				t.Fatal(err)
			}
			err = ps.Open(sealed, tc.into())
			if (err != nil) != tc.wantErr {
				t.Fatalf("Open err = %v, wantErr %v", err, tc.wantErr)
			}
		})
	}
	if _, err := rs.Seal(strings.Repeat("x", MaxMessageSize)); err == nil {
		t.Error("sealed a payload above the size limit")
	}
	if _, err := rs.Seal(func() {}); err == nil {
		t.Error("sealed an unmarshalable value")
	}
}

func BenchmarkPairingExchange(b *testing.B) {
	id, _ := NewPairingID(rand.Reader)
	for b.Loop() {
		rs, share, err := NewRoomSession(goodCode, id, rand.Reader)
		if err != nil {
			b.Fatal(err)
		}
		ps, ch, err := NewPortalSession(goodCode, Hello{PairingID: id, Locator: "4821", Share: share}, rand.Reader)
		if err != nil {
			b.Fatal(err)
		}
		confirm, err := rs.Respond(ch)
		if err != nil {
			b.Fatal(err)
		}
		if err := ps.Verify(confirm); err != nil {
			b.Fatal(err)
		}
	}
}
