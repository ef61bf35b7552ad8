package flash

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// Write copies img (raw, or .zst decompressed on the fly) to dev, printing progress to out
// about once a second, syncs, then reads the written bytes back and compares their SHA-256.
func Write(ctx context.Context, img, dev string, out io.Writer, now func() time.Time) error {
	var src io.Reader
	var wait func() error
	f, err := os.Open(img)
	if err != nil {
		return fmt.Errorf("flash: %w", err)
	}
	defer f.Close()
	if strings.HasSuffix(img, ".zst") {
		cmd := exec.CommandContext(ctx, "zstd", "-dc")
		cmd.Stdin = f
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		pipe, err := cmd.StdoutPipe()
		if err != nil {
			return fmt.Errorf("flash: zstd: %w", err)
		}
		if err := cmd.Start(); err != nil {
			return fmt.Errorf("flash: zstd: %w", err)
		}
		src = pipe
		wait = func() error {
			if err := cmd.Wait(); err != nil {
				return fmt.Errorf("flash: zstd: %w: %s", err, stderr.Bytes())
			}
			return nil
		}
	} else {
		src, wait = f, func() error { return nil }
	}
	d, err := os.OpenFile(dev, os.O_WRONLY, 0)
	if err != nil {
		return fmt.Errorf("flash: open %s: %w", dev, err)
	}
	defer d.Close()
	h := sha256.New()
	buf := make([]byte, 4<<20)
	var n int64
	last := now()
	start := last
	for {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("flash: %w", err)
		}
		k, rerr := io.ReadFull(src, buf)
		if k > 0 {
			if _, err := d.Write(buf[:k]); err != nil {
				return fmt.Errorf("flash: write %s at %d: %w", dev, n, err)
			}
			h.Write(buf[:k])
			n += int64(k)
			if t := now(); t.Sub(last) >= time.Second {
				last = t
				fmt.Fprintf(out, "flash: %d MiB written (%.1f MiB/s)\n", n>>20, float64(n)/(1<<20)/t.Sub(start).Seconds())
			}
		}
		if rerr == io.EOF || rerr == io.ErrUnexpectedEOF {
			break
		}
		if rerr != nil {
			return fmt.Errorf("flash: read %s: %w", img, rerr)
		}
	}
	if err := wait(); err != nil {
		return err
	}
	if err := d.Sync(); err != nil {
		return fmt.Errorf("flash: sync %s: %w", dev, err)
	}
	fmt.Fprintf(out, "flash: %d MiB written; verifying\n", n>>20)
	r, err := os.Open(dev)
	if err != nil {
		return fmt.Errorf("flash: verify: %w", err)
	}
	defer r.Close()
	// Drop cached pages so the comparison reads the medium, not memory.
	_ = unix.Fadvise(int(r.Fd()), 0, 0, unix.FADV_DONTNEED)
	v := sha256.New()
	if _, err := io.CopyN(v, r, n); err != nil {
		return fmt.Errorf("flash: verify: read back %s: %w", dev, err)
	}
	if !bytes.Equal(v.Sum(nil), h.Sum(nil)) {
		return fmt.Errorf("flash: verify: %s does not read back what was written", dev)
	}
	fmt.Fprintf(out, "flash: verified %d MiB on %s\n", n>>20, dev)
	return nil
}
