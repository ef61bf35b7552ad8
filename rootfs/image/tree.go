package image

import (
	"cmp"
	"context"
	"debug/elf"
	"embed"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strings"
	"syscall"
)

// files holds the overlay: common/ goes into every image, <board>/ into that board's.
//
//go:embed all:files
var files embed.FS

// replaceFile writes a new file at p, never into an existing one: the tree's files are hard
// links into the cached base, which must stay as mmdebstrap made it.
func replaceFile(p string, data []byte, mode os.FileMode) error {
	uid, gid := 0, 0
	if st, err := os.Lstat(p); err == nil {
		if sys, ok := st.Sys().(*syscall.Stat_t); ok {
			uid, gid = int(sys.Uid), int(sys.Gid)
		}
	}
	if err := os.Remove(p); err != nil && !os.IsNotExist(err) {
		return err
	}
	if err := os.WriteFile(p, data, mode); err != nil {
		return err
	}
	if err := os.Chown(p, uid, gid); err != nil {
		return err
	}
	return os.Chmod(p, mode) // WriteFile's mode passes through the umask
}

// ensureTree returns the base unpacked once into the cache; builds hard-link it.
func ensureTree(ctx context.Context, tarball string) (string, error) {
	dir := strings.TrimSuffix(tarball, ".tar") + ".d"
	if _, err := os.Stat(dir); err == nil {
		return dir, nil
	}
	tmp := dir + ".partial"
	os.RemoveAll(tmp)
	if err := os.Mkdir(tmp, 0o755); err != nil {
		return "", fmt.Errorf("unpack base: %w", err)
	}
	if err := extract(ctx, tarball, tmp); err != nil {
		os.RemoveAll(tmp)
		return "", err
	}
	if err := os.Rename(tmp, dir); err != nil {
		return "", fmt.Errorf("unpack base: %w", err)
	}
	return dir, nil
}

// linkTree makes dst a copy of src whose files are hard links (directories are new).
func linkTree(ctx context.Context, src, dst string) error {
	if out, err := exec.CommandContext(ctx, "cp", "-a", "--link", src, dst).CombinedOutput(); err != nil {
		return fmt.Errorf("link base tree: %w: %s", err, out)
	}
	return nil
}

// extract unpacks the base tarball into dir (numeric owners, permissions kept).
func extract(ctx context.Context, tarball, dir string) error {
	cmd := exec.CommandContext(ctx, "tar", "--numeric-owner", "-xpf", tarball, "-C", dir)
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("extract base: %w: %s", err, out)
	}
	return nil
}

// copyOverlay writes the embedded overlay for board into root.
func copyOverlay(root, board string) error {
	tops := []string{"files/common", "files/" + board}
	if b, err := LookupBoard(board); err == nil && b.Boot == BootRPi {
		tops = []string{"files/common", "files/rpi", "files/" + board} // the Pi boards' tryboot units
	}
	for _, top := range tops {
		if _, err := fs.Stat(files, top); err != nil {
			continue // a board without files of its own
		}
		err := fs.WalkDir(files, top, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			dst := filepath.Join(root, strings.TrimPrefix(p, top))
			if d.IsDir() {
				return os.MkdirAll(dst, 0o755)
			}
			b, err := files.ReadFile(p)
			if err != nil {
				return err
			}
			return replaceFile(dst, b, 0o644)
		})
		if err != nil {
			return fmt.Errorf("copy overlay %s: %w", top, err)
		}
	}
	return nil
}

