package certs

import (
	"encoding/asn1"
	"strings"
	"testing"
)

func TestCheckIterations(t *testing.T) {
	type params struct {
		Salt       []byte
		Iterations int
	}
	mk := func(n int) []byte {
		der, err := asn1.Marshal(params{Salt: []byte("saltsalt"), Iterations: n})
		if err != nil {
			t.Fatal(err)
		}
		return der
	}
	nested := func(inner []byte) []byte {
		der, err := asn1.Marshal(struct{ Content []byte }{inner})
		if err != nil {
			t.Fatal(err)
		}
		return der
	}
	tests := []struct {
		name string
		der  []byte
		ok   bool
	}{
		{"openssl_default", mk(2048), true},
		{"high_but_fine", mk(600_000), true},
		{"too_many", mk(maxP12Iterations + 1), false},
		{"too_many_nested_in_octet_string", nested(mk(50_000_000)), false},
		{"absurd", mk(1 << 40), false},
		{"not_der", []byte("junk"), true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			total := 0
			err := checkIterations(tc.der, 0, &total)
			if (err == nil) != tc.ok {
				t.Fatalf("checkIterations = %v, want ok=%v", err, tc.ok)
			}
		})
	}
	// Through the public path the refusal is a p12.invalid error naming the limit.
	pfx, err := asn1.Marshal(struct {
		Version int
		Mac     asn1.RawValue
	}{3, asn1.RawValue{FullBytes: mk(maxP12Iterations * 2)}})
	if err != nil {
		t.Fatal(err)
	}
	_, _, err = parseP12("certificate file", pfx, "pw")
	if err == nil || err.(*Error).Code != CodeP12Invalid || !strings.Contains(err.Error(), "iterations") {
		t.Fatalf("parseP12 = %v, want %s about iterations", err, CodeP12Invalid)
	}
}
