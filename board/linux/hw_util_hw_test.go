//go:build hw

package linux

import (
	"context"
	"os"
	"testing"
	"time"
)

// needGuest fails (never skips) outside the QEMU guest: these tests need its kernel modules.
func needGuest(t *testing.T) {
	t.Helper()
	if os.Getenv("STOA_HW") != "1" {
		t.Fatal("STOA_HW=1 not set: the hw tests run in test/vm's QEMU guest (go test ./test/vm -run TestDrivers)")
	}
}

// eventually polls cond until it returns nil or d passes (device nodes appear asynchronously).
func eventually(t *testing.T, d time.Duration, cond func() error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	for {
		err := cond()
		if err == nil {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatal(err)
		case <-time.After(20 * time.Millisecond):
		}
	}
}
