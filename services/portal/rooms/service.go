// Package rooms is the portal side of room appliances: pending pairings and the public pairing
// endpoints (CPace over the room's code, provisioning/pairing), the device CA that certifies
// rooms, the room registry and the Admin → Rooms API, the signed trust bundle and its push,
// the management endpoints on the internal mutual-TLS listener, rotation of the portal's
// public certificate without stranding a room, and unpairing (revocation).
package rooms

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"github.com/stoa-rooms/stoa/services/portal/apierr"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/stoa-rooms/stoa/provisioning/ca"
	"github.com/stoa-rooms/stoa/services/portal/auth"
	"github.com/stoa-rooms/stoa/services/portal/store"
)

// Defaults of the timing and size policy (design of issue 3).
const (
	// CertValidity is the lifetime of a room's client certificate; rooms renew with a third left.
	CertValidity = 90 * 24 * time.Hour
	// DefaultWaitTimeout bounds a room's long-poll for the portal's challenge.
	DefaultWaitTimeout = 25 * time.Second
	// DefaultExchangeTimeout bounds how long the admin's pair call waits for the room's confirm.
	DefaultExchangeTimeout = 30 * time.Second
	// DefaultPollTimeout bounds a management poll.
	DefaultPollTimeout = 25 * time.Second
	// DefaultPushWait is how long a push waits for acknowledgements before answering.
	DefaultPushWait = 5 * time.Second
	// OnlineWindow: a room is online with a poll in flight or one that ended this recently.
	OnlineWindow = 35 * time.Second
	// DefaultMaxPending bounds the pending pairings kept in memory (each a few hundred bytes).
	DefaultMaxPending = 256
	// maxPendingPerIP keeps one host from filling the table.
	maxPendingPerIP = 8
	// maxBody bounds every JSON body of this package.
	maxBody = 64 << 10
	// maxRoots bounds the portal roots kept in a bundle; the oldest are dropped first.
	maxRoots = 8
	// keyFile holds the bundle-signing Ed25519 key (PKCS#8 PEM, 0600).
	keyFile = "bundle-key.pem"
)

// Options configure a Service.
type Options struct {
	Store store.Store
	// DataDir is the portal's data directory: the device CA (device-ca/) and the bundle key
	// live there.
	DataDir string
	// ComponentCA is the internal CA; its root signs the management listener's certificate.
	ComponentCA *ca.CA
	// ServedAnchor returns the top certificate of the chain the portal serves now.
	ServedAnchor func() *x509.Certificate
	Now          func() time.Time
	Log          *slog.Logger
	// Audit records an admin's action on request r (auth.Manager.Audit).
	Audit func(r *http.Request, action, detail string)
	Rand  io.Reader
	// Join admits a room into a meeting (POST /api/v1/room/join); nil: rooms cannot join.
	Join JoinFunc

	WaitTimeout, ExchangeTimeout, PollTimeout, PushWait time.Duration
	MaxPending                                          int
}

// Service is the portal's room registry. Create it with New.
type Service struct {
	o        Options
	deviceCA *ca.CA
	key      ed25519.PrivateKey

	urlMu     sync.Mutex
	portalURL string
	mgmtURL   string

	bmu sync.Mutex // the bundle state
	bs  *bundleState

	pmu     sync.Mutex // pending pairings
	pending map[string]*pending
	byLoc   map[string]map[string]*pending

	cmu   sync.Mutex // management connections and acknowledgements
	conns map[string]*conn
	acked chan struct{} // closed and replaced whenever a room reports

	panels  panelBook // touch panels reported by rooms, revocations pending (panels.go)
	updates offerBook // when each room last got an update offer at once (update.go)

	jmu       sync.Mutex             // join policy counters
	joinTimes map[string][]time.Time // room ID → recent joins
	joinPINs  map[string][]time.Time // meeting ID → recent wrong PINs from rooms

	done      chan struct{}
	closeOnce sync.Once
}

