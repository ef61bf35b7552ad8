package token

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func testKey(t testing.TB) (ed25519.PublicKey, ed25519.PrivateKey) {
	t.Helper()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return pub, priv
}

func claimsAt(now time.Time) Claims {
	return Claims{
		Meeting: "1234567890", Participant: "p-1", Name: "Ann", Kind: KindUser,
		Perms: []string{PermPublish, PermSubscribe}, Router: "rtr-1",
		IssuedAt: now.Unix(), Expires: now.Add(MaxLifetime).Unix(), Nonce: "n1",
	}
}

func TestSignVerify(t *testing.T) {
	pub, priv := testKey(t)
	otherPub, _ := testKey(t)
	now := time.Unix(1_700_000_000, 0)
	tok, err := Sign(claimsAt(now), priv)
	if err != nil {
		t.Fatal(err)
	}
	payload, sig, _ := strings.Cut(tok, ".")
	flipped := []byte(sig)
	if flipped[3] == 'A' {
		flipped[3] = 'B'
	} else {
		flipped[3] = 'A'
	}
	forged := claimsAt(now)
	forged.Meeting = "9999999999"
	forgedTok, err := Sign(forged, priv)
	if err != nil {
		t.Fatal(err)
	}
	forgedPayload, _, _ := strings.Cut(forgedTok, ".")

	tests := []struct {
		name    string
		tok     string
		pub     ed25519.PublicKey
		now     time.Time
		wantErr error
		wantMsg string
	}{
		{name: "valid", tok: tok, pub: pub, now: now},
		{name: "valid within skew before iat", tok: tok, pub: pub, now: now.Add(-Skew + time.Second)},
		{name: "valid just before exp+skew", tok: tok, pub: pub, now: now.Add(MaxLifetime + Skew - time.Second)},
		{name: "expired", tok: tok, pub: pub, now: now.Add(MaxLifetime + Skew), wantErr: ErrExpired},
		{name: "not yet valid", tok: tok, pub: pub, now: now.Add(-Skew - time.Second), wantErr: ErrNotYet},
		{name: "other key", tok: tok, pub: otherPub, now: now, wantErr: ErrSignature},
		{name: "tampered signature", tok: payload + "." + string(flipped), pub: pub, now: now, wantErr: ErrSignature},
		{name: "swapped payload", tok: forgedPayload + "." + sig, pub: pub, now: now, wantErr: ErrSignature},
		{name: "no dot", tok: payload, pub: pub, now: now, wantErr: ErrMalformed},
		{name: "three parts", tok: tok + ".x", pub: pub, now: now, wantErr: ErrMalformed},
		{name: "bad base64", tok: "!!." + sig, pub: pub, now: now, wantErr: ErrMalformed},
		{name: "oversized", tok: strings.Repeat("a", MaxSize+1), pub: pub, now: now, wantErr: ErrMalformed},
		{name: "no key", tok: tok, pub: nil, now: now, wantMsg: "no valid public key"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := Verify(tc.tok, tc.pub, tc.now)
			switch {
			case tc.wantErr != nil:
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("err = %v, want %v", err, tc.wantErr)
				}
			case tc.wantMsg != "":
				if err == nil || !strings.Contains(err.Error(), tc.wantMsg) {
					t.Fatalf("err = %v, want %q", err, tc.wantMsg)
				}
			default:
				if err != nil {
					t.Fatal(err)
				}
				want := claimsAt(now)
				if c.Meeting != want.Meeting || c.Participant != want.Participant || c.Router != want.Router ||
					c.Kind != want.Kind || !c.Has(PermPublish) || !c.Has(PermSubscribe) || c.Expires != want.Expires {
					t.Fatalf("claims = %+v", c)
				}
			}
		})
	}
}

