package image

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/stoa-rooms/stoa/rootfs/update"
)

// makeESP builds the boot partition: systemd-boot as the removable-media loader (no NVRAM
// entry needed), a Boot Loader Specification entry per slot, the kernel and initrd of slot A.
func makeESP(ctx context.Context, root string, b Board, l layout, version, work, img string) error {
	kernels, _ := filepath.Glob(filepath.Join(root, "boot/vmlinuz-*"))
	initrds, _ := filepath.Glob(filepath.Join(root, "boot/initrd.img-*"))
	if len(kernels) != 1 || len(initrds) != 1 {
		return fmt.Errorf("boot partition: want one kernel and one initrd in the base, found %v %v", kernels, initrds)
	}
	stage := filepath.Join(work, "esp")
	files := map[string]string{ // ESP path → source file
		"EFI/BOOT/" + b.EFIName: filepath.Join(root, b.SDBoot),
		"stoa-a/vmlinuz":        kernels[0],
		"stoa-a/initrd.img":     initrds[0],
	}
	texts := map[string]string{
		// No default: systemd-boot boots the first entry in its order, the newest install
		// that has tries left (rootfs/update: EntryText).
		"loader/loader.conf":         "timeout 0\neditor no\n",
		"loader/entries/stoa-a.conf": update.EntryText("a", 1, version, l.RootA.UUID, bootArgs(b)),
	}
	for rel, text := range texts {
		p := filepath.Join(stage, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			return fmt.Errorf("boot partition: %w", err)
		}
		files[rel] = p
	}
	return writeFAT(ctx, img, l.ESP, files)
}

// writeFAT makes the boot partition's FAT32 file system inside img at p's offset and copies
// files (partition path → source file) into it with mtools: no loop device, no mount.
func writeFAT(ctx context.Context, img string, p part, files map[string]string) error {
	if out, err := exec.CommandContext(ctx, "mkfs.vfat", "-F", "32", "-s", "1", "-n", "STOA-BOOT", fmt.Sprintf("--offset=%d", p.Start/512), img, fmt.Sprint(p.Size/1024)).CombinedOutput(); err != nil {
		return fmt.Errorf("mkfs.vfat: %w: %s", err, out)
	}
	dirs := map[string]bool{}
	for rel := range files {
		for d := filepath.Dir(rel); d != "."; d = filepath.Dir(d) {
			dirs[d] = true
		}
	}
	var mk []string
	for d := range dirs {
		mk = append(mk, d)
	}
	// Parents before children.
	sortByDepth(mk)
	env := append(os.Environ(), "MTOOLS_SKIP_CHECK=1")
	img = fmt.Sprintf("%s@@%d", img, p.Start) // mtools: the partition inside the disk
	for _, d := range mk {
		cmd := exec.CommandContext(ctx, "mmd", "-i", img, "::/"+d)
		cmd.Env = env
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("mmd %s: %w: %s", d, err, out)
		}
	}
	for rel, src := range files {
		cmd := exec.CommandContext(ctx, "mcopy", "-i", img, src, "::/"+rel)
		cmd.Env = env
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("mcopy %s: %w: %s", rel, err, out)
		}
	}
	return nil
}

// bootArgs is the kernel command line but for root= and stoa.slot=, which the entry of each
// slot adds (update.EntryText): read-only root, reboot on panic, the board's console.
func bootArgs(b Board) string {
	return strings.Join([]string{"ro", "rootwait", "panic=10", "loglevel=4", b.Cmdline}, " ")
}

func sortByDepth(dirs []string) {
	for i := 1; i < len(dirs); i++ {
		for j := i; j > 0 && strings.Count(dirs[j], "/") < strings.Count(dirs[j-1], "/"); j-- {
			dirs[j], dirs[j-1] = dirs[j-1], dirs[j]
		}
	}
}
