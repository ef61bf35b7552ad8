package vmkit

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"
)

// KernelSpec names a Debian kernel. Every field has a default suited to this host (bookworm,
// amd64); test/hil sets them for trixie's kernel.
type KernelSpec struct {
	ABI      string // e.g. "6.1.0-56" (bookworm), "6.12.48+deb13" (trixie); empty: the ABI apt's linux-image-<Flavour> depends on now
	Flavour  string // default "amd64"
	Series   string // e.g. "6.1" (linux-kbuild-6.1, linux-source-6.1); empty: from ABI
	CacheDir string // default os.UserCacheDir()/stoa-vm
	// Download fetches .deb files of the named packages into dir. Default: apt-get download.
	Download func(ctx context.Context, dir string, pkgs ...string) error
	// Logf reports progress of the slow steps (t.Logf in tests). Default: silent.
	Logf func(format string, args ...any)
}

// Kernel is an unpacked kernel image package in the cache.
type Kernel struct {
	ABI     string // 6.1.0-56
	Release string // 6.1.0-56-amd64 (uname -r)
	Dir     string // cache folder of this kernel: <CacheDir>/<Release>
	Vmlinuz string // boot/vmlinuz-<Release>
	Modules string // lib/modules/<Release>
	spec    KernelSpec
}

func (s KernelSpec) withDefaults(ctx context.Context) (KernelSpec, error) {
	if s.Flavour == "" {
		s.Flavour = "amd64"
	}
	if s.Logf == nil {
		s.Logf = func(string, ...any) {}
	}
	if s.Download == nil {
		s.Download = AptDownload
	}
	if s.CacheDir == "" {
		d, err := os.UserCacheDir()
		if err != nil {
			return s, fmt.Errorf("kernel cache: %w", err)
		}
		s.CacheDir = filepath.Join(d, "stoa-vm")
	}
	if s.ABI == "" {
		abi, err := CurrentABI(ctx, s.Flavour)
		if err != nil {
			return s, err
		}
		s.ABI = abi
	}
	if s.Series == "" {
		m := regexp.MustCompile(`^(\d+\.\d+)\.`).FindStringSubmatch(s.ABI)
		if m == nil {
			return s, fmt.Errorf("kernel spec: cannot derive the series from ABI %q", s.ABI)
		}
		s.Series = m[1]
	}
	return s, nil
}

// CurrentABI asks apt which kernel ABI the linux-image-<flavour> metapackage depends on (security
// updates bump it, so it is never hard-coded).
func CurrentABI(ctx context.Context, flavour string) (string, error) {
	out, err := run(ctx, "", "apt-cache", "depends", "linux-image-"+flavour)
	if err != nil {
		return "", fmt.Errorf("current kernel ABI: %w", err)
	}
	return parseABI(out, flavour)
}

func parseABI(aptDepends, flavour string) (string, error) {
	re := regexp.MustCompile(`Depends:\s*linux-image-(\d+\.\d+\.\d+[-+][0-9A-Za-z.+]*)-` + regexp.QuoteMeta(flavour) + `\b`)
	m := re.FindStringSubmatch(aptDepends)
	if m == nil {
		return "", fmt.Errorf("current kernel ABI: no linux-image-<abi>-%s dependency in %q", flavour, tail(aptDepends, 300))
	}
	return m[1], nil
}

// AptDownload runs apt-get download in dir (no install, no root needed beyond apt's lists).
func AptDownload(ctx context.Context, dir string, pkgs ...string) error {
	_, err := run(ctx, dir, "apt-get", append([]string{"download", "-q"}, pkgs...)...)
	if err != nil {
		return fmt.Errorf("download %s: %w", strings.Join(pkgs, " "), err)
	}
	return nil
}

