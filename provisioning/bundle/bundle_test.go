package bundle

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"strings"
	"testing"
	"time"
)

func TestSignVerifyRoundTrip(t *testing.T) {
	f := newFixture(t)
	in := f.bundle(7)
	in.PortalRoots = append(in.PortalRoots, caPEM(t, "new portal root"))
	got, err := Verify(f.sign(t, in), f.pub)
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	if got.Version != 7 || !got.IssuedAt.Equal(in.IssuedAt) || got.PortalURL != in.PortalURL ||
		got.MgmtURL != in.MgmtURL || got.ComponentCA != in.ComponentCA || len(got.PortalRoots) != 2 ||
		got.PortalRoots[1] != in.PortalRoots[1] {
		t.Fatalf("round trip changed the bundle:\n got %+v\nwant %+v", got, in)
	}
}

// rawEnvelope signs arbitrary payload bytes, to build envelopes Sign itself would refuse.
func rawEnvelope(priv ed25519.PrivateKey, payload []byte) []byte {
	out, _ := json.Marshal(envelope{Payload: payload, Signature: ed25519.Sign(priv, signedMessage(payload))})
	return out
}

// refusedEnvelopes are envelopes Verify must refuse, with the error each must carry. Store tests
// reuse them.
func refusedEnvelopes(t *testing.T, f fixture) []struct {
	name string
	env  []byte
	want error
} {
	good := f.sign(t, f.bundle(5))
	var e envelope
	if err := json.Unmarshal(good, &e); err != nil {
		t.Fatal(err)
	}
	flipped := bytes.Clone(e.Signature)
	flipped[10] ^= 1
	badSig, _ := json.Marshal(envelope{Payload: e.Payload, Signature: flipped})

	_, otherPriv, _ := ed25519.GenerateKey(rand.Reader)
	otherKey, _ := Sign(f.bundle(9), otherPriv)

	tampered := bytes.Replace(e.Payload, []byte(`"version":5`), []byte(`"version":6`), 1)
	tamperedEnv, _ := json.Marshal(envelope{Payload: tampered, Signature: e.Signature})

	withField := func(field string) []byte {
		var m map[string]any
		json.Unmarshal(e.Payload, &m)
		m[field] = "x"
		p, _ := json.Marshal(m)
		return rawEnvelope(f.priv, p)
	}
	mutate := func(fn func(b *Bundle)) []byte {
		b := f.bundle(5)
		fn(&b)
		p, _ := json.Marshal(b)
		return rawEnvelope(f.priv, p)
	}
	badPEM := strings.Replace(f.portal, "MII", "MIX", 1)
	keyPEM := string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: []byte{1, 2, 3}}))

	return []struct {
		name string
		env  []byte
		want error
	}{
		{"flipped signature bit", badSig, ErrBadSignature},
		{"signed by another key", otherKey, ErrBadSignature},
		{"payload changed after signing", tamperedEnv, ErrBadSignature},
		{"garbage", []byte("\x00\x01garbage\xff"), ErrMalformed},
		{"empty", nil, ErrMalformed},
		{"truncated JSON", good[:len(good)/2], ErrMalformed},
		{"JSON null", []byte("null"), ErrMalformed},
		{"trailing data", append(bytes.Clone(good), []byte(` {}`)...), ErrMalformed},
		{"unknown envelope field", []byte(strings.Replace(string(good), `{"payload"`, `{"extra":1,"payload"`, 1)), ErrMalformed},
		{"missing signature", []byte(`{"payload":"` + base64.StdEncoding.EncodeToString(e.Payload) + `"}`), ErrMalformed},
		{"short signature", []byte(`{"payload":"` + base64.StdEncoding.EncodeToString(e.Payload) + `","signature":"AAAA"}`), ErrMalformed},
		{"payload not base64", []byte(`{"payload":"!!","signature":"` + base64.StdEncoding.EncodeToString(e.Signature) + `"}`), ErrMalformed},
		{"oversized", append(bytes.Clone(good), bytes.Repeat([]byte(" "), MaxEnvelopeSize)...), ErrMalformed},
		{"signed payload with unknown field", withField("extra"), ErrMalformed},
		{"signed payload not JSON", rawEnvelope(f.priv, []byte("not json")), ErrMalformed},
		{"signed truncated payload", rawEnvelope(f.priv, e.Payload[:len(e.Payload)-3]), ErrMalformed},
		{"PEM that does not parse", mutate(func(b *Bundle) { b.PortalRoots = []string{badPEM} }), ErrMalformed},
		{"component CA not PEM", mutate(func(b *Bundle) { b.ComponentCA = "hello" }), ErrMalformed},
		{"PEM of a key, not a certificate", mutate(func(b *Bundle) { b.PortalRoots = []string{keyPEM} }), ErrMalformed},
		{"junk after the PEM", mutate(func(b *Bundle) { b.PortalRoots = []string{f.portal + "junk"} }), ErrMalformed},
		{"no portal roots", mutate(func(b *Bundle) { b.PortalRoots = nil }), ErrMalformed},
		{"too many portal roots", mutate(func(b *Bundle) {
			for len(b.PortalRoots) <= MaxRoots {
				b.PortalRoots = append(b.PortalRoots, f.portal)
			}
		}), ErrMalformed},
		{"version 0", mutate(func(b *Bundle) { b.Version = 0 }), ErrMalformed},
		{"no issued_at", mutate(func(b *Bundle) { b.IssuedAt = time.Time{} }), ErrMalformed},
		{"http portal URL", mutate(func(b *Bundle) { b.PortalURL = "http://portal.example" }), ErrMalformed},
		{"mgmt URL without host", mutate(func(b *Bundle) { b.MgmtURL = "https:///x" }), ErrMalformed},
		{"mgmt URL with user info", mutate(func(b *Bundle) { b.MgmtURL = "https://u:p@portal.example" }), ErrMalformed},
	}
}

