// Package acme obtains and renews the portal's public HTTPS certificate from an ACME CA
// (RFC 8555, https://www.rfc-editor.org/rfc/rfc8555), proving control of the portal's FQDN with
// the tls-alpn-01 (RFC 8737) or http-01 (RFC 8555 section 8.3) challenge, both answered by the
// portal's own listeners.
package acme

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	xacme "golang.org/x/crypto/acme"

	"github.com/stoa-rooms/stoa/services/certs"
)

// ChallengeType names an ACME challenge this package can answer.
type ChallengeType string

const (
	// ChallengeAuto prefers tls-alpn-01 and falls back to http-01.
	ChallengeAuto ChallengeType = ""
	// ChallengeTLSALPN01 is RFC 8737: a self-signed certificate on the HTTPS port.
	ChallengeTLSALPN01 ChallengeType = "tls-alpn-01"
	// ChallengeHTTP01 is RFC 8555 section 8.3: a token on the plain-HTTP port.
	ChallengeHTTP01 ChallengeType = "http-01"
)

// Settings is where the account key and the last issuance are kept; store.Store satisfies it.
// Setting returns an error matching store.ErrNotFound when the key is absent.
type Settings interface {
	Setting(ctx context.Context, key string) ([]byte, error)
	PutSetting(ctx context.Context, key string, value []byte) error
}

// Config says which CA to use and for which name.
type Config struct {
	// DirectoryURL is the CA's ACME directory (https only, RFC 8555 section 6.1).
	DirectoryURL string
	// Email is the account contact; empty registers without one.
	Email string
	// FQDN is the single DNS name the certificate is issued for.
	FQDN string
	// Roots are extra roots trusted for the directory's HTTPS; nil uses the system pool.
	Roots *x509.CertPool
	// Now is the clock for renewal decisions; nil is time.Now.
	Now func() time.Time

	// Challenge forces one challenge type; ChallengeAuto picks tls-alpn-01 when offered.
	Challenge ChallengeType
	// PollInterval is the wait between authorization and order status checks; 0 is 1 s.
	PollInterval time.Duration
	// After is the renewer's timer; nil is time.After. Tests inject one to avoid sleeping.
	After func(time.Duration) <-chan time.Time
}

// Client talks to one ACME CA for one FQDN. It is safe for concurrent use; issuances are
// serialized so the challenge responders never mix two orders.
type Client struct {
	cfg        Config
	fqdn       string
	settings   Settings
	log        *slog.Logger
	httpClient *http.Client

	obtainMu sync.Mutex    // one issuance at a time
	ac       *xacme.Client // registered account, guarded by obtainMu

	chalMu     sync.RWMutex
	alpnCerts  map[string]*tls.Certificate // lower-case FQDN -> tls-alpn-01 certificate
	httpTokens map[string]string           // token -> key authorization

	stateMu sync.Mutex
	state   State
}

// New returns a Client. Configuration problems are reported by Obtain and Run, so that a
// portal with a half-filled ACME form still starts.
func New(cfg Config, settings Settings, log *slog.Logger) *Client {
	if log == nil {
		log = slog.Default()
	}
	tlsCfg := certs.ClientConfig()
	tlsCfg.RootCAs = cfg.Roots
	return &Client{
		cfg:      cfg,
		fqdn:     strings.ToLower(strings.TrimSuffix(strings.TrimSpace(cfg.FQDN), ".")),
		settings: settings,
		log:      log.With("component", "acme"),
		httpClient: &http.Client{
			Timeout: 30 * time.Second,
			Transport: &http.Transport{
				Proxy:               http.ProxyFromEnvironment,
				TLSClientConfig:     tlsCfg,
				TLSHandshakeTimeout: 10 * time.Second,
				ForceAttemptHTTP2:   true,
				MaxIdleConns:        4,
				IdleConnTimeout:     90 * time.Second,
			},
		},
		alpnCerts:  map[string]*tls.Certificate{},
		httpTokens: map[string]string{},
	}
}

func (c *Client) now() time.Time {
	if c.cfg.Now != nil {
		return c.cfg.Now()
	}
	return time.Now()
}

func (c *Client) pollInterval() time.Duration {
	if c.cfg.PollInterval > 0 {
		return c.cfg.PollInterval
	}
	return time.Second
}

// validate checks the configuration before anything is sent or stored.
func (c *Client) validate() error {
	u, err := url.Parse(c.cfg.DirectoryURL)
	if err != nil || u.Host == "" {
		return fmt.Errorf("acme: directory URL %q: %w: not an absolute URL", c.cfg.DirectoryURL, ErrConfig)
	}
	if u.Scheme != "https" {
		return fmt.Errorf("acme: directory URL %q: %w: ACME requires https (RFC 8555 section 6.1)", c.cfg.DirectoryURL, ErrConfig)
	}
	if err := checkFQDN(c.fqdn); err != nil {
		return fmt.Errorf("acme: FQDN %q: %w: %v", c.cfg.FQDN, ErrConfig, err)
	}
	switch c.cfg.Challenge {
	case ChallengeAuto, ChallengeTLSALPN01, ChallengeHTTP01:
	default:
		return fmt.Errorf("acme: challenge %q: %w: want %q or %q", c.cfg.Challenge, ErrConfig, ChallengeTLSALPN01, ChallengeHTTP01)
	}
	if strings.ContainsAny(c.cfg.Email, " \t\r\n<>") {
		return fmt.Errorf("acme: email %q: %w: not a plain address", c.cfg.Email, ErrConfig)
	}
	return nil
}

// checkFQDN accepts a plain multi-label DNS name: no wildcard (the supported challenges cannot
// prove one), no IP literal, LDH labels of 1-63 octets.
func checkFQDN(name string) error {
	if name == "" {
		return fmt.Errorf("empty")
	}
	if len(name) > 253 {
		return fmt.Errorf("longer than 253 characters")
	}
	if strings.Contains(name, "*") {
		return fmt.Errorf("wildcard names cannot be proven with tls-alpn-01 or http-01")
	}
	if net.ParseIP(name) != nil {
		return fmt.Errorf("is an IP address, not a DNS name")
	}
	labels := strings.Split(name, ".")
	if len(labels) < 2 {
		return fmt.Errorf("needs at least two labels")
	}
	for _, l := range labels {
		if l == "" || len(l) > 63 {
			return fmt.Errorf("label %q must be 1-63 characters", l)
		}
		if l[0] == '-' || l[len(l)-1] == '-' {
			return fmt.Errorf("label %q starts or ends with '-'", l)
		}
		for _, r := range l {
			if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-') {
				return fmt.Errorf("label %q has character %q", l, r)
			}
		}
	}
	return nil
}
