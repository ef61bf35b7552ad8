package component

import (
	"crypto/ed25519"
	"crypto/tls"
	"crypto/x509"
	"net/http"
	"slices"
	"time"

	"github.com/stoa-rooms/stoa/services/api"
	"github.com/stoa-rooms/stoa/services/certs"
)

// peers is what the portal's heartbeat answers tell a component about the others.
type peers struct {
	tokenKey   ed25519.PublicKey
	managerURL string
	secured    bool
}

// Runtime is a running component as its role sees it: its identity, what the portal told it
// about its peers (refreshed at every heartbeat), and mutual-TLS clients for calls to other
// components. Config.Ready receives it once the identity is loaded, before serving.
type Runtime struct{ rt *runtime }

// ID is the component ID the portal assigned.
func (r *Runtime) ID() string { return r.rt.state().id.ID }

// Kind is "manager", "router" or "proxy".
func (r *Runtime) Kind() string { return r.rt.state().id.Kind }

// FQDN is the name the portal certified (it may change at a heartbeat).
func (r *Runtime) FQDN() string { return r.rt.state().id.FQDN }

// URL is https://host:port where this component serves, as it reports to the portal.
func (r *Runtime) URL() string {
	r.rt.mu.Lock()
	defer r.rt.mu.Unlock()
	return "https://" + r.rt.addr
}

// TokenKey is the portal's meeting-token public key, nil until a heartbeat answer carried one.
func (r *Runtime) TokenKey() ed25519.PublicKey {
	r.rt.mu.Lock()
	defer r.rt.mu.Unlock()
	return slices.Clone(r.rt.peers.tokenKey)
}

// ManagerURL is https://host:port of the online manager, "" when the portal knows none.
func (r *Runtime) ManagerURL() string {
	r.rt.mu.Lock()
	defer r.rt.mu.Unlock()
	return r.rt.peers.managerURL
}

// Secured reports whether the Secured option was on at the last heartbeat answer.
func (r *Runtime) Secured() bool {
	r.rt.mu.Lock()
	defer r.rt.mu.Unlock()
	return r.rt.peers.secured
}

// Roots is the internal CA pool that verifies other components and the portal.
func (r *Runtime) Roots() *x509.CertPool { return r.rt.state().roots }

// ClientTLS is Stoa's client TLS policy for calls to other components: it trusts only the
// internal CA and presents this component's current internal certificate (read at each
// handshake, so a reissued one is used from the next connection on).
func (r *Runtime) ClientTLS() *tls.Config {
	tc := certs.ClientConfig()
	tc.RootCAs = r.Roots()
	tc.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
		c := r.rt.state().cert
		return &c, nil
	}
	return tc
}

// HTTPClient is an HTTP client using ClientTLS with the given overall timeout per request.
func (r *Runtime) HTTPClient(timeout time.Duration) *http.Client {
	return &http.Client{Timeout: timeout, Transport: &http.Transport{
		TLSClientConfig: r.ClientTLS(), ForceAttemptHTTP2: true,
		MaxIdleConnsPerHost: 4, IdleConnTimeout: 90 * time.Second,
	}}
}

// setPeers records what a heartbeat answer said about the other components. An answer
// without a token key keeps the one known (an older portal, or a transient omission).
func (rt *runtime) setPeers(resp api.HeartbeatResponse) {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	if len(resp.TokenKey) == ed25519.PublicKeySize {
		rt.peers.tokenKey = ed25519.PublicKey(slices.Clone(resp.TokenKey))
	} else if len(resp.TokenKey) != 0 {
		rt.log.Warn("heartbeat answer carries a token key of the wrong size; ignored", "bytes", len(resp.TokenKey))
	}
	rt.peers.managerURL = resp.ManagerURL
	rt.peers.secured = resp.Secured
}

// IsPortal reports whether r came with the portal's internal certificate, verified against the
// internal CA in the handshake.
func IsPortal(r *http.Request) bool {
	if r.TLS == nil || len(r.TLS.VerifiedChains) == 0 {
		return false
	}
	for _, u := range r.TLS.VerifiedChains[0][0].URIs {
		if u.String() == api.PortalIdentityURI {
			return true
		}
	}
	return false
}

// RequirePortalClient guards routes only the portal may call (the manager's admit): the
// request must carry the portal's internal certificate. Anything else gets 403.
func RequirePortalClient(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !IsPortal(r) {
			http.Error(w, "forbidden: the portal's internal certificate is required", http.StatusForbidden)
			return
		}
		next.ServeHTTP(w, r)
	})
}
