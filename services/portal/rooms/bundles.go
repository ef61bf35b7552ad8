package rooms

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"slices"

	"github.com/stoa-rooms/stoa/provisioning/bundle"
	"github.com/stoa-rooms/stoa/provisioning/ca"
	"github.com/stoa-rooms/stoa/services/portal/store"
)

// settingBundle keeps the current signed bundle and its bookkeeping.
const settingBundle = "rooms.bundle"

// bundleState is the current trust bundle. Since maps each portal root (SHA-256 of its DER,
// hex) to the first version that carried it, so rotation knows which acknowledgement proves
// that a room trusts a given root.
type bundleState struct {
	Bundle   bundle.Bundle     `json:"bundle"`
	Envelope []byte            `json:"envelope"`
	Since    map[string]uint64 `json:"since"`
}

func fingerprint(c *x509.Certificate) string {
	sum := sha256.Sum256(c.Raw)
	return hex.EncodeToString(sum[:])
}

func certPEM(c *x509.Certificate) string {
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw}))
}

// loadOrCreateKey reads the bundle-signing key, generating it on first start. The file is 0600:
// whoever holds it can make every room trust any server.
func loadOrCreateKey(path string) (ed25519.PrivateKey, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		_, key, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			return nil, fmt.Errorf("rooms: generate bundle key: %w", err)
		}
		der, err := x509.MarshalPKCS8PrivateKey(key)
		if err != nil {
			return nil, fmt.Errorf("rooms: marshal bundle key: %w", err)
		}
		if err := ca.WriteFileAtomic(path, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
			return nil, fmt.Errorf("rooms: write bundle key: %w", err)
		}
		return key, nil
	}
	if err != nil {
		return nil, fmt.Errorf("rooms: read bundle key: %w", err)
	}
	blk, _ := pem.Decode(b)
	if blk == nil || blk.Type != "PRIVATE KEY" {
		return nil, fmt.Errorf("rooms: bundle key %s holds no PEM PRIVATE KEY", path)
	}
	k, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
	if err != nil {
		return nil, fmt.Errorf("rooms: parse bundle key: %w", err)
	}
	key, ok := k.(ed25519.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("rooms: bundle key is %T, want Ed25519", k)
	}
	return key, nil
}

// loadBundleLocked reads the persisted state once.
func (s *Service) loadBundleLocked(ctx context.Context) error {
	if s.bs != nil {
		return nil
	}
	b, err := s.o.Store.Setting(ctx, settingBundle)
	if errors.Is(err, store.ErrNotFound) || (err == nil && len(b) == 0) {
		s.bs = &bundleState{Since: map[string]uint64{}}
		return nil
	}
	if err != nil {
		return fmt.Errorf("load bundle: %w", err)
	}
	var bs bundleState
	if err := json.Unmarshal(b, &bs); err != nil {
		return fmt.Errorf("load bundle: %w", err)
	}
	if bs.Since == nil {
		bs.Since = map[string]uint64{}
	}
	s.bs = &bs
	return nil
}

// current returns the bundle rooms should hold, signing a new version first when the portal's
// URLs, the component CA or the served certificate's anchor are not in the current one (for
// example after an ACME renewal from a new intermediate, or a rollback), so rooms converge.
func (s *Service) current(ctx context.Context) (bundleState, error) {
	s.bmu.Lock()
	defer s.bmu.Unlock()
	return s.currentLocked(ctx)
}

func (s *Service) currentLocked(ctx context.Context) (bundleState, error) {
	if err := s.loadBundleLocked(ctx); err != nil {
		return bundleState{}, err
	}
	portalURL, mgmtURL := s.urls()
	if portalURL == "" || mgmtURL == "" {
		return bundleState{}, errors.New("bundle: the portal's URLs are not known yet (listeners not running)")
	}
	anchor := s.o.ServedAnchor()
	if anchor == nil {
		return bundleState{}, errors.New("bundle: the portal serves no certificate")
	}
	b := s.bs.Bundle
	compCA := string(s.o.ComponentCA.RootPEM())
	_, trusted := s.bs.Since[fingerprint(anchor)]
	if s.bs.Bundle.Version > 0 && trusted && b.PortalURL == portalURL && b.MgmtURL == mgmtURL && b.ComponentCA == compCA {
		return s.snapshot(), nil
	}
	b.PortalURL, b.MgmtURL, b.ComponentCA = portalURL, mgmtURL, compCA
	roots, since := s.withRoot(anchor)
	if err := s.publishLocked(ctx, b, roots, since); err != nil {
		return bundleState{}, err
	}
	return s.snapshot(), nil
}

