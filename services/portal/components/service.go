// Package components is the portal side of the component registry: one-time join tokens, the
// join endpoint that certifies a manager, router or proxy for its FQDN with the internal CA, the
// mutual-TLS heartbeat endpoint, and the super admin's list, FQDN change and certificate upload.
package components

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/stoa-rooms/stoa/services/portal/apierr"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/stoa-rooms/stoa/provisioning/ca"
	"github.com/stoa-rooms/stoa/services/portal/store"
)

const (
	// TokenTTL is how long a join token stays usable.
	TokenTTL = 24 * time.Hour
	// CertValidity is the lifetime of a component certificate; components renew at two thirds.
	CertValidity = 90 * 24 * time.Hour
	// maxBody bounds every JSON body this package reads.
	maxBody = 64 << 10
	// DefaultHeartbeatInterval is used when Service.HeartbeatInterval is zero.
	DefaultHeartbeatInterval = 10 * time.Second
)

// Kinds are the component kinds that can join.
var Kinds = []string{"manager", "router", "proxy"}

// Service is the component registry. Fields are set once before use.
type Service struct {
	Store store.Store
	CA    *ca.CA
	Now   func() time.Time
	Log   *slog.Logger
	// InternalURL is https://host:port of the portal's mTLS listener, told to joining components.
	InternalURL       string
	HeartbeatInterval time.Duration
	// Audit records an action of the request's user (nil: not recorded).
	Audit func(r *http.Request, action, detail string)
	// Actor names the signed-in user of r for CreatedBy fields (nil: "superadmin").
	Actor func(r *http.Request) string
	// LookupHost resolves FQDNs for the list's warnings (nil: net.DefaultResolver).
	LookupHost func(ctx context.Context, host string) ([]string, error)
	// UploadRoots are extra trust anchors for uploaded component certificates (nil: system
	// roots and self-signed roots included in the upload), as for the portal's own upload.
	UploadRoots *x509.CertPool
	// TokenKey is the portal's meeting-token public key, handed to components in heartbeat
	// answers so routers can verify join tokens (nil: none sent).
	TokenKey ed25519.PublicKey
	// Secured reports the Secured option, told to components in heartbeat answers (nil: off).
	Secured func() bool

	// mu serialises read-modify-write of component rows (heartbeat promotion, FQDN change).
	mu sync.Mutex
}

func (s *Service) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

func (s *Service) log() *slog.Logger {
	if s.Log != nil {
		return s.Log
	}
	return slog.New(slog.DiscardHandler)
}

func (s *Service) interval() time.Duration {
	if s.HeartbeatInterval > 0 {
		return s.HeartbeatInterval
	}
	return DefaultHeartbeatInterval
}

func (s *Service) audit(r *http.Request, action, detail string) {
	if s.Audit != nil {
		s.Audit(r, action, detail)
	}
}

func (s *Service) actor(r *http.Request) string {
	if s.Actor != nil {
		if a := s.Actor(r); a != "" {
			return a
		}
	}
	return "superadmin"
}

// IdentityURI is the URI SAN naming component id in its certificate.
func IdentityURI(id string) *url.URL { return ca.ComponentURI(id) }

func validID(id string) bool { return ca.ValidComponentID(id) }

func newID() (string, error) {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("component id: %w", err)
	}
	return hex.EncodeToString(b), nil
}

// Certificates of component id kept besides its row, as PEM under settings keys: "next" is
// one issued but not yet presented by the component; "uploaded" a super admin's CA-signed
// chain. (The certificate slots need a private key, which the portal never holds for a
// component.) An empty value means none.
func nextSlot(id string) string     { return "component." + id + ".next_cert" }
func uploadedSlot(id string) string { return "component." + id + ".uploaded_cert" }

// slotPEM returns the certificate PEM under key, or nil when there is none.
func (s *Service) slotPEM(ctx context.Context, key string) ([]byte, error) {
	v, err := s.Store.Setting(ctx, key)
	if errors.Is(err, store.ErrNotFound) || len(v) == 0 {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return v, nil
}

func (s *Service) putSlot(ctx context.Context, key string, pemData []byte) error {
	return s.Store.PutSetting(ctx, key, pemData)
}

func (s *Service) clearSlot(ctx context.Context, key string) error {
	return s.Store.PutSetting(ctx, key, nil)
}

// apiError is a refusal with its HTTP status and stable code.
type apiError = apierr.Error

func errorf(status int, code, format string, args ...any) *apiError {
	return apierr.New(status, code, format, args...)
}

func writeJSON(w http.ResponseWriter, status int, v any) { apierr.WriteJSON(w, status, v) }

// writeErr answers err: an *apiError with its own status and code, anything else as a 500
// whose details go to the log only.
func (s *Service) writeErr(w http.ResponseWriter, r *http.Request, err error) {
	apierr.Write(w, r, s.log(), "component", err)
}

// decodeStrict decodes exactly one JSON object from r into v: unknown fields and trailing data
// are errors.
func decodeStrict(r io.Reader, v any) error {
	dec := json.NewDecoder(r)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("invalid JSON body: %w", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return errors.New("invalid JSON body: trailing data after the object")
	}
	return nil
}

func checkKind(kind string) error {
	for _, k := range Kinds {
		if kind == k {
			return nil
		}
	}
	return errorf(http.StatusBadRequest, "component.bad_kind", "kind %q is not one of manager, router, proxy", kind)
}

// normFQDN lowercases and checks an FQDN given by a person.
func normFQDN(fqdn string) (string, error) {
	f := strings.ToLower(strings.TrimSpace(fqdn))
	if err := ca.CheckFQDN(f); err != nil {
		return "", errorf(http.StatusBadRequest, "component.bad_fqdn", "%v", err)
	}
	return f, nil
}

// checkAddress accepts the host:port a component reports (empty allowed).
func checkAddress(a string) error {
	if a == "" {
		return nil
	}
	if len(a) > 261 {
		return errors.New("address is longer than 261 characters")
	}
	if _, _, err := net.SplitHostPort(a); err != nil {
		return fmt.Errorf("address %q is not host:port: %w", a, err)
	}
	return nil
}

// checkVersion accepts up to 64 printable ASCII characters.
func checkVersion(v string) error {
	if len(v) > 64 {
		return errors.New("version is longer than 64 characters")
	}
	for i := 0; i < len(v); i++ {
		if v[i] < 0x20 || v[i] > 0x7e {
			return errors.New("version contains a non-printable character")
		}
	}
	return nil
}
