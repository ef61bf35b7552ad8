package components

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/stoa-rooms/stoa/provisioning/ca"
	"github.com/stoa-rooms/stoa/services/api"
	"github.com/stoa-rooms/stoa/services/certs"
	"github.com/stoa-rooms/stoa/services/portal/store"
)

// PortalCertValidity is the lifetime of the portal's own internal-listener certificate; it is
// reissued at every start, so it never needs renewing while running for a year.
const PortalCertValidity = 365 * 24 * time.Hour

// InternalTLSConfig is the TLS policy of the portal's internal listener: Stoa's server policy,
// and a client certificate from the internal CA is required in the handshake itself, so no
// request of an unknown client ever reaches a handler.
func (s *Service) InternalTLSConfig(serverCert *certs.Holder) *tls.Config {
	c := certs.ServerConfig(serverCert)
	c.ClientAuth = tls.RequireAndVerifyClientCert
	c.ClientCAs = s.CA.Pool()
	return c
}

// PortalInternalCert issues the portal's internal-listener certificate for fqdn from the
// internal CA, with a fresh ECDSA P-256 key, so components verify the portal with the same
// root they were given at join.
func (s *Service) PortalInternalCert(fqdn string) (tls.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("portal internal certificate: %w", err)
	}
	portalURI, err := url.Parse(api.PortalIdentityURI)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("portal internal certificate: %w", err)
	}
	// The URI SAN lets components tell the portal's calls (admit, WebSocket proxy) from other
	// holders of internal certificates.
	cert, err := s.CA.IssueServerKey(key.Public(), strings.ToLower(fqdn), nil, PortalCertValidity, portalURI)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("portal internal certificate: %w", err)
	}
	return tls.Certificate{Certificate: [][]byte{cert.Raw}, PrivateKey: key, Leaf: cert}, nil
}

// InternalHandler serves the portal's mutual-TLS listener.
func (s *Service) InternalHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /api/v1/components/heartbeat", s.handleHeartbeat)
	return mux
}

// chainsToCA reports whether one of the verified chains ends at the internal component CA.
func (s *Service) chainsToCA(chains [][]*x509.Certificate) bool {
	for _, ch := range chains {
		if len(ch) > 0 && ch[len(ch)-1].Equal(s.CA.Root()) {
			return true
		}
	}
	return false
}

// IdentityFromCert returns the component ID a certificate names: its urn:stoa:component: URI
// SAN, or else a common name shaped like an ID.
func IdentityFromCert(c *x509.Certificate) (string, bool) { return ca.ComponentID(c) }

