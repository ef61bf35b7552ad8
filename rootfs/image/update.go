package image

import (
	"crypto/ed25519"
	"fmt"
	"os"
	"path/filepath"

	"github.com/stoa-rooms/stoa/rootfs/update"
)

// updateKeyPath is where the image carries the public key its update bundles are checked with.
const updateKeyPath = "usr/lib/stoa/update-key.pub"

// updateUnitLinks enable the A/B update units (rootfs/update): the health check that
// boot-complete.target requires on a trial boot, and the slot report.
var updateUnitLinks = map[string]string{
	"boot-complete.target.requires/stoa-healthy.service": "/usr/lib/systemd/system/stoa-healthy.service",
	"multi-user.target.wants/stoa-update-report.service": "/usr/lib/systemd/system/stoa-update-report.service",
}

// customizeUpdate bakes the update signing key's public half into root and enables the units.
func customizeUpdate(root string, c Config) error {
	key, err := update.LoadOrCreateKey(c.UpdateKey)
	if err != nil {
		return err
	}
	p := filepath.Join(root, updateKeyPath)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return err
	}
	if err := replaceFile(p, []byte(update.EncodePublicKey(key.Public().(ed25519.PublicKey))), 0o644); err != nil {
		return fmt.Errorf("write update key: %w", err)
	}
	for rel, target := range updateUnitLinks {
		p := filepath.Join(root, "etc/systemd/system", rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		os.Remove(p)
		if err := os.Symlink(target, p); err != nil {
			return fmt.Errorf("link unit %s: %w", rel, err)
		}
	}
	return nil
}