// New loads (or creates) the device CA and the bundle key under o.DataDir.
func New(o Options) (*Service, error) {
	if o.Store == nil || o.ComponentCA == nil || o.ServedAnchor == nil || o.DataDir == "" {
		return nil, errors.New("rooms: store, component CA, served anchor and data dir are required")
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.Rand == nil {
		o.Rand = rand.Reader
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&o.WaitTimeout, DefaultWaitTimeout)
	def(&o.ExchangeTimeout, DefaultExchangeTimeout)
	def(&o.PollTimeout, DefaultPollTimeout)
	def(&o.PushWait, DefaultPushWait)
	if o.MaxPending <= 0 {
		o.MaxPending = DefaultMaxPending
	}
	dca, err := ca.LoadOrCreate(filepath.Join(o.DataDir, "device-ca"), "Stoa device CA", o.Now())
	if err != nil {
		return nil, fmt.Errorf("rooms: load device CA: %w", err)
	}
	dca.Now = o.Now
	key, err := loadOrCreateKey(filepath.Join(o.DataDir, keyFile))
	if err != nil {
		return nil, err
	}
	return &Service{
		o: o, deviceCA: dca, key: key,
		pending: map[string]*pending{}, byLoc: map[string]map[string]*pending{},
		conns: map[string]*conn{}, acked: make(chan struct{}), done: make(chan struct{}),
	}, nil
}

// SetURLs tells the service where rooms reach the portal: its public HTTPS URL and the
// internal mutual-TLS listener (https://fqdn:port). Known once the listeners are bound.
func (s *Service) SetURLs(portalURL, mgmtURL string) {
	s.urlMu.Lock()
	defer s.urlMu.Unlock()
	s.portalURL, s.mgmtURL = portalURL, mgmtURL
}

func (s *Service) urls() (string, string) {
	s.urlMu.Lock()
	defer s.urlMu.Unlock()
	return s.portalURL, s.mgmtURL
}

// Shutdown ends every long-poll at once (the portal is stopping); idempotent.
func (s *Service) Shutdown() { s.closeOnce.Do(func() { close(s.done) }) }

// DeviceCA is the CA that certifies rooms.
func (s *Service) DeviceCA() *ca.CA { return s.deviceCA }

// BundleKey is the public key rooms verify bundles with.
func (s *Service) BundleKey() ed25519.PublicKey { return s.key.Public().(ed25519.PublicKey) }

// RoomURI is the URI SAN naming room id in its client certificate.
func RoomURI(id string) *url.URL { return &url.URL{Scheme: "urn", Opaque: "stoa:room:" + id} }

// RoomIDFromCert returns the room ID named by a certificate's urn:stoa:room: URI SAN.
func RoomIDFromCert(c *x509.Certificate) (string, bool) {
	for _, u := range c.URIs {
		if u.Scheme == "urn" {
			if id, ok := strings.CutPrefix(u.Opaque, "stoa:room:"); ok && validID(id) {
				return id, true
			}
		}
	}
	return "", false
}

// validID: room IDs are 32 lowercase hex digits.
func validID(id string) bool { return ca.ValidComponentID(id) }

func (s *Service) newID() (string, error) {
	b := make([]byte, 16)
	if _, err := io.ReadFull(s.o.Rand, b); err != nil {
		return "", fmt.Errorf("room id: %w", err)
	}
	return hex.EncodeToString(b), nil
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
	apierr.Write(w, r, s.o.Log, "rooms", err)
}

// audit records an admin's action (actor from the session).
func (s *Service) audit(r *http.Request, action, detail string) {
	if s.o.Audit != nil {
		s.o.Audit(r, action, detail)
	}
}

// auditAs records an action by a room or a pairing party, which have no session.
func (s *Service) auditAs(r *http.Request, actor, action, detail string) {
	e := store.AuditEntry{
		At: s.o.Now().UTC(), Actor: auth.CleanAuditText(actor), Action: action,
		Detail: auth.CleanAuditText(detail), Remote: auth.CleanAuditText(r.RemoteAddr),
	}
	if err := s.o.Store.AppendAudit(context.WithoutCancel(r.Context()), e); err != nil {
		s.o.Log.Error("append audit", "action", action, "err", err)
	}
}

// readBody reads at most maxBody bytes of r's body.
func readBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	if err != nil {
		return nil, errorf(http.StatusRequestEntityTooLarge, "request.too_large", "request body unreadable or larger than %d bytes", maxBody)
	}
	return b, nil
}

// decodeRequest reads r's body (bounded) and decodes it with decode; its errors are ready for
// writeErr (413 for an oversized body, 400 request.invalid for one that does not decode).
func decodeRequest[T any](w http.ResponseWriter, r *http.Request, decode func([]byte) (T, error)) (T, error) {
	var zero T
	b, err := readBody(w, r)
	if err != nil {
		return zero, err
	}
	v, err := decode(b)
	if err != nil {
		return zero, errorf(http.StatusBadRequest, "request.invalid", "%v", err)
	}
	return v, nil
}

// timer returns a channel that fires after d, and a function releasing it.
func timer(d time.Duration) (<-chan time.Time, func()) {
	t := time.NewTimer(d)
	return t.C, func() { t.Stop() }
}
