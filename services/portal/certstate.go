package portal

import (
	"context"
	"crypto"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/stoa-rooms/stoa/services/certs"
	"github.com/stoa-rooms/stoa/services/portal/store"
)

// settingStaged keeps an uploaded, validated certificate until it is activated.
const settingStaged = "cert.staged"

// certState owns the portal's served certificate: the store holds the truth (active, previous,
// staged), the holder serves it. Every change writes the store first and swaps the holder only
// when that succeeded, so a failure never leaves the two apart.
type certState struct {
	mu     sync.Mutex // serialises changes; reads go through the holder
	st     store.Store
	holder *certs.Holder
	fqdn   string
	now    func() time.Time
	// changed, when set, runs after every change of the served certificate.
	changed func()
}

func (c *certState) serve(kp *tls.Certificate) {
	c.holder.Set(kp)
	if c.changed != nil {
		c.changed()
	}
}

// load serves the stored active certificate, creating a self-signed one on first start.
func (c *certState) load(ctx context.Context) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	sc, err := c.st.CertSlot(ctx, "active")
	if errors.Is(err, store.ErrNotFound) {
		return c.resetLocked(ctx)
	}
	if err != nil {
		return fmt.Errorf("load portal certificate: %w", err)
	}
	kp, err := certs.LoadKeyPair(sc.CertPEM, sc.KeyPEM)
	if err != nil {
		return fmt.Errorf("load portal certificate: %w", err)
	}
	c.holder.Set(&kp)
	return nil
}

// activate makes kp the served certificate; the current one becomes "previous".
func (c *certState) activate(ctx context.Context, kp tls.Certificate, source string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.activateLocked(ctx, kp, source)
}

func (c *certState) activateLocked(ctx context.Context, kp tls.Certificate, source string) error {
	sc, err := storedCert(kp, source, c.now())
	if err != nil {
		return err
	}
	if err := c.st.ActivateCert(ctx, sc); err != nil {
		return fmt.Errorf("activate certificate: %w", err)
	}
	c.serve(&kp)
	return nil
}

// rollback serves the previous certificate again.
func (c *certState) rollback(ctx context.Context) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	prev, err := c.st.CertSlot(ctx, "previous")
	if err != nil {
		return fmt.Errorf("rollback: %w", err)
	}
	kp, err := certs.LoadKeyPair(prev.CertPEM, prev.KeyPEM)
	if err != nil {
		return fmt.Errorf("rollback: previous certificate unusable: %w", err)
	}
	if err := c.st.RollbackCert(ctx); err != nil {
		return fmt.Errorf("rollback: %w", err)
	}
	c.serve(&kp)
	return nil
}

// reset serves a fresh self-signed certificate for the FQDN.
func (c *certState) reset(ctx context.Context) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.resetLocked(ctx)
}

func (c *certState) resetLocked(ctx context.Context) error {
	kp, _, _, err := certs.SelfSigned(c.fqdn, c.now())
	if err != nil {
		return fmt.Errorf("self-signed certificate: %w", err)
	}
	return c.activateLocked(ctx, kp, "self-signed")
}

// stagedCert is what an upload leaves for activation.
type stagedCert struct {
	CertPEM []byte `json:"cert_pem"`
	KeyPEM  []byte `json:"key_pem"`
	Source  string `json:"source"`
}

func (c *certState) stage(ctx context.Context, kp tls.Certificate, source string) error {
	sc, err := storedCert(kp, source, c.now())
	if err != nil {
		return err
	}
	b, err := json.Marshal(stagedCert{CertPEM: sc.CertPEM, KeyPEM: sc.KeyPEM, Source: source})
	if err != nil {
		return err
	}
	return c.st.PutSetting(ctx, settingStaged, b)
}

func (c *certState) staged(ctx context.Context) (tls.Certificate, string, error) {
	b, err := c.st.Setting(ctx, settingStaged)
	if err != nil {
		return tls.Certificate{}, "", err
	}
	var s stagedCert
	if err := json.Unmarshal(b, &s); err != nil || len(s.CertPEM) == 0 {
		return tls.Certificate{}, "", store.ErrNotFound
	}
	kp, err := certs.LoadKeyPair(s.CertPEM, s.KeyPEM)
	return kp, s.Source, err
}

// activateStaged serves the staged certificate and clears the stage.
func (c *certState) activateStaged(ctx context.Context) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	kp, source, err := c.staged(ctx)
	if err != nil {
		return err
	}
	if err := c.activateLocked(ctx, kp, source); err != nil {
		return err
	}
	return c.st.PutSetting(ctx, settingStaged, []byte("{}"))
}

// roots returns a pool holding every certificate of the served chain, for in-process clients
// (components in role "all") that must trust whatever the portal serves right now.
func (c *certState) roots() *x509.CertPool {
	pool := x509.NewCertPool()
	if kp := c.holder.Get(); kp != nil {
		for _, der := range kp.Certificate {
			if cert, err := x509.ParseCertificate(der); err == nil {
				pool.AddCert(cert)
			}
		}
	}
	return pool
}

func storedCert(kp tls.Certificate, source string, now time.Time) (store.StoredCert, error) {
	chain, err := chainOf(kp)
	if err != nil {
		return store.StoredCert{}, err
	}
	signer, ok := kp.PrivateKey.(crypto.Signer)
	if !ok {
		return store.StoredCert{}, errors.New("store certificate: no private key")
	}
	keyPEM, err := certs.MarshalKeyPEM(signer)
	if err != nil {
		return store.StoredCert{}, fmt.Errorf("store certificate: %w", err)
	}
	return store.StoredCert{CertPEM: certs.ChainPEM(chain), KeyPEM: keyPEM, Source: source, ActivatedAt: now}, nil
}

func chainOf(kp tls.Certificate) ([]*x509.Certificate, error) {
	chain := make([]*x509.Certificate, 0, len(kp.Certificate))
	for _, der := range kp.Certificate {
		c, err := x509.ParseCertificate(der)
		if err != nil {
			return nil, fmt.Errorf("parse served chain: %w", err)
		}
		chain = append(chain, c)
	}
	if len(chain) == 0 {
		return nil, errors.New("empty certificate chain")
	}
	return chain, nil
}
