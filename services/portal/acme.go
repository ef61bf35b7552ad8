package portal

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/mail"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/stoa-rooms/stoa/services/api"
	"github.com/stoa-rooms/stoa/services/certs"
	"github.com/stoa-rooms/stoa/services/portal/acme"
	"github.com/stoa-rooms/stoa/services/portal/rooms"
	"github.com/stoa-rooms/stoa/services/portal/store"
)

const settingACME = "acme.config"

// acmeRotationWait bounds how long an ACME installation waits for paired rooms to acknowledge a
// bundle that trusts the new chain (it runs inside "Issue now" requests too, so it stays well
// under the HTTP write timeout).
const acmeRotationWait = 60 * time.Second

// acmeRunner keeps the ACME client (RFC 8555) that matches the saved configuration and its
// renewal loop; saving a new configuration replaces both.
type acmeRunner struct {
	s *Server

	mu     sync.Mutex
	cfg    api.ACMEConfig
	client *acme.Client // nil while ACME is disabled
	stop   context.CancelFunc
	done   chan struct{}
}

func (a *acmeRunner) current() *acme.Client {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.client
}

// load reads the saved configuration and starts renewal if it is enabled.
func (a *acmeRunner) load(ctx context.Context) error {
	b, err := a.s.store.Setting(ctx, settingACME)
	if errors.Is(err, store.ErrNotFound) {
		return nil
	} else if err != nil {
		return fmt.Errorf("load ACME configuration: %w", err)
	}
	var cfg api.ACMEConfig
	if err := json.Unmarshal(b, &cfg); err != nil {
		return fmt.Errorf("load ACME configuration: %w", err)
	}
	return a.apply(ctx, cfg)
}

// apply validates cfg and (re)starts the client. ctx bounds the renewal loop's life.
func (a *acmeRunner) apply(ctx context.Context, cfg api.ACMEConfig) error {
	var roots *x509.CertPool
	if cfg.RootsPEM != "" {
		roots = x509.NewCertPool()
		if !roots.AppendCertsFromPEM([]byte(cfg.RootsPEM)) {
			return errors.New("ACME: roots_pem holds no PEM certificate")
		}
	}
	if cfg.Enabled {
		// Public ACME CAs issue only for registered names: a single-label FQDN ("localhost") or
		// an IP address would fail later in the renewer, so say so now.
		if fqdn := a.s.cfg.FQDN; !strings.Contains(fqdn, ".") || net.ParseIP(fqdn) != nil {
			return fmt.Errorf("ACME: the portal FQDN %q is not a DNS name a CA can issue for; set portal.fqdn first", fqdn)
		}
		u, err := url.Parse(cfg.DirectoryURL)
		if err != nil || u.Scheme != "https" || u.Host == "" {
			return fmt.Errorf("ACME: directory URL %q must be an https:// URL", cfg.DirectoryURL)
		}
		if cfg.Email != "" {
			if _, err := mail.ParseAddress(cfg.Email); err != nil {
				return fmt.Errorf("ACME: contact e-mail %q: %w", cfg.Email, err)
			}
		}
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.stop != nil {
		a.stop()
		<-a.done
		a.stop, a.done, a.client = nil, nil, nil
	}
	a.cfg = cfg
	if !cfg.Enabled {
		return nil
	}
	c := acme.New(acme.Config{DirectoryURL: cfg.DirectoryURL, Email: cfg.Email, FQDN: a.s.cfg.FQDN, Roots: roots, Now: a.s.now},
		a.s.store, a.s.log.With("component", "acme"))
	rctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	a.client, a.stop, a.done = c, cancel, done
	go func() {
		defer close(done)
		install := func(certPEM, keyPEM []byte) error { return a.install(rctx, certPEM, keyPEM) }
		err := c.Run(rctx, a.s.currentACMECert, install)
		if err != nil && !errors.Is(err, context.Canceled) {
			a.s.log.Error("ACME renewal stopped", "err", err)
		}
	}()
	return nil
}

func (a *acmeRunner) close() {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.stop != nil {
		a.stop()
		<-a.done
		a.stop = nil
	}
}

func (a *acmeRunner) state(context.Context) api.ACMEState {
	a.mu.Lock()
	defer a.mu.Unlock()
	st := api.ACMEState{ACMEConfig: a.cfg}
	if a.client != nil {
		cs := a.client.State()
		st.LastError, st.LastIssued, st.NextRenewal = cs.LastError, cs.LastIssued, cs.NextRenewal
	}
	return st
}

// install validates an ACME-issued chain with the same rules as an upload (the chain's own top
// certificate stands in as the trust anchor: we chose that CA) and activates it.
func (a *acmeRunner) install(ctx context.Context, certPEM, keyPEM []byte) error {
	b, err := certs.ParseUpload(certPEM, nil, keyPEM, "")
	if err != nil {
		return fmt.Errorf("install ACME certificate: %w", err)
	}
	top := b.Leaf
	if len(b.Chain) > 0 {
		top = b.Chain[len(b.Chain)-1]
	}
	anchor := x509.NewCertPool()
	anchor.AddCert(top)
	kp, err := certs.Validate(b, certs.ValidateOptions{FQDN: a.s.cfg.FQDN, Roots: anchor, Now: a.s.now()})
	if err != nil {
		return fmt.Errorf("install ACME certificate: %w", err)
	}
	// Validate leaves the anchor out as if it were a root, but an ACME CA's chain normally ends
	// at an intermediate that clients need to reach their root: serve it (RFC 8555 section
	// 7.4.2, the CA sends the chain to present).
	if top != b.Leaf && !bytes.Equal(top.RawSubject, top.RawIssuer) && !bytes.Equal(kp.Certificate[len(kp.Certificate)-1], top.Raw) {
		kp.Certificate = append(kp.Certificate, top.Raw)
	}
	// Rooms must trust the new chain's anchor before it is served, as with a manual activation.
	// An automatic renewal has no admin to ask, so after acmeRotationWait it goes ahead: the
	// certificate it replaces may be about to expire, and a room that was offline still gets the
	// new bundle over its management channel, which does not depend on the public certificate.
	anchorCert, err := x509.ParseCertificate(kp.Certificate[len(kp.Certificate)-1])
	if err != nil {
		return fmt.Errorf("install ACME certificate: %w", err)
	}
	behind, err := a.s.rooms.PrepareActivation(ctx, anchorCert, acmeRotationWait)
	if err != nil {
		return fmt.Errorf("install ACME certificate: %w", err)
	}
	if len(behind) > 0 {
		msg := rooms.PendingMessage(behind)
		a.s.auditSystem("cert.acme_rotation_unacknowledged", msg)
		a.s.log.Warn("ACME certificate activated before every room acknowledged its new root", "rooms", msg)
	}
	if err := a.s.certs.activate(ctx, kp, "acme"); err != nil {
		return err
	}
	a.s.auditSystem("cert.acme_install", "serial="+kp.Leaf.SerialNumber.Text(16))
	a.s.log.Info("ACME certificate installed", "not_after", kp.Leaf.NotAfter)
	return nil
}

// currentACMECert is the served leaf when it came from ACME, else nil (so the renewer issues).
func (s *Server) currentACMECert() *x509.Certificate {
	sc, err := s.store.CertSlot(context.Background(), "active")
	if err != nil || sc.Source != "acme" {
		return nil
	}
	if kp := s.certs.holder.Get(); kp != nil {
		return kp.Leaf
	}
	return nil
}

// getCertificate answers ACME tls-alpn-01 (RFC 8737) validation hellos from the ACME client,
// everything else from the holder.
func (s *Server) getCertificate(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
	if acme.IsACMEHello(hello) {
		if c := s.acme.current(); c != nil {
			return c.GetCertificate(hello)
		}
	}
	return s.certs.holder.GetCertificate(hello)
}

// httpHandler answers ACME http-01 challenges on the plain-HTTP listener and redirects
// everything else to HTTPS.
func (s *Server) httpHandler(redirect http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if c := s.acme.current(); c != nil {
			c.HTTPHandler(redirect).ServeHTTP(w, r)
			return
		}
		redirect.ServeHTTP(w, r)
	})
}

