// Package meetings is the portal's meetings API: users create meetings (optionally with a
// PIN), join them (the portal asks the manager for a seat and a router, then signs a short-lived
// join token), and reach the router's signaling through the portal's own HTTPS (a WebSocket
// reverse proxy over mutual TLS), so browsers only ever need to trust the portal's certificate.
package meetings

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"github.com/stoa-rooms/stoa/services/portal/apierr"
	"log/slog"
	"math/big"
	"net/http"
	"sync"
	"time"

	"github.com/stoa-rooms/stoa/services/password"
	"github.com/stoa-rooms/stoa/services/portal/store"
)

// Limits.
const (
	maxBody        = 4 << 10 // every JSON body this package reads
	TokenLifetime  = 2 * time.Minute
	pinMaxFailures = 5 // wrong PINs per meeting within pinWindow before joins are refused
	pinWindow      = time.Minute
)

// Service serves the meetings API. Fields are set once before use.
type Service struct {
	Store    store.Store
	TokenKey ed25519.PrivateKey // signs join tokens
	// PublicURL is the portal's https://host[:port]: the origin browsers use, and the base
	// of the wss:// signaling URL handed out at join.
	PublicURL string
	// ManagerURL returns https://host:port of the online manager, "" when none.
	ManagerURL func(ctx context.Context) (string, error)
	// RouterURL returns https://host:port of router id when it is online, else an error.
	RouterURL func(ctx context.Context, id string) (string, error)
	// ClientTLS is the TLS client configuration for the manager and routers: the portal's
	// internal certificate and the internal CA roots.
	ClientTLS *tls.Config
	// PIN is the argon2id cost for meeting PINs (zero: password.Default).
	PIN password.Params
	// JoinRate and JoinBurst limit join attempts per user (zero: DefaultJoinRate and
	// DefaultJoinBurst); beyond them a join answers 429 meeting.join_rate.
	JoinRate  float64
	JoinBurst int
	Now       func() time.Time
	Log       *slog.Logger
	Audit     func(r *http.Request, action, detail string)
	// Secured reports whether the Secured option is on: join tokens then say so, and so do
	// join answers. Nil: off.
	Secured func() bool

	once      sync.Once
	client    *http.Client // to the manager
	transport *http.Transport
	pinMu     sync.Mutex
	pinFails  map[string][]time.Time // meeting ID → recent wrong PIN times
	joins     *joinLimiter
}

func (s *Service) init() {
	s.once.Do(func() {
		s.transport = &http.Transport{TLSClientConfig: s.ClientTLS.Clone(), ForceAttemptHTTP2: true,
			MaxIdleConnsPerHost: 4, IdleConnTimeout: 90 * time.Second}
		s.client = &http.Client{Timeout: 10 * time.Second, Transport: s.transport}
		s.pinFails = map[string][]time.Time{}
		s.joins = newJoinLimiter(s.JoinRate, s.JoinBurst)
	})
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

func (s *Service) audit(r *http.Request, action, detail string) {
	if s.Audit != nil {
		s.Audit(r, action, detail)
	}
}

func (s *Service) pinParams() password.Params {
	if s.PIN.MemoryKiB == 0 {
		return password.Default
	}
	return s.PIN
}

// apiError is a refusal with its HTTP status and stable code.
type apiError = apierr.Error

func errorf(status int, code, format string, args ...any) *apiError {
	return apierr.New(status, code, format, args...)
}

func writeJSON(w http.ResponseWriter, status int, v any) { apierr.WriteJSON(w, status, v) }

// writeErr answers err: an *apiError with its own status and code, a store ErrNotFound as 404,
// anything else as a 500 whose details go to the log only.
func (s *Service) writeErr(w http.ResponseWriter, r *http.Request, err error) {
	if errors.Is(err, store.ErrNotFound) && !errors.As(err, new(*apiError)) {
		err = errorf(http.StatusNotFound, "meeting.not_found", "no such meeting")
	}
	apierr.Write(w, r, s.log(), "meetings", err)
}

// newMeetingID draws ten uniformly random digits.
func newMeetingID() (string, error) {
	n, err := rand.Int(rand.Reader, big.NewInt(10_000_000_000))
	if err != nil {
		return "", fmt.Errorf("meeting id: %w", err)
	}
	return fmt.Sprintf("%010d", n), nil
}

// randomHex returns n random bytes as hex.
func randomHex(n int) (string, error) {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("random: %w", err)
	}
	return hex.EncodeToString(b), nil
}

// pinLocked reports whether meeting id had pinMaxFailures wrong PINs within pinWindow.
func (s *Service) pinLocked(id string, now time.Time) bool {
	s.pinMu.Lock()
	defer s.pinMu.Unlock()
	recent := s.pinFails[id][:0]
	for _, t := range s.pinFails[id] {
		if now.Sub(t) < pinWindow {
			recent = append(recent, t)
		}
	}
	if len(recent) == 0 {
		delete(s.pinFails, id)
	} else {
		s.pinFails[id] = recent
	}
	return len(recent) >= pinMaxFailures
}

func (s *Service) pinFailed(id string, now time.Time) {
	s.pinMu.Lock()
	defer s.pinMu.Unlock()
	s.pinFails[id] = append(s.pinFails[id], now)
}
