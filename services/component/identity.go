package component

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/stoa-rooms/stoa/provisioning/ca"
	"github.com/stoa-rooms/stoa/services/api"
	"github.com/stoa-rooms/stoa/services/certs"
)

// Files of a component's data directory.
const (
	keyFile      = "key.pem"        // its private key, 0600; never leaves the host
	certFile     = "cert.pem"       // its internal-CA certificate: client identity, served by default
	caFile       = "ca.pem"         // the portal's internal CA root
	servedFile   = "served.pem"     // a CA-signed chain a super admin uploaded, served instead
	identityFile = "component.json" // written last at join: its presence means "joined"
)

// identity is component.json.
type identity struct {
	ID          string `json:"id"`
	Kind        string `json:"kind"`
	FQDN        string `json:"fqdn"`
	PortalURL   string `json:"portal_url"`
	InternalURL string `json:"internal_url"`
}

// Joined reports whether dataDir holds a component identity from an earlier join.
func Joined(dataDir string) bool {
	_, err := os.Stat(filepath.Join(dataDir, identityFile))
	return err == nil
}

// state is everything loaded from the data directory.
type state struct {
	id     identity
	key    crypto.Signer
	cert   tls.Certificate // internal identity, Leaf set
	roots  *x509.CertPool  // internal CA
	caCert *x509.Certificate
	served *tls.Certificate // uploaded chain, nil when none
}

func loadState(dir string) (*state, error) {
	var st state
	b, err := os.ReadFile(filepath.Join(dir, identityFile))
	if err != nil {
		return nil, fmt.Errorf("load identity: %w", err)
	}
	if err := json.Unmarshal(b, &st.id); err != nil {
		return nil, fmt.Errorf("load identity: %s: %w", identityFile, err)
	}
	keyPEM, err := os.ReadFile(filepath.Join(dir, keyFile))
	if err != nil {
		return nil, fmt.Errorf("load identity: %w", err)
	}
	certPEM, err := os.ReadFile(filepath.Join(dir, certFile))
	if err != nil {
		return nil, fmt.Errorf("load identity: %w", err)
	}
	if st.cert, err = certs.LoadKeyPair(certPEM, keyPEM); err != nil {
		return nil, fmt.Errorf("load identity: %w", err)
	}
	st.key = st.cert.PrivateKey.(crypto.Signer)
	caPEM, err := os.ReadFile(filepath.Join(dir, caFile))
	if err != nil {
		return nil, fmt.Errorf("load identity: %w", err)
	}
	if st.caCert, st.roots, err = parseRoot(caPEM); err != nil {
		return nil, fmt.Errorf("load identity: %w", err)
	}
	servedPEM, err := os.ReadFile(filepath.Join(dir, servedFile))
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return nil, fmt.Errorf("load identity: %w", err)
	default:
		if tc, err := certs.LoadKeyPair(servedPEM, keyPEM); err == nil {
			st.served = &tc
		} // else: unusable leftover, served is dropped at the next heartbeat
	}
	return &st, nil
}

func parseRoot(p []byte) (*x509.Certificate, *x509.CertPool, error) {
	chain, err := certs.ParseChainPEM(p)
	if err != nil {
		return nil, nil, fmt.Errorf("internal CA: %w", err)
	}
	if !chain[0].IsCA {
		return nil, nil, errors.New("internal CA: certificate is not a CA")
	}
	pool := x509.NewCertPool()
	pool.AddCert(chain[0])
	return chain[0], pool, nil
}

// newCSR makes a CSR for fqdn signed by key (RFC 2986). The portal certifies the FQDN it
// bound to the token, so the names here are informative only.
func newCSR(key crypto.Signer, fqdn string) (string, error) {
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{
		Subject: pkix.Name{CommonName: fqdn}, DNSNames: []string{fqdn},
	}, key)
	if err != nil {
		return "", fmt.Errorf("create CSR: %w", err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der})), nil
}

