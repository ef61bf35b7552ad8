package manager

import (
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/stoa-rooms/stoa/services/api"
)

// A licence signed before options existed has no "options" key in its payload: it stays
// valid and grants no option.
func TestLicenceWithoutOptionsField(t *testing.T) {
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	pub, priv := licenceKeys(t)
	payload := []byte(`{"licensee":"Old AG","seats":25,"not_after":"2031-01-01T00:00:00Z"}`)
	file, err := json.Marshal(licenceFile{
		Payload:   base64.StdEncoding.EncodeToString(payload),
		Signature: base64.StdEncoding.EncodeToString(signWithContext(priv, payload)),
	})
	mustNoErr(t, err)
	path := filepath.Join(t.TempDir(), LicenceFile)
	mustNoErr(t, os.WriteFile(path, file, 0o600))
	log, _ := newLog()
	l := LoadLicence(path, pub, now, log)
	if l.Licensee != "Old AG" || l.Seats != 25 || l.Has(api.LicenceOptionSecured) {
		t.Fatalf("old licence = %+v, want Old AG, 25 seats, no Secured option", l)
	}
}

// GET /api/v1/manager/licence answers the portal with the licence in force, and nobody else.
func TestHTTPLicence(t *testing.T) {
	pki := newPKI(t, "internal")
	c := newClock()
	portalCert, routerCert := pki.portal(t), pki.component(t, rid(1))
	tests := []struct {
		name    string
		licence Licence
		advance time.Duration
		want    []string
		seats   int
	}{
		{"with secured", Licence{Licensee: "t", Seats: 5, Options: []string{"secured"}, NotAfter: c.Now().Add(time.Hour)}, 0, []string{"secured"}, 5},
		{"without options", Licence{Licensee: "t", Seats: 5, NotAfter: c.Now().Add(time.Hour)}, 0, nil, 5},
		{"expired: the default", Licence{Licensee: "t", Seats: 5, Options: []string{"secured"}, NotAfter: c.Now().Add(time.Hour)}, 2 * time.Hour, nil, DefaultSeats},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			clk := newClock()
			log, _ := newLog()
			s := New(Options{Licence: tc.licence, Secret: testSecret, Now: clk.Now, Log: log})
			clk.Advance(tc.advance)
			base := serve(t, s, pki)
			var got api.ManagerLicence
			code, ae, err := call(t, client(pki, &portalCert), "GET", base+"/api/v1/manager/licence", nil, &got)
			if err != nil || code != 200 {
				t.Fatalf("licence: %d %+v %v", code, ae, err)
			}
			if !slices.Equal(got.Options, tc.want) || got.Seats != tc.seats {
				t.Fatalf("licence = %+v, want options %v seats %d", got, tc.want, tc.seats)
			}
			if code, _, err := call(t, client(pki, &routerCert), "GET", base+"/api/v1/manager/licence", nil, nil); err != nil || code != 403 {
				t.Fatalf("licence asked by a router: %d %v, want 403", code, err)
			}
		})
	}
}

// signWithContext signs a raw payload as SignLicence does, for payloads SignLicence would not
// produce itself (an older licence format).
func signWithContext(key ed25519.PrivateKey, payload []byte) []byte {
	return ed25519.Sign(key, append([]byte(licenceContext), payload...))
}
