package auth

import (
	"testing"
	"unicode/utf8"

	"github.com/stoa-rooms/stoa/services/password"
)

func FuzzDecodeLogin(f *testing.F) {
	for _, s := range []string{
		`{"name":"alice","password":"pw"}`,
		`{"name":"alice","password":"pw","x":1}`,
		`{"name":"","password":""}`,
		`{"name":"a"}{"name":"b"}`,
		`[]`, `null`, `{"name":1}`, "\xff", ``,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		req, err := DecodeLogin(b)
		if err != nil {
			return
		}
		if req.Name == "" || req.Password == "" || len(req.Name) > maxNameLen || len(req.Password) > maxPasswordLen || !utf8.ValidString(req.Name) {
			t.Fatalf("accepted invalid login %q", b)
		}
	})
}

func FuzzDecodeNewUser(f *testing.F) {
	for _, s := range []string{
		`{"name":"bob","role":"user","password":"twelve-chars"}`,
		`{"name":"bob","role":"root","password":"twelve-chars"}`,
		`{"name":"-bob","role":"user","password":"x"}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		nu, err := DecodeNewUser(b)
		if err != nil {
			return
		}
		if !validName.MatchString(nu.Name) || utf8.RuneCountInString(nu.Password) < MinPasswordLen {
			t.Fatalf("accepted invalid user %q", b)
		}
	})
}

// TestFallbackDummyHashIsVerifiable makes sure the fallback still costs real argon2 work.
func TestFallbackDummyHashIsVerifiable(t *testing.T) {
	if _, err := password.Verify("x", fallbackDummyHash); err != nil {
		t.Fatalf("fallback dummy hash: %v", err)
	}
}
