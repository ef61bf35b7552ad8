package api

import "time"

// JoinTokenRequest is POST /api/v1/components/tokens (super admin): a one-time token for a
// component of Kind ("manager", "router", "proxy") that will be reachable at FQDN.
type JoinTokenRequest struct {
	Kind string `json:"kind"`
	FQDN string `json:"fqdn"`
}

// JoinTokenResponse carries the token, shown once.
type JoinTokenResponse struct {
	Token     string    `json:"token"`
	ExpiresAt time.Time `json:"expires_at"`
}

// JoinRequest is POST /api/v1/components/join, sent by a component with its one-time token in
// the Authorization header ("Bearer <token>") over the portal's public HTTPS.
type JoinRequest struct {
	CSRPEM  string `json:"csr_pem"`
	Address string `json:"address"` // host:port of the component's HTTPS listener
	Version string `json:"version"`
}

// JoinResponse gives the component its identity.
type JoinResponse struct {
	ComponentID string `json:"component_id"`
	Kind        string `json:"kind"`
	FQDN        string `json:"fqdn"`
	CertPEM     string `json:"cert_pem"`     // leaf + intermediates, for the component's FQDN
	CAPEM       string `json:"ca_pem"`       // the portal's internal component CA root
	InternalURL string `json:"internal_url"` // the portal's mTLS endpoint (https://host:port)
}

// PortalIdentityURI is the URI SAN of the portal's internal certificate: components accept
// calls from the portal (for example the manager's admit) by it, as they accept each other by
// their urn:stoa:component:<id> SAN.
const PortalIdentityURI = "urn:stoa:portal"

// Heartbeat is POST /api/v1/components/heartbeat on the portal's mTLS endpoint. When the
// portal reissued the component's certificate (FQDN change, renewal) the response carries it.
type Heartbeat struct {
	Address string `json:"address"`
	Version string `json:"version"`
	CSRPEM  string `json:"csr_pem,omitempty"` // sent when the component wants a new certificate
}

// HeartbeatResponse answers a heartbeat.
type HeartbeatResponse struct {
	FQDN    string `json:"fqdn"`
	CertPEM string `json:"cert_pem,omitempty"` // a new certificate, when one was issued
	// TokenKey is the portal's Ed25519 public key (32 bytes) that signs meeting join tokens.
	TokenKey []byte `json:"token_key,omitempty"`
	// ManagerURL is https://host:port of the online manager component, "" when none is online.
	ManagerURL string `json:"manager_url,omitempty"`
	// Secured is true while the Secured option is on: component links are TLS 1.3 only and
	// routers end calls in progress when it changes (api.SignalErrorPolicyChanged).
	Secured bool `json:"secured,omitempty"`
}

// Component is one row of GET /api/v1/components.
type Component struct {
	ID            string    `json:"id"`
	Kind          string    `json:"kind"`
	FQDN          string    `json:"fqdn"`
	Address       string    `json:"address"`
	Version       string    `json:"version"`
	Status        string    `json:"status"` // "online" (heartbeat within 3 intervals) or "offline"
	LastHeartbeat time.Time `json:"last_heartbeat"`
	CertNotAfter  time.Time `json:"cert_not_after"`
	Warnings      []string  `json:"warnings,omitempty"` // FQDN not in certificate, FQDN does not resolve
}

// ComponentFQDN is PUT /api/v1/components/{id}/fqdn: changing it reissues the certificate.
type ComponentFQDN struct {
	FQDN string `json:"fqdn"`
}
