package acme

import (
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"

	xacme "golang.org/x/crypto/acme"
)

// ALPNProto is the ALPN protocol ID of tls-alpn-01 (RFC 8737 section 6.2). The portal's HTTPS
// listener must list it in NextProtos so the CA's handshake can negotiate it; TLSConfig does that.
const ALPNProto = "acme-tls/1"

// httpChallengePrefix is where http-01 tokens are served (RFC 8555 section 8.3).
const httpChallengePrefix = "/.well-known/acme-challenge/"

// IsACMEHello reports whether a TLS ClientHello is a CA's tls-alpn-01 validation: it offers the
// "acme-tls/1" protocol (RFC 8737 section 3). Browsers never offer it.
func IsACMEHello(hello *tls.ClientHelloInfo) bool {
	return hello != nil && slices.Contains(hello.SupportedProtos, ALPNProto)
}

// GetCertificate answers a tls-alpn-01 validation handshake with the challenge certificate for
// the requested name. It refuses other hellos and names without a pending challenge.
func (c *Client) GetCertificate(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
	if !IsACMEHello(hello) {
		return nil, errors.New("acme: not a tls-alpn-01 handshake")
	}
	name := strings.ToLower(strings.TrimSuffix(hello.ServerName, "."))
	c.chalMu.RLock()
	cert := c.alpnCerts[name]
	c.chalMu.RUnlock()
	if cert == nil {
		return nil, fmt.Errorf("acme: no tls-alpn-01 challenge pending for %q", name)
	}
	return cert, nil
}

// TLSConfig returns a copy of base that also answers tls-alpn-01: "acme-tls/1" is appended to
// NextProtos and ACME hellos get the challenge certificate; every other hello is served by base.
func (c *Client) TLSConfig(base *tls.Config) *tls.Config {
	cfg := base.Clone()
	if !slices.Contains(cfg.NextProtos, ALPNProto) {
		cfg.NextProtos = append(slices.Clone(cfg.NextProtos), ALPNProto)
	}
	next := base.GetCertificate
	cfg.GetCertificate = func(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
		if IsACMEHello(hello) {
			return c.GetCertificate(hello)
		}
		if next != nil {
			return next(hello)
		}
		return nil, nil // crypto/tls then picks from cfg.Certificates
	}
	return cfg
}

// HTTPHandler serves http-01 key authorizations under /.well-known/acme-challenge/ and hands
// every other request to fallback (the portal's redirect to HTTPS; nil answers 404).
func (c *Client) HTTPHandler(fallback http.Handler) http.Handler {
	if fallback == nil {
		fallback = http.NotFoundHandler()
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		token, ok := strings.CutPrefix(r.URL.Path, httpChallengePrefix)
		if !ok {
			fallback.ServeHTTP(w, r)
			return
		}
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		c.chalMu.RLock()
		keyAuth, found := c.httpTokens[token]
		c.chalMu.RUnlock()
		if !found || !validToken(token) {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "text/plain")
		_, _ = io.WriteString(w, keyAuth)
	})
}

// validToken accepts base64url tokens only (RFC 8555 section 8.1), so nothing else can ever
// be looked up or echoed.
func validToken(t string) bool {
	if t == "" || len(t) > 256 {
		return false
	}
	for _, r := range t {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
			return false
		}
	}
	return true
}

// pickChallenge chooses the challenge to answer: the forced one, else tls-alpn-01, else http-01.
func pickChallenge(forced ChallengeType, offered []*xacme.Challenge) (*xacme.Challenge, error) {
	prefs := []ChallengeType{ChallengeTLSALPN01, ChallengeHTTP01}
	if forced != ChallengeAuto {
		prefs = []ChallengeType{forced}
	}
	for _, want := range prefs {
		for _, ch := range offered {
			if ch.Type == string(want) {
				return ch, nil
			}
		}
	}
	types := make([]string, 0, len(offered))
	for _, ch := range offered {
		types = append(types, ch.Type)
	}
	return nil, fmt.Errorf("CA offers %v, none of %v", types, prefs)
}

// arm makes the responders answer chal for the FQDN and returns the function that disarms them.
func (c *Client) arm(ac *xacme.Client, chal *xacme.Challenge) (disarm func(), err error) {
	switch ChallengeType(chal.Type) {
	case ChallengeTLSALPN01:
		cert, err := ac.TLSALPN01ChallengeCert(chal.Token, c.fqdn)
		if err != nil {
			return nil, fmt.Errorf("make tls-alpn-01 certificate: %w", err)
		}
		c.chalMu.Lock()
		c.alpnCerts[c.fqdn] = &cert
		c.chalMu.Unlock()
		return func() {
			c.chalMu.Lock()
			delete(c.alpnCerts, c.fqdn)
			c.chalMu.Unlock()
		}, nil
	case ChallengeHTTP01:
		if !validToken(chal.Token) {
			return nil, fmt.Errorf("CA sent a malformed http-01 token")
		}
		keyAuth, err := ac.HTTP01ChallengeResponse(chal.Token)
		if err != nil {
			return nil, fmt.Errorf("make http-01 key authorization: %w", err)
		}
		c.chalMu.Lock()
		c.httpTokens[chal.Token] = keyAuth
		c.chalMu.Unlock()
		return func() {
			c.chalMu.Lock()
			delete(c.httpTokens, chal.Token)
			c.chalMu.Unlock()
		}, nil
	}
	return nil, fmt.Errorf("unsupported challenge %q", chal.Type)
}
