package image

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// baseRecipe changes whenever the mmdebstrap invocation below changes meaning, so old cached
// bases are not reused.
const baseRecipe = "stoa-base-2"

// Release is the Debian release images are built from (stable).
const Release = "trixie"

// DefaultMirror is Debian's CDN.
const DefaultMirror = "http://deb.debian.org/debian"

// dpkg excludes keep documentation and translations out of the image (copyright files stay).
var dpkgExcludes = []string{
	"path-exclude=/usr/share/doc/*", "path-include=/usr/share/doc/*/copyright",
	"path-exclude=/usr/share/man/*", "path-exclude=/usr/share/info/*",
	"path-exclude=/usr/share/locale/*", "path-include=/usr/share/locale/locale.alias",
}

// baseKey identifies a base tarball: release, mirror, architecture, package list, the
// mmdebstrap version and this recipe.
func baseKey(ctx context.Context, b Board, mirror string) (string, error) {
	v, err := exec.CommandContext(ctx, "mmdebstrap", "--version").Output()
	if err != nil {
		return "", fmt.Errorf("mmdebstrap --version: %w", err)
	}
	h := sha256.New()
	fmt.Fprintf(h, "%s\n%s\n%s\n%s\n%s\n%s\n%s\n", baseRecipe, Release, mirror, b.Arch,
		strings.Join(b.packages(), ","), strings.TrimSpace(string(v)), strings.Join(dpkgExcludes, ","))
	// Only boards needing more than main change the key: the cached amd64 bases stay valid.
	if c := b.components(); len(c) != 1 || c[0] != "main" {
		fmt.Fprintf(h, "components=%s\n", strings.Join(c, ","))
	}
	// The install speed-ups are part of the recipe: changing them makes a new base.
	if s := b.installSpeedups(); len(s) > 0 {
		fmt.Fprintf(h, "install=%s\n", strings.Join(s, "\n"))
	}
	return hex.EncodeToString(h.Sum(nil))[:16], nil
}

