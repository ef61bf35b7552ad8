// Package panel is the room's touch panel: a web app (embedded, no build step) served by roomd
// over HTTPS on the LAN, talking to the room's device API (firmware/control) over a WebSocket;
// panels pair with the room by a 6-digit PIN shown on the room's display and keep a long-lived
// token scoped to this room, revocable from the portal.
package panel

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"
)

// Pairing policy.
const (
	// MaxAttempts wrong PINs lock pairing for Lockout.
	MaxAttempts = 5
	// DefaultLockout is how long pairing stays locked after MaxAttempts wrong PINs.
	DefaultLockout = 5 * time.Minute
	// DefaultPINLifetime is how long a PIN shown on the display stays valid.
	DefaultPINLifetime = 2 * time.Minute
	// MaxPanels bounds the paired panels kept; the least recently seen goes first.
	MaxPanels = 32
	// MaxNameLen bounds a panel's name.
	MaxNameLen = 64
	// lastSeenEvery: last-seen times are written to disk at most this often per panel.
	lastSeenEvery = time.Minute
)

// Errors of the store.
var (
	ErrLocked     = errors.New("panel pairing is locked after too many wrong PINs")
	ErrWrongPIN   = errors.New("wrong PIN")
	ErrNoPIN      = errors.New("no pairing PIN is showing; ask for one first")
	ErrBadToken   = errors.New("unknown or revoked panel token")
	ErrBadPINForm = errors.New("a PIN is 6 digits")
)

// LockedError is ErrLocked with the time pairing opens again.
type LockedError struct{ Until time.Time }

func (e *LockedError) Error() string {
	return fmt.Sprintf("%v; try again after %s", ErrLocked, e.Until.UTC().Format(time.RFC3339))
}

// Unwrap makes errors.Is(err, ErrLocked) work.
func (e *LockedError) Unwrap() error { return ErrLocked }

// Panel is one paired panel (never its token).
type Panel struct {
	ID       string    `json:"id"`
	Name     string    `json:"name"`
	PairedAt time.Time `json:"paired_at"`
	LastSeen time.Time `json:"last_seen"`
}

// stored is a Panel on disk: only the SHA-256 of its token. Tokens are 256 random bits, so a
// fast hash is enough: nothing can be guessed from it.
type stored struct {
	Panel
	Hash string `json:"token_sha256"`
}

type file struct {
	Panels []stored `json:"panels"`
}

// StoreOptions configure a Store.
type StoreOptions struct {
	Path        string           // JSON file, written 0600; "" keeps everything in memory
	Now         func() time.Time // default time.Now
	Rand        io.Reader        // default crypto/rand
	Lockout     time.Duration    // default DefaultLockout
	PINLifetime time.Duration    // default DefaultPINLifetime
	// OnPIN is called with the PIN to show ("" when none is showing any more).
	OnPIN func(pin string)
}

// Store holds the pairing PIN, the failure count and the paired panels' token hashes. Safe for
// concurrent use.
type Store struct {
	o StoreOptions

	mu        sync.Mutex
	panels    []stored
	written   map[string]time.Time // panel ID → last-seen time last written
	pin       string
	pinUntil  time.Time
	failures  int
	lockUntil time.Time
}

// OpenStore loads the panels from o.Path (a missing file is an empty store).
func OpenStore(o StoreOptions) (*Store, error) {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Rand == nil {
		o.Rand = rand.Reader
	}
	if o.Lockout <= 0 {
		o.Lockout = DefaultLockout
	}
	if o.PINLifetime <= 0 {
		o.PINLifetime = DefaultPINLifetime
	}
	s := &Store{o: o, written: map[string]time.Time{}}
	if o.Path == "" {
		return s, nil
	}
	data, err := os.ReadFile(o.Path)
	if errors.Is(err, os.ErrNotExist) {
		return s, nil
	}
	if err != nil {
		return nil, fmt.Errorf("open panel store: %w", err)
	}
	f, err := DecodeFile(data)
	if err != nil {
		return nil, fmt.Errorf("open panel store %s: %w", o.Path, err)
	}
	s.panels = f.Panels
	for _, p := range s.panels {
		s.written[p.ID] = p.LastSeen
	}
	return s, nil
}

