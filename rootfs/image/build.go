// Package image builds the room appliance image: a Debian base from mmdebstrap (cached),
// the room's overlay, units and binaries, an ESP with systemd-boot, A/B read-only roots and
// a data partition, assembled into one GPT disk image without loop devices or mounts.
package image

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/stoa-rooms/stoa/rootfs/siteconfig"
)

// Config says what to build.
type Config struct {
	Board      string
	Version    string
	RepoRoot   string // module root: roomd and stoa-config are built from here
	OutDir     string // out/
	CacheDir   string // base tarballs; default <user cache>/stoa-image
	Mirror     string // Debian mirror; default DefaultMirror
	SiteConfig string // optional stoa-config.json baked into the data partition
	Roomd      string // optional prebuilt roomd; default: built from RepoRoot
	RoomdBoard string // roomd --board; default Board (sim: the image without roomd's hardware drivers)
	Quick      bool   // test builds: no .zst copy and no SHA256SUMS
	UpdateKey  string // Ed25519 key signing update bundles; default <CacheDir>/update-signing.key
	Out        io.Writer
	Now        func() time.Time
}

// Result describes what was built.
type Result struct {
	Image      string // out/stoa-room-<board>-<version>.img
	Compressed string // .img.zst ("" with Quick)
	ImageBytes int64  // raw size
	ZstBytes   int64
	RootBytes  int64 // root file system content
	Took       time.Duration
}

// DefaultCacheDir is <user cache dir>/stoa-image (~/.cache/stoa-image).
func DefaultCacheDir() string {
	d, err := os.UserCacheDir()
	if err != nil {
		d = os.TempDir()
	}
	return filepath.Join(d, "stoa-image")
}

// ImageName is the output file name for board and version.
func ImageName(board, version string) string {
	return fmt.Sprintf("stoa-room-%s-%s.img", board, version)
}

// Partition sizes in MiB. Root slots leave room for the system to grow between updates; the
// data partition starts small and is grown to the disk on first boot.
const (
	espMiB     = 256
	minRootMiB = 1024
	dataMiB    = 64
)

// Run builds the image.
func Run(ctx context.Context, c Config) (Result, error) {
	b, site, err := c.fill()
	if err != nil {
		return Result{}, err
	}

	p := newProgress(c.Out, c.Now)
	if err := os.MkdirAll(c.OutDir, 0o755); err != nil {
		return Result{}, fmt.Errorf("image: create out dir: %w", err)
	}
	work, err := os.MkdirTemp(c.CacheDir, "work-")
	if err != nil {
		return Result{}, fmt.Errorf("image: work dir: %w", err)
	}
	defer os.RemoveAll(work)
	root, rootBytes, l, err := prepareRoot(ctx, c, b, p, work)
	if err != nil {
		return Result{}, fmt.Errorf("image: %w", err)
	}
	rootMiB := l.RootA.Size / mib

	res := Result{Image: filepath.Join(c.OutDir, ImageName(b.Name, c.Version)), RootBytes: rootBytes, ImageBytes: l.Total}
	partial := res.Image + ".partial"
	p.Step("disk image: GPT (boot %d MiB, root A/B %d MiB, data %d MiB)", espMiB, rootMiB, dataMiB)
	if err := createDisk(ctx, partial, l); err != nil {
		return Result{}, fmt.Errorf("image: %w", err)
	}
	defer os.Remove(partial)

	if b.Boot == BootRPi {
		p.Step("boot partition: Raspberry Pi firmware, device trees, config.txt, slot A's kernel")
		err = makeRPiBoot(ctx, root, b, l, c.Version, work, partial)
	} else {
		p.Step("boot partition: systemd-boot, kernel, initrd")
		err = makeESP(ctx, root, b, l, c.Version, work, partial)
	}
	if err != nil {
		return Result{}, fmt.Errorf("image: %w", err)
	}

	p.Step("root A: mkfs.ext4 -d (%d MiB content, %d MiB slot)", rootBytes/mib, rootMiB)
	if err := mkext4(ctx, root, partial, "root-a", l.RootA); err != nil {
		return Result{}, fmt.Errorf("image: %w", err)
	}

	p.Step("data partition: site configuration")
	dataDir := filepath.Join(work, "data")
	if err := makeDataTree(dataDir, site); err != nil {
		return Result{}, fmt.Errorf("image: %w", err)
	}
	if err := mkext4(ctx, dataDir, partial, "data", l.Data); err != nil {
		return Result{}, fmt.Errorf("image: %w", err)
	}
	if err := os.Rename(partial, res.Image); err != nil {
		return Result{}, fmt.Errorf("image: %w", err)
	}
	if !c.Quick {
		p.Step("compress (zstd) and checksum")
		res.Compressed = res.Image + ".zst"
		imgSum, zstSum, n, err := compressAndSum(ctx, res.Image, res.Compressed)
		if err != nil {
			return Result{}, fmt.Errorf("image: %w", err)
		}
		res.ZstBytes = n
		if err := updateSums(filepath.Join(c.OutDir, "SHA256SUMS"), map[string]string{res.Image: imgSum, res.Compressed: zstSum}); err != nil {
			return Result{}, fmt.Errorf("image: %w", err)
		}
	}
	res.Took = p.Finish()
	fmt.Fprintf(c.Out, "stoa-image: %s: %d MiB raw", res.Image, res.ImageBytes/mib)
	if res.Compressed != "" {
		fmt.Fprintf(c.Out, ", %d MiB zstd", res.ZstBytes/mib)
	}
	fmt.Fprintln(c.Out)
	return res, nil
}

