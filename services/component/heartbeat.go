package component

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/stoa-rooms/stoa/provisioning/ca"
	"github.com/stoa-rooms/stoa/services/api"
	"github.com/stoa-rooms/stoa/services/certs"
)

// maxBackoff caps the wait between failed heartbeats.
const maxBackoff = 5 * time.Minute

func isComponent(c *x509.Certificate) bool {
	_, ok := ca.ComponentID(c)
	return ok
}

// internalClient talks mutual TLS to the portal: it trusts only the internal CA and presents
// the component's current internal certificate, read at each handshake so a reissued one is
// used from the next connection on.
func (rt *runtime) internalClient() *http.Client {
	tc := certs.ClientConfig()
	tc.RootCAs = rt.state().roots
	tc.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
		c := rt.state().cert
		return &c, nil
	}
	// Idle connections would keep presenting the old certificate; heartbeats are rare, so a
	// fresh handshake each time costs nothing and makes the switch immediate.
	return &http.Client{Timeout: 15 * time.Second, Transport: &http.Transport{TLSClientConfig: tc, DisableKeepAlives: true}}
}

func (rt *runtime) heartbeatLoop(ctx context.Context) {
	client := rt.internalClient()
	failures := 0
	delay := time.Duration(0) // first beat at once: the portal shows the component online
	for {
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		err := rt.beat(ctx, client)
		rt.mu.Lock()
		rt.last = beatResult{At: rt.cfg.Now()}
		if err != nil {
			rt.last.Err = err.Error()
		}
		rt.mu.Unlock()
		if err == nil {
			failures = 0
			delay = rt.cfg.HeartbeatInterval
			continue
		}
		if ctx.Err() != nil {
			return
		}
		failures++
		delay = backoff(rt.cfg.HeartbeatInterval, failures)
		rt.log.Warn("heartbeat failed", "err", err, "failures", failures, "retry_in", delay)
	}
}

// backoff doubles the wait per failure up to maxBackoff, with full jitter over its upper half
// so that components restarted together do not retry in lockstep.
func backoff(base time.Duration, failures int) time.Duration {
	d := base
	for i := 1; i < failures && d < maxBackoff; i++ {
		d *= 2
	}
	d = min(d, maxBackoff)
	return d/2 + rand.N(d/2+1)
}

// needsRenewal is true in the last third of the certificate's lifetime.
func needsRenewal(c *x509.Certificate, now time.Time) bool {
	life := c.NotAfter.Sub(c.NotBefore)
	return now.After(c.NotAfter.Add(-life / 3))
}

func (rt *runtime) beat(ctx context.Context, client *http.Client) error {
	st := rt.state()
	hb := api.Heartbeat{Address: rt.addr, Version: rt.cfg.Version}
	if needsRenewal(st.cert.Leaf, rt.cfg.Now()) {
		// Same key: a chain a super admin uploaded for this key stays usable.
		csr, err := newCSR(st.key, st.id.FQDN)
		if err != nil {
			return err
		}
		hb.CSRPEM = csr
	}
	body, _ := json.Marshal(hb)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, st.id.InternalURL+"/api/v1/components/heartbeat", bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("heartbeat: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	res, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("heartbeat: %w", err)
	}
	defer res.Body.Close()
	rb, err := io.ReadAll(io.LimitReader(res.Body, 1<<20))
	if err != nil {
		return fmt.Errorf("heartbeat: read answer: %w", err)
	}
	if res.StatusCode != http.StatusOK {
		var ae api.Error
		if json.Unmarshal(rb, &ae) == nil && ae.Code != "" {
			return fmt.Errorf("heartbeat refused (%s): %s", ae.Code, ae.Message)
		}
		return fmt.Errorf("heartbeat: HTTP %d", res.StatusCode)
	}
	var resp api.HeartbeatResponse
	if err := json.Unmarshal(rb, &resp); err != nil {
		return fmt.Errorf("heartbeat: answer: %w", err)
	}
	rt.setPeers(resp)
	return rt.apply(resp)
}

// apply installs what a heartbeat answer carries: a new FQDN, a reissued internal certificate,
// or a chain a super admin uploaded. Files are replaced atomically before the holders swap, so
// a crash leaves either the old or the new certificate on disk, both usable.
func (rt *runtime) apply(resp api.HeartbeatResponse) error {
	old := rt.state()
	st := *old
	if resp.FQDN != "" && resp.FQDN != st.id.FQDN {
		if err := ca.CheckFQDN(resp.FQDN); err != nil {
			return fmt.Errorf("heartbeat: portal sent %w", err)
		}
		st.id.FQDN = resp.FQDN
	}
	if resp.CertPEM != "" {
		keyPEM, err := certs.MarshalKeyPEM(st.key)
		if err != nil {
			return err
		}
		tc, err := certs.LoadKeyPair([]byte(resp.CertPEM), keyPEM)
		if err != nil {
			return fmt.Errorf("heartbeat: certificate from the portal: %w", err)
		}
		now := rt.cfg.Now()
		switch {
		case verifyIdentity(tc.Leaf, st.roots, st.id.ID, now) == nil:
			if !bytes.Equal(tc.Leaf.Raw, st.cert.Leaf.Raw) {
				if err := ca.WriteFileAtomic(filepath.Join(rt.cfg.DataDir, certFile), []byte(resp.CertPEM), 0o644); err != nil {
					return fmt.Errorf("heartbeat: %w", err)
				}
				st.cert = tc
				rt.log.Info("installed reissued certificate", "fqdn", st.id.FQDN, "not_after", tc.Leaf.NotAfter, "serial", fmt.Sprintf("%x", tc.Leaf.SerialNumber))
			}
		case st.served == nil || !bytes.Equal(tc.Leaf.Raw, st.served.Leaf.Raw):
			// The portal validated it against public roots; here only what a server must
			// never serve is re-checked: a certificate for another name or out of date.
			if err := tc.Leaf.VerifyHostname(st.id.FQDN); err != nil {
				return fmt.Errorf("heartbeat: uploaded certificate: %w", err)
			}
			if now.Before(tc.Leaf.NotBefore) || now.After(tc.Leaf.NotAfter) {
				return errors.New("heartbeat: uploaded certificate is not valid now")
			}
			if err := ca.WriteFileAtomic(filepath.Join(rt.cfg.DataDir, servedFile), []byte(resp.CertPEM), 0o644); err != nil {
				return fmt.Errorf("heartbeat: %w", err)
			}
			st.served = &tc
			rt.log.Info("serving uploaded certificate", "subject", tc.Leaf.Subject.String(), "not_after", tc.Leaf.NotAfter)
		}
	}
	if st.served != nil && st.served.Leaf.VerifyHostname(st.id.FQDN) != nil {
		st.served = nil // an uploaded chain for the old name; the portal dropped it too
		if err := os.Remove(filepath.Join(rt.cfg.DataDir, servedFile)); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("heartbeat: %w", err)
		}
	}
	if st.id != old.id {
		if err := saveIdentityJSON(rt.cfg.DataDir, st.id); err != nil {
			return err
		}
		rt.log.Info("FQDN changed by the portal", "fqdn", st.id.FQDN)
	}
	rt.install(&st)
	return nil
}
