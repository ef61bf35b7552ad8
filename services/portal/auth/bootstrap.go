package auth

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/stoa-rooms/stoa/services/password"
	"github.com/stoa-rooms/stoa/services/portal/store"
)

// BootstrapUser is the super admin created on first start.
const BootstrapUser = "admin"

// EnsureSuperAdmin creates the first account on an empty portal: user "admin", role superadmin,
// a generated 20-character password written to credsPath (0600, directory 0700). It returns
// created=false, touching nothing, when any user exists.
func (m *Manager) EnsureSuperAdmin(ctx context.Context, credsPath string) (bool, error) {
	us, err := m.st.ListUsers(ctx)
	if err != nil {
		return false, fmt.Errorf("bootstrap super admin: %w", err)
	}
	if len(us) > 0 {
		return false, nil
	}
	pw, err := password.Generate(20)
	if err != nil {
		return false, fmt.Errorf("bootstrap super admin: %w", err)
	}
	hash, err := password.Hash(pw)
	if err != nil {
		return false, fmt.Errorf("bootstrap super admin: %w", err)
	}
	// Write the credentials to a temporary file first: the account is created only once the
	// password is safely on disk, and the file appears under its name only once the account
	// exists, so neither can exist without the other.
	dir := filepath.Dir(credsPath)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return false, fmt.Errorf("bootstrap super admin: create %s: %w", dir, err)
	}
	tmp, err := os.CreateTemp(dir, ".creds-*")
	if err != nil {
		return false, fmt.Errorf("bootstrap super admin: %w", err)
	}
	tmpName := tmp.Name()
	defer os.Remove(tmpName) // no-op after the rename
	// CreateTemp already uses 0600; Chmod states it rather than relying on it.
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return false, fmt.Errorf("bootstrap super admin: %w", err)
	}
	_, werr := fmt.Fprintf(tmp, "portal super admin\nuser: %s\npassword: %s\n", BootstrapUser, pw)
	serr := tmp.Sync()
	if err := errors.Join(werr, serr, tmp.Close()); err != nil {
		return false, fmt.Errorf("bootstrap super admin: write credentials: %w", err)
	}
	_, err = m.st.CreateUser(ctx, store.User{Name: BootstrapUser, Role: store.RoleSuperAdmin, PasswordHash: hash, CreatedAt: m.cfg.Now().UTC()})
	if errors.Is(err, store.ErrConflict) {
		return false, nil // another instance bootstrapped at the same moment
	}
	if err != nil {
		return false, fmt.Errorf("bootstrap super admin: %w", err)
	}
	if err := os.Rename(tmpName, credsPath); err != nil {
		return true, fmt.Errorf("bootstrap super admin: place credentials at %s: %w", credsPath, err)
	}
	m.AuditSystem(ctx, "account.bootstrap", fmt.Sprintf("created super admin %q; credentials in %s", BootstrapUser, credsPath))
	m.log.Info("created super admin", "user", BootstrapUser, "credentials", credsPath)
	return true, nil
}