// FetchKernel downloads and unpacks linux-image-<abi>-<flavour> into the cache, once.
func FetchKernel(ctx context.Context, spec KernelSpec) (*Kernel, error) {
	spec, err := spec.withDefaults(ctx)
	if err != nil {
		return nil, err
	}
	release := spec.ABI + "-" + spec.Flavour
	k := &Kernel{ABI: spec.ABI, Release: release, Dir: filepath.Join(spec.CacheDir, release), spec: spec}
	img := filepath.Join(k.Dir, "image")
	k.Vmlinuz = filepath.Join(img, "boot", "vmlinuz-"+release)
	k.Modules = filepath.Join(img, "lib", "modules", release)
	start := time.Now()
	built, err := Cached(ctx, img, func(tmp string) error {
		spec.Logf("vmkit: downloading linux-image-%s into %s", release, k.Dir)
		debs := filepath.Join(tmp, ".debs")
		if err := os.MkdirAll(debs, 0o755); err != nil {
			return err
		}
		if err := spec.Download(ctx, debs, "linux-image-"+release); err != nil {
			return err
		}
		if err := unpackDebs(ctx, debs, tmp); err != nil {
			return err
		}
		return os.RemoveAll(debs)
	})
	if err != nil {
		return nil, fmt.Errorf("fetch kernel %s: %w", release, err)
	}
	if built {
		spec.Logf("vmkit: kernel %s fetched and unpacked in %s", release, time.Since(start).Round(time.Millisecond))
	}
	if _, err := os.Stat(k.Vmlinuz); err != nil {
		return nil, fmt.Errorf("fetch kernel %s: %w", release, err)
	}
	if built {
		pruneStale(spec, release)
	}
	return k, nil
}

// pruneStale deletes cached kernels of the same series and flavour that a security update
// replaced (about 460 MB each); other series (trixie's, for test/hil) stay.
func pruneStale(spec KernelSpec, current string) {
	entries, err := os.ReadDir(spec.CacheDir)
	if err != nil {
		return
	}
	for _, e := range entries {
		n := e.Name()
		if !e.IsDir() || n == current || !strings.HasPrefix(n, spec.Series+".") || !strings.HasSuffix(n, "-"+spec.Flavour) {
			continue
		}
		if st, err := e.Info(); err == nil && time.Since(st.ModTime()) < time.Hour {
			continue // maybe in use by a test process that resolved the ABI before the update
		}
		spec.Logf("vmkit: removing stale kernel cache %s", n)
		_ = os.RemoveAll(filepath.Join(spec.CacheDir, n))
	}
}

// unpackDebs extracts every .deb in dir into root with dpkg-deb -x (no install).
func unpackDebs(ctx context.Context, dir, root string) error {
	debs, err := filepath.Glob(filepath.Join(dir, "*.deb"))
	if err != nil || len(debs) == 0 {
		return fmt.Errorf("unpack: no .deb files in %s", dir)
	}
	for _, d := range debs {
		if _, err := run(ctx, "", "dpkg-deb", "-x", d, root); err != nil {
			return fmt.Errorf("unpack %s: %w", filepath.Base(d), err)
		}
	}
	return nil
}

// DebsFrom is a KernelSpec.Download that takes the packages from a folder of .deb files (an
// apt archive cache, e.g. one an mmdebstrap run for another suite left behind) instead of
// asking this host's apt, which may not know that suite.
func DebsFrom(src string) func(ctx context.Context, dir string, pkgs ...string) error {
	return func(ctx context.Context, dir string, pkgs ...string) error {
		for _, p := range pkgs {
			m, err := filepath.Glob(filepath.Join(src, p+"_*.deb"))
			if err != nil || len(m) == 0 {
				return fmt.Errorf("download %s: no %s_*.deb in %s", p, p, src)
			}
			b, err := os.ReadFile(m[len(m)-1]) // Glob sorts: the last is the highest version string
			if err != nil {
				return fmt.Errorf("download %s: %w", p, err)
			}
			if err := os.WriteFile(filepath.Join(dir, filepath.Base(m[len(m)-1])), b, 0o644); err != nil {
				return fmt.Errorf("download %s: %w", p, err)
			}
		}
		return nil
	}
}
