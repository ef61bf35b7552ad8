// Package certs handles the server certificates of the portal and its components: key and CSR
// generation, parsing of uploaded certificates in every common container, validation before
// anything changes, and serving through an atomically swapped holder so activation needs no
// restart.
package certs

import (
	"crypto/tls"
	"errors"
	"sync/atomic"
)

// Holder serves one certificate chain through tls.Config.GetCertificate. Set swaps it atomically:
// handshakes in flight finish with the old chain, new ones see the new chain.
type Holder struct {
	cur atomic.Pointer[tls.Certificate]
}

// Set makes c the served certificate.
func (h *Holder) Set(c *tls.Certificate) { h.cur.Store(c) }

// Get returns the served certificate, or nil before the first Set.
func (h *Holder) Get() *tls.Certificate { return h.cur.Load() }

// GetCertificate implements tls.Config.GetCertificate.
func (h *Holder) GetCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	c := h.cur.Load()
	if c == nil {
		return nil, errors.New("certs: no certificate installed")
	}
	return c, nil
}

// AEADSuites are the TLS 1.2 cipher suites Stoa allows: ECDHE with AES-GCM or ChaCha20-Poly1305
// only. TLS 1.3 suites are all AEAD and not configurable in Go.
var AEADSuites = []uint16{
	tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
	tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
	tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
	tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
	tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
	tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
}

// ServerConfig returns Stoa's server TLS policy: TLS 1.2 minimum (1.3 preferred by Go's
// negotiation), AEAD suites only, certificate from h.
func ServerConfig(h *Holder) *tls.Config {
	return &tls.Config{
		MinVersion:     tls.VersionTLS12,
		CipherSuites:   AEADSuites,
		GetCertificate: h.GetCertificate,
		NextProtos:     []string{"h2", "http/1.1"},
	}
}

// ClientConfig returns Stoa's client TLS policy with the same version and suite limits.
func ClientConfig() *tls.Config {
	return &tls.Config{MinVersion: tls.VersionTLS12, CipherSuites: AEADSuites}
}
