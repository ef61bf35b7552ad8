package rooms

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/stoa-rooms/stoa/provisioning/ca"
	"github.com/stoa-rooms/stoa/services/api"
)

// PrepareActivation makes sure every paired room trusts anchor (the top certificate of a chain
// about to be served) before the portal switches to it: when the current bundle does not hold
// anchor, a new version with the old and the new roots is published and pushed; then it waits
// up to wait for every room to acknowledge a version holding anchor. It returns the rooms that
// have not. The new bundle stays current either way, so an offline room gets it on return.
func (s *Service) PrepareActivation(ctx context.Context, anchor *x509.Certificate, wait time.Duration) ([]api.Room, error) {
	rs, err := s.o.Store.ListRooms(ctx)
	if err != nil {
		return nil, fmt.Errorf("prepare activation: %w", err)
	}
	if len(rs) == 0 {
		return nil, nil
	}
	v, published, err := s.trustVersion(ctx, anchor)
	if err != nil {
		return nil, fmt.Errorf("prepare activation: %w", err)
	}
	if published {
		s.o.Log.Info("rotation: bundle with the new root pushed", "version", v, "rooms", len(rs))
	}
	behind, err := s.waitAcks(ctx, v, nil, wait)
	if err != nil {
		return nil, fmt.Errorf("prepare activation: %w", err)
	}
	out := make([]api.Room, 0, len(behind))
	for _, r := range behind {
		out = append(out, s.apiRoom(r))
	}
	return out, nil
}

// PendingMessage lists rooms that have not acknowledged, for the admin.
func PendingMessage(rs []api.Room) string {
	names := make([]string, 0, len(rs))
	for _, r := range rs {
		names = append(names, fmt.Sprintf("%s (%s)", r.Name, r.ID))
	}
	return fmt.Sprintf("%d room(s) have not acknowledged the bundle trusting the new certificate: %s; retry later, or force",
		len(rs), strings.Join(names, ", "))
}

// parseCSR reads one PEM CSR and checks its self-signature and key.
func parseCSR(s string) (*x509.CertificateRequest, error) {
	blk, rest := pem.Decode([]byte(s))
	if blk == nil || blk.Type != "CERTIFICATE REQUEST" {
		return nil, errors.New(`csr_pem holds no PEM "CERTIFICATE REQUEST" block`)
	}
	if strings.TrimSpace(string(rest)) != "" {
		return nil, errors.New("csr_pem has data after the CSR")
	}
	csr, err := x509.ParseCertificateRequest(blk.Bytes)
	if err != nil {
		return nil, fmt.Errorf("csr_pem: %w", err)
	}
	if _, err := ca.CSRPublicKey(csr); err != nil {
		return nil, err
	}
	return csr, nil
}
