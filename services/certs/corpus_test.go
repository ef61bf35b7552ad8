package certs_test

import (
	"bytes"
	"errors"
	"testing"
	"time"

	"github.com/stoa-rooms/stoa/services/certs"
	"github.com/stoa-rooms/stoa/test/certcorpus"
)

const fqdn = "portal.stoa.test"

// corpusNow is a fixed instant far from the real clock, so no test depends on today's date.
var corpusNow = time.Date(2031, 3, 14, 15, 9, 26, 0, time.UTC)

func check(c certcorpus.Case) (*certs.Bundle, error) {
	b, err := certs.ParseUpload(c.Cert, c.Chain, c.Key, c.Password)
	if err != nil {
		return nil, err
	}
	tc, err := certs.Validate(b, certs.ValidateOptions{FQDN: fqdn, Key: c.PendingKey, Roots: c.Roots, Now: corpusNow})
	if err != nil {
		return nil, err
	}
	_ = tc
	return b, nil
}

func TestBadUploadsGetTheirCode(t *testing.T) {
	cases := certcorpus.Bad(t, fqdn, corpusNow)
	if len(cases) < 25 {
		t.Fatalf("corpus has %d bad cases, want at least 25", len(cases))
	}
	seen := map[string]bool{}
	for _, c := range cases {
		t.Run(c.Name, func(t *testing.T) {
			if seen[c.Name] {
				t.Fatalf("duplicate case name")
			}
			seen[c.Name] = true
			_, err := check(c)
			var ce *certs.Error
			if !errors.As(err, &ce) {
				t.Fatalf("got %v (%T), want *certs.Error %s", err, err, c.WantCode)
			}
			if ce.Code != c.WantCode {
				t.Fatalf("code = %s (%s), want %s", ce.Code, ce.Msg, c.WantCode)
			}
			if ce.Msg == "" || ce.Error() != ce.Msg {
				t.Fatalf("message %q not usable", ce.Msg)
			}
			t.Logf("%s: %s", ce.Code, ce.Msg)
		})
	}
}

func TestGoodUploadsServeTheRightChain(t *testing.T) {
	for _, c := range certcorpus.Good(t, fqdn, corpusNow) {
		t.Run(c.Name, func(t *testing.T) {
			b, err := certs.ParseUpload(c.Cert, c.Chain, c.Key, c.Password)
			if err != nil {
				t.Fatalf("ParseUpload: %v", err)
			}
			tc, err := certs.Validate(b, certs.ValidateOptions{FQDN: fqdn, Key: c.PendingKey, Roots: c.Roots, Now: corpusNow})
			if err != nil {
				t.Fatalf("Validate: %v", err)
			}
			if len(tc.Certificate) != len(c.Served) {
				t.Fatalf("served %d certificates, want %d", len(tc.Certificate), len(c.Served))
			}
			for i, want := range c.Served {
				if !bytes.Equal(tc.Certificate[i], want.Raw) {
					t.Fatalf("served[%d] = wrong certificate, want %q", i, want.Subject)
				}
			}
			if tc.Leaf == nil || !bytes.Equal(tc.Leaf.Raw, c.Served[0].Raw) {
				t.Fatalf("Leaf not set to the leaf")
			}
			if tc.PrivateKey == nil {
				t.Fatalf("PrivateKey not set")
			}
		})
	}
}
