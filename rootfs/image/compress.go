package image

import (
	"context"
	"fmt"
	"os"
	"os/exec"
)

// compressAndSum compresses img to zst with zstd while hashing img in parallel (both read
// the page cache), then hashes zst.
func compressAndSum(ctx context.Context, img, zst string) (imgSum, zstSum string, zstBytes int64, err error) {
	type sum struct {
		hex string
		err error
	}
	done := make(chan sum, 1)
	go func() {
		h, err := sha256File(img)
		done <- sum{h, err}
	}()
	out, zerr := exec.CommandContext(ctx, "zstd", "-q", "-f", "-T0", "-3", img, "-o", zst+".partial").CombinedOutput()
	s := <-done
	if zerr != nil {
		os.Remove(zst + ".partial")
		return "", "", 0, fmt.Errorf("zstd: %w: %s", zerr, out)
	}
	if s.err != nil {
		return "", "", 0, s.err
	}
	if err := os.Rename(zst+".partial", zst); err != nil {
		return "", "", 0, fmt.Errorf("compress: %w", err)
	}
	zs, err := sha256File(zst)
	if err != nil {
		return "", "", 0, err
	}
	st, err := os.Stat(zst)
	if err != nil {
		return "", "", 0, fmt.Errorf("compress: %w", err)
	}
	return s.hex, zs, st.Size(), nil
}