// prepareRoot makes the room's root file system in work/root: the cached base, the overlay,
// units and binaries. The layout's slots are sized for it.
func prepareRoot(ctx context.Context, c Config, b Board, p *progress, work string) (root string, rootBytes int64, l layout, err error) {
	base, err := ensureBase(ctx, c, b, p)
	if err != nil {
		return "", 0, layout{}, err
	}

	if c.Roomd != "" {
		p.Step("build stoa-config (roomd: prebuilt %s)", c.Roomd)
	} else {
		p.Step("build roomd (cgo, static_codecs) and stoa-config")
	}
	roomd, stoaConfig, err := buildBinaries(ctx, c, b, work)
	if err != nil {
		return "", 0, layout{}, err
	}

	p.Step("root file system: base tree (unpacked once, hard-linked per build)")
	tree, err := ensureTree(ctx, base)
	if err != nil {
		return "", 0, layout{}, err
	}
	root = filepath.Join(work, "root")
	if err := linkTree(ctx, tree, root); err != nil {
		return "", 0, layout{}, err
	}
	rootBytes, err = treeSize(root)
	if err != nil {
		return "", 0, layout{}, err
	}
	rootMiB := max(int64(minRootMiB), (rootBytes*13/10)/mib+64)
	l = newLayout(espMiB, rootMiB, dataMiB)
	if t, ok := rootTypes[b.Arch]; ok {
		l.RootA.Type, l.RootB.Type = t, t
	}

	p.Step("root file system: overlay, units, binaries")
	if err := customize(root, c, b, l, roomd, stoaConfig); err != nil {
		return "", 0, layout{}, err
	}

	return root, rootBytes, l, nil
}

