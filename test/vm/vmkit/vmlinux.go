package vmkit

import (
	"bytes"
	"context"
	"debug/elf"
	"encoding/binary"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"time"
)

// BootImage returns the fastest kernel file QEMU can boot for k: the uncompressed vmlinux when
// the kernel has a PVH entry point (Debian's have, CONFIG_PVH=y), else vmlinuz. Under TCG the
// bzImage's own XZ decompression costs 5-20 s per boot; QEMU boots a PVH vmlinux directly, with
// -initrd and -append as usual. The vmlinux is extracted once into the cache.
func (k *Kernel) BootImage(ctx context.Context) (string, error) {
	dir := filepath.Join(k.Dir, "vmlinux")
	out := filepath.Join(dir, "vmlinux")
	start := time.Now()
	built, err := Cached(ctx, dir, func(tmp string) error {
		b, err := os.ReadFile(k.Vmlinuz)
		if err != nil {
			return err
		}
		raw, err := extractVmlinux(ctx, b)
		if err != nil {
			return err
		}
		if !hasPVHNote(raw) {
			return os.WriteFile(filepath.Join(tmp, "no-pvh"), nil, 0o644)
		}
		return os.WriteFile(filepath.Join(tmp, "vmlinux"), raw, 0o644)
	})
	if err != nil {
		return "", fmt.Errorf("extract vmlinux of %s: %w", k.Release, err)
	}
	if built {
		k.spec.Logf("vmkit: vmlinux of %s extracted in %s", k.Release, time.Since(start).Round(time.Millisecond))
	}
	if _, err := os.Stat(out); err != nil {
		return k.Vmlinuz, nil // no PVH entry: boot the bzImage
	}
	return out, nil
}

// extractVmlinux finds the compressed kernel inside a bzImage (as scripts/extract-vmlinux does:
// by the compressor's magic) and decompresses the first candidate that yields an ELF file.
func extractVmlinux(ctx context.Context, bz []byte) ([]byte, error) {
	formats := []struct {
		magic []byte
		tool  []string
	}{
		{[]byte("\xfd7zXZ\x00"), []string{"xz", "-dc", "--single-stream"}},
		{[]byte("\x28\xb5\x2f\xfd"), []string{"zstd", "-dc"}},
		{[]byte("\x1f\x8b\x08"), []string{"gzip", "-dc"}},
	}
	for _, f := range formats {
		off := 0
		for {
			i := bytes.Index(bz[off:], f.magic)
			if i < 0 {
				break
			}
			off += i
			var stdout bytes.Buffer
			cmd := exec.CommandContext(ctx, f.tool[0], f.tool[1:]...)
			cmd.Stdin = bytes.NewReader(bz[off:])
			cmd.Stdout = &stdout
			_ = cmd.Run() // trailing data after the stream makes some tools complain; the ELF check decides
			if out := stdout.Bytes(); len(out) > 4 && string(out[:4]) == "\x7fELF" {
				return out, nil
			}
			off++
		}
	}
	return nil, fmt.Errorf("no compressed ELF kernel found in the bzImage")
}

// hasPVHNote reports whether an ELF kernel carries XEN_ELFNOTE_PHYS32_ENTRY (type 18, owner
// "Xen"), the entry point QEMU's PVH boot uses.
func hasPVHNote(b []byte) bool {
	f, err := elf.NewFile(bytes.NewReader(b))
	if err != nil {
		return false
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type != elf.PT_NOTE || p.Filesz > 1<<20 { // notes are small; a huge size is a broken file
			continue
		}
		data := make([]byte, p.Filesz)
		if _, err := p.ReadAt(data, 0); err != nil {
			continue
		}
		for len(data) >= 12 {
			namesz := binary.LittleEndian.Uint32(data[0:])
			descsz := binary.LittleEndian.Uint32(data[4:])
			typ := binary.LittleEndian.Uint32(data[8:])
			nameEnd := 12 + align4(namesz)
			end := nameEnd + align4(descsz)
			if uint64(end) > uint64(len(data)) {
				break
			}
			if typ == 18 && bytes.HasPrefix(data[12:12+namesz], []byte("Xen")) {
				return true
			}
			data = data[end:]
		}
	}
	return false
}

func align4(n uint32) uint32 { return (n + 3) &^ 3 }
