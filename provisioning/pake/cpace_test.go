package pake

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"strings"
	"testing"

	"github.com/gtank/ristretto255"
)

// unhex decodes the draft's hex dumps; whitespace (line wrapping) is ignored.
func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.Join(strings.Fields(s), ""))
	if err != nil {
		t.Fatalf("bad hex in test vector: %v", err)
	}
	return b
}

func scalar(t testing.TB, s string) *ristretto255.Scalar {
	t.Helper()
	y := ristretto255.NewScalar()
	if err := y.Decode(unhex(t, s)); err != nil {
		t.Fatalf("decode scalar: %v", err)
	}
	return y
}

// Appendix A.1.2, A.1.4 and A.3.5 of draft-irtf-cfrg-cpace.
func TestStringUtilityVectors(t *testing.T) {
	r127 := make([]byte, 127)
	r128 := make([]byte, 128)
	for i := range r128 {
		r128[i] = byte(i)
		if i < 127 {
			r127[i] = byte(i)
		}
	}
	tests := []struct {
		name string
		got  []byte
		want string
	}{
		{"prepend_len empty", prependLen(nil), "00"},
		{"prepend_len 1234", prependLen([]byte("1234")), "0431323334"},
		{"prepend_len 127", prependLen(r127), "7f" + hex.EncodeToString(r127)},
		{"prepend_len 128", prependLen(r128), "8001" + hex.EncodeToString(r128)},
		{"lv_cat", lvCat([]byte("1234"), []byte("5"), nil, []byte("678")), "043132333401350003363738"},
		{"transcript_ir 1", transcriptIR([]byte("123"), []byte("PartyA"), []byte("234"), []byte("PartyB")),
			"03313233065061727479410332333406506172747942"},
		{"transcript_ir 2", transcriptIR([]byte("3456"), []byte("PartyA"), []byte("2345"), []byte("PartyB")),
			"043334353606506172747941043233343506506172747942"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := hex.EncodeToString(tc.got); got != tc.want {
				t.Errorf("got %s, want %s", got, tc.want)
			}
		})
	}
}

// Appendix B.3 of draft-irtf-cfrg-cpace (-21): CPACE-RISTR255-SHA512.
var vec = struct {
	prs, ci, sid, genStr, hash, g, ya, adA, yA, yb, adB, yB, k, isk string
}{
	prs: "50617373776f7264",
	ci:  "0b415f696e69746961746f720b425f726573706f6e646572",
	sid: "7e4b4791d6a8ef019b936c79fb7f2c57",
	genStr: `11435061636552697374726574746f3235350850617373776f726464
         00000000000000000000000000000000000000000000000000000000
         00000000000000000000000000000000000000000000000000000000
         00000000000000000000000000000000000000000000000000000000
         00000000000000000000000000000000180b415f696e69746961746f
         720b425f726573706f6e646572107e4b4791d6a8ef019b936c79fb7f
         2c57`,
	hash: `da6d3ddc8802fca9058755ffd3ebde08a9c2c74945901a258482a288
         b6663af06bf645c93cd1c51512307199c80e84908916d983b34af772
         05f90851a657ee27`,
	g:   "222b6b195fe84b1652badb6f6a3ae3d24341e7306967f0b8115b40d5698c7e56",
	ya:  "da3d23700a9e5699258aef94dc060dfda5ebb61f02a5ea77fad53f4ff0976d08",
	adA: "414461",
	yA:  "d6bac480f2c386c394efc7c47adb9925dcd2630b64f240c50f8d0eec482b9157",
	yb:  "d2316b454718c35362d83d69df6320f38578ed5984651435e2949762d900b80d",
	adB: "414462",
	yB:  "3ea7e0b19560d7c0b0f5734f63b955286dfa8232b5ebe63324e2d9e7433f7258",
	k:   "80b69a8a76457ab6a4d7f887a4bf6b55a2f80ac19c333f917a05fc9887c8b40f",
	isk: `b69effbf61b51d56401c0f65601abe428de8206feaaf0e32198896dc
         ae7b35cd2b38950a39dfd5d4a79164614c2984f7daa460b588c1e80c
         3fa2068af7900447`,
}

