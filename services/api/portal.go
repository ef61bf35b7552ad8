// Package api holds the wire types of Stoa's published contract: the portal's JSON REST API
// under /api/v1, shared by the server, the firmware, the browser JavaScript and tests.
//
// Every state-changing call needs the session cookie (__Host-stoa_session) and the session's
// CSRF token in the X-CSRF-Token header. Errors come back as Error with a 4xx/5xx status.
package api

import "time"

// Error is the body of every failed API call. Code is stable and machine-readable (for example
// "cert.expired"); Message is for people.
type Error struct {
	Code    string `json:"code"`
	Message string `json:"error"`
}

// LoginRequest is POST /api/v1/login.
type LoginRequest struct {
	Name     string `json:"name"`
	Password string `json:"password"`
}

// Me is returned by POST /api/v1/login and GET /api/v1/me.
type Me struct {
	Name      string `json:"name"`
	Role      string `json:"role"`
	CSRFToken string `json:"csrf_token"`
}

// KeyRequest is POST /api/v1/security/key. Algorithm is one of "rsa2048", "rsa3072",
// "rsa4096", "ecdsa-p256", "ecdsa-p384".
type KeyRequest struct {
	Algorithm string `json:"algorithm"`
}

// KeyInfo describes the pending (generated, not yet certified) key.
type KeyInfo struct {
	Algorithm string    `json:"algorithm"`
	CreatedAt time.Time `json:"created_at"`
	HasCSR    bool      `json:"has_csr"`
}

// CSRRequest is POST /api/v1/security/csr. CommonName defaults to the portal FQDN, which is
// always included as a DNS SAN.
type CSRRequest struct {
	Country            string   `json:"country,omitempty"`
	State              string   `json:"state,omitempty"`
	Locality           string   `json:"locality,omitempty"`
	Organization       string   `json:"organization,omitempty"`
	OrganizationalUnit string   `json:"organizational_unit,omitempty"`
	CommonName         string   `json:"common_name,omitempty"`
	DNSNames           []string `json:"dns_names,omitempty"`
	IPAddresses        []string `json:"ip_addresses,omitempty"`
}

// CSRResponse carries the CSR as PEM; GET /api/v1/security/csr downloads the same PEM as a file.
type CSRResponse struct {
	CSRPEM string `json:"csr_pem"`
}

// CertInfo describes a certificate chain as shown on the Security and Components pages.
type CertInfo struct {
	Subject      string    `json:"subject"`
	DNSNames     []string  `json:"dns_names"`
	IPAddresses  []string  `json:"ip_addresses"`
	Issuer       string    `json:"issuer"`
	IssuerChain  []string  `json:"issuer_chain"` // subjects of the intermediates and root, leaf excluded
	Serial       string    `json:"serial"`       // hex
	SHA256       string    `json:"sha256"`       // hex fingerprint of the leaf DER, colon separated
	SHA1         string    `json:"sha1"`
	NotBefore    time.Time `json:"not_before"`
	NotAfter     time.Time `json:"not_after"`
	DaysLeft     int       `json:"days_left"`
	ExpiresSoon  bool      `json:"expires_soon"` // fewer than 30 days left
	KeyAlgorithm string    `json:"key_algorithm"`
	Source       string    `json:"source,omitempty"` // "self-signed", "uploaded", "acme", "internal-ca"
}

// SecurityState is GET /api/v1/security/certificate: what is served now, what rollback would
// restore, and what was uploaded and validated but not yet activated.
type SecurityState struct {
	FQDN     string    `json:"fqdn"`
	Active   CertInfo  `json:"active"`
	Previous *CertInfo `json:"previous,omitempty"`
	Staged   *CertInfo `json:"staged,omitempty"`
	Key      *KeyInfo  `json:"pending_key,omitempty"`
	ACME     ACMEState `json:"acme"`
}

// Upload is POST /api/v1/security/upload as multipart/form-data: field "certificate" (the leaf,
// or a PEM bundle, PKCS#7 or PKCS#12 file), zero or more "chain" files, optional "key" (PEM,
// when the key was not generated on the portal) and "password" (PKCS#12). On success the chain
// is staged and its CertInfo returned; nothing is served until POST /api/v1/security/activate.

// ACMEConfig is PUT /api/v1/security/acme. RootsPEM optionally names extra roots to trust for
// the directory's own HTTPS (for a private ACME CA).
type ACMEConfig struct {
	Enabled      bool   `json:"enabled"`
	DirectoryURL string `json:"directory_url"`
	Email        string `json:"email"`
	RootsPEM     string `json:"roots_pem,omitempty"`
}

// ACMEState is the ACME part of SecurityState.
type ACMEState struct {
	ACMEConfig
	LastError   string    `json:"last_error,omitempty"`
	LastIssued  time.Time `json:"last_issued,omitempty"`
	NextRenewal time.Time `json:"next_renewal,omitempty"`
}

// AuditEntry is one row of GET /api/v1/audit.
type AuditEntry struct {
	At     time.Time `json:"at"`
	Actor  string    `json:"actor"`
	Action string    `json:"action"`
	Detail string    `json:"detail"`
	Remote string    `json:"remote"`
}

// User is one row of GET /api/v1/users; POST /api/v1/users takes NewUser.
type User struct {
	Name string `json:"name"`
	Role string `json:"role"`
}

// NewUser creates an account.
type NewUser struct {
	Name     string `json:"name"`
	Role     string `json:"role"`
	Password string `json:"password"`
}
