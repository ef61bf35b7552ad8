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
			if tc.board == "rpi4" {
				installIntoRPiImage(t, ctx, res.Image, cacheDir)
			}
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
	// The Pi's trial units are enabled: stoa-tryboot early, the bless after stoa-healthy.
	for link, target := range map[string]string{
		"sysinit.target.wants/stoa-tryboot.service":          "/usr/lib/systemd/system/stoa-tryboot.service",
		"multi-user.target.wants/stoa-tryboot-bless.service": "/usr/lib/systemd/system/stoa-tryboot-bless.service",
	} {
		if st := debugfs("stat /etc/systemd/system/" + link); !strings.Contains(st, `Fast link dest: "`+target+`"`) {
			t.Errorf("/etc/systemd/system/%s is not a link to %s:\n%s", link, target, st)
		}
	}
	if dropin := debugfs("cat /usr/lib/systemd/system/stoa-healthy.service.d/50-tryboot.conf"); !strings.Contains(dropin, "ConditionPathExists=/run/stoa/trial") {
		t.Errorf("stoa-healthy's Pi drop-in:\n%s", dropin)
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

// installIntoRPiImage runs the Pi's A/B update on the real artifacts: an update bundle built
// like `make update-bundle BOARD=rpi4`, installed by update.System into a copy of the image's
// boot partition with files standing in for the root slots, then the trial boot's steps
// (stoa-tryboot boot, bless) as the units run them.
func installIntoRPiImage(t *testing.T, ctx context.Context, img, cacheDir string) {
	t0 := time.Now()
	br, err := image.BuildBundle(ctx, image.Config{
		Board: "rpi4", Version: "rpi-hil2", RepoRoot: stoatest.RepoRoot(),
		OutDir: filepath.Join(cacheDir, "hil-rpi"), CacheDir: cacheDir, Quick: true, Out: logWriter{t},
	})
	if err != nil {
		t.Fatalf("build bundle: %v", err)
	}
	defer os.Remove(br.Bundle)
	t.Logf("FIGURE rpi4 update bundle: %d MiB (root image %d MiB), built in %s", br.Bytes>>20, br.RootBytes>>20, time.Since(t0).Round(time.Second))

	parts := readGPT(t, img)
	d := t.TempDir()
	esp := filepath.Join(d, "boot")
	os.Mkdir(esp, 0o755)
	cmd := exec.CommandContext(ctx, "mcopy", "-s", "-n", "-i", fmt.Sprintf("%s@@%d", img, parts[0].Start*512), "::/*", esp)
	cmd.Env = append(os.Environ(), "MTOOLS_SKIP_CHECK=1")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("copy the boot partition: %v: %s", err, out)
	}
	root := fmt.Sprintf("%s?offset=%d", img, parts[1].Start*512)
	for src, dst := range map[string]string{"/etc/stoa-release": "release", "/usr/lib/stoa/update-key.pub": "key.pub"} {
		if out, err := exec.CommandContext(ctx, "debugfs", "-R", "dump "+src+" "+filepath.Join(d, dst), root).CombinedOutput(); err != nil {
			t.Fatalf("debugfs dump %s: %v: %s", src, err, out)
		}
	}
	slots := map[string]string{}
	for i, s := range []string{"a", "b"} {
		slots[s] = filepath.Join(d, "root-"+s)
		f, err := os.Create(slots[s])
		if err == nil {
			err = f.Truncate(parts[1+i].Size * 512)
			f.Close()
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	cmdline := filepath.Join(d, "cmdline")
	copyFile(t, filepath.Join(esp, "a/cmdline.txt"), cmdline)
	sys := update.System{ESP: esp, Cmdline: cmdline, Release: filepath.Join(d, "release"), PubKey: filepath.Join(d, "key.pub"),
		RebootParam: filepath.Join(d, "run/reboot-param"),
		Slot: func(s string) (string, string, error) {
			return slots[s], strings.ToLower(parts[map[string]int{"a": 1, "b": 2}[s]].UUID), nil
		}}
	f, err := os.Open(br.Bundle)
	if err != nil {
		t.Fatal(err)
	}
	res, err := sys.Install(f)
	f.Close()
	if err != nil || res.Slot != "b" {
		t.Fatalf("Install = %+v, %v", res, err)
	}
	st, err := sys.ReadState()
	if v, ok := st.Pending(); err != nil || !ok || v != "rpi-hil2" || st.OnTrial() {
		t.Fatalf("after install: %s, %v: want rpi-hil2 pending", st, err)
	}
	slotOf := func() string {
		b, _ := os.ReadFile(filepath.Join(esp, update.TrybootSlotFile))
		m := regexp.MustCompile(`(?m)^cmdline=([ab])/cmdline\.txt$`).FindSubmatch(b)
		if m == nil {
			t.Fatalf("%s: %q", update.TrybootSlotFile, b)
		}
		return string(m[1])
	}
	if got := slotOf(); got != "b" {
		t.Fatalf("after install the firmware boots %s, want b (commit mode)", got)
	}
	bcl, _ := os.ReadFile(filepath.Join(esp, "b/cmdline.txt"))
	if !strings.Contains(strings.ToUpper(string(bcl)), "ROOT=PARTUUID="+parts[2].UUID) || !strings.Contains(string(bcl), "stoa.slot=b ") {
		t.Errorf("b/cmdline.txt %q does not boot root-b", bcl)
	}
	// The trial boot: slot B's command line and release; stoa-tryboot boot hands the default
	// back to A first, the bless after a healthy boot makes B the default.
	copyFile(t, filepath.Join(esp, "b/cmdline.txt"), cmdline)
	if err := os.WriteFile(sys.Release, []byte("BOARD=rpi4\nVERSION=rpi-hil2\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if onTrial, err := sys.TrybootBoot(); err != nil || !onTrial || slotOf() != "a" {
		t.Fatalf("TrybootBoot = %v, %v; firmware default %s: want on trial, default a", onTrial, err, slotOf())
	}
	if err := sys.TrybootBless(); err != nil || slotOf() != "b" {
		t.Fatalf("TrybootBless: %v; firmware default %s, want b", err, slotOf())
	}
	if st, err := sys.ReadState(); err != nil || st.OnTrial() {
		t.Errorf("after bless: %s, %v", st, err)
	}
}

func copyFile(t *testing.T, src, dst string) {
	t.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestRPiImageBoots boots the rpi4 image's own slot A (its kernel, initrd and cmdline.txt
// from the boot partition, root-a by PARTUUID on the whole image as a virtio disk) under
// qemu-system-aarch64 -M virt with TCG and no network, with roomd --board=sim (the Pi's camera,
// GPIO and sound are not emulated): Debian's arm64 userspace, the read-only root, the data
// partition, stoa-tryboot and roomd on arm64 come up until systemd has roomd's READY. (QEMU
// 7.2 in bookworm has no raspi4b machine; the Pi firmware's own steps are inspected statically
// by TestRPiImages.)
func TestRPiImageBoots(t *testing.T) {
	if testing.Short() {
		t.Skip("boots an arm64 image under TCG (minutes)")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Minute)
	defer cancel()
	cacheDir := image.DefaultCacheDir()
	res, err := image.Run(ctx, image.Config{
		Board: "rpi4", RoomdBoard: "sim", Version: "rpi-hil-boot", RepoRoot: stoatest.RepoRoot(),
		OutDir: filepath.Join(cacheDir, "hil-rpi"), CacheDir: cacheDir, Quick: true, Out: logWriter{t},
	})
	if err != nil {
		t.Fatalf("build image: %v", err)
	}
	parts := readGPT(t, res.Image)
	d := t.TempDir()
	cmd := exec.CommandContext(ctx, "mcopy", "-n", "-i", fmt.Sprintf("%s@@%d", res.Image, parts[0].Start*512), "::/a/vmlinuz", "::/a/initrd.img", "::/a/cmdline.txt", d)
	cmd.Env = append(os.Environ(), "MTOOLS_SKIP_CHECK=1")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("copy slot A's boot files: %v: %s", err, out)
	}
	cl, err := os.ReadFile(filepath.Join(d, "cmdline.txt"))
	if err != nil {
		t.Fatal(err)
	}
	// The Pi's consoles (ttyS1/ttyAMA10, tty1) become virt's PL011; everything else as the
	// firmware would pass it.
	args := regexp.MustCompile(`console=\S+`).ReplaceAllString(strings.TrimSpace(string(cl)), "") + " console=ttyAMA0"
	disk := filepath.Join(d, "disk.qcow2")
	if out, err := exec.CommandContext(ctx, "qemu-img", "create", "-q", "-f", "qcow2", "-F", "raw", "-b", res.Image, disk, "4G").CombinedOutput(); err != nil {
		t.Fatalf("qemu-img: %v: %s", err, out)
	}
	con := &console{}
	q := exec.CommandContext(ctx, "qemu-system-aarch64", "-M", "virt", "-cpu", "cortex-a72", "-smp", "2", "-m", "2048",
		"-accel", "tcg", "-nographic", "-nic", "none", "-no-reboot",
		"-kernel", filepath.Join(d, "vmlinuz"), "-initrd", filepath.Join(d, "initrd.img"), "-append", args,
		"-drive", "file="+disk+",if=virtio,format=qcow2")
	q.Stdout, q.Stderr = con, con
	t0 := time.Now()
	if err := q.Start(); err != nil {
		t.Fatalf("qemu-system-aarch64 (Debian package qemu-system-arm): %v", err)
	}
	defer func() {
		q.Process.Kill()
		q.Wait()
		if t.Failed() {
			t.Logf("console tail:\n%s", con.Tail(6000))
		}
	}()
	steps := []struct {
		name string
		re   *regexp.Regexp
	}{
		{"stoa-tryboot on the good slot", regexp.MustCompile(`stoa-tryboot: booted the good slot`)},
		{"roomd READY", regexp.MustCompile(`Started .*roomd\.service`)},
		{"slot report", regexp.MustCompile(`stoa-update: slot=a version=rpi-hil-boot board=rpi4`)},
	}
	for _, s := range steps {
		if _, _, err := con.wait(ctx, s.re, 0); err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		t.Logf("%s after %s", s.name, time.Since(t0).Round(time.Second))
		if s.name == "roomd READY" {
			t.Logf("FIGURE rpi4 image under qemu-system-aarch64 -M virt (TCG): boot to roomd READY %s", time.Since(t0).Round(time.Second))
		}
	}
	if strings.Contains(con.String(), "FAILED") {
		t.Errorf("a unit failed on the console:\n%s", con.Tail(6000))
	}
}
