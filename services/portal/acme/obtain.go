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
	"time"

	xacme "golang.org/x/crypto/acme"
)

// Obtain runs one issuance (RFC 8555 section 7.4): reuse or register the account, order a
// certificate for the FQDN, answer its challenge, finalize with a fresh ECDSA P-256 key and
// fetch the chain. certPEM is the leaf followed by the intermediates; keyPEM is PKCS#8.
func (c *Client) Obtain(ctx context.Context) (certPEM, keyPEM []byte, err error) {
	if err := c.validate(); err != nil {
		return nil, nil, err
	}
	c.obtainMu.Lock()
	defer c.obtainMu.Unlock()
	start := time.Now()

	ac, err := c.account(ctx)
	if err != nil {
		return nil, nil, err
	}
	order, err := ac.AuthorizeOrder(ctx, xacme.DomainIDs(c.fqdn))
	if err != nil {
		return nil, nil, fmt.Errorf("acme: new order for %s: %w: %s", c.fqdn, ErrOrderInvalid, problemDetail(err))
	}
	for _, u := range order.AuthzURLs {
		if err := c.authorize(ctx, ac, u); err != nil {
			return nil, nil, err
		}
	}
	order, err = c.waitOrderReady(ctx, ac, order.URI)
	if err != nil {
		return nil, nil, err
	}

	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, fmt.Errorf("acme: generate certificate key: %w", err)
	}
	csr, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{DNSNames: []string{c.fqdn}}, key)
	if err != nil {
		return nil, nil, fmt.Errorf("acme: create CSR: %w", err)
	}
	ders, _, err := ac.CreateCertFromOrder(ctx, order, csr, true)
	if err != nil {
		return nil, nil, fmt.Errorf("acme: finalize order for %s: %w: %s", c.fqdn, ErrOrderInvalid, orderDetail(err))
	}
	certPEM, leaf, err := c.checkChain(ders, key)
	if err != nil {
		return nil, nil, err
	}
	keyPEM, err = marshalKey(key)
	if err != nil {
		return nil, nil, fmt.Errorf("acme: encode certificate key: %w", err)
	}
	c.log.Info("acme certificate issued", "fqdn", c.fqdn, "serial", leaf.SerialNumber.String(),
		"not_after", leaf.NotAfter, "chain", len(ders), "took", time.Since(start).Round(time.Millisecond))
	return certPEM, keyPEM, nil
}

// authorize answers the challenge of one authorization and waits for the CA's verdict.
func (c *Client) authorize(ctx context.Context, ac *xacme.Client, authzURL string) error {
	z, err := ac.GetAuthorization(ctx, authzURL)
	if err != nil {
		return fmt.Errorf("acme: fetch authorization: %w: %s", ErrOrderInvalid, problemDetail(err))
	}
	switch z.Status {
	case xacme.StatusValid:
		return nil // the CA reused an earlier proof (section 7.1.4)
	case xacme.StatusPending:
	default:
		return fmt.Errorf("acme: authorization for %s is %s: %w", c.fqdn, z.Status, ErrChallengeFailed)
	}
	chal, err := pickChallenge(c.cfg.Challenge, z.Challenges)
	if err != nil {
		return fmt.Errorf("acme: choose challenge for %s: %w: %v", c.fqdn, ErrChallengeFailed, err)
	}
	disarm, err := c.arm(ac, chal)
	if err != nil {
		return fmt.Errorf("acme: prepare %s for %s: %w: %v", chal.Type, c.fqdn, ErrChallengeFailed, err)
	}
	defer disarm()
	c.log.Info("acme challenge armed", "fqdn", c.fqdn, "type", chal.Type)
	if _, err := ac.Accept(ctx, chal); err != nil {
		return fmt.Errorf("acme: accept %s for %s: %w: %s", chal.Type, c.fqdn, ErrChallengeFailed, problemDetail(err))
	}
	for {
		z, err := ac.GetAuthorization(ctx, authzURL)
		if err != nil {
			return fmt.Errorf("acme: poll authorization: %w: %s", ErrChallengeFailed, problemDetail(err))
		}
		switch z.Status {
		case xacme.StatusValid:
			return nil
		case xacme.StatusPending, xacme.StatusProcessing:
		default:
			return fmt.Errorf("acme: %s for %s: %w (authorization %s): %s",
				chal.Type, c.fqdn, ErrChallengeFailed, z.Status, challengeDetail(z, chal.URI))
		}
		if err := c.pause(ctx); err != nil {
			return fmt.Errorf("acme: wait for %s validation: %w", chal.Type, err)
		}
	}
}

