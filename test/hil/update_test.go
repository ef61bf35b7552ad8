package hil

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"github.com/stoa-rooms/stoa/rootfs/image"
	"github.com/stoa-rooms/stoa/rootfs/qemu"
	"github.com/stoa-rooms/stoa/test/stoatest"
	"github.com/stoa-rooms/stoa/test/vm/vmkit"
)

// TestUpdateRollback is HIL step 6 on its own boot of the image (unpaired: healthy means roomd
// READY): an update stick (a STOA-UPDATE file system holding a signed bundle, hot-plugged on
// the VM's USB controller) installs u2 into slot B; the room reboots into it on trial and
// systemd-bless-boot marks it good (its entry loses the counter). Then a bundle u3 whose roomd
// is a script that never sends READY goes to slot A: its trial boot fails the health check,
// the room reboots, systemd-boot finds A's tries used up and boots B again.
func TestUpdateRollback(t *testing.T) {
	if testing.Short() {
		t.Skip("boots the appliance image in QEMU four times (minutes)")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 25*time.Minute)
	defer cancel()
	cacheDir := image.DefaultCacheDir()
	out := filepath.Join(cacheDir, "hil-update")
	work := t.TempDir()
	badRoomd := filepath.Join(work, "roomd-never-ready")
	if err := os.WriteFile(badRoomd, []byte("#!/bin/sh\n# Never sends READY: the update's trial boot must fail.\nexec sleep infinity\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	cfg := func(version, roomd string) image.Config {
		return image.Config{Board: "qemu-x86_64", Version: version, RepoRoot: stoatest.RepoRoot(),
			OutDir: out, CacheDir: cacheDir, SiteConfig: filepath.Join("testdata", "stoa-config.json"),
			Roomd: roomd, Quick: true, Out: logWriter{t}}
	}
	t0 := time.Now()
	img, err := image.Run(ctx, cfg("u1", os.Getenv("STOA_HIL_ROOMD")))
	if err != nil {
		t.Fatalf("build image: %v", err)
	}
	t.Cleanup(func() { os.Remove(img.Image) })
	sticks := map[string]string{}
	for _, b := range []struct{ version, roomd string }{{"u2", os.Getenv("STOA_HIL_ROOMD")}, {"u3", badRoomd}} {
		res, err := image.BuildBundle(ctx, cfg(b.version, b.roomd))
		if err != nil {
			t.Fatalf("build bundle %s: %v", b.version, err)
		}
		sticks[b.version] = makeStick(t, ctx, res.Bundle, work)
		os.Remove(res.Bundle)
		t.Logf("FIGURE update bundle %s: %d MiB (root image %d MiB)", b.version, res.Bytes>>20, res.RootBytes>>20)
	}
	t.Logf("FIGURE image + 2 bundles + sticks built in %s", time.Since(t0).Round(time.Second))

	con := &console{}
	vmDir, err := os.MkdirTemp("", "stoa-hil-up-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(vmDir) })
	boot := time.Now()
	var conOut io.Writer = con
	if p := os.Getenv("STOA_HIL_CONSOLE"); p != "" { // follow the guest while the test runs
		f, err := os.Create(p)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		conOut = io.MultiWriter(con, f)
	}
	vm, err := qemu.Start(ctx, qemu.Options{Image: img.Image, Dir: vmDir, Console: conOut})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		vm.Stop()
		if t.Failed() {
			t.Logf("guest console (tail):\n%s", con.Tail(20000))
		}
	})
	q, err := vmkit.DialQMP(ctx, vm.QMPSocket)
	if err != nil {
		t.Fatalf("QMP: %v", err)
	}
	defer q.Close()

	step := func(name string, re *regexp.Regexp, from int) ([]string, int) {
		t.Helper()
		m, off, err := con.wait(ctx, re, from)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		t.Logf("%s after %s: %s", name, time.Since(boot).Round(time.Second), m[0])
		return m, off
	}
	_, off := step("slot A report", regexp.MustCompile(`stoa-update: slot=a version=u1 board=qemu-x86_64 entries=stoa-a\.conf\(1-u1\)`), 0)

	// Good update: installed in B with one try, rebooted into, marked good.
	t1 := time.Now()
	if err := qemu.PlugStick(ctx, q, "stick-u2", sticks["u2"]); err != nil {
		t.Fatal(err)
	}
	_, off = step("u2 installed", regexp.MustCompile(`stoa-update: installed u2 in slot b \(stoa-b\+1\.conf\)`), off)
	t.Logf("FIGURE install u2 (stick plugged to installed): %s", time.Since(t1).Round(time.Second))
	if err := qemu.UnplugStick(ctx, q, "stick-u2"); err != nil {
		t.Fatal(err)
	}
	_, off = step("u2 healthy on trial", regexp.MustCompile(`stoa-update: healthy after`), off)
	_, off = step("u2 marked good", regexp.MustCompile(`stoa-update: slot=b version=u2 board=qemu-x86_64 entries=stoa-a\.conf\(1-u1\),stoa-b\.conf\(2-u2\)`), off)
	t.Logf("FIGURE good update: installed to marked good in %s", time.Since(t1).Round(time.Second))

	// Bad update: u3's roomd never sends READY; the room must come back on u2 in slot B.
	t2 := time.Now()
	if err := qemu.PlugStick(ctx, q, "stick-u3", sticks["u3"]); err != nil {
		t.Fatal(err)
	}
	_, off = step("u3 installed", regexp.MustCompile(`stoa-update: installed u3 in slot a \(stoa-a\+1\.conf\)`), off)
	if err := qemu.UnplugStick(ctx, q, "stick-u3"); err != nil {
		t.Fatal(err)
	}
	_, off = step("u3 unhealthy on trial", regexp.MustCompile(`stoa-update: UNHEALTHY after`), off)
	step("rolled back to B", regexp.MustCompile(`stoa-update: slot=b version=u2 board=qemu-x86_64 entries=stoa-a\+0-1\.conf\(3-u3\),stoa-b\.conf\(2-u2\)`), off)
	t.Logf("FIGURE bad update: installed to rolled back in %s", time.Since(t2).Round(time.Second))
}

// makeStick puts bundle on an ext4 file system labelled STOA-UPDATE in a raw disk image: the
// update stick the room's udev rule recognises.
func makeStick(t *testing.T, ctx context.Context, bundle, work string) string {
	t.Helper()
	dir := filepath.Join(work, "stick-"+filepath.Base(bundle))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Link(bundle, filepath.Join(dir, "stoa-update.bundle")); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(bundle)
	if err != nil {
		t.Fatal(err)
	}
	img := dir + ".img"
	size := st.Size()*11/10 + 64<<20
	if out, err := exec.CommandContext(ctx, "mkfs.ext4", "-q", "-F", "-L", "STOA-UPDATE", "-d", dir, img, fmt.Sprintf("%dk", size/1024)).CombinedOutput(); err != nil {
		t.Fatalf("make update stick: %v: %s", err, out)
	}
	os.RemoveAll(dir)
	return img
}
