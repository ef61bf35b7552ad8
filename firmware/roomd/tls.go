package roomd

import (
	"crypto/tls"
	"crypto/x509"
	"net"
	"net/http"
	"time"
)

// aeadSuites is Stoa's TLS 1.2 suite list (the same policy as services/certs, which firmware
// may not import): ECDHE with AES-GCM or ChaCha20-Poly1305 only. TLS 1.3 suites are all AEAD.
var aeadSuites = []uint16{
	tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
	tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
	tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
	tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
	tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
	tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
}

// clientTLS is the base client policy: TLS 1.2 minimum, AEAD suites only.
func clientTLS() *tls.Config {
	return &tls.Config{MinVersion: tls.VersionTLS12, CipherSuites: aeadSuites}
}

// pairingTLS is used only for the pairing exchange. The room has no trust anchor yet, so it
// cannot verify the portal's certificate; it does not need to: the CPace exchange keyed by the
// code authenticates both ends and seals the enrollment and grant, so a TLS-terminating man in
// the middle that does not know the code learns nothing and changes nothing. TLS here only
// keeps the locator and shares off the wire for passive observers.
func pairingTLS() *tls.Config {
	c := clientTLS()
	c.InsecureSkipVerify = true //nolint:gosec // authenticated by the PAKE, see above
	return c
}

// mgmtTLS verifies the management listener against the bundle's pool only (no system roots)
// and presents the room's own client certificate, read at each handshake so a renewal takes
// effect on the next connection.
func mgmtTLS(roots *x509.CertPool, serverName string, cert func() *tls.Certificate) *tls.Config {
	c := clientTLS()
	c.RootCAs = roots
	c.ServerName = serverName
	c.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return cert(), nil }
	return c
}

// portalCheckTLS verifies the portal's public HTTPS against the bundle's PortalRoots only.
func portalCheckTLS(roots *x509.CertPool, serverName string) *tls.Config {
	c := clientTLS()
	c.RootCAs = roots
	c.ServerName = serverName
	return c
}

// newTransport builds an HTTP transport with tc and short connect/handshake limits.
func newTransport(tc *tls.Config) *http.Transport {
	return &http.Transport{
		TLSClientConfig:     tc,
		ForceAttemptHTTP2:   true,
		DialContext:         (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		TLSHandshakeTimeout: 10 * time.Second,
		IdleConnTimeout:     90 * time.Second,
		MaxIdleConnsPerHost: 2,
	}
}
