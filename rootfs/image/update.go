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

// rpiUnitLinks enable the Raspberry Pi's trial units instead: nothing pulls in
// boot-complete.target without systemd-boot's counting, so stoa-tryboot-bless.service (after
// stoa-healthy.service, on a trial boot only) is what runs the check and marks the slot good.
var rpiUnitLinks = map[string]string{
	"sysinit.target.wants/stoa-tryboot.service":          "/usr/lib/systemd/system/stoa-tryboot.service",
	"multi-user.target.wants/stoa-tryboot-bless.service": "/usr/lib/systemd/system/stoa-tryboot-bless.service",
	"multi-user.target.wants/stoa-update-report.service": "/usr/lib/systemd/system/stoa-update-report.service",
}

// customizeUpdate bakes the update signing key's public half into root and enables the units.
func customizeUpdate(root string, c Config, b Board) error {
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
	links := updateUnitLinks
	if b.Boot == BootRPi {
		links = rpiUnitLinks
	}
	for rel, target := range links {
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