// fill sets Config's defaults and checks it: the board, host tools and site configuration.
func (c *Config) fill() (Board, siteconfig.Site, error) {
	if c.Out == nil {
		c.Out = io.Discard
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.CacheDir == "" {
		c.CacheDir = DefaultCacheDir()
	}
	if c.Mirror == "" {
		c.Mirror = DefaultMirror
	}
	if c.OutDir == "" {
		c.OutDir = "out"
	}
	if c.RepoRoot == "" {
		c.RepoRoot = "."
	}
	if c.Version == "" || strings.ContainsAny(c.Version, "/ \t\n") {
		return Board{}, siteconfig.Site{}, fmt.Errorf("image: version %q must be non-empty without slashes or spaces", c.Version)
	}
	if c.UpdateKey == "" {
		c.UpdateKey = filepath.Join(c.CacheDir, "update-signing.key")
	}
	b, err := LookupBoard(c.Board)
	if err != nil {
		return Board{}, siteconfig.Site{}, fmt.Errorf("image: %w", err)
	}
	if err := CheckHostTools(); err != nil {
		return Board{}, siteconfig.Site{}, fmt.Errorf("image: %w", err)
	}
	if err := checkCross(b); err != nil {
		return Board{}, siteconfig.Site{}, fmt.Errorf("image: %w", err)
	}
	site := siteconfig.Default()
	if c.SiteConfig != "" {
		f, err := os.Open(c.SiteConfig)
		if err != nil {
			return Board{}, siteconfig.Site{}, fmt.Errorf("image: site config: %w", err)
		}
		site, err = siteconfig.Decode(f)
		f.Close()
		if err != nil {
			return Board{}, siteconfig.Site{}, fmt.Errorf("image: %s: %w", c.SiteConfig, err)
		}
	}

	return b, site, nil
}

// buildBinaries compiles roomd (cgo: codecs, V4L2, ALSA) with static codec archives, and
// the pure-Go stoa-config.
func buildBinaries(ctx context.Context, c Config, b Board, work string) (roomd, stoaConfig string, err error) {
	roomd, stoaConfig = filepath.Join(work, "roomd"), filepath.Join(work, "stoa-config")
	builds := []struct {
		out, pkg, cgo string
		tags          []string
	}{
		{roomd, "./firmware/cmd/roomd", "1", []string{"static_codecs"}},
		{stoaConfig, "./rootfs/cmd/stoa-config", "0", nil},
		{filepath.Join(work, "stoa-update"), "./rootfs/cmd/stoa-update", "0", nil},
	}
	if b.Boot == BootRPi {
		builds = append(builds, struct {
			out, pkg, cgo string
			tags          []string
		}{filepath.Join(work, "stoa-tryboot"), "./rootfs/update/cmd/stoa-tryboot", "0", nil})
	}
	cross, err := crossEnv(c, b)
	if err != nil {
		return "", "", err
	}
	if c.Roomd != "" {
		roomd, builds = c.Roomd, builds[1:]
	}
	for _, bl := range builds {
		args := []string{"build", "-trimpath", "-ldflags", "-X main.Version=" + c.Version, "-o", bl.out}
		if len(bl.tags) > 0 {
			args = append(args, "-tags", strings.Join(bl.tags, ","))
		}
		cmd := exec.CommandContext(ctx, "go", append(args, bl.pkg)...)
		cmd.Dir = c.RepoRoot
		cmd.Env = append(os.Environ(), "CGO_ENABLED="+bl.cgo, "GOARCH="+b.Arch)
		if bl.cgo == "1" {
			cmd.Env = append(cmd.Env, cross...)
		}
		if out, err := cmd.CombinedOutput(); err != nil {
			return "", "", fmt.Errorf("go build %s: %w\n%s", bl.pkg, err, out)
		}
	}
	return roomd, stoaConfig, nil
}

// treeSize is the apparent size of every regular file under dir plus a block per entry.
func treeSize(dir string) (int64, error) {
	var n int64
	err := filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		n += 4096
		if d.Type().IsRegular() {
			info, err := d.Info()
			if err != nil {
				return err
			}
			n += info.Size()
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("measure %s: %w", dir, err)
	}
	return n, nil
}

// mkext4 makes an ext4 file system from dir inside the disk image, at the partition's offset.
func mkext4(ctx context.Context, dir, img, label string, p part) error {
	cmd := exec.CommandContext(ctx, "mkfs.ext4", "-q", "-F", "-L", label,
		"-E", fmt.Sprintf("root_owner=0:0,offset=%d", p.Start), "-d", dir, img, fmt.Sprintf("%dk", p.Size/1024))
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("mkfs.ext4 %s: %w: %s", label, err, out)
	}
	return nil
}

// makeDataTree lays out the data partition: the site configuration, the journal and
// roomd's state directory.
func makeDataTree(dir string, site siteconfig.Site) error {
	for _, d := range []struct {
		path string
		mode os.FileMode
	}{{"config", 0o755}, {"log/journal", 0o755}, {"roomd", 0o700}, {"ssh", 0o700}} {
		if err := os.MkdirAll(filepath.Join(dir, d.path), d.mode); err != nil {
			return fmt.Errorf("data tree: %w", err)
		}
		if err := os.Chmod(filepath.Join(dir, d.path), d.mode); err != nil {
			return fmt.Errorf("data tree: %w", err)
		}
	}
	return siteconfig.WriteAtomic(filepath.Join(dir, siteconfig.StoredPath), site.Encode(), 0o644)
}

// updateSums rewrites the SHA256SUMS lines for the given files (path → hex sum), keeping
// lines for other files that still exist.
func updateSums(path string, sums map[string]string) error {
	lines := map[string]string{}
	if b, err := os.ReadFile(path); err == nil {
		for _, ln := range strings.Split(strings.TrimSpace(string(b)), "\n") {
			// Keep lines of other images still beside it; drop those of deleted ones.
			if f := strings.SplitN(ln, "  ", 2); len(f) == 2 {
				if _, err := os.Stat(filepath.Join(filepath.Dir(path), f[1])); err == nil {
					lines[f[1]] = ln
				}
			}
		}
	}
	for f, sum := range sums {
		lines[filepath.Base(f)] = sum + "  " + filepath.Base(f)
	}
	names := make([]string, 0, len(lines))
	for n := range lines {
		names = append(names, n)
	}
	sort.Strings(names)
	var buf bytes.Buffer
	for _, n := range names {
		buf.WriteString(lines[n] + "\n")
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

func sha256File(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", fmt.Errorf("checksum: %w", err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", fmt.Errorf("checksum %s: %w", path, err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
