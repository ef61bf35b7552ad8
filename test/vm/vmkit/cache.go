package vmkit

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
)

// Cached makes sure dir exists with content made by build. build fills a fresh temporary folder
// next to dir; on success that folder is renamed to dir, so a crash or a failed build leaves no
// half-made cache entry. A lock file serialises concurrent test processes: the first builds, the
// others wait and reuse its result. It reports whether build ran.
func Cached(ctx context.Context, dir string, build func(tmp string) error) (bool, error) {
	if isDir(dir) {
		return false, nil
	}
	parent := filepath.Dir(dir)
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return false, fmt.Errorf("cache %s: %w", dir, err)
	}
	unlock, err := lockFile(ctx, dir+".lock")
	if err != nil {
		return false, err
	}
	defer unlock()
	if isDir(dir) { // someone else built it while we waited
		return false, nil
	}
	tmp, err := os.MkdirTemp(parent, ".tmp-"+filepath.Base(dir)+"-")
	if err != nil {
		return false, fmt.Errorf("cache %s: %w", dir, err)
	}
	defer os.RemoveAll(tmp)
	if err := build(tmp); err != nil {
		return true, err
	}
	if err := os.Rename(tmp, dir); err != nil {
		return true, fmt.Errorf("cache %s: publish: %w", dir, err)
	}
	return true, nil
}

func isDir(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.IsDir()
}

// lockFile takes an exclusive flock, polling so the context can end the wait.
func lockFile(ctx context.Context, p string) (func(), error) {
	f, err := os.OpenFile(p, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, fmt.Errorf("lock %s: %w", p, err)
	}
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			return func() {
				_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
				f.Close()
			}, nil
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) {
			f.Close()
			return nil, fmt.Errorf("lock %s: %w", p, err)
		}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, fmt.Errorf("lock %s: %w", p, ctx.Err())
		case <-timeAfter(200):
		}
	}
}