func (s *Service) handleHeartbeat(w http.ResponseWriter, r *http.Request) {
	if r.TLS == nil || len(r.TLS.VerifiedChains) == 0 || !s.chainsToCA(r.TLS.VerifiedChains) {
		// The listener also accepts room certificates from the device CA (their own handlers
		// check them); only a chain to the internal component CA may heartbeat.
		s.writeErr(w, r, errorf(http.StatusForbidden, "component.no_client_cert", "a client certificate from the internal CA is required"))
		return
	}
	var hb api.Heartbeat
	if err := decodeStrict(http.MaxBytesReader(w, r.Body, maxBody), &hb); err != nil {
		s.writeErr(w, r, errorf(http.StatusBadRequest, "request.invalid", "%v", err))
		return
	}
	if err := checkAddress(hb.Address); err != nil {
		s.writeErr(w, r, errorf(http.StatusBadRequest, "request.invalid", "%v", err))
		return
	}
	if err := checkVersion(hb.Version); err != nil {
		s.writeErr(w, r, errorf(http.StatusBadRequest, "request.invalid", "%v", err))
		return
	}
	resp, err := s.heartbeat(r.Context(), r.TLS.VerifiedChains[0][0], hb)
	if err != nil {
		var ae *apiError
		if errors.As(err, &ae) && ae.Status == http.StatusForbidden {
			s.log().Warn("heartbeat refused", "remote", r.RemoteAddr, "code", ae.Code, "subject", r.TLS.VerifiedChains[0][0].Subject.String())
			s.audit(r, "component.heartbeat.refused", ae.Code)
		}
		s.writeErr(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, resp)
}

// heartbeat records a heartbeat of the component presenting leaf. The presented certificate
// must be the component's current one, or the one issued to replace it (then it becomes
// current); any other, such as a certificate replaced by a re-join, is refused.
func (s *Service) heartbeat(ctx context.Context, leaf *x509.Certificate, hb api.Heartbeat) (api.HeartbeatResponse, error) {
	id, ok := IdentityFromCert(leaf)
	if !ok {
		return api.HeartbeatResponse{}, errorf(http.StatusForbidden, "component.unknown", "the client certificate names no component")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	c, err := s.Store.ComponentByID(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return api.HeartbeatResponse{}, errorf(http.StatusForbidden, "component.unknown", "component %s is not registered", id)
	}
	if err != nil {
		return api.HeartbeatResponse{}, fmt.Errorf("heartbeat: %w", err)
	}
	cur, err := certs.ParseChainPEM(c.CertPEM)
	if err != nil {
		return api.HeartbeatResponse{}, fmt.Errorf("heartbeat: stored certificate of %s: %w", id, err)
	}
	nextPEM, err := s.slotPEM(ctx, nextSlot(id))
	if err != nil {
		return api.HeartbeatResponse{}, fmt.Errorf("heartbeat: %w", err)
	}
	var next *x509.Certificate
	if nextPEM != nil {
		if ch, err := certs.ParseChainPEM(nextPEM); err == nil {
			next = ch[0]
		}
	}
	var csr *x509.CertificateRequest
	if hb.CSRPEM != "" {
		if csr, err = ParseCSRPEM(hb.CSRPEM); err != nil {
			return api.HeartbeatResponse{}, errorf(http.StatusBadRequest, "request.invalid", "renewal refused: %v", err)
		}
	}
	now := s.now()
	switch {
	case leaf.SerialNumber.Cmp(cur[0].SerialNumber) == 0:
	case next != nil && leaf.SerialNumber.Cmp(next.SerialNumber) == 0:
		// The component installed the reissued certificate: it becomes current, and the
		// previous one stops working.
		c.CertPEM, c.CertNotAfter = nextPEM, next.NotAfter
		if err := s.Store.UpsertComponent(ctx, c); err != nil {
			return api.HeartbeatResponse{}, fmt.Errorf("heartbeat: promote certificate: %w", err)
		}
		if err := s.clearSlot(ctx, nextSlot(id)); err != nil {
			return api.HeartbeatResponse{}, fmt.Errorf("heartbeat: %w", err)
		}
		s.log().Info("component switched to its reissued certificate", "id", id, "serial", fmt.Sprintf("%x", next.SerialNumber))
		next, nextPEM = nil, nil
	default:
		return api.HeartbeatResponse{}, errorf(http.StatusForbidden, "component.cert_replaced", "this certificate of component %s was replaced or revoked", id)
	}
	if err := s.Store.Heartbeat(ctx, id, hb.Address, hb.Version, now); err != nil {
		return api.HeartbeatResponse{}, fmt.Errorf("heartbeat: %w", err)
	}
	resp := api.HeartbeatResponse{FQDN: c.FQDN, TokenKey: []byte(s.TokenKey), Secured: s.Secured != nil && s.Secured()}
	if resp.ManagerURL, err = s.OnlineURL(ctx, "manager"); err != nil {
		return api.HeartbeatResponse{}, fmt.Errorf("heartbeat: %w", err)
	}
	switch {
	case next != nil && next.VerifyHostname(c.FQDN) == nil:
		resp.CertPEM = string(nextPEM) // reissued and not yet picked up (or the answer was lost)
	case csr != nil:
		cert, err := s.CA.IssueServer(csr, c.FQDN, nil, CertValidity, IdentityURI(id))
		if err != nil {
			return api.HeartbeatResponse{}, errorf(http.StatusBadRequest, "request.invalid", "renewal refused: %v", err)
		}
		p := certs.ChainPEM([]*x509.Certificate{cert})
		if err := s.putSlot(ctx, nextSlot(id), p); err != nil {
			return api.HeartbeatResponse{}, fmt.Errorf("heartbeat: %w", err)
		}
		s.log().Info("component certificate renewed", "id", id, "fqdn", c.FQDN)
		resp.CertPEM = string(p)
	default:
		// A super admin's CA-signed chain is resent every time: the component installs it
		// only when it differs from what it serves, and a lost answer needs no bookkeeping.
		up, err := s.slotPEM(ctx, uploadedSlot(id))
		if err != nil {
			return api.HeartbeatResponse{}, fmt.Errorf("heartbeat: %w", err)
		}
		resp.CertPEM = string(up)
	}
	return resp, nil
}
