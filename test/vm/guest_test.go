package vm

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"

	"github.com/stoa-rooms/stoa/test/vm/vmkit"
)

// guestModules are loaded in this order (each after its dependencies), with these parameters;
// the contract in board/linux's hw tests relies on exactly this set.
func guestModules() []struct{ name, params string } {
	return []struct{ name, params string }{
		{"configfs", ""},
		{"gpio-sim", ""},
		{"vivid", "n_devs=1"},
		{"snd-aloop", ""},
		{"i2c-dev", ""},
		{"i2c-stub", "chip_addr=0x10"},
		{"uinput", ""},
		{"bochs", ""},
		{"cec", ""},
	}
}

// notInGuest are packages whose hw-tagged tests are not guest driver tests (test/hil boots a
// whole image on the host).
func notInGuest() []string { return []string{"test/hil"} }

const module = "github.com/stoa-rooms/stoa"

// testPkg is a package with hw-tagged tests.
type testPkg struct {
	ImportPath, Dir string
	Name            string // binary name in the guest: the path inside the module, '/' -> '_'
	Rel             string // path inside the module
}

var buildHW = regexp.MustCompile(`(?m)^//go:build .*\bhw\b`)

// goCmd runs the go tool in the module root.
func goCmd(ctx context.Context, root string, env []string, args ...string) (string, error) {
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("go %s: %w\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return stdout.String(), nil
}

func moduleRoot(ctx context.Context) (string, error) {
	out, err := goCmd(ctx, ".", nil, "list", "-m", "-f", "{{.Dir}}")
	return strings.TrimSpace(out), err
}

// hwPackages finds every package of the module with a test file constrained by the hw tag (-e:
// another package being broken must not hide these). The
// environment variable STOA_VM_PKGS (package patterns, space separated, e.g. "./board/linux")
// narrows the run to those packages, hw-tagged files or not, for a quick loop while developing.
func hwPackages(ctx context.Context, root string) ([]testPkg, error) {
	patterns, only := []string{"./..."}, false
	if env := strings.Fields(os.Getenv("STOA_VM_PKGS")); len(env) > 0 {
		patterns, only = env, true
	}
	out, err := goCmd(ctx, root, nil, append([]string{"list", "-e", "-find", "-tags", "hw", "-f",
		`{{.ImportPath}}|{{.Dir}}|{{join .TestGoFiles ","}},{{join .XTestGoFiles ","}}`}, patterns...)...)
	if err != nil {
		return nil, fmt.Errorf("find hw test packages: %w", err)
	}
	var pkgs []testPkg
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		f := strings.SplitN(sc.Text(), "|", 3)
		if len(f) != 3 {
			continue
		}
		rel := strings.TrimPrefix(strings.TrimPrefix(f[0], module), "/")
		if only {
			pkgs = append(pkgs, testPkg{ImportPath: f[0], Dir: f[1], Rel: rel, Name: strings.ReplaceAll(rel, "/", "_")})
			continue
		}
		if excluded(rel) {
			continue
		}
		for _, name := range strings.Split(f[2], ",") {
			if name == "" {
				continue
			}
			b, err := os.ReadFile(filepath.Join(f[1], name))
			if err != nil {
				return nil, fmt.Errorf("find hw test packages: %w", err)
			}
			if buildHW.Match(head(b)) {
				pkgs = append(pkgs, testPkg{ImportPath: f[0], Dir: f[1], Rel: rel, Name: strings.ReplaceAll(rel, "/", "_")})
				break
			}
		}
	}
	sort.Slice(pkgs, func(i, j int) bool { return pkgs[i].Rel > pkgs[j].Rel }) // test/vm/smoke first
	return pkgs, nil
}

func excluded(rel string) bool {
	for _, p := range notInGuest() {
		if rel == p || strings.HasPrefix(rel, p+"/") {
			return true
		}
	}
	return false
}

// head is the part of a Go file before the package clause, where build constraints live.
func head(b []byte) []byte {
	if i := bytes.Index(b, []byte("\npackage ")); i >= 0 {
		return b[:i]
	}
	return b
}

