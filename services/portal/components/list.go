package components

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/stoa-rooms/stoa/services/api"
	"github.com/stoa-rooms/stoa/services/certs"
	"github.com/stoa-rooms/stoa/services/portal/store"
)

// lookupTimeout bounds each FQDN resolution of the list.
const lookupTimeout = 2 * time.Second

// HandleList is GET /api/v1/components (super admin).
func (s *Service) HandleList(w http.ResponseWriter, r *http.Request) {
	all, err := s.Store.ListComponents(r.Context())
	if err != nil {
		s.writeErr(w, r, fmt.Errorf("list components: %w", err))
		return
	}
	out := make([]api.Component, len(all))
	var wg sync.WaitGroup
	for i, c := range all {
		out[i] = s.row(c)
		wg.Add(1)
		go func() { // resolve in parallel: one slow name must not stall the page
			defer wg.Done()
			out[i].Warnings = append(out[i].Warnings, s.warnings(r.Context(), c)...)
		}()
	}
	wg.Wait()
	writeJSON(w, http.StatusOK, out)
}

func (s *Service) row(c store.Component) api.Component {
	status := "offline"
	if !c.LastHeartbeat.IsZero() && s.now().Sub(c.LastHeartbeat) <= 3*s.interval() {
		status = "online"
	}
	return api.Component{
		ID: c.ID, Kind: c.Kind, FQDN: c.FQDN, Address: c.Address, Version: c.Version, Status: status,
		LastHeartbeat: c.LastHeartbeat, CertNotAfter: c.CertNotAfter,
	}
}

// warnings are the problems a super admin should fix: the certificate the component serves
// does not name its FQDN (clients would refuse it), or the FQDN does not resolve.
func (s *Service) warnings(ctx context.Context, c store.Component) []string {
	var ws []string
	served, err := s.servedLeaf(ctx, c)
	if err != nil || served.VerifyHostname(c.FQDN) != nil {
		ws = append(ws, fmt.Sprintf("FQDN %s is not in the certificate", c.FQDN))
	}
	lookup := s.LookupHost
	if lookup == nil {
		lookup = net.DefaultResolver.LookupHost
	}
	lctx, cancel := context.WithTimeout(ctx, lookupTimeout)
	defer cancel()
	if addrs, err := lookup(lctx, c.FQDN); err != nil || len(addrs) == 0 {
		ws = append(ws, fmt.Sprintf("FQDN %s does not resolve", c.FQDN))
	}
	return ws
}

// servedLeaf is the leaf the component serves: the uploaded chain when a super admin installed
// one, else its internal-CA certificate.
func (s *Service) servedLeaf(ctx context.Context, c store.Component) (*x509.Certificate, error) {
	p, err := s.slotPEM(ctx, uploadedSlot(c.ID))
	if err != nil {
		return nil, err
	}
	if p == nil {
		p = c.CertPEM
	}
	chain, err := certs.ParseChainPEM(p)
	if err != nil {
		return nil, err
	}
	return chain[0], nil
}

// HandleSetFQDN is PUT /api/v1/components/{id}/fqdn (super admin). The internal CA reissues the
// certificate for the new FQDN with the component's current key; the component receives it
// on its next heartbeat. An uploaded certificate for the old name is dropped.
func (s *Service) HandleSetFQDN(w http.ResponseWriter, r *http.Request) {
	var req api.ComponentFQDN
	if err := decodeStrict(http.MaxBytesReader(w, r.Body, maxBody), &req); err != nil {
		s.writeErr(w, r, errorf(http.StatusBadRequest, "request.invalid", "%v", err))
		return
	}
	c, err := s.setFQDN(r.Context(), r.PathValue("id"), req.FQDN)
	if err != nil {
		s.writeErr(w, r, err)
		return
	}
	s.audit(r, "component.fqdn", fmt.Sprintf("id=%s fqdn=%s", c.ID, c.FQDN))
	s.log().Info("component FQDN changed; certificate reissued", "id", c.ID, "fqdn", c.FQDN)
	row := s.row(c)
	row.Warnings = s.warnings(r.Context(), c)
	writeJSON(w, http.StatusOK, row)
}

func (s *Service) lookupComponent(ctx context.Context, id string) (store.Component, error) {
	if !validID(id) {
		return store.Component{}, errorf(http.StatusNotFound, "component.not_found", "no component %q", id)
	}
	c, err := s.Store.ComponentByID(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return c, errorf(http.StatusNotFound, "component.not_found", "no component %q", id)
	}
	if err != nil {
		return c, fmt.Errorf("look up component: %w", err)
	}
	return c, nil
}

func (s *Service) setFQDN(ctx context.Context, id, fqdn string) (store.Component, error) {
	fqdn, err := normFQDN(fqdn)
	if err != nil {
		return store.Component{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	c, err := s.lookupComponent(ctx, id)
	if err != nil {
		return c, err
	}
	chain, err := certs.ParseChainPEM(c.CertPEM)
	if err != nil {
		return c, fmt.Errorf("set FQDN: stored certificate: %w", err)
	}
	cert, err := s.CA.IssueServerKey(chain[0].PublicKey, fqdn, nil, CertValidity, IdentityURI(c.ID))
	if err != nil {
		return c, fmt.Errorf("set FQDN: %w", err)
	}
	old := c.FQDN
	c.FQDN = fqdn
	if err := s.Store.UpsertComponent(ctx, c); err != nil {
		if errors.Is(err, store.ErrConflict) {
			return c, errorf(http.StatusConflict, "component.fqdn_taken", "another %s already uses FQDN %s", c.Kind, fqdn)
		}
		return c, fmt.Errorf("set FQDN: %w", err)
	}
	// The row is the source of truth for the name; the slots follow. Should a slot write fail,
	// the next FQDN change or heartbeat CSR repairs it, and the list warns meanwhile.
	if err := s.putSlot(ctx, nextSlot(c.ID), certs.ChainPEM([]*x509.Certificate{cert})); err != nil {
		return c, fmt.Errorf("set FQDN: %w", err)
	}
	if old != fqdn {
		if err := s.clearSlot(ctx, uploadedSlot(c.ID)); err != nil {
			return c, fmt.Errorf("set FQDN: %w", err)
		}
	}
	return c, nil
}
