package vmkit

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// GPIOSimRecipe versions the steps below (shared/recipes/gpio-sim.md); it is part of the cache
// key, so changing the recipe rebuilds the module.
const GPIOSimRecipe = "1"

// BuildGPIOSim returns the path of gpio-sim.ko built out of tree for k (Debian enables neither
// CONFIG_GPIO_SIM nor IRQ_SIM). It downloads the headers, kbuild and source packages of k's
// series into a temporary folder, builds, keeps only the .ko (cached per release and recipe
// version) and deletes the rest.
func BuildGPIOSim(ctx context.Context, k *Kernel) (string, error) {
	spec := k.spec
	dir := filepath.Join(k.Dir, "gpio-sim-r"+GPIOSimRecipe)
	ko := filepath.Join(dir, "gpio-sim.ko")
	start := time.Now()
	built, err := Cached(ctx, dir, func(tmp string) error {
		work := filepath.Join(tmp, ".work")
		debs := filepath.Join(work, "debs")
		root := filepath.Join(work, "root")
		mod := filepath.Join(work, "mod")
		for _, d := range []string{debs, root, mod} {
			if err := os.MkdirAll(d, 0o755); err != nil {
				return err
			}
		}
		spec.Logf("vmkit: downloading headers, kbuild and source of %s for gpio-sim", k.Release)
		if err := spec.Download(ctx, debs,
			"linux-headers-"+k.Release, "linux-headers-"+k.ABI+"-common",
			"linux-kbuild-"+spec.Series, "linux-source-"+spec.Series); err != nil {
			return err
		}
		if err := unpackDebs(ctx, debs, root); err != nil {
			return err
		}
		if err := os.RemoveAll(debs); err != nil {
			return err
		}
		step := time.Now()
		if err := extractGPIOSimSource(ctx, root, spec.Series, mod); err != nil {
			return err
		}
		spec.Logf("vmkit: gpio-sim sources extracted from linux-source-%s in %s", spec.Series, time.Since(step).Round(time.Millisecond))
		headers := filepath.Join(root, "usr", "src", "linux-headers-"+k.Release)
		if err := pointHeadersAt(headers, filepath.Join(root, "usr", "src")); err != nil {
			return err
		}
		if _, err := run(ctx, "", "make", "-C", headers, "M="+mod, "modules"); err != nil {
			return fmt.Errorf("build gpio-sim: %w", err)
		}
		b, err := os.ReadFile(filepath.Join(mod, "gpio-sim.ko"))
		if err != nil {
			return fmt.Errorf("build gpio-sim: %w", err)
		}
		info, err := ModInfo(b)
		if err != nil {
			return fmt.Errorf("build gpio-sim: %w", err)
		}
		if !strings.HasPrefix(info["vermagic"], k.Release+" ") {
			return fmt.Errorf("build gpio-sim: vermagic %q does not match %s", info["vermagic"], k.Release)
		}
		if err := os.WriteFile(filepath.Join(tmp, "gpio-sim.ko"), b, 0o644); err != nil {
			return err
		}
		return os.RemoveAll(work)
	})
	if err != nil {
		return "", fmt.Errorf("gpio-sim for %s: %w", k.Release, err)
	}
	if built {
		spec.Logf("vmkit: gpio-sim.ko built for %s in %s", k.Release, time.Since(start).Round(time.Millisecond))
	}
	return ko, nil
}

// extractGPIOSimSource takes gpio-sim.c, gpiolib.h and irq_sim.c out of the source tarball and
// lays them out as one module: irq_sim.c calls irq_to_desc, which modules may not use, so it
// calls the exported generic_handle_irq instead.
func extractGPIOSimSource(ctx context.Context, root, series, mod string) error {
	tarball := filepath.Join(root, "usr", "src", "linux-source-"+series+".tar.xz")
	top := "linux-source-" + series
	files := map[string]string{
		top + "/drivers/gpio/gpio-sim.c": "gpio-sim-main.c",
		top + "/drivers/gpio/gpiolib.h":  "gpiolib.h",
		top + "/kernel/irq/irq_sim.c":    "irq_sim.c",
	}
	args := []string{"-xJf", tarball, "-C", root}
	for member := range files {
		args = append(args, member)
	}
	if _, err := run(ctx, "", "tar", args...); err != nil {
		return fmt.Errorf("extract gpio-sim sources: %w", err)
	}
	for member, name := range files {
		b, err := os.ReadFile(filepath.Join(root, member))
		if err != nil {
			return fmt.Errorf("extract gpio-sim sources: %w", err)
		}
		if name == "irq_sim.c" {
			const from, to = "handle_simple_irq(irq_to_desc(irqnum));", "generic_handle_irq(irqnum);"
			if !strings.Contains(string(b), from) {
				return fmt.Errorf("patch irq_sim.c: %q not found (recipe %s needs an update for this kernel)", from, GPIOSimRecipe)
			}
			b = []byte(strings.Replace(string(b), from, to, 1))
		}
		if err := os.WriteFile(filepath.Join(mod, name), b, 0o644); err != nil {
			return err
		}
	}
	kbuild := "obj-m := gpio-sim.o\ngpio-sim-y := gpio-sim-main.o irq_sim.o\n"
	return os.WriteFile(filepath.Join(mod, "Kbuild"), []byte(kbuild), 0o644)
}

// pointHeadersAt rewrites the headers package's Makefile, which includes /usr/src/... by absolute
// path, to include the unpacked copy instead (nothing is installed on the host).
func pointHeadersAt(headers, src string) error {
	mk := filepath.Join(headers, "Makefile")
	b, err := os.ReadFile(mk)
	if err != nil {
		return fmt.Errorf("headers Makefile: %w", err)
	}
	s := strings.ReplaceAll(string(b), "include /usr/src/", "include "+src+"/")
	return os.WriteFile(mk, []byte(s), 0o644)
}
