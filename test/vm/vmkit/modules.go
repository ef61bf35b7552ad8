package vmkit

import (
	"bytes"
	"compress/gzip"
	"context"
	"debug/elf"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// Module is one kernel module to load, dependencies first in the slice ResolveModules returns.
type Module struct {
	Name   string // canonical name, '-' spelled '_' (as the kernel does)
	Path   string // file on the host (.ko, .ko.xz, .ko.zst or .ko.gz)
	Params string // module parameters, e.g. "n_devs=1"
}

// ModName is the canonical module name for a file or module name: no directory, no .ko[.xz],
// and '-' spelled '_', as the kernel compares them.
func ModName(s string) string {
	s = filepath.Base(s)
	for _, ext := range []string{".xz", ".zst", ".gz"} {
		s = strings.TrimSuffix(s, ext)
	}
	s = strings.TrimSuffix(s, ".ko")
	return strings.ReplaceAll(s, "-", "_")
}

// ModuleIndex maps canonical module names to files under a modules tree (lib/modules/<release>).
type ModuleIndex map[string]string

// IndexModules walks a modules tree. Extra files (out-of-tree modules such as gpio-sim.ko) are
// added on top and win over files of the same name.
func IndexModules(tree string, extra ...string) (ModuleIndex, error) {
	idx := ModuleIndex{}
	err := filepath.WalkDir(tree, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && strings.Contains(d.Name(), ".ko") {
			idx[ModName(d.Name())] = p
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("index modules in %s: %w", tree, err)
	}
	for _, p := range extra {
		idx[ModName(p)] = p
	}
	return idx, nil
}

// ResolveModules returns the modules named in want (name -> params; the order of names is kept
// where dependencies allow) together with everything they depend on, dependencies first. The
// packaged modules ship no modules.dep (depmod runs at install time), so dependencies come from
// each module's own .modinfo "depends=" field.
func ResolveModules(ctx context.Context, idx ModuleIndex, names []string, params map[string]string) ([]Module, error) {
	var out []Module
	state := map[string]int{} // 1 visiting, 2 done
	var visit func(name, from string) error
	visit = func(name, from string) error {
		name = ModName(name)
		switch state[name] {
		case 1:
			return fmt.Errorf("resolve modules: dependency cycle at %s", name)
		case 2:
			return nil
		}
		p, ok := idx[name]
		if !ok {
			if from != "" {
				return fmt.Errorf("resolve modules: %s (needed by %s) not found", name, from)
			}
			return fmt.Errorf("resolve modules: %s not found", name)
		}
		state[name] = 1
		info, err := ModInfoFile(ctx, p)
		if err != nil {
			return err
		}
		for _, dep := range strings.Split(info["depends"], ",") {
			if dep = strings.TrimSpace(dep); dep != "" {
				if err := visit(dep, name); err != nil {
					return err
				}
			}
		}
		state[name] = 2
		out = append(out, Module{Name: name, Path: p, Params: params[name]})
		return nil
	}
	canon := map[string]string{}
	for k, v := range params {
		canon[ModName(k)] = v
	}
	params = canon
	for _, n := range names {
		if err := visit(n, ""); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// ModInfoFile reads the .modinfo section of a module file (decompressing it if needed).
func ModInfoFile(ctx context.Context, p string) (map[string]string, error) {
	b, err := ReadModule(ctx, p)
	if err != nil {
		return nil, err
	}
	return ModInfo(b)
}

// ModInfo parses the .modinfo section of an uncompressed module: NUL-separated key=value pairs.
// Repeated keys (alias, parm) keep the last value; callers here need name, depends, vermagic.
func ModInfo(ko []byte) (map[string]string, error) {
	f, err := elf.NewFile(bytes.NewReader(ko))
	if err != nil {
		return nil, fmt.Errorf("modinfo: not an ELF module: %w", err)
	}
	defer f.Close()
	s := f.Section(".modinfo")
	if s == nil {
		return nil, fmt.Errorf("modinfo: no .modinfo section")
	}
	data, err := s.Data()
	if err != nil {
		return nil, fmt.Errorf("modinfo: read section: %w", err)
	}
	info := map[string]string{}
	for _, kv := range bytes.Split(data, []byte{0}) {
		if k, v, ok := strings.Cut(string(kv), "="); ok {
			info[k] = v
		}
	}
	return info, nil
}

// ReadModule returns the uncompressed bytes of a module file: .ko as is, .ko.gz through
// compress/gzip, .ko.xz and .ko.zst through the xz and zstd tools (trixie compresses with xz).
func ReadModule(ctx context.Context, p string) ([]byte, error) {
	switch {
	case strings.HasSuffix(p, ".xz"):
		return decompressTool(ctx, p, "xz")
	case strings.HasSuffix(p, ".zst"):
		return decompressTool(ctx, p, "zstd")
	case strings.HasSuffix(p, ".gz"):
		f, err := os.Open(p)
		if err != nil {
			return nil, fmt.Errorf("read module: %w", err)
		}
		defer f.Close()
		zr, err := gzip.NewReader(f)
		if err != nil {
			return nil, fmt.Errorf("read module %s: %w", p, err)
		}
		b, err := io.ReadAll(zr)
		if err != nil {
			return nil, fmt.Errorf("read module %s: %w", p, err)
		}
		return b, nil
	}
	b, err := os.ReadFile(p)
	if err != nil {
		return nil, fmt.Errorf("read module: %w", err)
	}
	return b, nil
}

func decompressTool(ctx context.Context, p, tool string) ([]byte, error) {
	var stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, tool, "-dc", p)
	cmd.Stderr = &stderr
	b, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("decompress %s with %s: %w: %s", p, tool, err, strings.TrimSpace(stderr.String()))
	}
	return b, nil
}