// A correctly signed payload with bad claims is still refused: the signer is not trusted to
// be bug-free.
func TestVerifyRefusesSignedBadClaims(t *testing.T) {
	pub, priv := testKey(t)
	now := time.Unix(1_700_000_000, 0)
	sign := func(payload string) string {
		sig := ed25519.Sign(priv, []byte(domain+payload))
		return base64.RawURLEncoding.EncodeToString([]byte(payload)) + "." + base64.RawURLEncoding.EncodeToString(sig)
	}
	tests := []struct{ name, payload, want string }{
		{"unknown field", `{"mtg":"m","sub":"p","kind":"user","rtr":"r","iat":1700000000,"exp":1700000060,"jti":"n","admin":true}`, "unknown field"},
		{"long lifetime", `{"mtg":"m","sub":"p","kind":"user","rtr":"r","iat":1700000000,"exp":1700003600,"jti":"n"}`, "lifetime"},
		{"missing router", `{"mtg":"m","sub":"p","kind":"user","iat":1700000000,"exp":1700000060,"jti":"n"}`, "missing router"},
		{"bad kind", `{"mtg":"m","sub":"p","kind":"root","rtr":"r","iat":1700000000,"exp":1700000060,"jti":"n"}`, "unknown kind"},
		{"bad perm", `{"mtg":"m","sub":"p","kind":"user","perms":["admin"],"rtr":"r","iat":1700000000,"exp":1700000060,"jti":"n"}`, "unknown permission"},
		{"trailing", `{"mtg":"m","sub":"p","kind":"user","rtr":"r","iat":1700000000,"exp":1700000060,"jti":"n"}{}`, "trailing"},
		{"not json", `hello`, "claims"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Verify(sign(tc.payload), pub, now)
			if !errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want malformed %q", err, tc.want)
			}
		})
	}
}

func TestSignRefusesBadClaims(t *testing.T) {
	_, priv := testKey(t)
	now := time.Unix(1_700_000_000, 0)
	tests := []struct {
		name   string
		mutate func(*Claims)
		want   string
	}{
		{"too long", func(c *Claims) { c.Expires = c.IssuedAt + 3600 }, "lifetime"},
		{"no meeting", func(c *Claims) { c.Meeting = "" }, "missing meeting"},
		{"huge name", func(c *Claims) { c.Name = strings.Repeat("x", MaxSize) }, "exceeds"},
		{"e2ee key not base64url", func(c *Claims) { c.E2EEKey = "not a key!" }, "e2ee key"},
		{"e2ee key too short", func(c *Claims) { c.E2EEKey = "AAAA" }, "e2ee key"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := claimsAt(now)
			tc.mutate(&c)
			if _, err := Sign(c, priv); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
		})
	}
}

func TestLoadOrCreateKey(t *testing.T) {
	path := filepath.Join(t.TempDir(), "token-key.pem")
	k1, err := LoadOrCreateKey(path)
	if err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Fatalf("mode = %v, want 0600", st.Mode().Perm())
	}
	k2, err := LoadOrCreateKey(path)
	if err != nil {
		t.Fatal(err)
	}
	if !k1.Equal(k2) {
		t.Fatal("reloaded key differs")
	}
	if err := os.WriteFile(path, []byte("garbage"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadOrCreateKey(path); err == nil || !strings.Contains(err.Error(), "PEM") {
		t.Fatalf("garbage key: err = %v", err)
	}
}

func FuzzVerify(f *testing.F) {
	pub, priv := testKey(f)
	now := time.Unix(1_700_000_000, 0)
	tok, err := Sign(claimsAt(now), priv)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(tok)
	f.Add("")
	f.Add(".")
	f.Add("e30.AAAA")
	f.Add(strings.Repeat("A", 100) + "." + strings.Repeat("B", 86))
	f.Fuzz(func(t *testing.T, s string) {
		c, err := Verify(s, pub, now)
		if err != nil {
			return
		}
		// Only tokens we signed can verify; the claims must be the ones signed.
		if c.Meeting != "1234567890" || c.Router != "rtr-1" {
			t.Fatalf("verified unexpected claims %+v", c)
		}
	})
}