// join exchanges the one-time token for an identity over the portal's public HTTPS and writes
// it to dir.
func join(ctx context.Context, cfg Config, address string, client *http.Client) (*state, error) {
	if cfg.JoinToken == "" {
		return nil, errors.New("not joined: get a join token from Super Admin → Components and pass --join-token")
	}
	if cfg.PortalURL == "" {
		return nil, errors.New("not joined: the portal URL is not configured")
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("join: generate key: %w", err)
	}
	csr, err := newCSR(key, cfg.FQDN)
	if err != nil {
		return nil, fmt.Errorf("join: %w", err)
	}
	body, _ := json.Marshal(api.JoinRequest{CSRPEM: csr, Address: address, Version: cfg.Version})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimRight(cfg.PortalURL, "/")+"/api/v1/components/join", bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("join: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+cfg.JoinToken)
	res, err := client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("join portal %s: %w", cfg.PortalURL, err)
	}
	defer res.Body.Close()
	rb, err := io.ReadAll(io.LimitReader(res.Body, 1<<20))
	if err != nil {
		return nil, fmt.Errorf("join portal: read answer: %w", err)
	}
	if res.StatusCode != http.StatusOK {
		var ae api.Error
		if json.Unmarshal(rb, &ae) == nil && ae.Code != "" {
			return nil, fmt.Errorf("join portal: refused (%s): %s", ae.Code, ae.Message)
		}
		return nil, fmt.Errorf("join portal: HTTP %d", res.StatusCode)
	}
	var jr api.JoinResponse
	if err := json.Unmarshal(rb, &jr); err != nil {
		return nil, fmt.Errorf("join portal: answer: %w", err)
	}
	st, err := checkJoinResponse(jr, key, cfg.Now())
	if err != nil {
		return nil, fmt.Errorf("join portal: %w", err)
	}
	st.id.PortalURL = cfg.PortalURL
	if err := saveJoin(cfg.DataDir, st, key, jr); err != nil {
		return nil, err
	}
	return st, nil
}

// checkJoinResponse trusts nothing the portal sent until it fits together: the certificate is
// for our key, chains to the given root, names our ID, and the internal URL is https.
func checkJoinResponse(jr api.JoinResponse, key crypto.Signer, now time.Time) (*state, error) {
	if !ca.ValidComponentID(jr.ComponentID) {
		return nil, fmt.Errorf("component ID %q is malformed", jr.ComponentID)
	}
	u, err := url.Parse(jr.InternalURL)
	if err != nil || u.Scheme != "https" || u.Host == "" {
		return nil, fmt.Errorf("internal URL %q is not https://host:port", jr.InternalURL)
	}
	caCert, roots, err := parseRoot([]byte(jr.CAPEM))
	if err != nil {
		return nil, err
	}
	keyPEM, err := certs.MarshalKeyPEM(key)
	if err != nil {
		return nil, err
	}
	tc, err := certs.LoadKeyPair([]byte(jr.CertPEM), keyPEM)
	if err != nil {
		return nil, err
	}
	if err := verifyIdentity(tc.Leaf, roots, jr.ComponentID, now); err != nil {
		return nil, err
	}
	return &state{
		id:  identity{ID: jr.ComponentID, Kind: jr.Kind, FQDN: jr.FQDN, InternalURL: jr.InternalURL},
		key: key, cert: tc, roots: roots, caCert: caCert,
	}, nil
}

// verifyIdentity checks that leaf is an internal-CA certificate of component id.
func verifyIdentity(leaf *x509.Certificate, roots *x509.CertPool, id string, now time.Time) error {
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: roots, CurrentTime: now, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
		return fmt.Errorf("certificate does not verify against the internal CA: %w", err)
	}
	if got, ok := ca.ComponentID(leaf); !ok || got != id {
		return fmt.Errorf("certificate names component %q, not %q", got, id)
	}
	return nil
}

func saveJoin(dir string, st *state, key crypto.Signer, jr api.JoinResponse) error {
	keyPEM, err := certs.MarshalKeyPEM(key)
	if err != nil {
		return fmt.Errorf("save identity: %w", err)
	}
	idJSON, err := json.MarshalIndent(st.id, "", "  ")
	if err != nil {
		return fmt.Errorf("save identity: %w", err)
	}
	os.Remove(filepath.Join(dir, servedFile)) // a chain for an earlier key is useless now
	for _, f := range []struct {
		name string
		data []byte
		perm os.FileMode
	}{
		{keyFile, keyPEM, 0o600},
		{certFile, []byte(jr.CertPEM), 0o644},
		{caFile, []byte(jr.CAPEM), 0o644},
		{identityFile, append(idJSON, '\n'), 0o644}, // last: marks the join complete
	} {
		if err := ca.WriteFileAtomic(filepath.Join(dir, f.name), f.data, f.perm); err != nil {
			return fmt.Errorf("save identity: %w", err)
		}
	}
	return nil
}

func saveIdentityJSON(dir string, id identity) error {
	b, err := json.MarshalIndent(id, "", "  ")
	if err != nil {
		return fmt.Errorf("save identity: %w", err)
	}
	return ca.WriteFileAtomic(filepath.Join(dir, identityFile), append(b, '\n'), 0o644)
}

// advertisedAddress is the host:port the portal shows for this component: its FQDN and the
// port it listens on.
func advertisedAddress(fqdn string, ln net.Listener) string {
	_, port, err := net.SplitHostPort(ln.Addr().String())
	if err != nil {
		return ln.Addr().String()
	}
	return net.JoinHostPort(fqdn, port)
}