// unitLinks enables and masks units the way systemctl would, without running anything in
// the tree. Paths are relative to /etc/systemd/system.
var unitLinks = map[string]string{
	"multi-user.target.wants/roomd.service":                            "/usr/lib/systemd/system/roomd.service",
	"multi-user.target.wants/stoa-machine-id.service":                  "/usr/lib/systemd/system/stoa-machine-id.service",
	"sysinit.target.wants/stoa-config.service":                         "/usr/lib/systemd/system/stoa-config.service",
	"sysinit.target.wants/systemd-repart.service":                      "/usr/lib/systemd/system/systemd-repart.service",
	"multi-user.target.wants/systemd-networkd.service":                 "/usr/lib/systemd/system/systemd-networkd.service",
	"sockets.target.wants/systemd-networkd.socket":                     "/usr/lib/systemd/system/systemd-networkd.socket",
	"sysinit.target.wants/systemd-timesyncd.service":                   "/usr/lib/systemd/system/systemd-timesyncd.service",
	"network-online.target.wants/systemd-networkd-wait-online.service": "/usr/lib/systemd/system/systemd-networkd-wait-online.service",
	// Only in the qemu-x86_64 image (the unit file exists only there; a dangling link is ignored).
	"multi-user.target.wants/stoa-diag.service": "/usr/lib/systemd/system/stoa-diag.service",
	// First boot on a read-only root is every boot: never prompt on the console.
	"systemd-firstboot.service": "/dev/null",
	// The display is roomd's: no login prompt drawn on the first VT.
	"getty@tty1.service": "/dev/null",
	// No package updates or scrubs on an appliance; updates come as whole slots.
	"apt-daily.timer":         "/dev/null",
	"apt-daily-upgrade.timer": "/dev/null",
	"e2scrub_all.timer":       "/dev/null",
	"e2scrub_reap.service":    "/dev/null",
	"fstrim.timer":            "/dev/null",
}

