package hil

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stoa-rooms/stoa/rootfs/image"
	"github.com/stoa-rooms/stoa/test/stoatest"
)

// TestPCImage builds the pc (x86-64 UEFI mini PC) image and reads it as the firmware would:
// GPT with the ESP and x86-64 root slots, systemd-boot at the removable-media path, slot A's
// loader entry naming root-a by PARTUUID with the pc board's console, and its kernel and initrd.
// Its boot path is the one TestImageBoots boots under OVMF; this checks the pc build itself.
func TestPCImage(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the pc image (minutes on a cold cache)")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	cacheDir := image.DefaultCacheDir()
	t0 := time.Now()
	res, err := image.Run(ctx, image.Config{
		Board: "pc", Version: "pc-hil", RepoRoot: stoatest.RepoRoot(),
		OutDir: filepath.Join(cacheDir, "hil-pc"), CacheDir: cacheDir, Quick: true, Out: logWriter{t},
	})
	if err != nil {
		t.Fatalf("build image: %v", err)
	}
	t.Cleanup(func() { os.Remove(res.Image) })
	t.Logf("FIGURE pc image build: %s; image %d MiB raw, root content %d MiB", time.Since(t0).Round(time.Second), res.ImageBytes>>20, res.RootBytes>>20)

	parts := readGPT(t, res.Image)
	var names []string
	for _, p := range parts {
		names = append(names, p.Name)
	}
	if strings.Join(names, ",") != "boot,root-a,root-b,data" {
		t.Fatalf("partitions %v, want boot,root-a,root-b,data", names)
	}
	if parts[0].Type != "C12A7328-F81F-11D2-BA4B-00A0C93EC93B" {
		t.Errorf("boot partition type %s, want the ESP type", parts[0].Type)
	}
	if parts[1].Type != "4F68BCE3-E8CD-4DB1-96E7-FBCAF984B709" || parts[2].Type != parts[1].Type {
		t.Errorf("root types %s %s, want root-x86-64", parts[1].Type, parts[2].Type)
	}
	fat := fmt.Sprintf("%s@@%d", res.Image, parts[0].Start*512)
	mtools := func(args ...string) string {
		cmd := exec.CommandContext(ctx, args[0], append([]string{"-i", fat}, args[1:]...)...)
		cmd.Env = append(os.Environ(), "MTOOLS_SKIP_CHECK=1")
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("boot partition: %v: %v", args, err)
		}
		return string(out)
	}
	listing := map[string]bool{}
	for _, ln := range strings.Fields(mtools("mdir", "-/", "-b", "::/")) {
		listing[strings.TrimPrefix(ln, "::/")] = true
	}
	for _, f := range []string{"EFI/BOOT/BOOTX64.EFI", "loader/entries/stoa-a.conf", "stoa-a/vmlinuz", "stoa-a/initrd.img"} {
		if !listing[f] {
			t.Errorf("boot partition lacks %s", f)
		}
	}
	entry := mtools("mtype", "::/loader/entries/stoa-a.conf")
	for _, want := range []string{"root=PARTUUID=" + strings.ToLower(parts[1].UUID), "stoa.slot=a", "console=tty0", "linux /stoa-a/vmlinuz"} {
		if !strings.Contains(strings.ToLower(entry), strings.ToLower(want)) {
			t.Errorf("slot A's loader entry lacks %q:\n%s", want, entry)
		}
	}
}
