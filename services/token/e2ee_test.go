package token

import (
	"errors"
	"testing"
	"time"

	"github.com/stoa-rooms/stoa/services/api/e2ee"
)

// TestE2EEKeyClaim: the optional e2ee claim survives Sign/Verify, services/api/e2ee (which
// mirrors this wire form, as it cannot import this package) accepts it under the portal key
// and refuses it under another, and tokens without the claim are unchanged.
func TestE2EEKeyClaim(t *testing.T) {
	pub, priv := testKey(t)
	otherPub, _ := testKey(t)
	now := time.Unix(1_700_000_000, 0)
	k, err := e2ee.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	c := claimsAt(now)
	c.E2EEKey = e2ee.EncodePublicKey(k.PublicKey())
	tok, err := Sign(c, priv)
	if err != nil {
		t.Fatal(err)
	}
	got, err := Verify(tok, pub, now)
	if err != nil || got.E2EEKey != c.E2EEKey {
		t.Fatalf("Verify = %+v, %v", got, err)
	}
	kc, err := e2ee.VerifyKeyClaim(tok, pub)
	if err != nil || kc.Meeting != c.Meeting || kc.Participant != c.Participant || !kc.Public.Equal(k.PublicKey()) {
		t.Fatalf("VerifyKeyClaim = %+v, %v", kc, err)
	}
	if _, err := e2ee.VerifyKeyClaim(tok, otherPub); !errors.Is(err, e2ee.ErrUntrustedKey) {
		t.Fatalf("VerifyKeyClaim under another key = %v", err)
	}
	plain, err := Sign(claimsAt(now), priv)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Verify(plain, pub, now); err != nil {
		t.Fatalf("token without the claim: %v", err)
	}
	if _, err := e2ee.VerifyKeyClaim(plain, pub); err == nil {
		t.Fatal("VerifyKeyClaim accepted a token without a key")
	}
}