func TestDraftVectorsRistretto255(t *testing.T) {
	prs, ci, sid := unhex(t, vec.prs), unhex(t, vec.ci), unhex(t, vec.sid)
	adA, adB := unhex(t, vec.adA), unhex(t, vec.adB)
	ya, yb := scalar(t, vec.ya), scalar(t, vec.yb)

	t.Run("generator_string", func(t *testing.T) {
		got := generatorString([]byte(dsi), prs, ci, sid, hashBlockBytes)
		if !bytes.Equal(got, unhex(t, vec.genStr)) {
			t.Errorf("generator_string = %x", got)
		}
	})
	t.Run("generator", func(t *testing.T) {
		if got := calculateGenerator(prs, ci, sid).Encode(nil); !bytes.Equal(got, unhex(t, vec.g)) {
			t.Errorf("g = %x", got)
		}
	})
	t.Run("Ya and Yb", func(t *testing.T) {
		g := calculateGenerator(prs, ci, sid)
		if got := scalarMult(ya, g); !bytes.Equal(got, unhex(t, vec.yA)) {
			t.Errorf("Ya = %x", got)
		}
		if got := scalarMult(yb, g); !bytes.Equal(got, unhex(t, vec.yB)) {
			t.Errorf("Yb = %x", got)
		}
	})
	t.Run("K", func(t *testing.T) {
		for _, c := range []struct {
			y *ristretto255.Scalar
			x string
		}{{ya, vec.yB}, {yb, vec.yA}} {
			k, err := scalarMultVfy(c.y, unhex(t, c.x))
			if err != nil || !bytes.Equal(k, unhex(t, vec.k)) {
				t.Errorf("K = %x, %v", k, err)
			}
		}
	})
	t.Run("protocol run ISK", func(t *testing.T) {
		st, msgA := startWithScalar(prs, ci, sid, adA, ya)
		if !bytes.Equal(msgA, unhex(t, vec.yA)) {
			t.Fatalf("msgA = %x", msgA)
		}
		msgB, iskB, err := respondWithScalar(prs, ci, sid, adA, msgA, adB, yb)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(msgB, unhex(t, vec.yB)) {
			t.Fatalf("msgB = %x", msgB)
		}
		iskA, err := st.Finish(msgB, adB)
		if err != nil {
			t.Fatal(err)
		}
		want := unhex(t, vec.isk)
		if !bytes.Equal(iskA, want) || !bytes.Equal(iskB, want) {
			t.Errorf("ISK A = %x\nISK B = %x\nwant    %x", iskA, iskB, want)
		}
	})
	// B.3.10: scalar_mult with valid inputs.
	t.Run("scalar_mult_vfy valid", func(t *testing.T) {
		s := scalar(t, "7cd0e075fa7955ba52c02759a6c90dbbfc10e6d40aea8d283e407d88cf538a05")
		got, err := scalarMultVfy(s, unhex(t, "2c3c6b8c4f3800e7aef6864025b4ed79bd599117e427c41bd47d93d654b4a51c"))
		if err != nil || hex.EncodeToString(got) != "7c13645fe790a468f62c39beb7388e541d8405d1ade69d1778c5fe3e7f6b600e" {
			t.Errorf("scalar_mult_vfy = %x, %v", got, err)
		}
	})
}

// B.3.11 and section 9: invalid encodings and the identity must abort the protocol, on both sides.
func TestInvalidPointsRejected(t *testing.T) {
	prs, ci, sid := []byte("Password"), []byte("ci"), []byte("sid")
	tests := []struct {
		name string
		msg  []byte
		want error
	}{
		{"Y_i1 non-canonical", unhex(t, "2b3c6b8c4f3800e7aef6864025b4ed79bd599117e427c41bd47d93d654b4a51c"), ErrInvalidMessage},
		{"Y_i2 identity", make([]byte, 32), ErrIdentity},
		{"all ones", bytes.Repeat([]byte{0xff}, 32), ErrInvalidMessage},
		{"too short", make([]byte, 31), ErrInvalidMessage},
		{"too long", make([]byte, 33), ErrInvalidMessage},
		{"empty", nil, ErrInvalidMessage},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, _, err := Respond(prs, ci, sid, nil, tc.msg, nil, rand.Reader); !errors.Is(err, tc.want) {
				t.Errorf("Respond: err = %v, want %v", err, tc.want)
			}
			st, _, err := Start(prs, ci, sid, nil, rand.Reader)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := st.Finish(tc.msg, nil); !errors.Is(err, tc.want) {
				t.Errorf("Finish: err = %v, want %v", err, tc.want)
			}
			if err := ValidateMessage(tc.msg); !errors.Is(err, tc.want) {
				t.Errorf("ValidateMessage: err = %v, want %v", err, tc.want)
			}
		})
	}
}

