package vmkit

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
)

func TestCachedBuildsOnce(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "entry")
	var builds atomic.Int32
	var wg sync.WaitGroup
	errs := make([]error, 4)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = Cached(context.Background(), dir, func(tmp string) error {
				builds.Add(1)
				return os.WriteFile(filepath.Join(tmp, "out"), []byte("x"), 0o644)
			})
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if n := builds.Load(); n != 1 {
		t.Errorf("built %d times, want 1", n)
	}
	if b, err := os.ReadFile(filepath.Join(dir, "out")); err != nil || string(b) != "x" {
		t.Errorf("cached content = %q, %v", b, err)
	}
}

func TestCachedFailureLeavesNothing(t *testing.T) {
	parent := t.TempDir()
	dir := filepath.Join(parent, "entry")
	boom := errors.New("boom")
	built, err := Cached(context.Background(), dir, func(tmp string) error {
		_ = os.WriteFile(filepath.Join(tmp, "half"), []byte("x"), 0o644)
		return boom
	})
	if !built || !errors.Is(err, boom) {
		t.Fatalf("Cached = %v, %v; want true, boom", built, err)
	}
	entries, _ := os.ReadDir(parent)
	for _, e := range entries {
		if e.IsDir() {
			t.Errorf("left %s behind after a failed build", e.Name())
		}
	}
}