// DecodeFile strictly decodes the store file.
func DecodeFile(data []byte) (file, error) {
	var f file
	if err := decodeStrict(data, &f, 1<<20); err != nil {
		return file{}, err
	}
	seen := map[string]bool{}
	for _, p := range f.Panels {
		if p.ID == "" || seen[p.ID] || len(p.Hash) != 64 {
			return file{}, fmt.Errorf("panel entry %q is malformed", p.ID)
		}
		seen[p.ID] = true
	}
	return f, nil
}

// StartPairing shows a fresh 6-digit PIN (a panel asked to pair) unless pairing is locked.
// It returns when the PIN stops being valid.
func (s *Store) StartPairing() (time.Time, error) {
	s.mu.Lock()
	now := s.o.Now()
	if err := s.lockedLocked(now); err != nil {
		s.mu.Unlock()
		return time.Time{}, err
	}
	n, err := rand.Int(s.o.Rand, big.NewInt(1_000_000))
	if err != nil {
		s.mu.Unlock()
		return time.Time{}, fmt.Errorf("start panel pairing: %w", err)
	}
	s.pin = fmt.Sprintf("%06d", n.Int64())
	s.pinUntil = now.Add(s.o.PINLifetime)
	pin, until := s.pin, s.pinUntil
	s.mu.Unlock()
	s.showPIN(pin)
	return until, nil
}

// PIN is the PIN showing now ("" when none).
func (s *Store) PIN() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.pin != "" && !s.o.Now().Before(s.pinUntil) {
		return ""
	}
	return s.pin
}

// Expire hides a PIN whose time ran out; the server calls it now and then.
func (s *Store) Expire() {
	s.mu.Lock()
	hide := s.pin != "" && !s.o.Now().Before(s.pinUntil)
	if hide {
		s.pin = ""
	}
	s.mu.Unlock()
	if hide {
		s.showPIN("")
	}
}

// Locked returns a *LockedError while pairing is locked.
func (s *Store) Locked() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.lockedLocked(s.o.Now())
}

func (s *Store) lockedLocked(now time.Time) error {
	if now.Before(s.lockUntil) {
		return &LockedError{Until: s.lockUntil}
	}
	if !s.lockUntil.IsZero() {
		s.lockUntil, s.failures = time.Time{}, 0
	}
	return nil
}

// Pair checks pin and, when it is the one showing, pairs a panel called name and returns its
// token (shown once, never stored). MaxAttempts wrong PINs lock pairing for Lockout and hide
// the PIN; a used PIN is gone.
func (s *Store) Pair(pin, name string) (string, Panel, error) {
	if !validPIN(pin) {
		return "", Panel{}, ErrBadPINForm
	}
	name = cleanName(name)
	s.mu.Lock()
	now := s.o.Now()
	if err := s.lockedLocked(now); err != nil {
		s.mu.Unlock()
		return "", Panel{}, err
	}
	if s.pin == "" || !now.Before(s.pinUntil) {
		s.mu.Unlock()
		return "", Panel{}, ErrNoPIN
	}
	if subtle.ConstantTimeCompare([]byte(pin), []byte(s.pin)) != 1 {
		s.failures++
		if s.failures >= MaxAttempts {
			s.lockUntil = now.Add(s.o.Lockout)
			s.pin = ""
			err := &LockedError{Until: s.lockUntil}
			s.mu.Unlock()
			s.showPIN("")
			return "", Panel{}, err
		}
		s.mu.Unlock()
		return "", Panel{}, fmt.Errorf("%w (%d of %d attempts left)", ErrWrongPIN, MaxAttempts-s.failures, MaxAttempts)
	}
	tok, id, err := s.newToken()
	if err != nil {
		s.mu.Unlock()
		return "", Panel{}, err
	}
	p := Panel{ID: id, Name: name, PairedAt: now.UTC(), LastSeen: now.UTC()}
	next := append(slices.Clone(s.panels), stored{Panel: p, Hash: hashToken(tok)})
	if len(next) > MaxPanels {
		slices.SortFunc(next, func(a, b stored) int { return b.LastSeen.Compare(a.LastSeen) })
		next = next[:MaxPanels]
	}
	if err := s.saveLocked(next); err != nil {
		s.mu.Unlock()
		return "", Panel{}, err
	}
	s.panels = next
	s.written[id] = p.LastSeen
	s.pin, s.failures = "", 0
	s.mu.Unlock()
	s.showPIN("")
	return tok, p, nil
}