// withRoot returns the current roots plus c (which is the newest), dropping the oldest beyond
// maxRoots.
func (s *Service) withRoot(c *x509.Certificate) ([]string, map[string]uint64) {
	roots := slices.Clone(s.bs.Bundle.PortalRoots)
	since := make(map[string]uint64, len(s.bs.Since)+1)
	for k, v := range s.bs.Since {
		since[k] = v
	}
	if _, ok := since[fingerprint(c)]; !ok {
		roots = append(roots, certPEM(c))
		since[fingerprint(c)] = s.bs.Bundle.Version + 1
	}
	for len(roots) > maxRoots {
		if old, err := parseOne(roots[0]); err == nil {
			delete(since, fingerprint(old))
		}
		roots = roots[1:]
	}
	return roots, since
}

func parseOne(p string) (*x509.Certificate, error) {
	blk, _ := pem.Decode([]byte(p))
	if blk == nil {
		return nil, errors.New("no PEM block")
	}
	return x509.ParseCertificate(blk.Bytes)
}

// publishLocked signs b with roots as the next version, persists it and wakes every waiting
// room so it fetches the new bundle.
func (s *Service) publishLocked(ctx context.Context, b bundle.Bundle, roots []string, since map[string]uint64) error {
	b.Version = s.bs.Bundle.Version + 1
	b.IssuedAt = s.o.Now().UTC()
	b.PortalRoots = roots
	env, err := bundle.Sign(b, s.key)
	if err != nil {
		return fmt.Errorf("publish bundle v%d: %w", b.Version, err)
	}
	next := bundleState{Bundle: b, Envelope: env, Since: since}
	raw, err := json.Marshal(next)
	if err != nil {
		return fmt.Errorf("publish bundle v%d: %w", b.Version, err)
	}
	if err := s.o.Store.PutSetting(ctx, settingBundle, raw); err != nil {
		return fmt.Errorf("publish bundle v%d: %w", b.Version, err)
	}
	s.bs = &next
	s.o.Log.Info("trust bundle published", "version", b.Version, "roots", len(roots))
	s.wake("")
	return nil
}

func (s *Service) snapshot() bundleState {
	return bundleState{Bundle: s.bs.Bundle, Envelope: bytes.Clone(s.bs.Envelope), Since: s.bs.Since}
}

// trustVersion makes sure the bundle trusts anchor and returns the first version that does.
func (s *Service) trustVersion(ctx context.Context, anchor *x509.Certificate) (uint64, bool, error) {
	s.bmu.Lock()
	defer s.bmu.Unlock()
	if _, err := s.currentLocked(ctx); err != nil {
		return 0, false, err
	}
	if v, ok := s.bs.Since[fingerprint(anchor)]; ok {
		return v, false, nil
	}
	roots, since := s.withRoot(anchor)
	if err := s.publishLocked(ctx, s.bs.Bundle, roots, since); err != nil {
		return 0, false, err
	}
	return s.bs.Bundle.Version, true, nil
}

// pruneRoots publishes a bundle whose portal roots hold only the served certificate's anchor.
func (s *Service) pruneRoots(ctx context.Context) (uint64, error) {
	s.bmu.Lock()
	defer s.bmu.Unlock()
	if _, err := s.currentLocked(ctx); err != nil {
		return 0, err
	}
	anchor := s.o.ServedAnchor()
	fp := fingerprint(anchor)
	if err := s.publishLocked(ctx, s.bs.Bundle, []string{certPEM(anchor)}, map[string]uint64{fp: s.bs.Since[fp]}); err != nil {
		return 0, err
	}
	return s.bs.Bundle.Version, nil
}