func TestVerifyRefuses(t *testing.T) {
	f := newFixture(t)
	for _, tc := range refusedEnvelopes(t, f) {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Verify(tc.env, f.pub)
			if !errors.Is(err, tc.want) {
				t.Fatalf("Verify error = %v, want %v", err, tc.want)
			}
		})
	}
}

func TestVerifyRefusesBadPublicKey(t *testing.T) {
	f := newFixture(t)
	_, err := Verify(f.sign(t, f.bundle(1)), f.pub[:10])
	if err == nil || !strings.Contains(err.Error(), "public key") {
		t.Fatalf("Verify with a short key: %v, want an error naming the public key", err)
	}
}

func TestSignRefusesInvalidBundle(t *testing.T) {
	f := newFixture(t)
	b := f.bundle(1)
	b.PortalURL = "http://plain.example"
	if _, err := Sign(b, f.priv); err == nil || !strings.Contains(err.Error(), "portal_url") {
		t.Fatalf("Sign: %v, want an error naming portal_url", err)
	}
	if _, err := Sign(f.bundle(1), f.priv[:5]); err == nil {
		t.Fatal("Sign with a short key succeeded")
	}
}

func TestPools(t *testing.T) {
	f := newFixture(t)
	b, err := Verify(f.sign(t, f.bundle(1)), f.pub)
	if err != nil {
		t.Fatal(err)
	}
	portal, err := b.PortalPool()
	if err != nil {
		t.Fatal(err)
	}
	mgmt, err := b.MgmtPool()
	if err != nil {
		t.Fatal(err)
	}
	comp := parseOne(t, f.comp)
	root := parseOne(t, f.portal)
	verify := func(pool *x509.CertPool, c *x509.Certificate) error {
		_, err := c.Verify(x509.VerifyOptions{Roots: pool, CurrentTime: testNow, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}})
		return err
	}
	tests := []struct {
		name string
		pool *x509.CertPool
		cert *x509.Certificate
		ok   bool
	}{
		{"portal pool trusts the portal root", portal, root, true},
		{"portal pool does not trust the component CA", portal, comp, false},
		{"mgmt pool trusts the component CA", mgmt, comp, true},
		{"mgmt pool trusts the portal root", mgmt, root, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if err := verify(tc.pool, tc.cert); (err == nil) != tc.ok {
				t.Fatalf("verify = %v, want ok=%v", err, tc.ok)
			}
		})
	}
	if _, err := (Bundle{}).PortalPool(); err == nil {
		t.Fatal("PortalPool of an empty bundle succeeded")
	}
}

func parseOne(t *testing.T, p string) *x509.Certificate {
	t.Helper()
	certs, err := parseCerts(p)
	if err != nil || len(certs) != 1 {
		t.Fatalf("parse %q: %v", p, err)
	}
	return certs[0]
}

func FuzzVerify(f *testing.F) {
	fx := newFixture(f)
	good := fx.sign(f, fx.bundle(3))
	f.Add(good)
	f.Add(good[:len(good)/2])
	f.Add([]byte(`{"payload":"","signature":""}`))
	f.Add([]byte("null"))
	f.Fuzz(func(t *testing.T, env []byte) {
		b, err := Verify(env, fx.pub)
		if err != nil {
			if !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrBadSignature) {
				t.Fatalf("error %v is neither ErrMalformed nor ErrBadSignature", err)
			}
			return
		}
		// Anything accepted is a complete bundle whose pools build.
		if b.Version == 0 {
			t.Fatal("accepted version 0")
		}
		if _, err := b.MgmtPool(); err != nil {
			t.Fatalf("accepted a bundle whose pool fails: %v", err)
		}
	})
}
