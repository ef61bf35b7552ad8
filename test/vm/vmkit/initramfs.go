package vmkit

import (
	"bytes"
	"context"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"strings"
)

// Initramfs writes a newc initramfs file with a merged-/usr layout (/lib, /lib64, /bin link into
// /usr, as on Debian), so libraries copied from the host sit where the dynamic loader and
// dlopen look for them.
type Initramfs struct {
	f *os.File
	c *CPIO
}

// CreateInitramfs starts an initramfs at path with /dev/console (the kernel opens it as init's
// stdin/stdout/stderr before devtmpfs exists) and the merged-/usr links.
func CreateInitramfs(p string) (*Initramfs, error) {
	f, err := os.Create(p)
	if err != nil {
		return nil, fmt.Errorf("initramfs: %w", err)
	}
	i := &Initramfs{f: f, c: NewCPIO(f)}
	steps := []func() error{
		func() error { return i.c.Dir("dev", 0o755) },
		func() error { return i.c.CharDev("dev/console", 0o600, 5, 1) },
		func() error { return i.c.CharDev("dev/null", 0o666, 1, 3) },
		func() error { return i.c.Dir("usr/lib64", 0o755) },
		func() error { return i.c.Dir("usr/bin", 0o755) },
		func() error { return i.c.Symlink("lib", "usr/lib") },
		func() error { return i.c.Symlink("lib64", "usr/lib64") },
		func() error { return i.c.Symlink("bin", "usr/bin") },
		func() error { return i.c.Symlink("sbin", "usr/bin") },
	}
	for _, s := range steps {
		if err := s(); err != nil {
			f.Close()
			return nil, fmt.Errorf("initramfs: %w", err)
		}
	}
	return i, nil
}

// CPIO gives direct access to the archive (directories, device nodes, generated files).
func (i *Initramfs) CPIO() *CPIO { return i.c }

// guestPath maps a host path to where it goes in the merged-/usr guest.
func guestPath(p string) string {
	p = path.Clean("/" + p)
	for _, d := range []string{"/lib/", "/lib64/", "/bin/"} {
		if strings.HasPrefix(p, d) {
			return "/usr" + p
		}
	}
	if strings.HasPrefix(p, "/sbin/") {
		return "/usr/bin/" + strings.TrimPrefix(p, "/sbin/")
	}
	return p
}

// AddFile copies a host file (symlinks followed) to guest.
func (i *Initramfs) AddFile(host, guest string, perm fs.FileMode) error {
	guest = guestPath(guest)
	if i.c.Has(guest) {
		return nil
	}
	f, err := os.Open(host)
	if err != nil {
		return fmt.Errorf("initramfs: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return fmt.Errorf("initramfs: %w", err)
	}
	if perm == 0 {
		perm = st.Mode().Perm()
	}
	return i.c.File(guest, uint32(perm), st.Size(), f)
}

// AddTree copies a host folder recursively (symlinks kept as links) to guest.
func (i *Initramfs) AddTree(host, guest string) error {
	return filepath.WalkDir(host, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return fmt.Errorf("initramfs: %w", err)
		}
		rel, _ := filepath.Rel(host, p)
		g := guestPath(path.Join(guest, filepath.ToSlash(rel)))
		switch {
		case d.IsDir():
			return i.c.Dir(g, 0o755)
		case d.Type()&fs.ModeSymlink != 0:
			target, err := os.Readlink(p)
			if err != nil {
				return fmt.Errorf("initramfs: %w", err)
			}
			return i.c.Symlink(g, target)
		case d.Type().IsRegular():
			return i.AddFile(p, g, 0)
		}
		return nil
	})
}

// AddELF copies an executable or shared library to guest plus every shared library it needs
// (as ldd resolves them on the host) and the dynamic loader. Static binaries need nothing more.
func (i *Initramfs) AddELF(ctx context.Context, host, guest string) error {
	if err := i.AddFile(host, guest, 0); err != nil {
		return err
	}
	libs, err := SharedLibs(ctx, host)
	if err != nil {
		return err
	}
	for _, l := range libs {
		if err := i.AddFile(l, l, 0o755); err != nil {
			return err
		}
	}
	return nil
}

// AddLibrary copies a shared library found on the host at its own path, with its dependencies;
// use it for libraries programs dlopen (malgo opens libasound.so.2 at run time).
func (i *Initramfs) AddLibrary(ctx context.Context, host string) error {
	return i.AddELF(ctx, host, host)
}

var lddLine = regexp.MustCompile(`(?:=>\s*)?(/\S+)\s+\(0x[0-9a-f]+\)`)

// SharedLibs lists the shared libraries (and loader) a dynamic ELF file needs, by ldd.
func SharedLibs(ctx context.Context, p string) ([]string, error) {
	out, err := run(ctx, "", "ldd", p)
	if err != nil {
		if strings.Contains(out, "not a dynamic executable") || strings.Contains(err.Error(), "not a dynamic executable") {
			return nil, nil
		}
		return nil, fmt.Errorf("shared libraries of %s: %w", p, err)
	}
	return parseLdd(out)
}

func parseLdd(out string) ([]string, error) {
	var libs []string
	for _, line := range strings.Split(out, "\n") {
		line = strings.TrimSpace(line)
		if strings.Contains(line, "=> not found") {
			return nil, fmt.Errorf("shared libraries: %s", line)
		}
		if m := lddLine.FindStringSubmatch(line); m != nil {
			libs = append(libs, m[1])
		}
	}
	return libs, nil
}

// AddModules writes the modules (decompressed: the guest's init calls finit_module on plain ELF)
// to dir in the guest and returns their guest paths, in the same order.
func (i *Initramfs) AddModules(ctx context.Context, mods []Module, dir string) ([]string, error) {
	var paths []string
	for _, m := range mods {
		b, err := ReadModule(ctx, m.Path)
		if err != nil {
			return nil, err
		}
		g := path.Join(dir, m.Name+".ko")
		if err := i.c.File(g, 0o644, int64(len(b)), bytes.NewReader(b)); err != nil {
			return nil, fmt.Errorf("initramfs: %w", err)
		}
		paths = append(paths, "/"+clean(g))
	}
	return paths, nil
}

// Close finishes the archive and the file.
func (i *Initramfs) Close() error {
	err := i.c.Close()
	if cerr := i.f.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("initramfs: %w", cerr)
	}
	return err
}