// ensureBase returns the cached base tarball for b, building it with mmdebstrap when missing.
func ensureBase(ctx context.Context, c Config, b Board, p *progress) (string, error) {
	key, err := baseKey(ctx, b, c.Mirror)
	if err != nil {
		return "", err
	}
	path := filepath.Join(c.CacheDir, fmt.Sprintf("base-%s-%s-%s.tar", Release, b.Arch, key))
	if _, err := os.Stat(path); err == nil {
		p.Step("base rootfs: cached %s", path)
		return path, nil
	}
	took := "a few minutes"
	if b.foreign() {
		took = "10+ minutes under qemu-user"
	}
	p.Step("base rootfs: mmdebstrap %s %s (%d packages; %s, cached afterwards; the Go binaries compile meanwhile)", Release, b.Arch, len(b.packages()), took)
	if err := os.MkdirAll(c.CacheDir, 0o755); err != nil {
		return "", fmt.Errorf("create cache dir: %w", err)
	}
	// mmdebstrap keeps about one core busy (dpkg runs one maintainer script at a time): the
	// image's Go binaries compile on the other meanwhile, into a throwaway directory, so the
	// build proper finds them in Go's build cache (cold, roomd's cgo codecs take minutes).
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	warmed := make(chan struct{})
	go func() {
		defer close(warmed)
		warmGoBuild(wctx, c, b)
	}()
	// The .tar suffix makes mmdebstrap write a tarball (it picks the format from the name).
	tmp := strings.TrimSuffix(path, ".tar") + ".partial.tar"
	mode := "unshare"
	if os.Geteuid() == 0 {
		mode = "root"
	}
	cmd := exec.CommandContext(ctx, "mmdebstrap", mmdebstrapArgs(b, mode, c.Mirror, tmp)...)
	cmd.Stdout = c.Out
	cmd.Stderr = prefixWriter(c.Out, "stoa-image:   mmdebstrap: ")
	err = cmd.Run()
	if err != nil {
		cancel()
	}
	<-warmed
	if err != nil {
		os.Remove(tmp)
		return "", fmt.Errorf("mmdebstrap %s: %w", Release, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return "", fmt.Errorf("store base: %w", err)
	}
	return path, nil
}

// warmGoBuild compiles the image's binaries into a directory it then removes, only to fill
// Go's build cache. Its errors are left to the build proper, which reports them.
func warmGoBuild(ctx context.Context, c Config, b Board) {
	dir, err := os.MkdirTemp(c.CacheDir, "warm-")
	if err != nil {
		return
	}
	defer os.RemoveAll(dir)
	buildBinaries(ctx, c, b, dir)
}

// mmdebstrapArgs is the base's mmdebstrap command line (mode root or unshare), writing the
// tarball out.
func mmdebstrapArgs(b Board, mode, mirror, out string) []string {
	args := []string{"--mode=" + mode, "--variant=minbase", "--architectures=" + b.Arch,
		"--include=" + strings.Join(b.packages(), ","), "--components=" + strings.Join(b.components(), ",")}
	for _, d := range dpkgExcludes {
		args = append(args, "--dpkgopt="+d)
	}
	args = append(args, b.installSpeedups()...)
	return append(args, Release, out, mirror)
}

// installSpeedups are mmdebstrap options that make the base install cheaper without
// changing the tree it produces. They matter for arm64, where every maintainer script runs
// under qemu-user: cold, the Pi base took 16.5 minutes (24 on a busier machine), of which
// two initramfs builds took 7.7 (rootfs/README.md has the figures).
//
// The initramfs is built once. Left alone, initramfs-tools builds it for the kernel's
// postinst hook (update-initramfs -c) and again for the update-initramfs trigger that udev,
// kmod, klibc-utils, e2fsprogs and raspi-firmware activate (-u), at each trigger-processing
// point that finds it pending. While packages install, /usr/sbin/update-initramfs is diverted
// aside and a stub that does nothing stands in its place (the kernel hook sees no
// initramfs-tools and returns, the trigger runs the stub). The customize hook removes the
// stub and the diversion, so initramfs-tools' own file is back (only dpkg's backup
// /var/lib/dpkg/diversions-old, which dpkg never reads, still names it), and builds the
// initramfs for every installed kernel; its post-update hooks (raspi-firmware's copy into
// /boot/firmware) run then, as they would have after the last trigger. Checked against a
// base built without: the same files, the initramfs' contents identical (1879 entries).
//
// Only foreign-architecture boards get them: natively the initramfs builds are short (not
// measured here), and the amd64 bases' cache key (test/hil's image) stays as it is.
//
// dpkg does not fsync every unpacked file (force-unsafe-io): a half-written tree is thrown
// away anyway (mmdebstrap writes a .partial tarball). mmdebstrap keeps --dpkgopt lines in
// the tree's /etc/dpkg/dpkg.cfg.d/99mmdebstrap, so the customize hook takes that one out
// again: the image's dpkg configuration is what it was.
func (b Board) installSpeedups() []string {
	if !b.foreign() {
		return nil
	}
	return []string{
		"--dpkgopt=force-unsafe-io",
		`--essential-hook=chroot "$1" dpkg-divert --quiet --local --rename --divert /usr/sbin/update-initramfs.stoa-deferred --add /usr/sbin/update-initramfs` +
			` && printf '#!/bin/sh\n# stoa-image: the initramfs is built once, after the install\nexit 0\n' >"$1/usr/sbin/update-initramfs"` +
			` && chmod 0755 "$1/usr/sbin/update-initramfs"`,
		`--customize-hook=rm "$1/usr/sbin/update-initramfs"` +
			` && chroot "$1" dpkg-divert --quiet --local --rename --remove /usr/sbin/update-initramfs` +
			` && chroot "$1" update-initramfs -c -k all` +
			` && sed -i '/^force-unsafe-io$/d' "$1/etc/dpkg/dpkg.cfg.d/99mmdebstrap"`,
	}
}

// lineWriter prefixes each complete line written to it.
type lineWriter struct {
	w      io.Writer
	prefix string
	buf    []byte
}

func prefixWriter(w io.Writer, prefix string) *lineWriter { return &lineWriter{w: w, prefix: prefix} }

func (l *lineWriter) Write(p []byte) (int, error) {
	l.buf = append(l.buf, p...)
	for {
		i := bytes.IndexByte(l.buf, '\n')
		if i < 0 {
			return len(p), nil
		}
		fmt.Fprintf(l.w, "%s%s\n", l.prefix, l.buf[:i])
		l.buf = l.buf[i+1:]
	}
}