func (s *Server) handleACMEGet(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, s.acme.state(r.Context()))
}

func (s *Server) handleACMEPut(w http.ResponseWriter, r *http.Request) {
	var cfg api.ACMEConfig
	if err := decodeJSON(w, r, &cfg); err != nil {
		writeError(w, http.StatusBadRequest, "request.invalid", err.Error())
		return
	}
	if err := s.acme.apply(s.runCtx, cfg); err != nil {
		writeError(w, http.StatusBadRequest, "acme.config", err.Error())
		return
	}
	b, _ := json.Marshal(cfg)
	if err := s.store.PutSetting(r.Context(), settingACME, b); err != nil {
		writeError(w, http.StatusInternalServerError, "internal", err.Error())
		return
	}
	s.auth.Audit(r, "acme.config", fmt.Sprintf("enabled=%v directory=%q email=%q", cfg.Enabled, cfg.DirectoryURL, cfg.Email))
	writeJSON(w, http.StatusOK, s.acme.state(r.Context()))
}

// handleACMEIssue issues a certificate now (and installs it), instead of waiting for renewal.
func (s *Server) handleACMEIssue(w http.ResponseWriter, r *http.Request) {
	c := s.acme.current()
	if c == nil {
		writeError(w, http.StatusConflict, "acme.disabled", "enable ACME and save its configuration first")
		return
	}
	certPEM, keyPEM, err := c.Obtain(r.Context())
	if err != nil {
		s.auth.Audit(r, "acme.issue_failed", err.Error())
		writeError(w, http.StatusBadGateway, "acme.issue", err.Error())
		return
	}
	if err := s.acme.install(r.Context(), certPEM, keyPEM); err != nil {
		writeCertError(w, err)
		return
	}
	s.auth.Audit(r, "acme.issue", "")
	writeJSON(w, http.StatusOK, s.securityState(r))
}