// buildBinaries compiles the guest init (static) and every hw test package (cgo where the
// package uses it; their shared libraries go into the initramfs), two at a time.
func buildBinaries(ctx context.Context, root, dir string, pkgs []testPkg) error {
	jobs := []func() error{func() error {
		_, err := goCmd(ctx, root, []string{"CGO_ENABLED=0"}, "build", "-o", filepath.Join(dir, "init"), "./test/vm/guestinit")
		return err
	}}
	for _, p := range pkgs {
		jobs = append(jobs, func() error {
			_, err := goCmd(ctx, root, nil, "test", "-c", "-tags", "hw", "-o", filepath.Join(dir, p.Name+".test"), p.ImportPath)
			return err
		})
	}
	var wg sync.WaitGroup
	errs := make([]error, len(jobs))
	sem := make(chan struct{}, 2)
	for i, j := range jobs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			errs[i] = j()
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return fmt.Errorf("build guest binaries: %w", err)
		}
	}
	return nil
}

// alsaFiles are what ALSA programs (malgo dlopens libasound.so.2) need at run time.
const alsaLib, alsaConfig = "/usr/lib/x86_64-linux-gnu/libasound.so.2", "/usr/share/alsa"

// etcFiles make name lookups (localhost, user root) work without a resolver or NSS modules.
func etcFiles() map[string]string {
	return map[string]string{
		"etc/hosts":         "127.0.0.1 localhost\n::1 localhost\n",
		"etc/passwd":        "root:x:0:0:root:/root:/bin/sh\n",
		"etc/group":         "root:x:0:\naudio:x:29:\nvideo:x:44:\n",
		"etc/nsswitch.conf": "passwd: files\ngroup: files\nhosts: files\n",
	}
}

// buildInitramfs writes the guest's initramfs and returns its size.
func buildInitramfs(ctx context.Context, path, bins string, k *vmkit.Kernel, gpioSim string, pkgs []testPkg, testArgs []string) (int64, error) {
	idx, err := vmkit.IndexModules(k.Modules, gpioSim)
	if err != nil {
		return 0, err
	}
	var names []string
	params := map[string]string{}
	for _, m := range guestModules() {
		names = append(names, m.name)
		params[m.name] = m.params
	}
	mods, err := vmkit.ResolveModules(ctx, idx, names, params)
	if err != nil {
		return 0, err
	}
	ir, err := vmkit.CreateInitramfs(path)
	if err != nil {
		return 0, err
	}
	defer ir.Close()
	c := ir.CPIO()
	cfg := vmkit.GuestConfig{
		Mounts: []vmkit.GuestMount{{FSType: "configfs", Target: "/sys/kernel/config"}},
		Env:    []string{"STOA_HW=1"},
	}
	guestPaths, err := ir.AddModules(ctx, mods, "/modules")
	if err != nil {
		return 0, err
	}
	for i, m := range mods {
		cfg.Modules = append(cfg.Modules, vmkit.GuestModule{Name: m.Name, Path: guestPaths[i], Params: m.Params})
	}
	if err := ir.AddFile(filepath.Join(bins, "init"), "/init", 0o755); err != nil {
		return 0, err
	}
	for _, p := range pkgs {
		bin := "/tests/" + p.Name
		if err := ir.AddELF(ctx, filepath.Join(bins, p.Name+".test"), bin); err != nil {
			return 0, err
		}
		dir := "/src/" + p.Rel
		if err := c.Dir(dir, 0o755); err != nil {
			return 0, err
		}
		if td := filepath.Join(p.Dir, "testdata"); isDir(td) {
			if err := ir.AddTree(td, dir+"/testdata"); err != nil {
				return 0, err
			}
		}
		cfg.Tests = append(cfg.Tests, vmkit.GuestTest{Name: p.Name, Path: bin, Dir: dir, Args: testArgs})
	}
	if err := ir.AddLibrary(ctx, alsaLib); err != nil {
		return 0, err
	}
	if err := ir.AddTree(alsaConfig, alsaConfig); err != nil {
		return 0, err
	}
	for name, content := range etcFiles() {
		if err := c.Bytes(name, 0o644, []byte(content)); err != nil {
			return 0, err
		}
	}
	if err := c.Dir("root", 0o700); err != nil {
		return 0, err
	}
	b, err := json.Marshal(cfg)
	if err != nil {
		return 0, err
	}
	if err := c.Bytes("stoa-vm.json", 0o644, b); err != nil {
		return 0, err
	}
	if err := ir.Close(); err != nil {
		return 0, err
	}
	st, err := os.Stat(path)
	if err != nil {
		return 0, err
	}
	return st.Size(), nil
}

func isDir(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.IsDir()
}