// challengeDetail finds the problem the CA attached to the answered challenge.
func challengeDetail(z *xacme.Authorization, uri string) string {
	var other string
	for _, ch := range z.Challenges {
		if ch.Error == nil {
			continue
		}
		if ch.URI == uri {
			return problemDetail(ch.Error)
		}
		other = problemDetail(ch.Error)
	}
	if other != "" {
		return other
	}
	return "the CA gave no problem detail"
}

// waitOrderReady polls until every authorization has turned the order "ready" (section 7.1.6).
func (c *Client) waitOrderReady(ctx context.Context, ac *xacme.Client, orderURL string) (*xacme.Order, error) {
	for {
		o, err := ac.GetOrder(ctx, orderURL)
		if err != nil {
			return nil, fmt.Errorf("acme: poll order: %w: %s", ErrOrderInvalid, problemDetail(err))
		}
		switch o.Status {
		case xacme.StatusReady, xacme.StatusValid:
			return o, nil
		case xacme.StatusPending:
		default:
			return nil, fmt.Errorf("acme: order for %s is %s: %w: %s", c.fqdn, o.Status, ErrOrderInvalid, problemDetail(nilIfEmpty(o.Error)))
		}
		if err := c.pause(ctx); err != nil {
			return nil, fmt.Errorf("acme: wait for order: %w", err)
		}
	}
}

func nilIfEmpty(e *xacme.Error) error {
	if e == nil {
		return errors.New("the CA gave no problem detail")
	}
	return e
}

func orderDetail(err error) string {
	var oe *xacme.OrderError
	if errors.As(err, &oe) {
		return fmt.Sprintf("order %s: %s", oe.Status, problemDetail(nilIfEmpty(oe.Problem)))
	}
	return problemDetail(err)
}

// pause waits one poll interval, or until ctx ends.
func (c *Client) pause(ctx context.Context) error {
	t := time.NewTimer(c.pollInterval())
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// checkChain verifies that the CA returned what was asked for, a certificate for the FQDN on
// our key, before anyone installs it, and encodes the chain as PEM.
func (c *Client) checkChain(ders [][]byte, key *ecdsa.PrivateKey) ([]byte, *x509.Certificate, error) {
	if len(ders) == 0 {
		return nil, nil, fmt.Errorf("acme: issued chain: %w: empty", ErrOrderInvalid)
	}
	var buf bytes.Buffer
	var leaf *x509.Certificate
	for i, der := range ders {
		cert, err := x509.ParseCertificate(der)
		if err != nil {
			return nil, nil, fmt.Errorf("acme: issued chain certificate %d: %w: %v", i, ErrOrderInvalid, err)
		}
		if i == 0 {
			leaf = cert
		}
		if err := pem.Encode(&buf, &pem.Block{Type: "CERTIFICATE", Bytes: der}); err != nil {
			return nil, nil, fmt.Errorf("acme: encode chain: %w", err)
		}
	}
	if err := leaf.VerifyHostname(c.fqdn); err != nil {
		return nil, nil, fmt.Errorf("acme: issued certificate: %w: %v", ErrOrderInvalid, err)
	}
	if pub, ok := leaf.PublicKey.(*ecdsa.PublicKey); !ok || !pub.Equal(&key.PublicKey) {
		return nil, nil, fmt.Errorf("acme: issued certificate: %w: public key is not the one in the CSR", ErrOrderInvalid)
	}
	return buf.Bytes(), leaf, nil
}
