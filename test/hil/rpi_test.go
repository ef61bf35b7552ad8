package hil

import (
	"context"
	"debug/elf"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stoa-rooms/stoa/rootfs/image"
	"github.com/stoa-rooms/stoa/rootfs/update"
	"github.com/stoa-rooms/stoa/test/stoatest"
)

// TestRPiImages builds the rpi4 and rpi5 images (arm64: mmdebstrap through qemu-user, roomd
// cross-compiled with cgo; the two boards share one cached base) and inspects what a Pi
// would read: the GPT, the boot partition's firmware, device trees and config.txt chain down
// to slot A's kernel, initrd and command line naming root-a's PARTUUID, and root-a's
// release file and binaries, roomd run under qemu-aarch64 with the image's own libraries.
func TestRPiImages(t *testing.T) {
	if testing.Short() {
		t.Skip("builds two arm64 images (minutes; a cold cache runs mmdebstrap under qemu-user)")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Minute)
	defer cancel()
	cacheDir := image.DefaultCacheDir()
	for _, tc := range []struct {
		board    string
		firmware []string // on the boot partition
		dtb      string
	}{
		{"rpi4", []string{"start4.elf", "fixup4.dat"}, "bcm2711-rpi-4-b.dtb"},
		{"rpi5", nil, "bcm2712-rpi-5-b.dtb"},
	} {
		t.Run(tc.board, func(t *testing.T) {
			t0 := time.Now()
			res, err := image.Run(ctx, image.Config{
				Board: tc.board, Version: "rpi-hil", RepoRoot: stoatest.RepoRoot(),
				OutDir: filepath.Join(cacheDir, "hil-rpi"), CacheDir: cacheDir,
				Quick: true, Out: logWriter{t},
			})
			if err != nil {
				t.Fatalf("build image: %v", err)
			}
			t.Logf("FIGURE %s image build: %s; image %d MiB raw, root content %d MiB", tc.board, time.Since(t0).Round(time.Second), res.ImageBytes>>20, res.RootBytes>>20)
			inspectRPiImage(t, ctx, res.Image, tc.board, tc.firmware, tc.dtb)
		})
	}
}

type gptPart struct {
	Start int64  `json:"start"`
	Size  int64  `json:"size"`
	Type  string `json:"type"`
	UUID  string `json:"uuid"`
	Name  string `json:"name"`
}

func readGPT(t *testing.T, img string) []gptPart {
	t.Helper()
	out, err := exec.Command("sfdisk", "--json", img).Output()
	if err != nil {
		t.Fatalf("sfdisk --json: %v", err)
	}
	var pt struct {
		Table struct {
			Label string    `json:"label"`
			Parts []gptPart `json:"partitions"`
		} `json:"partitiontable"`
	}
	if err := json.Unmarshal(out, &pt); err != nil {
		t.Fatalf("sfdisk --json: %v", err)
	}
	if pt.Table.Label != "gpt" {
		t.Fatalf("partition table %q, want gpt (the Pi 4/5 EEPROM boots GPT)", pt.Table.Label)
	}
	return pt.Table.Parts
}