// Check returns the panel holding token and notes it was seen.
func (s *Store) Check(token string) (Panel, error) {
	if token == "" || len(token) > 128 {
		return Panel{}, ErrBadToken
	}
	h := hashToken(token)
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := range s.panels {
		if subtle.ConstantTimeCompare([]byte(h), []byte(s.panels[i].Hash)) == 1 {
			now := s.o.Now().UTC()
			s.panels[i].LastSeen = now
			if now.Sub(s.written[s.panels[i].ID]) >= lastSeenEvery {
				// Best effort: a failed write only loses a last-seen time.
				if s.saveLocked(s.panels) == nil {
					s.written[s.panels[i].ID] = now
				}
			}
			return s.panels[i].Panel, nil
		}
	}
	return Panel{}, ErrBadToken
}

// Revoke forgets panel id; its token is refused from then on. Unknown IDs are not an error:
// the panel is gone either way.
func (s *Store) Revoke(id string) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	i := slices.IndexFunc(s.panels, func(p stored) bool { return p.ID == id })
	if i < 0 {
		return false, nil
	}
	next := slices.Delete(slices.Clone(s.panels), i, i+1)
	if err := s.saveLocked(next); err != nil {
		return false, err
	}
	s.panels = next
	delete(s.written, id)
	return true, nil
}

// Panels lists the paired panels, oldest pairing first.
func (s *Store) Panels() []Panel {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Panel, 0, len(s.panels))
	for _, p := range s.panels {
		out = append(out, p.Panel)
	}
	slices.SortFunc(out, func(a, b Panel) int { return a.PairedAt.Compare(b.PairedAt) })
	return out
}

func (s *Store) showPIN(pin string) {
	if s.o.OnPIN != nil {
		s.o.OnPIN(pin)
	}
}

func (s *Store) newToken() (tok, id string, err error) {
	b := make([]byte, 32+8)
	if _, err := io.ReadFull(s.o.Rand, b); err != nil {
		return "", "", fmt.Errorf("pair panel: token: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b[:32]), hex.EncodeToString(b[32:]), nil
}

// saveLocked writes panels to the file atomically (temp file, fsync, rename), 0600.
func (s *Store) saveLocked(panels []stored) error {
	if s.o.Path == "" {
		return nil
	}
	data, err := json.MarshalIndent(file{Panels: panels}, "", " ")
	if err != nil {
		return fmt.Errorf("save panels: %w", err)
	}
	dir := filepath.Dir(s.o.Path)
	tmp, err := os.CreateTemp(dir, ".panels-*")
	if err != nil {
		return fmt.Errorf("save panels: %w", err)
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return fmt.Errorf("save panels: %w", err)
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("save panels: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("save panels: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("save panels: %w", err)
	}
	if err := os.Rename(tmp.Name(), s.o.Path); err != nil {
		return fmt.Errorf("save panels: %w", err)
	}
	return nil
}

func hashToken(tok string) string {
	sum := sha256.Sum256([]byte(tok))
	return hex.EncodeToString(sum[:])
}

func validPIN(pin string) bool {
	if len(pin) != 6 {
		return false
	}
	for i := 0; i < len(pin); i++ {
		if pin[i] < '0' || pin[i] > '9' {
			return false
		}
	}
	return true
}

// cleanName keeps printable characters of a panel's name, at most MaxNameLen runes.
func cleanName(name string) string {
	var out []rune
	for _, r := range name {
		if r >= 0x20 && r != 0x7f && len(out) < MaxNameLen {
			out = append(out, r)
		}
	}
	if len(out) == 0 {
		return "Panel"
	}
	return string(out)
}
