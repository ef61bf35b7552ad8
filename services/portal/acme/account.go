package acme

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"

	xacme "golang.org/x/crypto/acme"

	"github.com/stoa-rooms/stoa/services/portal/store"
)

// SettingAccountKey holds the ACME account key (ECDSA P-256, PKCS#8 PEM) so that every
// issuance uses one account: CAs rate-limit new accounts, and revocation needs the same key.
const SettingAccountKey = "acme.account"

// account returns a client bound to a registered account, registering (or looking up) it on
// first use. A newly generated key is stored only once the CA has accepted it, so a refused
// registration leaves the settings as they were.
func (c *Client) account(ctx context.Context) (*xacme.Client, error) {
	if c.ac != nil {
		return c.ac, nil
	}
	key, stored, err := c.loadAccountKey(ctx)
	if err != nil {
		return nil, err
	}
	ac := &xacme.Client{
		Key:          key,
		DirectoryURL: c.cfg.DirectoryURL,
		HTTPClient:   c.httpClient,
		UserAgent:    "stoa-portal",
	}
	if _, err := ac.Discover(ctx); err != nil {
		return nil, fmt.Errorf("acme: fetch directory %s: %w: %s", c.cfg.DirectoryURL, ErrDirectoryUnreachable, problemDetail(err))
	}
	acct := &xacme.Account{}
	if c.cfg.Email != "" {
		acct.Contact = []string{"mailto:" + c.cfg.Email}
	}
	// The portal's ACME form shows the CA's terms; saving it is the agreement (section 7.3).
	_, err = ac.Register(ctx, acct, xacme.AcceptTOS)
	switch {
	case err == nil:
		c.log.Info("acme account registered", "directory", c.cfg.DirectoryURL, "account", string(ac.KID))
	case errors.Is(err, xacme.ErrAccountAlreadyExists):
		c.log.Info("acme account reused", "directory", c.cfg.DirectoryURL, "account", string(ac.KID))
	default:
		return nil, fmt.Errorf("acme: register account at %s: %w: %s", c.cfg.DirectoryURL, ErrAccountRefused, problemDetail(err))
	}
	if !stored {
		pemBytes, err := marshalKey(key)
		if err != nil {
			return nil, fmt.Errorf("acme: encode account key: %w", err)
		}
		if err := c.settings.PutSetting(ctx, SettingAccountKey, pemBytes); err != nil {
			return nil, fmt.Errorf("acme: save account key: %w", err)
		}
	}
	c.ac = ac
	return ac, nil
}

// loadAccountKey returns the stored key, or a fresh one with stored=false when none is kept.
func (c *Client) loadAccountKey(ctx context.Context) (key *ecdsa.PrivateKey, stored bool, err error) {
	b, err := c.settings.Setting(ctx, SettingAccountKey)
	switch {
	case errors.Is(err, store.ErrNotFound):
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			return nil, false, fmt.Errorf("acme: generate account key: %w", err)
		}
		return key, false, nil
	case err != nil:
		return nil, false, fmt.Errorf("acme: read account key: %w", err)
	}
	key, err = parseAccountKey(b)
	if err != nil {
		return nil, false, fmt.Errorf("acme: stored %q: %w: %v", SettingAccountKey, ErrAccountKey, err)
	}
	return key, true, nil
}

// parseAccountKey reads one PKCS#8 "PRIVATE KEY" PEM block holding an ECDSA P-256 key.
func parseAccountKey(b []byte) (*ecdsa.PrivateKey, error) {
	block, rest := pem.Decode(b)
	if block == nil {
		return nil, errors.New("no PEM block")
	}
	if block.Type != "PRIVATE KEY" {
		return nil, fmt.Errorf("PEM block is %q, want \"PRIVATE KEY\"", block.Type)
	}
	if len(bytes.TrimSpace(rest)) != 0 {
		return nil, errors.New("trailing data after the key")
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("parse PKCS#8: %w", err)
	}
	ec, ok := k.(*ecdsa.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("key is %T, want ECDSA", k)
	}
	if ec.Curve != elliptic.P256() {
		return nil, fmt.Errorf("curve is %s, want P-256", ec.Curve.Params().Name)
	}
	return ec, nil
}

func marshalKey(k *ecdsa.PrivateKey) ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		return nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}
