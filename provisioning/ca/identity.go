package ca

import (
	"crypto/x509"
	"encoding/hex"
	"net/url"
	"strings"
)

// componentURNPrefix names a component in a certificate's URI SAN: urn:stoa:component:<id>.
const componentURNPrefix = "stoa:component:"

// ComponentURI is the URI SAN naming component id in its certificate.
func ComponentURI(id string) *url.URL {
	return &url.URL{Scheme: "urn", Opaque: componentURNPrefix + id}
}

// ValidComponentID reports whether id has the shape of a component ID: 32 lowercase hex digits.
func ValidComponentID(id string) bool {
	if len(id) != 32 || strings.ToLower(id) != id {
		return false
	}
	_, err := hex.DecodeString(id)
	return err == nil
}

// ComponentID returns the component ID a certificate names: its urn:stoa:component: URI SAN,
// or else a common name shaped like an ID.
func ComponentID(c *x509.Certificate) (string, bool) {
	for _, u := range c.URIs {
		if u.Scheme == "urn" {
			if id, ok := strings.CutPrefix(u.Opaque, componentURNPrefix); ok && ValidComponentID(id) {
				return id, true
			}
		}
	}
	if ValidComponentID(c.Subject.CommonName) {
		return c.Subject.CommonName, true
	}
	return "", false
}
