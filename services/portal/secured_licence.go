package portal

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/stoa-rooms/stoa/services/api"
	"github.com/stoa-rooms/stoa/services/certs"
)

// securedLicensed asks the online manager whether its licence includes the Secured option.
// The manager holds the licence; the portal never caches the answer, so a licence installed or
// expired at the manager counts from the next question on.
func (s *Server) securedLicensed(ctx context.Context) (bool, error) {
	base, err := s.comps.OnlineURL(ctx, "manager")
	if err != nil {
		return false, fmt.Errorf("ask the manager for its licence: %w", err)
	}
	if base == "" {
		return false, errors.New("no manager component is online to confirm the licence")
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimRight(base, "/")+"/api/v1/manager/licence", nil)
	if err != nil {
		return false, fmt.Errorf("ask the manager for its licence: %w", err)
	}
	tc := certs.ClientConfig()
	tc.RootCAs = s.comps.CA.Pool()
	tc.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return s.internal.Get(), nil }
	tr := &http.Transport{TLSClientConfig: tc}
	defer tr.CloseIdleConnections()
	res, err := (&http.Client{Transport: tr}).Do(req)
	if err != nil {
		return false, fmt.Errorf("ask the manager for its licence: %w", err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(io.LimitReader(res.Body, 64<<10))
	if err != nil {
		return false, fmt.Errorf("ask the manager for its licence: %w", err)
	}
	if res.StatusCode != http.StatusOK {
		return false, fmt.Errorf("ask the manager for its licence: HTTP %d", res.StatusCode)
	}
	var l api.ManagerLicence
	if err := json.Unmarshal(b, &l); err != nil {
		return false, fmt.Errorf("ask the manager for its licence: %w", err)
	}
	return slices.Contains(l.Options, api.LicenceOptionSecured), nil
}
