package proxy

import (
	"strings"
	"testing"
	"time"
)

func TestParseUsername(t *testing.T) {
	cases := []struct {
		in      string
		exp     int64
		user    string
		wantErr string
	}{
		{"1700000000:alice", 1700000000, "alice", ""},
		{"0:p-123", 0, "p-123", ""},
		{"1700000000:" + strings.Repeat("u", maxUserLen), 1700000000, strings.Repeat("u", maxUserLen), ""},
		{"", 0, "", "not \"<expiry>:<user>\""},
		{"alice", 0, "", "not \"<expiry>:<user>\""},
		{"1700000000", 0, "", "not \"<expiry>:<user>\""},
		{":alice", 0, "", "not a unix time"},
		{"-1:alice", 0, "", "not a unix time"},
		{"+1:alice", 0, "", "not a unix time"},
		{"01:alice", 0, "", "not a unix time"},
		{"1e9:alice", 0, "", "not a unix time"},
		{"9999999999999:alice", 0, "", "not a unix time"},
		{"1700000000:", 0, "", "user must be"},
		{"1700000000:a:b", 0, "", "forbidden byte 0x3a"},
		{"1700000000:a b", 0, "", "forbidden byte 0x20"},
		{"1700000000:\x00", 0, "", "forbidden byte 0x00"},
		{"1700000000:é", 0, "", "forbidden byte"},
		{"1700000000:" + strings.Repeat("u", maxUserLen+1), 0, "", "user must be"},
		{strings.Repeat("1", 600) + ":a", 0, "", "longer than"},
	}
	for _, tc := range cases {
		t.Run(tc.in, func(t *testing.T) {
			c, err := ParseUsername(tc.in)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if c.Expires.Unix() != tc.exp || c.User != tc.user {
				t.Errorf("got %+v", c)
			}
		})
	}
}

func TestPasswordAndUsername(t *testing.T) {
	// Vector computed independently: printf '1700000000:alice' | openssl dgst -sha1 -hmac secret -binary | base64
	if got := Password([]byte("secret"), "1700000000:alice"); got != "d8soP47RbdIKLDUOpnJPVQyq5Ts=" {
		t.Errorf("Password = %q", got)
	}
	if got := Username(time.Unix(1700000000, 0), "alice"); got != "1700000000:alice" {
		t.Errorf("Username = %q", got)
	}
}

func FuzzParseUsername(f *testing.F) {
	for _, s := range []string{"1700000000:alice", "0:x", ":", "", "01:a", "1:a:b", "1:\xff", strings.Repeat("9", 20) + ":a"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		c, err := ParseUsername(s)
		if err != nil {
			return
		}
		// What parses must round-trip exactly, so the HMAC covers what was checked.
		if got := Username(c.Expires, c.User); got != s {
			t.Fatalf("round trip %q -> %q", s, got)
		}
		if c.User == "" || strings.ContainsAny(c.User, ": ") || len(s) > maxUsernameLen {
			t.Fatalf("accepted %q as %+v", s, c)
		}
	})
}