// customize turns the extracted base into the room's root file system.
func customize(root string, c Config, b Board, l layout, roomd, stoaConfig string) error {
	if err := copyOverlay(root, b.Name); err != nil {
		return err
	}
	stoaUpdate := filepath.Join(filepath.Dir(stoaConfig), "stoa-update") // buildBinaries puts it beside stoa-config
	bins := []struct{ src, dst string }{{roomd, "usr/bin/roomd"}, {stoaConfig, "usr/bin/stoa-config"}, {stoaUpdate, "usr/bin/stoa-update"}}
	if b.Boot == BootRPi {
		bins = append(bins, struct{ src, dst string }{filepath.Join(filepath.Dir(stoaConfig), "stoa-tryboot"), "usr/bin/stoa-tryboot"})
	}
	for _, f := range bins {
		data, err := os.ReadFile(f.src)
		if err != nil {
			return fmt.Errorf("install %s: %w", f.dst, err)
		}
		if err := replaceFile(filepath.Join(root, f.dst), data, 0o755); err != nil {
			return fmt.Errorf("install %s: %w", f.dst, err)
		}
	}
	write := func(rel, data string, mode os.FileMode) error {
		p := filepath.Join(root, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		if err := replaceFile(p, []byte(data), mode); err != nil {
			return fmt.Errorf("write %s: %w", rel, err)
		}
		return nil
	}
	if err := write("usr/lib/systemd/system/roomd.service", roomdUnit(cmp.Or(c.RoomdBoard, b.Name), c.Version), 0o644); err != nil {
		return err
	}
	if err := write("etc/fstab", l.fstab(), 0o644); err != nil {
		return err
	}
	if err := write("etc/stoa-release", fmt.Sprintf("BOARD=%s\nVERSION=%s\nDEBIAN=%s\n", b.Name, c.Version, Release), 0o644); err != nil {
		return err
	}
	for _, d := range []string{"data", "efi"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			return fmt.Errorf("create /%s: %w", d, err)
		}
	}
	// The same image goes to every room: no SSH host keys baked in (sshd makes its own on
	// the data partition), root's password locked.
	keys, _ := filepath.Glob(filepath.Join(root, "etc/ssh/ssh_host_*"))
	for _, k := range keys {
		if err := os.Remove(k); err != nil {
			return fmt.Errorf("remove %s: %w", k, err)
		}
	}
	if err := lockRoot(filepath.Join(root, "etc/shadow")); err != nil {
		return err
	}
	// Names and hosts come from the site configuration at boot (stoa-config writes /run).
	for rel, target := range map[string]string{"etc/hosts": "/run/stoa/hosts"} {
		p := filepath.Join(root, rel)
		os.Remove(p)
		if err := os.Symlink(target, p); err != nil {
			return fmt.Errorf("link /%s: %w", rel, err)
		}
	}
	// No sshd on AF_VSOCK: the generator only logs an error on machines without vsock.
	gen := filepath.Join(root, "etc/systemd/system-generators/systemd-ssh-generator")
	if err := os.MkdirAll(filepath.Dir(gen), 0o755); err != nil {
		return err
	}
	os.Remove(gen)
	if err := os.Symlink("/dev/null", gen); err != nil {
		return fmt.Errorf("mask ssh generator: %w", err)
	}
	for rel, target := range unitLinks {
		p := filepath.Join(root, "etc/systemd/system", rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		os.Remove(p)
		if err := os.Symlink(target, p); err != nil {
			return fmt.Errorf("link unit %s: %w", rel, err)
		}
	}
	if err := customizeUpdate(root, c, b); err != nil {
		return err
	}
	return checkLibs(root, filepath.Join(root, "usr/bin/roomd"))
}

// roomdUnit is roomd's service: notify when the hardware is up, watchdog pings while healthy,
// restarted whatever happens.
func roomdUnit(board, version string) string {
	return fmt.Sprintf(`[Unit]
Description=Stoa room agent
Wants=stoa-config.service network.target
After=stoa-config.service network.target time-sync.target systemd-modules-load.service
RequiresMountsFor=/data
StartLimitIntervalSec=0

[Service]
Type=notify
NotifyAccess=main
ExecStart=/usr/bin/roomd --config /run/stoa/roomd.json --board=%s --data-dir /data/roomd --firmware %s
WatchdogSec=20
Restart=always
RestartSec=2

[Install]
WantedBy=multi-user.target
`, board, version)
}

// lockRoot sets root's password field to "!*": no password login anywhere.
func lockRoot(shadow string) error {
	b, err := os.ReadFile(shadow)
	if err != nil {
		return fmt.Errorf("lock root: %w", err)
	}
	lines := strings.Split(string(b), "\n")
	found := false
	for i, ln := range lines {
		if f := strings.SplitN(ln, ":", 3); len(f) == 3 && f[0] == "root" {
			lines[i] = "root:!*:" + f[2]
			found = true
		}
	}
	if !found {
		return fmt.Errorf("lock root: no root entry in %s", shadow)
	}
	return replaceFile(shadow, []byte(strings.Join(lines, "\n")), 0o640)
}

// checkLibs fails when bin needs a shared library the image lacks (for example a codec
// linked dynamically on the host instead of with the static_codecs tag).
func checkLibs(root, bin string) error {
	if head, err := os.ReadFile(bin); err == nil && strings.HasPrefix(string(head), "#!") {
		return nil // a script standing in for roomd (the HIL test's never-healthy update)
	}
	f, err := elf.Open(bin)
	if err != nil {
		return fmt.Errorf("read roomd: %w", err)
	}
	defer f.Close()
	libs, err := f.ImportedLibraries()
	if err != nil {
		return fmt.Errorf("read roomd libraries: %w", err)
	}
	var missing []string
	for _, lib := range libs {
		found := false
		for _, dir := range []string{"usr/lib/x86_64-linux-gnu", "lib/x86_64-linux-gnu", "usr/lib64", "lib64", "usr/lib/aarch64-linux-gnu", "usr/lib"} {
			if _, err := os.Stat(filepath.Join(root, dir, path.Base(lib))); err == nil {
				found = true
				break
			}
		}
		if !found {
			missing = append(missing, lib)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("roomd needs %v, which the image does not carry: build with the static_codecs tag or add the package", missing)
	}
	return nil
}
