package acme_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/stoa-rooms/stoa/services/portal/acme"
)

func TestObtainErrors(t *testing.T) {
	e := startPebble(t, 24*time.Hour)
	if err := e.DB.AddBlockedDomain("blocked.stoa.test"); err != nil {
		t.Fatal(err)
	}
	closed := listen(t)
	closedAddr := closed.Addr().String()
	closed.Close()
	base := strings.TrimSuffix(e.DirectoryURL, "/dir")

	for _, tc := range []struct {
		name     string
		cfg      acme.Config
		answer   bool // whether the listeners answer this client's challenges
		wantErr  error
		wantText []string
	}{
		{
			name:     "directory port closed",
			cfg:      acme.Config{DirectoryURL: "https://" + closedAddr + "/dir", FQDN: "a.stoa.test"},
			wantErr:  acme.ErrDirectoryUnreachable,
			wantText: []string{closedAddr, "connection refused"},
		},
		{
			name:     "directory path wrong",
			cfg:      acme.Config{DirectoryURL: base + "/no-such-directory", FQDN: "a.stoa.test"},
			wantErr:  acme.ErrDirectoryUnreachable,
			wantText: []string{"/no-such-directory"},
		},
		{
			name:     "directory certificate untrusted",
			cfg:      acme.Config{DirectoryURL: e.DirectoryURL, FQDN: "a.stoa.test", Roots: e.rootPool()},
			wantErr:  acme.ErrDirectoryUnreachable,
			wantText: []string{"certificate"},
		},
		{
			name:     "plain http directory",
			cfg:      acme.Config{DirectoryURL: "http://127.0.0.1:1/dir", FQDN: "a.stoa.test"},
			wantErr:  acme.ErrConfig,
			wantText: []string{"https"},
		},
		{
			name:     "wildcard FQDN",
			cfg:      acme.Config{DirectoryURL: e.DirectoryURL, FQDN: "*.stoa.test"},
			wantErr:  acme.ErrConfig,
			wantText: []string{"*.stoa.test"},
		},
		{
			name:     "unknown challenge type",
			cfg:      acme.Config{DirectoryURL: e.DirectoryURL, FQDN: "a.stoa.test", Challenge: "dns-01"},
			wantErr:  acme.ErrConfig,
			wantText: []string{"dns-01"},
		},
		{
			name:     "contact refused",
			cfg:      acme.Config{DirectoryURL: e.DirectoryURL, FQDN: "a.stoa.test", Email: "not-an-address@"},
			wantErr:  acme.ErrAccountRefused,
			wantText: []string{"invalidContact", "not-an-address@"},
		},
		{
			name:     "identifier refused by policy",
			cfg:      acme.Config{DirectoryURL: e.DirectoryURL, FQDN: "blocked.stoa.test"},
			answer:   true,
			wantErr:  acme.ErrOrderInvalid,
			wantText: []string{"rejectedIdentifier", "blocked.stoa.test"},
		},
		{
			name:     "http-01 not answered",
			cfg:      acme.Config{DirectoryURL: e.DirectoryURL, FQDN: "silent.stoa.test", Challenge: acme.ChallengeHTTP01},
			wantErr:  acme.ErrChallengeFailed,
			wantText: []string{"http-01", "unauthorized", "404"},
		},
		{
			name:     "tls-alpn-01 not answered",
			cfg:      acme.Config{DirectoryURL: e.DirectoryURL, FQDN: "silent.stoa.test", Challenge: acme.ChallengeTLSALPN01},
			wantErr:  acme.ErrChallengeFailed,
			wantText: []string{"tls-alpn-01", "silent.stoa.test"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.cfg.Roots == nil {
				tc.cfg.Roots = e.WFERoots
			}
			tc.cfg.PollInterval = 20 * time.Millisecond
			s := newSettings(t)
			c := acme.New(tc.cfg, s, testLogger(t))
			// A client nobody answers for: the listeners serve an unrelated client.
			e.answer(acme.New(acme.Config{FQDN: "other.stoa.test"}, newSettings(t), testLogger(t)))
			if tc.answer {
				e.answer(c)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			certPEM, keyPEM, err := c.Obtain(ctx)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("Obtain error = %v, want %v", err, tc.wantErr)
			}
			if certPEM != nil || keyPEM != nil {
				t.Fatal("Obtain returned material along with an error")
			}
			for _, want := range tc.wantText {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not mention %q", err, want)
				}
			}
			// Refused before any account exists: nothing is stored.
			if tc.wantErr != acme.ErrChallengeFailed && tc.wantErr != acme.ErrOrderInvalid {
				if v, err := s.Setting(ctx, acme.SettingAccountKey); err == nil {
					t.Fatalf("account key stored after %v: %q", tc.wantErr, v)
				}
			}
			t.Logf("error: %v", err)
		})
	}
}
