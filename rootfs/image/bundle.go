package image

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/stoa-rooms/stoa/rootfs/update"
)

// BundleResult describes a built update bundle.
type BundleResult struct {
	Bundle    string // out/stoa-room-<board>-<version>.bundle
	Bytes     int64
	RootBytes int64 // the root image inside (ext4 sized to the content)
	Manifest  update.Manifest
	Took      time.Duration
}

// BundleName is the update bundle's file name for board and version.
func BundleName(board, version string) string {
	return fmt.Sprintf("stoa-room-%s-%s.bundle", board, version)
}

// BuildBundle builds the same root file system as Run and packs it as a signed update bundle
// (rootfs/update): an ext4 root image sized to its content (it fits any slot of an image of
// the same generation), the kernel and initrd, and a manifest signed with c.UpdateKey.
func BuildBundle(ctx context.Context, c Config) (BundleResult, error) {
	b, _, err := c.fill()
	if err != nil {
		return BundleResult{}, err
	}
	p := newProgress(c.Out, c.Now)
	key, err := update.LoadOrCreateKey(c.UpdateKey)
	if err != nil {
		return BundleResult{}, fmt.Errorf("bundle: %w", err)
	}
	if err := os.MkdirAll(c.OutDir, 0o755); err != nil {
		return BundleResult{}, fmt.Errorf("bundle: create out dir: %w", err)
	}
	work, err := os.MkdirTemp(c.CacheDir, "work-")
	if err != nil {
		return BundleResult{}, fmt.Errorf("bundle: work dir: %w", err)
	}
	defer os.RemoveAll(work)
	root, rootBytes, _, err := prepareRoot(ctx, c, b, p, work)
	if err != nil {
		return BundleResult{}, fmt.Errorf("bundle: %w", err)
	}
	kernels, _ := filepath.Glob(filepath.Join(root, "boot/vmlinuz-*"))
	initrds, _ := filepath.Glob(filepath.Join(root, "boot/initrd.img-*"))
	if len(kernels) != 1 || len(initrds) != 1 {
		return BundleResult{}, fmt.Errorf("bundle: want one kernel and one initrd, found %v %v", kernels, initrds)
	}
	// ext4 needs room for its metadata and journal beside the content.
	size := (rootBytes*12/10/mib + 64) * mib
	rootImg := filepath.Join(work, "root.img")
	p.Step("root image: mkfs.ext4 -d (%d MiB content, %d MiB file system)", rootBytes/mib, size/mib)
	f, err := os.Create(rootImg)
	if err != nil {
		return BundleResult{}, fmt.Errorf("bundle: %w", err)
	}
	terr := f.Truncate(size)
	if cerr := f.Close(); terr == nil {
		terr = cerr
	}
	if terr != nil {
		return BundleResult{}, fmt.Errorf("bundle: %w", terr)
	}
	if err := mkext4(ctx, root, rootImg, "root", part{Start: 0, Size: size}); err != nil {
		return BundleResult{}, fmt.Errorf("bundle: %w", err)
	}
	res := BundleResult{Bundle: filepath.Join(c.OutDir, BundleName(b.Name, c.Version)), RootBytes: size}
	p.Step("bundle: sign the manifest (%s), write %s", c.UpdateKey, res.Bundle)
	partial := res.Bundle + ".partial"
	out, err := os.Create(partial)
	if err != nil {
		return BundleResult{}, fmt.Errorf("bundle: %w", err)
	}
	defer os.Remove(partial)
	res.Manifest, err = update.WriteBundle(out, key, b.Name, c.Version, bootArgs(b), map[string]string{
		update.MemberRoot: rootImg, update.MemberKernel: kernels[0], update.MemberInitrd: initrds[0]})
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return BundleResult{}, fmt.Errorf("bundle: %w", err)
	}
	if err := os.Rename(partial, res.Bundle); err != nil {
		return BundleResult{}, fmt.Errorf("bundle: %w", err)
	}
	if st, err := os.Stat(res.Bundle); err == nil {
		res.Bytes = st.Size()
	}
	res.Took = p.Finish()
	fmt.Fprintf(c.Out, "stoa-image: %s: %d MiB (version %s, root image %d MiB)\n", res.Bundle, res.Bytes/mib, c.Version, res.RootBytes/mib)
	return res, nil
}
