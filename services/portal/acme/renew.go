package acme

import (
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/stoa-rooms/stoa/services/portal/store"
)

// SettingIssued records the last certificate this package issued, so that the renewer can tell
// an ACME certificate from an uploaded or self-signed one after a restart.
const SettingIssued = "acme.issued"

const (
	retryMin      = time.Minute      // first retry after a failed attempt
	retryMax      = 6 * time.Hour    // backoff ceiling: keep trying a few times a day
	recheckMax    = 12 * time.Hour   // look again at least this often, in case current() changed
	minWait       = time.Minute      // never spin, even on a CA issuing absurdly short certs
	attemptBudget = 10 * time.Minute // one issuance attempt, network waits included
)

// State is what the Security page shows about automatic renewal.
type State struct {
	LastError   string    // empty after a success
	LastIssued  time.Time // when the current ACME certificate was obtained
	NextRenewal time.Time // when the renewer acts next (renewal or retry)
}

// State returns a snapshot of the renewer's state.
func (c *Client) State() State {
	c.stateMu.Lock()
	defer c.stateMu.Unlock()
	return c.state
}

func (c *Client) setState(f func(*State)) {
	c.stateMu.Lock()
	defer c.stateMu.Unlock()
	f(&c.state)
}

// issued is the JSON kept under SettingIssued.
type issued struct {
	FQDN      string    `json:"fqdn"`
	SHA256    string    `json:"sha256"` // of the leaf's DER
	NotBefore time.Time `json:"not_before"`
	NotAfter  time.Time `json:"not_after"`
	IssuedAt  time.Time `json:"issued_at"`
}

// parseIssued reads the SettingIssued document.
func parseIssued(b []byte) (issued, error) {
	var rec issued
	if err := json.Unmarshal(b, &rec); err != nil {
		return issued{}, fmt.Errorf("decode: %w", err)
	}
	if _, err := hex.DecodeString(rec.SHA256); err != nil || len(rec.SHA256) != 2*sha256.Size {
		return issued{}, errors.New("sha256 is not 64 hex digits")
	}
	return rec, nil
}

func fingerprint(cert *x509.Certificate) string {
	sum := sha256.Sum256(cert.Raw)
	return hex.EncodeToString(sum[:])
}

// renewAt is when less than a third of the certificate's lifetime remains, the point at which
// Let's Encrypt also advises renewing.
func renewAt(cert *x509.Certificate) time.Time {
	life := cert.NotAfter.Sub(cert.NotBefore)
	return cert.NotBefore.Add(life - life/3)
}

// backoff is the wait after the n-th consecutive failure (n >= 1): exponential from retryMin,
// capped at retryMax, with jitter in [d/2, d] so many portals do not hit a CA in step.
func backoff(n int) time.Duration {
	d := retryMax
	if n < 20 {
		d = min(retryMin<<(n-1), retryMax)
	}
	return d/2 + rand.N(d/2+1)
}

func (c *Client) after(d time.Duration) <-chan time.Time {
	if c.cfg.After != nil {
		return c.cfg.After(d)
	}
	return time.After(d)
}

// Run keeps an ACME certificate installed until ctx ends. It obtains one when current returns
// nil or a certificate this client did not issue (or one not covering the FQDN), and again when
// less than a third of the lifetime remains. install must make current return the new leaf once
// it succeeds. Failures are retried with bounded exponential backoff. Run returns ctx.Err().
func (c *Client) Run(ctx context.Context, current func() *x509.Certificate, install func(certPEM, keyPEM []byte) error) error {
	if current == nil || install == nil {
		return fmt.Errorf("acme: run renewer: %w: current and install are required", ErrConfig)
	}
	if rec, err := c.loadIssued(ctx); err == nil {
		c.setState(func(s *State) { s.LastIssued = rec.IssuedAt })
	}
	failures := 0
	for {
		wait := c.tick(ctx, current, install, &failures)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-c.after(wait):
		}
	}
}

// tick does what is due now and returns how long to wait before the next look.
func (c *Client) tick(ctx context.Context, current func() *x509.Certificate, install func(certPEM, keyPEM []byte) error, failures *int) time.Duration {
	now := c.now()
	if cur := current(); cur != nil && c.isOurs(ctx, cur) {
		at := renewAt(cur)
		if now.Before(at) {
			c.setState(func(s *State) { s.NextRenewal = at })
			return min(at.Sub(now), recheckMax)
		}
		c.log.Info("acme certificate due for renewal", "fqdn", c.fqdn, "not_after", cur.NotAfter)
	}

	leaf, err := c.obtainAndInstall(ctx, install)
	if err != nil {
		if ctx.Err() != nil {
			return 0 // Run is returning
		}
		*failures++
		d := backoff(*failures)
		c.setState(func(s *State) { s.LastError = err.Error(); s.NextRenewal = now.Add(d) })
		c.log.Warn("acme issuance failed", "fqdn", c.fqdn, "attempt", *failures, "retry_in", d, "err", err)
		return d
	}
	*failures = 0
	at := renewAt(leaf)
	c.setState(func(s *State) { *s = State{LastIssued: now, NextRenewal: at} })
	return max(min(at.Sub(now), recheckMax), minWait)
}

func (c *Client) obtainAndInstall(ctx context.Context, install func(certPEM, keyPEM []byte) error) (*x509.Certificate, error) {
	actx, cancel := context.WithTimeout(ctx, attemptBudget)
	defer cancel()
	certPEM, keyPEM, err := c.Obtain(actx)
	if err != nil {
		return nil, err
	}
	block, _ := pem.Decode(certPEM)
	leaf, err := x509.ParseCertificate(block.Bytes) // checked by Obtain already
	if err != nil {
		return nil, fmt.Errorf("acme: parse issued leaf: %w", err)
	}
	if err := install(certPEM, keyPEM); err != nil {
		return nil, fmt.Errorf("acme: install certificate: %w", err)
	}
	rec := issued{FQDN: c.fqdn, SHA256: fingerprint(leaf), NotBefore: leaf.NotBefore, NotAfter: leaf.NotAfter, IssuedAt: c.now()}
	b, err := json.Marshal(rec)
	if err != nil {
		return nil, fmt.Errorf("acme: encode issuance record: %w", err)
	}
	if err := c.settings.PutSetting(ctx, SettingIssued, b); err != nil {
		return nil, fmt.Errorf("acme: save issuance record: %w", err)
	}
	return leaf, nil
}

// isOurs reports whether cur is the certificate this client last issued, for this FQDN.
func (c *Client) isOurs(ctx context.Context, cur *x509.Certificate) bool {
	if cur.VerifyHostname(c.fqdn) != nil {
		return false
	}
	rec, err := c.loadIssued(ctx)
	if err != nil {
		if !errors.Is(err, store.ErrNotFound) {
			c.log.Warn("acme issuance record unreadable; treating certificate as not ACME-issued", "err", err)
		}
		return false
	}
	return rec.FQDN == c.fqdn && rec.SHA256 == fingerprint(cur)
}

func (c *Client) loadIssued(ctx context.Context) (issued, error) {
	b, err := c.settings.Setting(ctx, SettingIssued)
	if err != nil {
		return issued{}, fmt.Errorf("acme: read %q: %w", SettingIssued, err)
	}
	rec, err := parseIssued(b)
	if err != nil {
		return issued{}, fmt.Errorf("acme: stored %q: %w", SettingIssued, err)
	}
	return rec, nil
}