func inspectRPiImage(t *testing.T, ctx context.Context, img, board string, firmware []string, dtb string) {
	parts := readGPT(t, img)
	var names []string
	for _, p := range parts {
		names = append(names, p.Name)
	}
	if strings.Join(names, ",") != "boot,root-a,root-b,data" {
		t.Fatalf("partitions %v, want boot,root-a,root-b,data", names)
	}
	boot, rootA := parts[0], parts[1]
	if boot.Type != "C12A7328-F81F-11D2-BA4B-00A0C93EC93B" {
		t.Errorf("boot partition type %s, want the ESP type", boot.Type)
	}
	if rootA.Type != "B921B045-1DF0-41C3-AF44-4C6F280D3FAE" || parts[2].Type != rootA.Type {
		t.Errorf("root types %s %s, want root-arm64", rootA.Type, parts[2].Type)
	}

	// The boot partition, read with mtools as the firmware would find it.
	fat := fmt.Sprintf("%s@@%d", img, boot.Start*512)
	mtype := func(p string) string {
		cmd := exec.CommandContext(ctx, "mtype", "-i", fat, "::/"+p)
		cmd.Env = append(os.Environ(), "MTOOLS_SKIP_CHECK=1")
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("boot partition: %s: %v", p, err)
		}
		return string(out)
	}
	cmd := exec.CommandContext(ctx, "mdir", "-/", "-b", "-i", fat, "::/")
	cmd.Env = append(os.Environ(), "MTOOLS_SKIP_CHECK=1")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("mdir: %v", err)
	}
	listing := map[string]bool{}
	for _, ln := range strings.Fields(string(out)) {
		listing[strings.TrimPrefix(ln, "::/")] = true
	}
	want := append([]string{dtb, "config.txt", update.TrybootSlotFile, update.TrybootStateFile, "a/vmlinuz", "a/initrd.img", "a/cmdline.txt"}, firmware...)
	for _, f := range want {
		if !listing[f] {
			keys := make([]string, 0, len(listing))
			for k := range listing {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			t.Errorf("boot partition lacks %s (has %v)", f, keys)
		}
	}
	if listing[update.TrybootTxt] {
		t.Error("a fresh image has tryboot.txt: its first tryboot would boot an empty slot")
	}
	cfg := mtype("config.txt")
	for _, line := range []string{"arm_64bit=1", "upstream_kernel=1", update.TrybootInclude} {
		if !regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(line) + `$`).MatchString(cfg) {
			t.Errorf("config.txt lacks %q:\n%s", line, cfg)
		}
	}
	slot := mtype(update.TrybootSlotFile)
	for _, line := range []string{"kernel=a/vmlinuz", "initramfs a/initrd.img followkernel", "cmdline=a/cmdline.txt"} {
		if !strings.Contains(slot, line+"\n") {
			t.Errorf("%s lacks %q:\n%s", update.TrybootSlotFile, line, slot)
		}
	}
	cmdline := mtype("a/cmdline.txt")
	if !strings.Contains(strings.ToUpper(cmdline), "ROOT=PARTUUID="+strings.ToUpper(rootA.UUID)+" ") || !strings.Contains(cmdline, " stoa.slot=a ") || strings.Count(cmdline, "\n") != 1 {
		t.Errorf("a/cmdline.txt %q does not boot root-a (PARTUUID %s) as slot a on one line", cmdline, rootA.UUID)
	}
	ab, err := update.ParseTrybootState([]byte(mtype(update.TrybootStateFile)))
	if err != nil || ab.Slots["a"].Version != "rpi-hil" || ab.Slots["a"].State != update.SlotGood {
		t.Errorf("slot records %+v, %v: want slot a good at rpi-hil", ab, err)
	}
	// Debian's arm64 kernel is an uncompressed Image the firmware loads as it is: "ARMd" at 0x38.
	if k := mtype("a/vmlinuz"); len(k) < 1<<20 || k[0x38:0x3c] != "ARM\x64" {
		t.Errorf("a/vmlinuz (%d bytes) is not an arm64 Image", len(k))
	}

	// Root A, read with debugfs at the partition's offset.
	root := fmt.Sprintf("%s?offset=%d", img, rootA.Start*512)
	debugfs := func(req string) string {
		out, err := exec.CommandContext(ctx, "debugfs", "-R", req, root).Output()
		if err != nil {
			t.Fatalf("debugfs %s: %v", req, err)
		}
		return string(out)
	}
	if rel := debugfs("cat /etc/stoa-release"); !strings.Contains(rel, "BOARD="+board+"\n") || !strings.Contains(rel, "VERSION=rpi-hil\n") {
		t.Errorf("/etc/stoa-release:\n%s", rel)
	}
	dir := t.TempDir()
	for _, bin := range []string{"roomd", "stoa-update", "stoa-tryboot", "stoa-config"} {
		dst := filepath.Join(dir, bin)
		debugfs(fmt.Sprintf("dump /usr/bin/%s %s", bin, dst))
		f, err := elf.Open(dst)
		if err != nil {
			t.Errorf("/usr/bin/%s: %v", bin, err)
			continue
		}
		if f.Machine != elf.EM_AARCH64 {
			t.Errorf("/usr/bin/%s is %s, want aarch64", bin, f.Machine)
		}
		f.Close()
	}
	// roomd runs under qemu-aarch64 against the image's own libraries (the cached base tree
	// every build hard-links: the same files as root-a's).
	bases, _ := filepath.Glob(filepath.Join(image.DefaultCacheDir(), "base-"+image.Release+"-arm64-*.d"))
	if len(bases) == 0 {
		t.Fatal("no arm64 base tree in the cache")
	}
	sort.Slice(bases, func(i, j int) bool { return modTime(bases[i]).After(modTime(bases[j])) })
	roomd := filepath.Join(dir, "roomd")
	os.Chmod(roomd, 0o755)
	cmd = exec.CommandContext(ctx, "qemu-aarch64-static", "-L", bases[0], roomd, "-h")
	out, _ = cmd.CombinedOutput() // -h exits 2 after the usage
	if !strings.Contains(string(out), "Usage of roomd") || !strings.Contains(string(out), "-board") {
		t.Errorf("roomd -h under qemu-aarch64:\n%s", out)
	}
	st, _ := os.Stat(img)
	t.Logf("FIGURE %s image: %d MiB raw (boot %d MiB, root slots %d MiB each), roomd %d MiB", board, st.Size()>>20, boot.Size*512>>20, rootA.Size*512>>20, fileSize(roomd)>>20)
}

func modTime(p string) time.Time {
	st, err := os.Stat(p)
	if err != nil {
		return time.Time{}
	}
	return st.ModTime()
}

func fileSize(p string) int64 {
	st, err := os.Stat(p)
	if err != nil {
		return 0
	}
	return st.Size()
}
