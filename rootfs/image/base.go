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
	p.Step("base rootfs: mmdebstrap %s %s (%d packages; about a minute, cached afterwards)", Release, b.Arch, len(b.packages()))
	if err := os.MkdirAll(c.CacheDir, 0o755); err != nil {
		return "", fmt.Errorf("create cache dir: %w", err)
	}
	// The .tar suffix makes mmdebstrap write a tarball (it picks the format from the name).
	tmp := strings.TrimSuffix(path, ".tar") + ".partial.tar"
	mode := "unshare"
	if os.Geteuid() == 0 {
		mode = "root"
	}
	args := []string{"--mode=" + mode, "--variant=minbase", "--architectures=" + b.Arch,
		"--include=" + strings.Join(b.packages(), ","), "--components=" + strings.Join(b.components(), ",")}
	for _, d := range dpkgExcludes {
		args = append(args, "--dpkgopt="+d)
	}
	args = append(args, Release, tmp, c.Mirror)
	cmd := exec.CommandContext(ctx, "mmdebstrap", args...)
	cmd.Stdout = c.Out
	cmd.Stderr = prefixWriter(c.Out, "stoa-image:   mmdebstrap: ")
	if err := cmd.Run(); err != nil {
		os.Remove(tmp)
		return "", fmt.Errorf("mmdebstrap %s: %w", Release, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return "", fmt.Errorf("store base: %w", err)
	}
	return path, nil
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
