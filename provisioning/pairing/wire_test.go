package pairing

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
)

// edit marshals v to a generic JSON object, applies change, and re-marshals it.
func edit(t testing.TB, v any, change func(m map[string]any)) []byte {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(mustJSON(t, v), &m); err != nil {
		t.Fatal(err)
	}
	change(m)
	return mustJSON(t, m)
}

type decodeCase struct {
	name    string
	data    []byte
	errPart string // "" means valid
}

func runDecodeCases[T any](t *testing.T, decode func([]byte) (T, error), cases []decodeCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			v, err := decode(tc.data)
			if tc.errPart == "" {
				if err != nil {
					t.Fatalf("decode: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("decoded %+v, want error containing %q", v, tc.errPart)
			}
			if !errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), tc.errPart) {
				t.Fatalf("err = %v, want ErrMalformed containing %q", err, tc.errPart)
			}
			var zero T
			if !reflect.DeepEqual(v, zero) {
				t.Errorf("failed decode returned %+v", v)
			}
		})
	}
}

func validHello(t testing.TB) Hello {
	id, err := NewPairingID(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	_, share, err := NewRoomSession(goodCode, id, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return Hello{PairingID: id, Locator: "4821", Share: share, Room: RoomInfo{Model: "sim", Firmware: "0.1", Serial: "S1", Hostname: "room"}}
}

// commonCases apply to every decoder: the strict JSON rules.
func commonCases(valid []byte) []decodeCase {
	cp := func() []byte { return append([]byte(nil), valid...) }
	return []decodeCase{
		{"valid", valid, ""},
		{"unknown field", append(bytes.TrimSuffix(cp(), []byte("}")), []byte(`,"evil":1}`)...), "unknown field"},
		{"trailing data", append(cp(), []byte(` {}`)...), "data after"},
		{"not json", []byte("hello"), "invalid character"},
		{"empty", nil, "EOF"},
		{"array", []byte("[]"), "cannot unmarshal"},
		{"too big", append(cp(), bytes.Repeat([]byte(" "), MaxMessageSize)...), "limit"},
	}
}

func TestDecodeHello(t *testing.T) {
	h := validHello(t)
	cases := append(commonCases(mustJSON(t, h)),
		decodeCase{"missing pairing id", edit(t, h, func(m map[string]any) { delete(m, "pairing_id") }), "pairing_id"},
		decodeCase{"short pairing id", edit(t, h, func(m map[string]any) { m["pairing_id"] = "AAAA" }), "pairing_id"},
		decodeCase{"locator letters", edit(t, h, func(m map[string]any) { m["locator"] = "48a1" }), "locator"},
		decodeCase{"locator long", edit(t, h, func(m map[string]any) { m["locator"] = "48211" }), "locator"},
		decodeCase{"share short", edit(t, h, func(m map[string]any) { m["share"] = "AAAA" }), "share is 3 bytes"},
		decodeCase{"share missing", edit(t, h, func(m map[string]any) { delete(m, "share") }), "share is 0 bytes"},
		decodeCase{"share not base64", edit(t, h, func(m map[string]any) { m["share"] = "!!" }), "illegal base64"},
		decodeCase{"room control chars", edit(t, h, func(m map[string]any) { m["room"].(map[string]any)["model"] = "a\x1b[31m" }), "control"},
		decodeCase{"room too long", edit(t, h, func(m map[string]any) { m["room"].(map[string]any)["serial"] = strings.Repeat("s", 300) }), "longer"},
		decodeCase{"room unknown field", edit(t, h, func(m map[string]any) { m["room"].(map[string]any)["x"] = "y" }), "unknown field"},
	)
	runDecodeCases(t, DecodeHello, cases)
}

func TestDecodeChallenge(t *testing.T) {
	c := Challenge{Share: bytes.Repeat([]byte{2}, 32), Confirm: bytes.Repeat([]byte{3}, 64)}
	cases := append(commonCases(mustJSON(t, c)),
		decodeCase{"share short", mustJSON(t, Challenge{Share: []byte{1}, Confirm: c.Confirm}), "share is 1 bytes"},
		decodeCase{"confirm short", mustJSON(t, Challenge{Share: c.Share, Confirm: []byte{1}}), "confirm is 1 bytes"},
		decodeCase{"confirm missing", mustJSON(t, Challenge{Share: c.Share}), "confirm is 0 bytes"},
	)
	runDecodeCases(t, DecodeChallenge, cases)
}

func TestDecodeConfirm(t *testing.T) {
	c := Confirm{Confirm: bytes.Repeat([]byte{3}, 64), Sealed: make([]byte, 100)}
	cases := append(commonCases(mustJSON(t, c)),
		decodeCase{"empty confirm is the wrong-code signal", mustJSON(t, Confirm{}), ""},
		decodeCase{"confirm without sealed", mustJSON(t, Confirm{Confirm: c.Confirm}), "sealed is 0 bytes"},
		decodeCase{"confirm odd size", mustJSON(t, Confirm{Confirm: []byte{1, 2}, Sealed: c.Sealed}), "confirm is 2 bytes"},
	)
	runDecodeCases(t, DecodeConfirm, cases)
}

func TestDecodeResult(t *testing.T) {
	r := Result{Sealed: make([]byte, 100)}
	cases := append(commonCases(mustJSON(t, r)),
		decodeCase{"sealed short", mustJSON(t, Result{Sealed: make([]byte, minSealedSize-1)}), "sealed is 27 bytes"},
		decodeCase{"sealed missing", []byte(`{}`), "sealed is 0 bytes"},
	)
	runDecodeCases(t, DecodeResult, cases)
}

func TestDecodeEnrollment(t *testing.T) {
	e := testEnrollment(t)
	cert := testCertPEM(t, "x")
	csr := []byte(e.CSRPEM)
	badSig := strings.Replace(e.CSRPEM, e.CSRPEM[len(e.CSRPEM)-40:len(e.CSRPEM)-38], "AA", 1)
	cases := append(commonCases(mustJSON(t, e)),
		decodeCase{"csr missing", mustJSON(t, Enrollment{Room: e.Room}), "no PEM block"},
		decodeCase{"certificate not csr", mustJSON(t, Enrollment{CSRPEM: cert}), `want "CERTIFICATE REQUEST"`},
		decodeCase{"two blocks", mustJSON(t, Enrollment{CSRPEM: e.CSRPEM + e.CSRPEM}), "data after the PEM block"},
		decodeCase{"garbage der", mustJSON(t, Enrollment{CSRPEM: "-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n"}), "csr_pem"},
		decodeCase{"bad signature", mustJSON(t, Enrollment{CSRPEM: badSig}), "csr_pem"},
		decodeCase{"room DEL char", mustJSON(t, Enrollment{CSRPEM: string(csr), Room: RoomInfo{Hostname: "a\x7fb"}}), "control"},
	)
	runDecodeCases(t, DecodeEnrollment, cases)
}

func TestDecodeGrant(t *testing.T) {
	g := testGrant(t)
	with := func(change func(g *Grant)) []byte {
		c := g
		change(&c)
		return mustJSON(t, c)
	}
	cases := append(commonCases(mustJSON(t, g)),
		decodeCase{"room id missing", with(func(g *Grant) { g.RoomID = "" }), "room_id"},
		decodeCase{"name missing", with(func(g *Grant) { g.Name = "" }), "name"},
		decodeCase{"name control", with(func(g *Grant) { g.Name = "a\nb" }), "name"},
		decodeCase{"cert missing", with(func(g *Grant) { g.CertPEM = "" }), "cert_pem"},
		decodeCase{"device ca is a csr", with(func(g *Grant) { g.DeviceCAPEM = testCSRPEM(t) }), "device_ca_pem"},
		decodeCase{"bundle missing", with(func(g *Grant) { g.Bundle = nil }), "bundle missing"},
		decodeCase{"bundle key short", with(func(g *Grant) { g.BundleKey = g.BundleKey[:31] }), "bundle_key is 31 bytes"},
		decodeCase{"mgmt url http", with(func(g *Grant) { g.MgmtURL = "http://portal:8444" }), "mgmt_url"},
		decodeCase{"mgmt url no host", with(func(g *Grant) { g.MgmtURL = "https://" }), "mgmt_url"},
		decodeCase{"mgmt url userinfo", with(func(g *Grant) { g.MgmtURL = "https://u:p@portal" }), "mgmt_url"},
	)
	runDecodeCases(t, DecodeGrant, cases)
}

func TestPairingID(t *testing.T) {
	id, err := NewPairingID(rand.Reader)
	if err != nil || len(id) != 22 || CheckPairingID(id) != nil {
		t.Fatalf("NewPairingID = %q, %v", id, err)
	}
	for _, bad := range []string{"", id[:21], id + "A", id + "==", strings.Replace(id, id[:1], "+", 1)} {
		if CheckPairingID(bad) == nil {
			t.Errorf("CheckPairingID(%q) accepted", bad)
		}
	}
	if _, err := NewPairingID(bytes.NewReader(nil)); err == nil {
		t.Error("NewPairingID with an empty source succeeded")
	}
}

// fuzzDecoder checks that a decoder never panics and that anything it accepts re-encodes to
// something it accepts again, unchanged.
func fuzzDecoder[T any](f *testing.F, decode func([]byte) (T, error), seeds ...[]byte) {
	for _, s := range seeds {
		f.Add(s)
	}
	f.Add([]byte(`{}`))
	f.Add([]byte(`null`))
	f.Add([]byte(`{"share":"AAAA","x":1}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		v, err := decode(data)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error does not wrap ErrMalformed: %v", err)
			}
			return
		}
		again, err := decode(mustJSON(t, v))
		if err != nil {
			t.Fatalf("re-encoded value refused: %v", err)
		}
		if !reflect.DeepEqual(v, again) {
			t.Fatalf("round trip changed the value: %+v vs %+v", v, again)
		}
	})
}

func FuzzDecodeHello(f *testing.F) {
	fuzzDecoder(f, DecodeHello, mustJSON(f, validHello(f)))
}

func FuzzDecodeChallenge(f *testing.F) {
	fuzzDecoder(f, DecodeChallenge, mustJSON(f, Challenge{Share: make([]byte, 32), Confirm: make([]byte, 64)}))
}

func FuzzDecodeConfirm(f *testing.F) {
	fuzzDecoder(f, DecodeConfirm, mustJSON(f, Confirm{Confirm: make([]byte, 64), Sealed: make([]byte, 40)}), mustJSON(f, Confirm{}))
}

func FuzzDecodeResult(f *testing.F) {
	fuzzDecoder(f, DecodeResult, mustJSON(f, Result{Sealed: make([]byte, 40)}))
}

func FuzzDecodeEnrollment(f *testing.F) {
	fuzzDecoder(f, DecodeEnrollment, mustJSON(f, testEnrollment(f)))
}

func FuzzDecodeGrant(f *testing.F) {
	fuzzDecoder(f, DecodeGrant, mustJSON(f, testGrant(f)))
}

// JSON decoding replaces invalid UTF-8, so checkText's own UTF-8 check guards direct callers.
func TestCheckText(t *testing.T) {
	tests := []struct {
		in string
		ok bool
	}{
		{"Boardroom 3 — Zürich", true},
		{"", true},
		{"\xff", false},
		{"a\tb", false},
		{"a\u0085b", false},
		{strings.Repeat("x", maxInfoLen), true},
		{strings.Repeat("x", maxInfoLen+1), false},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			if err := checkText(tc.in); (err == nil) != tc.ok {
				t.Errorf("checkText(%q) = %v, want ok %v", tc.in, err, tc.ok)
			}
		})
	}
}