func TestRoundTrip(t *testing.T) {
	ci, sid := []byte("stoa-test"), []byte("0123456789abcdef")
	tests := []struct {
		name           string
		prsA, prsB     []byte
		ciB, sidB, adB []byte // B's view; nil means "same as A"
		wantSame       bool
	}{
		{name: "same inputs", prsA: []byte("123456789012"), prsB: []byte("123456789012"), wantSame: true},
		{name: "wrong password", prsA: []byte("123456789012"), prsB: []byte("123456789013")},
		{name: "different CI", prsA: []byte("pw"), prsB: []byte("pw"), ciB: []byte("other")},
		{name: "different sid", prsA: []byte("pw"), prsB: []byte("pw"), sidB: []byte("other-sid")},
		{name: "long password", prsA: bytes.Repeat([]byte("x"), 300), prsB: bytes.Repeat([]byte("x"), 300), wantSame: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ciB, sidB := ci, sid
			if tc.ciB != nil {
				ciB = tc.ciB
			}
			if tc.sidB != nil {
				sidB = tc.sidB
			}
			st, msgA, err := Start(tc.prsA, ci, sid, []byte("A"), rand.Reader)
			if err != nil {
				t.Fatal(err)
			}
			msgB, iskB, err := Respond(tc.prsB, ciB, sidB, []byte("A"), msgA, []byte("B"), rand.Reader)
			if err != nil {
				t.Fatal(err)
			}
			iskA, err := st.Finish(msgB, []byte("B"))
			if err != nil {
				t.Fatal(err)
			}
			if len(iskA) != ISKSize || len(iskB) != ISKSize {
				t.Fatalf("ISK sizes %d, %d", len(iskA), len(iskB))
			}
			if same := bytes.Equal(iskA, iskB); same != tc.wantSame {
				t.Errorf("ISKs equal = %v, want %v", same, tc.wantSame)
			}
		})
	}
}

func TestTamperedADChangesISK(t *testing.T) {
	st, msgA, err := Start([]byte("pw"), nil, nil, []byte("room"), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	msgB, iskB, err := Respond([]byte("pw"), nil, nil, []byte("r00m"), msgA, []byte("portal"), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	iskA, err := st.Finish(msgB, []byte("portal"))
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(iskA, iskB) {
		t.Error("ISKs match although B saw a different ADa")
	}
}

func TestStateSingleUse(t *testing.T) {
	st, msgA, err := Start([]byte("pw"), nil, nil, nil, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	msgB, _, err := Respond([]byte("pw"), nil, nil, nil, msgA, nil, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.Finish(msgB, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Finish(msgB, nil); err == nil {
		t.Error("second Finish succeeded")
	}
}

func TestSampleScalar(t *testing.T) {
	t.Run("short reader", func(t *testing.T) {
		if _, err := sampleScalar(bytes.NewReader(make([]byte, 10))); err == nil {
			t.Error("no error from a short random source")
		}
	})
	t.Run("zero source", func(t *testing.T) {
		if _, err := sampleScalar(bytes.NewReader(make([]byte, 32*8))); err == nil {
			t.Error("zero scalar accepted")
		}
	})
	t.Run("top bits cleared", func(t *testing.T) {
		s, err := sampleScalar(bytes.NewReader(bytes.Repeat([]byte{0xff}, 32)))
		if err != nil {
			t.Fatal(err)
		}
		b := s.Encode(nil)
		if b[31] != 0x0f || b[0] != 0xff {
			t.Errorf("scalar = %x, want 2^252-1", b)
		}
	})
}

func FuzzPeerMessage(f *testing.F) {
	f.Add(make([]byte, 32))
	f.Add(bytes.Repeat([]byte{0xff}, 32))
	f.Add(unhex(f, vec.yA))
	f.Add(unhex(f, vec.yB))
	f.Add([]byte{1, 2, 3})
	prs, ci, sid := []byte("pw"), []byte("ci"), []byte("sid")
	f.Fuzz(func(t *testing.T, msg []byte) {
		verr := ValidateMessage(msg)
		_, isk, err := Respond(prs, ci, sid, nil, msg, nil, rand.Reader)
		if (verr == nil) != (err == nil) {
			t.Fatalf("ValidateMessage = %v but Respond = %v", verr, err)
		}
		if err == nil && len(isk) != ISKSize {
			t.Fatalf("ISK of %d bytes", len(isk))
		}
		if err != nil && !errors.Is(err, ErrInvalidMessage) && !errors.Is(err, ErrIdentity) {
			t.Fatalf("unexpected error class: %v", err)
		}
	})
}
