package manager

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

func licenceKeys(t testing.TB) (ed25519.PublicKey, ed25519.PrivateKey) {
	t.Helper()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return pub, priv
}

func signed(t testing.TB, l Licence, key ed25519.PrivateKey) []byte {
	t.Helper()
	b, err := SignLicence(l, key)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestLoadLicence(t *testing.T) {
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	pub, priv := licenceKeys(t)
	_, otherPriv := licenceKeys(t)
	good := Licence{Licensee: "Example AG", Seats: 50, Options: []string{"secured"}, NotAfter: now.Add(365 * 24 * time.Hour)}
	expired := good
	expired.NotAfter = now.Add(-time.Hour)
	tampered := func() []byte {
		var f licenceFile
		mustNoErr(t, json.Unmarshal(signed(t, good, priv), &f))
		p, _ := base64.StdEncoding.DecodeString(f.Payload)
		f.Payload = base64.StdEncoding.EncodeToString([]byte(strings.Replace(string(p), `"seats":50`, `"seats":5000`, 1)))
		b, _ := json.Marshal(f)
		return b
	}()
	tests := []struct {
		name   string
		file   []byte // nil: no file
		key    ed25519.PublicKey
		want   Licence
		reason string // in the log
	}{
		{"good", signed(t, good, priv), pub, good, "licence installed"},
		{"no file", nil, pub, DefaultLicence(), "no licence file"},
		{"other key's signature", signed(t, good, otherPriv), pub, DefaultLicence(), "signature does not verify"},
		{"tampered seats", tampered, pub, DefaultLicence(), "signature does not verify"},
		{"expired", signed(t, expired, priv), pub, DefaultLicence(), "expired on " + expired.NotAfter.Format(time.RFC3339)},
		{"garbage", []byte("\x00not json at all"), pub, DefaultLicence(), "licence: file"},
		{"payload not base64", []byte(`{"payload":"***","signature":""}`), pub, DefaultLicence(), "payload is not base64"},
		{"unknown field", []byte(`{"payload":"","signature":"","extra":1}`), pub, DefaultLicence(), "unknown field"},
		{"trailing data", append(signed(t, good, priv), []byte("}")...), pub, DefaultLicence(), "trailing data"},
		{"no key configured", signed(t, good, priv), nil, DefaultLicence(), "no licence public key is configured"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), LicenceFile)
			if tc.file != nil {
				mustNoErr(t, os.WriteFile(path, tc.file, 0o600))
			}
			log, buf := newLog()
			got := LoadLicence(path, tc.key, now, log)
			if got.Licensee != tc.want.Licensee || got.Seats != tc.want.Seats || !slices.Equal(got.Options, tc.want.Options) || !got.NotAfter.Equal(tc.want.NotAfter) {
				t.Errorf("licence = %+v, want %+v", got, tc.want)
			}
			if !strings.Contains(buf.String(), tc.reason) {
				t.Errorf("log %q does not give the reason %q", buf.String(), tc.reason)
			}
			if got.Seats == DefaultSeats && !strings.Contains(buf.String(), "seats=10") {
				t.Errorf("log %q does not say the default seat count", buf.String())
			}
		})
	}
}

func TestDefaultLicence(t *testing.T) {
	l := DefaultLicence()
	if l.Seats != 10 || len(l.Options) != 0 || l.Has("secured") {
		t.Fatalf("default licence = %+v, want 10 seats and no options", l)
	}
}

func TestSignLicenceRefusesInvalid(t *testing.T) {
	_, priv := licenceKeys(t)
	at := time.Date(2031, 1, 1, 0, 0, 0, 0, time.UTC)
	for name, l := range map[string]Licence{
		"no licensee":    {Seats: 1, NotAfter: at},
		"zero seats":     {Licensee: "x", NotAfter: at},
		"unknown option": {Licensee: "x", Seats: 1, Options: []string{"gold"}, NotAfter: at},
		"no expiry":      {Licensee: "x", Seats: 1},
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := SignLicence(l, priv); err == nil {
				t.Fatal("signed an invalid licence")
			}
		})
	}
}

func TestParseLicenceKey(t *testing.T) {
	pub, _ := licenceKeys(t)
	tests := []struct {
		in      string
		want    ed25519.PublicKey
		wantErr string
	}{
		{"", nil, ""},
		{base64.StdEncoding.EncodeToString(pub), pub, ""},
		{"!!", nil, "not base64"},
		{base64.StdEncoding.EncodeToString(pub[:10]), nil, "10 bytes"},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			got, err := ParseLicenceKey(tc.in)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil || !got.Equal(tc.want) {
				t.Fatalf("ParseLicenceKey = %v, %v", got, err)
			}
		})
	}
}

func FuzzDecodeLicence(f *testing.F) {
	pub, priv := licenceKeys(f)
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	f.Add(signed(f, Licence{Licensee: "x", Seats: 3, NotAfter: now.Add(time.Hour)}, priv))
	f.Add(signed(f, Licence{Licensee: "x", Seats: 3, Options: []string{"secured"}, NotAfter: now.Add(-time.Hour)}, priv))
	f.Add([]byte(`{"payload":"","signature":""}`))
	f.Add([]byte(`{}`))
	f.Add([]byte(`[]`))
	f.Add([]byte("garbage"))
	f.Fuzz(func(t *testing.T, b []byte) {
		l, err := DecodeLicence(b, pub, now)
		if err != nil {
			return
		}
		// Only a file signed with priv can get here: it must be a valid, current licence.
		if l.check() != nil || !now.Before(l.NotAfter) {
			t.Fatalf("accepted an invalid licence %+v", l)
		}
	})
}
