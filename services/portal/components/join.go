package components

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/stoa-rooms/stoa/provisioning/ca"
	"github.com/stoa-rooms/stoa/services/api"
	"github.com/stoa-rooms/stoa/services/portal/store"
)

// DecodeJoinRequest strictly decodes and checks a join request body: one JSON object, no unknown
// fields, a CSR PEM of at most 16 KiB, a host:port address and a printable version.
func DecodeJoinRequest(r io.Reader) (api.JoinRequest, *x509.CertificateRequest, error) {
	var req api.JoinRequest
	if err := decodeStrict(io.LimitReader(r, maxBody), &req); err != nil {
		return req, nil, err
	}
	if err := checkAddress(req.Address); err != nil {
		return req, nil, err
	}
	if err := checkVersion(req.Version); err != nil {
		return req, nil, err
	}
	csr, err := ParseCSRPEM(req.CSRPEM)
	if err != nil {
		return req, nil, err
	}
	return req, csr, nil
}

// ParseCSRPEM reads one PEM "CERTIFICATE REQUEST" and checks its self-signature and key.
func ParseCSRPEM(s string) (*x509.CertificateRequest, error) {
	if s == "" {
		return nil, errors.New("csr_pem is empty")
	}
	if len(s) > 16<<10 {
		return nil, errors.New("csr_pem is larger than 16 KiB")
	}
	b, rest := pem.Decode([]byte(s))
	if b == nil || b.Type != "CERTIFICATE REQUEST" {
		return nil, errors.New(`csr_pem holds no PEM "CERTIFICATE REQUEST" block`)
	}
	if strings.TrimSpace(string(rest)) != "" {
		return nil, errors.New("csr_pem has data after the CSR")
	}
	csr, err := x509.ParseCertificateRequest(b.Bytes)
	if err != nil {
		return nil, fmt.Errorf("csr_pem: %w", err)
	}
	if _, err := ca.CSRPublicKey(csr); err != nil {
		return nil, err
	}
	return csr, nil
}

// bearer extracts the token of an "Authorization: Bearer <token>" header (RFC 6750 §2.1).
func bearer(r *http.Request) (string, *apiError) {
	h := r.Header.Get("Authorization")
	if h == "" {
		return "", errorf(http.StatusUnauthorized, "join.token_missing", "no join token: send it as \"Authorization: Bearer <token>\"")
	}
	scheme, tok, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", errorf(http.StatusUnauthorized, "join.token_missing", "the Authorization header is not \"Bearer <token>\"")
	}
	tok = strings.TrimSpace(tok)
	if !wellFormedToken(tok) {
		return "", errorf(http.StatusUnauthorized, "join.token_malformed", "the join token is not a token from Super Admin → Components (43 base64url characters)")
	}
	return tok, nil
}

// HandleJoin is POST /api/v1/components/join on the public HTTPS port. The body is checked
// before the token is consumed, so a malformed request does not burn the token; once consumed,
// the component is certified for the FQDN bound to the token (not one the CSR asks for).
func (s *Service) HandleJoin(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("WWW-Authenticate", `Bearer realm="stoa-components"`)
	tok, aerr := bearer(r)
	if aerr != nil {
		s.audit(r, "component.join.fail", aerr.Code)
		s.writeErr(w, r, aerr)
		return
	}
	req, csr, err := DecodeJoinRequest(http.MaxBytesReader(w, r.Body, maxBody))
	if err != nil {
		s.audit(r, "component.join.fail", "join.bad_request")
		s.writeErr(w, r, errorf(http.StatusBadRequest, "join.bad_request", "join request refused: %v", err))
		return
	}
	resp, err := s.join(r.Context(), tok, req, csr)
	if err != nil {
		var ae *apiError
		if errors.As(err, &ae) {
			s.audit(r, "component.join.fail", ae.Code)
		}
		s.writeErr(w, r, err)
		return
	}
	s.audit(r, "component.join", fmt.Sprintf("id=%s kind=%s fqdn=%s", resp.ComponentID, resp.Kind, resp.FQDN))
	s.log().Info("component joined", "id", resp.ComponentID, "kind", resp.Kind, "fqdn", resp.FQDN, "address", req.Address)
	writeJSON(w, http.StatusOK, resp)
}

func (s *Service) join(ctx context.Context, tok string, req api.JoinRequest, csr *x509.CertificateRequest) (api.JoinResponse, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	t, err := s.Store.ConsumeJoinToken(ctx, hashToken(tok), now)
	if errors.Is(err, store.ErrNotFound) {
		// The store does not say which on purpose: telling a guesser "used" or "expired"
		// would confirm the token once existed.
		return api.JoinResponse{}, errorf(http.StatusUnauthorized, "join.token_invalid", "the join token is unknown, already used or expired: create a new one in Super Admin → Components")
	}
	if err != nil {
		return api.JoinResponse{}, fmt.Errorf("join: %w", err)
	}
	// A new token for a kind and FQDN that already joined replaces that component (for
	// example after its data directory was lost): same ID, new certificate, so the old
	// certificate's serial no longer matches and it is refused from then on.
	id, err := s.idFor(ctx, t.Kind, t.FQDN)
	if err != nil {
		return api.JoinResponse{}, err
	}
	cert, err := s.CA.IssueServer(csr, t.FQDN, nil, CertValidity, IdentityURI(id))
	if err != nil {
		return api.JoinResponse{}, errorf(http.StatusBadRequest, "join.bad_csr", "join refused: %v", err)
	}
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw})
	c := store.Component{
		ID: id, Kind: t.Kind, FQDN: t.FQDN, Address: req.Address, Version: req.Version,
		CertPEM: certPEM, CertNotAfter: cert.NotAfter, JoinedAt: now,
	}
	if err := s.Store.UpsertComponent(ctx, c); err != nil {
		if errors.Is(err, store.ErrConflict) {
			return api.JoinResponse{}, errorf(http.StatusConflict, "component.fqdn_taken", "another %s already uses FQDN %s", t.Kind, t.FQDN)
		}
		return api.JoinResponse{}, fmt.Errorf("join: %w", err)
	}
	for _, slot := range []string{nextSlot(id), uploadedSlot(id)} {
		if err := s.clearSlot(ctx, slot); err != nil {
			return api.JoinResponse{}, fmt.Errorf("join: %w", err)
		}
	}
	return api.JoinResponse{
		ComponentID: id, Kind: t.Kind, FQDN: t.FQDN, CertPEM: string(certPEM),
		CAPEM: string(s.CA.RootPEM()), InternalURL: s.InternalURL,
	}, nil
}

// idFor returns the ID of the component of kind at fqdn, or a new ID.
func (s *Service) idFor(ctx context.Context, kind, fqdn string) (string, error) {
	all, err := s.Store.ListComponents(ctx)
	if err != nil {
		return "", fmt.Errorf("join: %w", err)
	}
	for _, c := range all {
		if c.Kind == kind && c.FQDN == fqdn {
			return c.ID, nil
		}
	}
	return newID()
}
